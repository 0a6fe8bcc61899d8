#!/usr/bin/env python3
"""Measurements wrk cannot make, for bench/run.sh. Loopback only, every loop bounded.

  probe.py first200 PORT CMD...   exec CMD, print the ms until GET /who first answers 200 and the
                                  pid of CMD, which is left running; gives up after 5 s
  probe.py hold PORT N PID        open N keep-alive connections, one request each, then print the
                                  RSS (KiB) of PID and its children while all are held
  probe.py rss PID                RSS (KiB) of PID and its children
  probe.py cpu PID                CPU time (clock ticks, user + system) of PID and its children
"""
import os
import socket
import subprocess
import sys
import time

REQUEST = b"GET /who HTTP/1.1\r\nHost: bench\r\n\r\n"


def with_children(pid):
    """pid and its children (nginx's worker is the master's child)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [pid] + [int(p) for p in f.read().split()]
    except OSError:
        return [pid]


def cpu_ticks(pid):
    total = 0
    for p in with_children(pid):
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pid):
    """VmRSS of pid and of its children."""
    total = 0
    for p in with_children(pid):
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def answered_200(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(REQUEST)
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def first200(port, cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - start < 5:
        if answered_200(port):
            print(f"{(time.perf_counter() - start) * 1000:.2f} {proc.pid}")
            return
        time.sleep(0.0002)
    proc.kill()
    sys.exit(f"no 200 from port {port} within 5 s")


def read_response(sock):
    """Reads one response with a Content-Length body; True if all of it arrived."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            body += chunk
        return True
    except OSError:
        return False


def hold(port, count, pid):
    held = []
    deadline = time.monotonic() + 60
    for _ in range(count):
        if time.monotonic() > deadline:
            sys.exit("hold: not all connections opened within 60 s")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(REQUEST)
        if not read_response(s):
            sys.exit("hold: a connection got no complete answer")
        held.append(s)
    time.sleep(0.5)
    alive = sum(1 for s in held if s.fileno() >= 0)
    print(rss_kib(pid), alive)
    for s in held:
        s.close()


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "first200":
        first200(int(sys.argv[2]), sys.argv[3:])
    elif what == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif what == "rss":
        print(rss_kib(int(sys.argv[2])))
    elif what == "cpu":
        print(cpu_ticks(int(sys.argv[2])))
