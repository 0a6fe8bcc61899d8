#!/usr/bin/env python3
"""What tests/operations.sh asks of Python, its raw HTTP and /proc reads through tests/harness.py.
Loopback only; every wait and read is bounded.

  operations.py raw SRC PORT REQUEST         connect from SRC to 127.0.0.1:PORT, send REQUEST
                                             (Python escapes: \\r\\n, \\x00...), read until the
                                             server closes (at most 3 s); print "STATE SECONDS
                                             BYTES" (STATE: eof, reset or timeout), then the bytes
  operations.py metrics PORT N VERSION PID LAUNCHED PAGE
                                             send known traffic, scrape /metrics, read it with
                                             the official client's parser (PyPI prometheus-client)
                                             and print a verdict line per check; PAGE gets the page
  operations.py value PORT SERIES [proxy]    one sample of /metrics, read with the same parser;
                                             SERIES is a name, or name:label=value,...; "proxy"
                                             sends a PROXY v1 header first; "absent" if missing
  operations.py echo FILE                    the addresses of an /echo?format=json answer, and
                                             the forwarding headers it carries
  operations.py promql PORT EXPR             ask Prometheus on PORT: one line per sample, "VALUE
                                             TIMESTAMP LABELS"
  operations.py targets PORT                 Prometheus's active targets: "JOB HEALTH URL
                                             LAST_ERROR"

A verdict line is "ok DESCRIPTION" or "FAILED DESCRIPTION"; the shell script counts them.
"""
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import harness  # tests/harness.py: raw HTTP, /proc

TIMEOUT = harness.TIMEOUT


def raw(source, port, request, timeout=TIMEOUT):
    """Sends request from source; returns (state, seconds, bytes received until the close)."""
    with harness.Connection(port, source=source, timeout=timeout) as c:
        c.send(request)
        return c.until_close(timeout)


def scrape(port, proxy=False):
    """GET /metrics on a connection of its own; returns (Content-Type, body). Nothing may follow
    the answer but the close."""
    with harness.Connection(port) as c:
        if proxy:
            ours, theirs = c.sock.getsockname(), c.sock.getpeername()
            c.send(f"PROXY TCP4 {ours[0]} {theirs[0]} {ours[1]} {theirs[1]}\r\n".encode())
        c.send(b"GET /metrics HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n")
        answer = c.response()
        state, _, after = c.until_close()
    if answer.status != 200:
        raise RuntimeError(f"/metrics answered {answer.status} {answer.reason}")
    if (state, after) != ("eof", b""):
        raise RuntimeError(f"/metrics: after the answer, {state} and {after[:80]!r}")
    return answer.header("Content-Type") or "", answer.body.decode("utf-8")


def parse(page):
    """The page read by the official parser: ({family: type}, {(name, labels): value})."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    types, samples = {}, {}
    for family in text_string_to_metric_families(page):
        if family.name in types:
            raise ValueError(f"family {family.name} twice")
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return types, samples


def key(name, **labels):
    return (name, frozenset(labels.items()))


def verdict(ok, description):
    print(f"{'ok' if ok else 'FAILED'} {description}", flush=True)


# The families of the page and their types, as the parser names them (a counter's family drops
# the _total of its samples).
FAMILIES = {
    "whod_requests": "counter",
    "whod_requests_refused": "counter",
    "whod_connections_accepted": "counter",
    "whod_connections_refused": "counter",
    "whod_proxy_headers_refused": "counter",
    "whod_timeouts": "counter",
    "whod_connections_open": "gauge",
    "whod_delayed_answers": "gauge",
    "whod_ready": "gauge",
    "whod_build_info": "gauge",
    "whod_websocket_connections_open": "gauge",
    "whod_websocket_messages": "counter",
    "whod_websocket_bytes": "counter",
    "whod_websocket_closes": "counter",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}
ROUTES = {"who", "healthz", "echo", "status", "stream", "data", "upload", "ws", "metrics", "other"}
# Each route's usual code, the sample the page always shows (docs/operations.md): /status/NNN is
# counted by class, a 404 is all `other` ever answers, and /ws's is its 101.
USUAL_CODE = {r: "200" for r in ("who", "healthz", "echo", "stream", "data", "upload", "metrics")}
USUAL_CODE.update(status="2xx", other="404", ws="101")


def metrics(port, n, version, pid, launched, page_file):
    # Known traffic on known connections: one keep-alive connection, one refused request.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    statuses = []
    for path, times in (("/who", n), ("/healthz", 3), ("/nowhere", 2), ("/echo", 1)):
        for _ in range(times):
            conn.request("GET", path)
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
    conn.close()
    verdict(
        statuses == [200] * (n + 3) + [404] * 2 + [200],
        f"{n} GET /who, 3 /healthz, 1 /echo answered 200 and 2 /nowhere 404, on one connection",
    )
    _, _, bad = raw("127.0.0.1", port, b"GET /who HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")
    verdict(bad.startswith(b"HTTP/1.1 400 "), "a field name with a space is refused with 400")

    content_type, page = scrape(port)
    # Read what the kernel says right after the scrape, to compare.
    kernel_rss = harness.rss_kib(pid) * 1024
    fds_now = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/limits") as f:
        soft_nofile = next(int(l.split()[3]) for l in f if l.startswith("Max open files"))
    elapsed = time.time() - launched
    with open(page_file, "w") as f:
        f.write(page)

    verdict(
        content_type == "text/plain; version=0.0.4; charset=utf-8",
        f"Content-Type is the text format 0.0.4 ({content_type})",
    )
    try:
        types, samples = parse(page)
    except Exception as e:  # the parser's own error is the finding
        verdict(False, f"the official parser reads the page: {type(e).__name__}: {e}")
        return
    lines = sum(1 for l in page.splitlines() if l and not l.startswith("#"))
    verdict(
        len(samples) == lines,
        f"prometheus_client's parser reads every sample line ({len(samples)} of {lines})",
    )
    verdict(
        types == FAMILIES,
        f"{len(types)} families with the expected names and types"
        + ("" if types == FAMILIES else f": got {types}"),
    )
    who = samples.get(key("whod_requests_total", route="who", code="200"))
    verdict(who == n, f'whod_requests_total{{route="who",code="200"}} = {who}, the {n} sent')
    exact = {
        key("whod_requests_total", route="healthz", code="200"): 3,
        key("whod_requests_total", route="other", code="404"): 2,
        key("whod_requests_total", route="echo", code="200"): 1,
        # The scrape itself is counted once it is answered, after the page is rendered.
        key("whod_requests_total", route="metrics", code="200"): 0,
        key("whod_requests_refused_total", code="400"): 1,
        # The keep-alive connection, the refused one, the scrape's.
        key("whod_connections_accepted_total"): 3,
        key("whod_connections_refused_total"): 0,
        key("whod_proxy_headers_refused_total"): 0,
        key("whod_timeouts_total", kind="header"): 0,
        key("whod_timeouts_total", kind="idle"): 0,
        key("whod_delayed_answers"): 0,
        key("whod_ready"): 1,
        key("whod_build_info", version=version): 1,
    }
    wrong = {k: samples.get(k) for k, v in exact.items() if samples.get(k) != v}
    verdict(
        not wrong,
        "healthz 200 = 3, other 404 = 2, echo 200 = 1, refused 400 = 1, 3 connections accepted, "
        f"no timeout, ready = 1, build_info version {version}"
        + ("" if not wrong else f": wrong {wrong}"),
    )
    request_samples = [dict(labels) for (name, labels) in samples if name == "whod_requests_total"]
    routes_with_usual = {
        s["route"] for s in request_samples if s.get("code") == USUAL_CODE.get(s.get("route"))
    }
    verdict(
        all(set(s) == {"route", "code"} and s["route"] in ROUTES for s in request_samples)
        and routes_with_usual == ROUTES,
        f"whod_requests_total has only route and code labels, and each of the {len(ROUTES)} "
        f"routes' usual code (404 other, 2xx status, else 200) ({len(request_samples)} samples)",
    )
    open_now = samples.get(key("whod_connections_open"))
    verdict(
        open_now is not None and 1 <= open_now <= 3,
        f"whod_connections_open = {open_now} (the scrape's own, at least)",
    )

    cpu = samples.get(key("process_cpu_seconds_total"))
    verdict(
        cpu is not None and 0 < cpu <= elapsed * os.cpu_count(),
        f"process_cpu_seconds_total = {cpu} s, above 0 and within {elapsed:.2f} s of wall "
        f"time on {os.cpu_count()} CPUs",
    )
    rss = samples.get(key("process_resident_memory_bytes"))
    verdict(
        rss is not None and abs(rss - kernel_rss) <= kernel_rss * 0.1 and 256 * 1024 < rss < 64 << 20,
        f"process_resident_memory_bytes = {rss}, /proc/{pid}/status says {kernel_rss}",
    )
    fds = samples.get(key("process_open_fds"))
    verdict(
        fds is not None and fds - 1 <= fds_now <= fds,
        f"process_open_fds = {fds}, /proc/{pid}/fd lists {fds_now} once the scrape has closed",
    )
    max_fds = samples.get(key("process_max_fds"))
    verdict(
        max_fds == soft_nofile,
        f"process_max_fds = {max_fds}, the soft limit in /proc/{pid}/limits is {soft_nofile}",
    )
    start = samples.get(key("process_start_time_seconds"))
    verdict(
        start is not None and launched - 0.5 <= start <= launched + 5,
        f"process_start_time_seconds = {start}, launched at {launched:.3f}",
    )

    # A second scrape: counters never go down, and the first scrape is now counted.
    _, page2 = scrape(port)
    types2, samples2 = parse(page2)
    counters = [k for k in samples if k[0].endswith("_total")]
    down = [k for k in counters if samples2.get(k, -1) < samples[k]]
    metrics_count = samples2.get(key("whod_requests_total", route="metrics", code="200"))
    verdict(
        not down and metrics_count == 1 and types2 == types,
        f"a second scrape: no counter went down, and the first scrape is counted ({metrics_count})"
        + ("" if not down else f": down {down}"),
    )


def plain_samples(page):
    """{(name, labels): value} by a plain reading of the sample lines: for `value`, which must
    work where the official parser is not installed (the parser's own checks are skipped)."""
    samples = {}
    for line in page.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'([a-zA-Z_]\w*)="([^"]*)"', match[2] or ""))
            samples[key(match[1], **labels)] = float(match[3])
    return samples


def value(port, series, proxy=False):
    name, _, labels = series.partition(":")
    wanted = dict(l.split("=", 1) for l in labels.split(",") if l)
    _, page = scrape(port, proxy)
    try:
        _, samples = parse(page)
    except ImportError:
        samples = plain_samples(page)
    found = samples.get(key(name, **wanted))
    print("absent" if found is None else f"{found:g}")


def echo(path):
    with open(path) as f:
        e = json.load(f)
    forwarding = [h for h in e["headers"] if h in ("forwarded", "x-forwarded-for", "x-real-ip")]
    proxy = e["proxy"] or {"address": "-", "port": 0}
    print(
        e["remote"]["address"], e["remote"]["port"], proxy["address"], proxy["port"],
        e["local"]["address"], e["local"]["port"], ",".join(forwarding) or "-",
    )


def prometheus(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
        reply = json.load(answer)
    if reply.get("status") != "success":
        raise RuntimeError(f"{url}: {reply}")
    return reply["data"]


def promql(port, expr):
    data = prometheus(port, "/api/v1/query", query=expr)
    for series in data["result"]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(series["metric"].items())) or "-"
        for ts, v in series.get("values", [series.get("value")]):
            print(v, f"{ts:.3f}", labels)


def targets(port):
    for t in prometheus(port, "/api/v1/targets")["activeTargets"]:
        print(t["labels"]["job"], t["health"], t["scrapeUrl"], t["lastError"] or "-")


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "raw":
        request = args[2].encode().decode("unicode_escape").encode("latin-1")
        state, seconds, received = raw(args[0], int(args[1]), request)
        sys.stdout.write(f"{state} {seconds:.3f} {len(received)}\n")
        sys.stdout.write(received.decode("latin-1"))
    elif command == "metrics":
        metrics(int(args[0]), int(args[1]), args[2], int(args[3]), float(args[4]), args[5])
    elif command == "value":
        value(int(args[0]), args[1], proxy=args[2:] == ["proxy"])
    elif command == "echo":
        echo(args[0])
    elif command == "promql":
        promql(int(args[0]), args[1])
    elif command == "targets":
        targets(int(args[0]))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
