#!/usr/bin/env python3
"""Measurements wrk cannot make, for bench/run.sh. Loopback only, every loop bounded. Raw HTTP,
the poll loop and the /proc reads are tests/harness.py's.

  probe.py first200 PORT CMD...   exec CMD, print the ms until GET /who first answers 200 and the
                                  pid of CMD, which is left running; gives up after 5 s
  probe.py hold PORT N PID        open N keep-alive connections, one request each, then print the
                                  RSS (KiB) of PID and its children while all are held
  probe.py rss PID                RSS (KiB) of PID and its children
  probe.py cpu PID                CPU time (clock ticks, user + system) of PID and its children
  probe.py pids PID               PID and its children, comma-separated
  probe.py callgrind OUT KEEPALIVE CLOSE CONNS PORT CMD...
                                  exec CMD (valgrind --tool=callgrind --callgrind-out-file=OUT
                                  ...), wait up to 60 s for a 200, then send KEEPALIVE rounds of
                                  one request on each of CONNS keep-alive connections, then
                                  CLOSE requests with Connection: close, each on a new
                                  connection, CONNS at a time; stop CMD with SIGINT and print
                                  the instructions callgrind counted (its summary line)
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402  (tests/harness.py: raw HTTP, /proc, the poll loop)
from harness import cpu_ticks, rss_kib, with_children  # noqa: E402

REQUEST = b"GET /who HTTP/1.1\r\nHost: bench\r\n\r\n"


def default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def first200(port, cmd, limit=5.0, pause=0.0002, sigint=False):
    """Starts cmd; returns (its Popen, the ms until port answered 200). Kills it and exits
    after `limit` seconds without a 200. sigint: give cmd SIGINT's default action (bash starts
    background jobs with it ignored, and an ignored signal never reaches the server); off by
    default, as the hook makes the start slower."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=default_sigint if sigint else None)
    answered = False

    def answered_or_exited():
        nonlocal answered
        answered = harness.status(port, REQUEST) == 200
        return answered or proc.poll() is not None

    if harness.wait_until(limit, answered_or_exited, pause) and answered:
        return proc, (time.perf_counter() - start) * 1000
    proc.kill()
    sys.exit(f"no 200 from port {port} within {limit:g} s: {' '.join(cmd)}")


def complete(connection):
    """Reads one response; True if all of it arrived."""
    try:
        connection.response()
        return True
    except (OSError, ValueError):
        return False


def hold(port, count, pid):
    held = []
    deadline = time.monotonic() + 60
    for _ in range(count):
        if time.monotonic() > deadline:
            sys.exit("hold: not all connections opened within 60 s")
        c = harness.Connection(port, timeout=5)
        c.send(REQUEST)
        if not complete(c):
            sys.exit("hold: a connection got no complete answer")
        held.append(c)
    time.sleep(0.5)
    alive = sum(1 for c in held if c.sock.fileno() >= 0)
    print(rss_kib(pid), alive)
    for c in held:
        c.close()


def wrk_request(port, close=False):
    """GET /who as wrk sends it (wrk -H 'Connection: close' puts that field first)."""
    connection = b"Connection: close\r\n" if close else b""
    return b"GET /who HTTP/1.1\r\n" + connection + b"Host: 127.0.0.1:%d\r\n\r\n" % port


def drive(port, keepalive_rounds, close_requests, conns):
    """A fixed load, the same bytes each time: keepalive_rounds rounds of one request on each
    of `conns` keep-alive connections (all sent, then all answers read), then close_requests
    requests with Connection: close, a new connection each, `conns` at a time. Every answer
    must be complete."""
    deadline = time.monotonic() + 600
    request = wrk_request(port)
    held = [harness.Connection(port, timeout=60) for _ in range(conns)]
    for _ in range(keepalive_rounds):
        for c in held:
            c.send(request)
        for c in held:
            if not complete(c):
                sys.exit("drive: a keep-alive request got no complete answer")
        if time.monotonic() > deadline:
            sys.exit("drive: not done within 600 s")
    for c in held:
        c.close()
    request = wrk_request(port, close=True)
    left = close_requests
    while left > 0:
        batch = [harness.Connection(port, timeout=60) for _ in range(min(conns, left))]
        for c in batch:
            c.send(request)
        for c in batch:
            if not complete(c):
                sys.exit("drive: a Connection: close request got no complete answer")
            c.close()
        left -= len(batch)
        if time.monotonic() > deadline:
            sys.exit("drive: not done within 600 s")


def callgrind(out, keepalive_rounds, close_requests, conns, port, cmd):
    """Runs cmd (a server under callgrind writing to `out`) through drive(); returns the
    instructions callgrind counted for the whole process, start and stop included."""
    # SIGINT, not SIGTERM: nginx under valgrind does not stop on SIGTERM (seen with
    # valgrind 3.19), and both stop on SIGINT as they do on SIGTERM.
    proc, _ = first200(port, cmd, limit=60, pause=0.05, sigint=True)
    try:
        drive(port, keepalive_rounds, close_requests, conns)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            sys.exit("callgrind: the server did not stop within 60 s of SIGINT")
    with open(out) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    sys.exit(f"callgrind: no summary line in {out}")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "first200":
        proc, ms = first200(int(sys.argv[2]), sys.argv[3:])
        print(f"{ms:.2f} {proc.pid}")
    elif what == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif what == "rss":
        print(rss_kib(int(sys.argv[2])))
    elif what == "cpu":
        print(cpu_ticks(int(sys.argv[2])))
    elif what == "pids":
        print(",".join(str(p) for p in with_children(int(sys.argv[2]))))
    elif what == "callgrind":
        out, keepalive, close, conns, port = sys.argv[2:7]
        print(callgrind(out, int(keepalive), int(close), int(conns), int(port), sys.argv[7:]))
