#!/usr/bin/env python3
"""`make soak`: hostile traffic against a real whod on loopback, scenario by scenario. Each
prints what it measured and passes or fails; every loop is bounded in count and time.

  scripts/soak.py [--short]      --short: the CI version, each scenario under 20 s

1. slowloris: connections trickling a request head; fresh requests stay fast, the trickling
   ones get 408 and are cut after the header timeout
2. idle crowd: thousands of idle keep-alive connections; fresh requests stay fast; RSS
3. sustained load: wrk; zero errors, zero non-2xx, RSS flat from the middle to the end
4. descriptor exhaustion: prlimit --nofile=64; no crash, no busy loop, recovery
5. SIGTERM under load: every response that started is complete; exit 0
6. pipeline flood: connections pipelining requests without ever reading the answers; whod's
   memory stays bounded (16 KiB of answers and one read of requests per connection)
"""
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

SHORT = "--short" in sys.argv
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from probe import cpu_ticks, read_response, rss_kib  # noqa: E402  (the bench's /proc and HTTP helpers)

WHOD = os.path.join(ROOT, "target", "release", "whod")
REQUEST = b"GET /who HTTP/1.1\r\nHost: soak\r\n\r\n"
results = []


def check(description, ok):
    results.append(ok)
    print(f"  {'ok    ' if ok else 'FAILED'}  {description}", flush=True)


class Whod:
    """A whod on a free loopback port; `prefix` runs it under another command (prlimit)."""

    def __init__(self, *args, prefix=()):
        cmd = [*prefix, WHOD, "--port", "0", "--bind", "127.0.0.1", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        self.port = int(line.split(" on ")[1].split()[0].rsplit(":", 1)[1])
        self.stderr = [line]
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def cpu_ticks(self):
        return cpu_ticks(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def fresh_request(port, timeout=5):
    """One request on a new connection; returns (status, seconds)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /who HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def fresh_requests(port, count, spacing=0.0):
    statuses, times = [], []
    for _ in range(count):
        status, seconds = fresh_request(port)
        statuses.append(status)
        times.append(seconds)
        time.sleep(spacing)
    return statuses, times


def slowloris():
    count, header_timeout = (150, 2) if SHORT else (400, 3)
    print(f"slowloris: {count} connections trickling a head one byte per 0.5 s, --header-timeout {header_timeout}")
    whod = Whod("--header-timeout", str(header_timeout))
    head = b"GET /who HTTP/1.1\r\nHost: soak\r\nX-Padding: " + b"a" * 200
    slow = [socket.create_connection(("127.0.0.1", whod.port), timeout=5) for _ in range(count)]
    for s in slow:
        s.setblocking(False)
    started = time.monotonic()
    cut_after = {}
    got_408 = 0
    fresh = []
    offset = 0
    while len(cut_after) < count and time.monotonic() - started < header_timeout + 5:
        for s in slow:
            if s in cut_after:
                continue
            try:
                s.send(head[offset:offset + 1])
            except OSError:
                pass
        offset += 1
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            readable, _, _ = select.select([s for s in slow if s not in cut_after], [], [], 0.05)
            for s in readable:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                got_408 += data.startswith(b"HTTP/1.1 408")
                cut_after[s] = time.monotonic() - started
        fresh.append(fresh_request(whod.port))
    cut = sorted(cut_after.values())
    times = [t for _, t in fresh]
    print(f"    {len(cut)} of {count} cut, {got_408} with 408, after {cut[0] if cut else 0:.2f}-{cut[-1] if cut else 0:.2f} s;"
          f" {len(fresh)} fresh requests meanwhile: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    check("every trickling connection got 408 and was cut", got_408 == count and len(cut) == count)
    check(f"none cut before the header timeout, all within it + 1 s", cut and cut[0] >= header_timeout - 0.05 and cut[-1] <= header_timeout + 1)
    check("fresh requests all answered 200, none slower than 200 ms", all(s == 200 for s, _ in fresh) and max(times) < 0.2)
    for s in slow:
        s.close()
    check("whod exited 0", whod.stop() == 0)


def idle_crowd():
    count = 2000 if SHORT else 5000
    print(f"idle crowd: {count} idle keep-alive connections held")
    whod = Whod()
    before = whod.rss_kib()
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", whod.port), timeout=5)
        s.sendall(REQUEST)
        read_response(s)
        held.append(s)
    statuses, times = fresh_requests(whod.port, 200)
    during = whod.rss_kib()
    print(f"    RSS {before} KiB before, {during} KiB holding {count};"
          f" 200 fresh requests: median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.1f} ms")
    check("fresh requests all answered 200, none slower than 200 ms", all(s == 200 for s in statuses) and max(times) < 0.2)
    check("RSS holding them stays under 32 MiB", during < 32 * 1024)
    alive = 0
    for s in held:
        s.sendall(REQUEST)
        alive += read_response(s)[1]
        s.close()
    check(f"all {count} held connections still answer ({alive})", alive == count)
    check("whod exited 0", whod.stop() == 0)


def parse_wrk(text):
    get = lambda key: next((l for l in text.splitlines() if key in l), "")
    errors = sum(int(n) for n in "".join(c if c.isdigit() else " " for c in get("Socket errors:")).split())
    non2xx = int(get("Non-2xx or 3xx responses:").split()[-1]) if get("Non-2xx") else 0
    requests = int(get("requests in").split()[0]) if get("requests in") else 0
    return requests, errors, non2xx


def sustained():
    seconds = 12 if SHORT else 60
    print(f"sustained load: wrk, 256 connections, {seconds} s")
    whod = Whod()
    wrk = subprocess.Popen(["wrk", "-t1", "-c256", f"-d{seconds}s", "--timeout", "5s", f"http://127.0.0.1:{whod.port}/who"],
                           stdout=subprocess.PIPE, text=True)
    time.sleep(seconds / 2)
    middle = whod.rss_kib()
    out, _ = wrk.communicate(timeout=seconds + 30)
    end = whod.rss_kib()
    requests, errors, non2xx = parse_wrk(out)
    print(f"    {requests} requests, {errors} socket errors, {non2xx} non-2xx; RSS {middle} KiB at the middle, {end} KiB at the end")
    check("zero socket errors, zero non-2xx", requests > 0 and errors == 0 and non2xx == 0)
    check("RSS flat from the middle to the end (within 10% + 256 KiB)", end <= middle * 1.1 + 256)
    check("whod exited 0", whod.stop() == 0)


def exhaustion():
    print("descriptor exhaustion: prlimit --nofile=64, 200 connections")
    whod = Whod("--workers", "1", prefix=("prlimit", "--nofile=64"))
    first = socket.create_connection(("127.0.0.1", whod.port), timeout=5)
    first.sendall(REQUEST)
    read_response(first)
    crowd = [socket.create_connection(("127.0.0.1", whod.port), timeout=5) for _ in range(200)]
    time.sleep(0.3)
    ticks = whod.cpu_ticks()
    time.sleep(2)
    ticks = whod.cpu_ticks() - ticks
    first.sendall(REQUEST)
    served = read_response(first)[1]
    print(f"    {ticks} clock ticks of CPU in 2 s while out of descriptors (a busy loop would use ~200)")
    check("no busy loop (under 20% of a core)", ticks < 40)
    check("an open connection is still served", served)
    check("whod is still running", whod.proc.poll() is None)
    for s in crowd + [first]:
        s.close()
    recovered = False
    deadline = time.monotonic() + 5
    while not recovered and time.monotonic() < deadline:
        recovered = fresh_request(whod.port, timeout=1)[0] == 200
        time.sleep(0.05)
    check("new connections are served once descriptors free up", recovered)
    check("it said why it could not accept", any("cannot accept connections" in l for l in whod.stderr))
    check("whod exited 0", whod.stop() == 0)


def sigterm_under_load():
    clients = 32
    print(f"SIGTERM under load: {clients} keep-alive clients in a loop, SIGTERM after 1 s")
    whod = Whod()
    counts = {"complete": 0, "incomplete": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + 15

    def client():
        sock = None
        while time.monotonic() < stop_at:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", whod.port), timeout=5)
                sock.sendall(REQUEST)
            except OSError:
                if sock is None:
                    return  # refused: the listener is closed
                sock.close()
                sock = None
                continue
            started, complete = read_response(sock)
            with lock:
                if complete:
                    counts["complete"] += 1
                elif started:
                    counts["incomplete"] += 1
            if not complete:
                sock.close()
                sock = None

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1)
    signalled = time.monotonic()
    whod.proc.terminate()
    code = whod.proc.wait(timeout=10)
    took = time.monotonic() - signalled
    for t in threads:
        t.join(timeout=20)
    print(f"    {counts['complete']} complete responses, {counts['incomplete']} cut short; exit {code} {took * 1000:.0f} ms after SIGTERM")
    check("every response that started is complete", counts["incomplete"] == 0 and counts["complete"] > 0)
    check("exit 0 within 5 s", code == 0 and took < 5)


def pipeline_flood():
    count, seconds = (50, 3) if SHORT else (200, 10)
    print(f"pipeline flood: {count} connections pipelining requests for {seconds} s, never reading")
    whod = Whod()
    before = whod.rss_kib()
    flood = b"GET /nope HTTP/1.1\r\nHost: soak\r\n\r\n" * 2000
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", whod.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        socks.append(s)
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        progress = False
        for s in socks:
            try:
                sent += s.send(flood)
                progress = True
            except BlockingIOError:
                pass
        if not progress:
            time.sleep(0.02)
    during = whod.rss_kib()
    status, _ = fresh_request(whod.port)
    for s in socks:
        s.close()
    bound = before + count * 96
    print(f"    {sent / 1e6:.0f} MB of requests sent; RSS {before} KiB before, {during} KiB while flooded (bound {bound} KiB)")
    check(f"RSS grows by less than 96 KiB per flooding connection", during <= bound)
    check("a fresh request is still answered 200", status == 200)
    check("whod exited 0", whod.stop() == 0)


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not os.path.exists(WHOD):
        sys.exit(f"soak: build whod first ({WHOD} is missing): cargo build --release")
    for scenario in (slowloris, idle_crowd, sustained, exhaustion, sigterm_under_load, pipeline_flood):
        started = time.monotonic()
        scenario()
        print(f"    ({time.monotonic() - started:.1f} s)")
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
