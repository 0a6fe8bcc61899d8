#!/usr/bin/env python3
"""What tests/proxies.sh asks of Python: the clients curl cannot be (a stream timed event by
event, a body held back until the 100 comes), and the arithmetic and parsing the shell should
not do. Loopback only, standard library and tests/harness.py; every read has a timeout.

  proxies_clients.py stream PORT TARGET [FIELD...]
        GET TARGET (with each "Name: value" FIELD) on 127.0.0.1:PORT; prints the status code and
        the arrival time of each event (a line holding seq=N), in seconds since the request was
        sent: "200 0.001 0.502 1.003 1.504"; then the response's head, a field a line
  proxies_clients.py gaps TIMES...
        the table cells of one stream: "first 0.00 s, then 0.50 0.50 0.50 s apart, last 1.50 s"
  proxies_clients.py streaming INTERVAL TIMES...
        0 (true) if the events came about INTERVAL seconds apart: spread over at least 60 % of
        (count - 1) intervals, no gap under 25 % of one
  proxies_clients.py together INTERVAL TIMES...
        0 if the events came together at the end: within 10 % of the (count - 1) intervals of
        each other, the first after at least 60 % of them
  proxies_clients.py crc FILE
        "SIZE CRC32" of FILE (zlib.crc32, 8 hex digits, as whod writes it)
  proxies_clients.py expect PORT TARGET SIZE CRC_FILE LIMIT
        sends a POST head with Expect: 100-continue and Content-Length SIZE, and nothing else;
        waits for the 100, then sends SIZE bytes (CRC_FILE's, repeated) and reads the answer;
        SIZE over LIMIT must be refused at once with a 413, no 100. Verdict lines
  proxies_clients.py over PORT TARGET SIZE
        sends a POST head with Content-Length SIZE and no body; prints "STATUS STATE SECONDS"
        (STATE: eof, reset or timeout, what came after the answer), then the answer's body
  proxies_clients.py metric PORT NAME LABELS
        one sample of whod's /metrics, e.g. whod_requests_total 'route="who",code="503"'; 0 if
        the page does not show it
  proxies_clients.py tls TEXT JSON CURL_STDERR UNIQUE_FIELD WANT...
        the TLVs of an /echo answer behind HAProxy: the text answer TEXT and the JSON one JSON
        (the same client settings), against curl -v's record of the handshake; WANT are
        key=value pairs the text's ssl: line must hold (client-cert=verified, cn=...), or
        alpn=..., authority=... (authority=- for none). Verdict lines

A verdict line is "ok DESCRIPTION" or "FAILED DESCRIPTION"; tests/proxies.sh counts them.
"""
import json
import re
import sys
import time
import zlib

import harness  # tests/harness.py: raw HTTP over loopback

TIMEOUT = 10.0  # the longest a stream or an answer may take here


def verdict(ok, description):
    print(f"{'ok' if ok else 'FAILED'} {description}", flush=True)


def stream(port, target, fields):
    """Reads the whole answer to GET target; returns (status, arrival time of each event,
    head). An event is a line holding seq=N: the plain format's lines, the SSE data: lines."""
    extra = "".join(f"{f}\r\n" for f in fields)
    request = f"GET {target} HTTP/1.1\r\nHost: proxies\r\nConnection: close\r\n{extra}\r\n"
    arrived = {}
    received = b""
    with harness.Connection(port, timeout=TIMEOUT) as c:
        start = time.monotonic()
        c.send(request.encode())
        deadline = start + TIMEOUT
        while time.monotonic() < deadline:
            chunk = c.sock.recv(65536)
            now = time.monotonic() - start
            if not chunk:
                break
            received += chunk
            for m in re.finditer(rb"seq=(\d+)[^\n]*\n", received):
                arrived.setdefault(int(m.group(1)), now)
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    status = head[0].split(" ")[1] if head[0].startswith("HTTP/") else "none"
    return status, [arrived[k] for k in sorted(arrived)], head[1:]


def gaps(times):
    apart = " ".join(f"{b - a:.2f}" for a, b in zip(times, times[1:]))
    return f"first {times[0]:.2f} s, then {apart} s apart, last {times[-1]:.2f} s"


def streaming(interval, times):
    span = (len(times) - 1) * interval
    spread = times[-1] - times[0]
    return spread >= 0.6 * span and min(b - a for a, b in zip(times, times[1:])) >= 0.25 * interval


def together(interval, times):
    span = (len(times) - 1) * interval
    return times[-1] - times[0] <= 0.1 * span and times[0] >= 0.6 * span


def crc(path):
    with open(path, "rb") as f:
        data = f.read()
    return len(data), f"{zlib.crc32(data):08x}"


def body_of(size, pattern):
    """size bytes: pattern repeated and cut."""
    pattern = pattern or b"x"
    return (pattern * (size // len(pattern) + 1))[:size]


def expect(port, target, size, pattern_file, limit):
    with open(pattern_file, "rb") as f:
        body = body_of(size, f.read())
    want = f"size={size} crc32={zlib.crc32(body):08x}"
    head = (f"POST {target} HTTP/1.1\r\nHost: proxies\r\nContent-Length: {size}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with harness.Connection(port, timeout=3.0) as c:
        start = time.monotonic()
        c.send(head)
        try:
            first = c.response()
        except (OSError, ValueError) as e:
            verdict(False, f"Expect: 100-continue, {size} bytes: an answer to the head alone ({e!r})")
            return
        seconds = time.monotonic() - start
        if size > limit:
            verdict(first.status == 413,
                    f"Expect: 100-continue with {size} bytes, over --max-body: refused at once, "
                    f"no 100 ({first.status} {first.reason} after {seconds:.3f} s: "
                    f"{first.body.decode('latin-1')!r})")
            state, _, _ = c.until_close()
            verdict(state in ("eof", "reset"), f"... and the connection closed ({state})")
            return
        verdict(first.status == 100,
                f"Expect: 100-continue with {size} bytes: '{first.status} {first.reason}' came "
                f"{seconds:.3f} s after the head, before a byte of the body was sent")
        if first.status != 100:
            return
        c.send(body)
        final = c.response()
        text = final.body.decode("latin-1").strip()
        verdict(final.status == 200 and text.startswith(want + " "),
                f"... then the body went, and the answer is {final.status}: {text} "
                f"(Python's zlib: {want})")


def over(port, target, size):
    head = f"POST {target} HTTP/1.1\r\nHost: proxies\r\nContent-Length: {size}\r\n\r\n"
    with harness.Connection(port, timeout=3.0) as c:
        c.send(head.encode())
        try:
            answer = c.response()
        except (OSError, ValueError) as e:
            print(f"none none 0\n{e!r}")
            return
        state, seconds, _ = c.until_close(3.0)
    print(f"{answer.status} {state} {seconds:.3f}")
    print(answer.body.decode("latin-1"))


def metric(port, name, labels):
    with harness.Connection(port) as c:
        c.send(b"GET /metrics HTTP/1.1\r\nHost: proxies\r\nConnection: close\r\n\r\n")
        page = c.response().body.decode()
    want = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in page.splitlines():
        if line.startswith(want):
            print(line.split()[-1])
            return
    print(0)


def logfmt(text):
    """key=value pairs, a value "quoted" (with \\" and \\\\ escapes) or bare."""
    pairs = {}
    for m in re.finditer(r'([a-z-]+)=("(?:[^"\\]|\\.)*"|\S*)', text):
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pairs[m.group(1)] = value
    return pairs


def tls(text_file, json_file, curl_file, unique_field, wants):
    with open(text_file, encoding="latin-1") as f:
        text = f.read()
    with open(json_file, encoding="utf-8") as f:
        answer = json.load(f)
    with open(curl_file, encoding="latin-1") as f:
        curl = f.read()
    lines = dict(line.split(": ", 1) for line in text.split("\n\n")[0].splitlines() if ": " in line)
    ssl = logfmt(lines.get("ssl", ""))
    tlvs = answer.get("tlvs") or {}
    jssl = tlvs.get("ssl") or {}
    m = re.search(r"SSL connection using (\S+) / (\S+)", curl)
    version, cipher = m.groups() if m else ("?", "?")
    m = re.search(r"ALPN: server accepted (\S+)", curl)
    alpn = m.group(1) if m else "-"
    verdict(ssl.get("version") == version and ssl.get("cipher") == cipher,
            f"ssl: version={ssl.get('version')} cipher={ssl.get('cipher')}, as curl says it "
            f"negotiated ({version} / {cipher})")
    verdict(lines.get("alpn", "-") == alpn,
            f"alpn: {lines.get('alpn', '(none)')}, the protocol curl says HAProxy accepted ({alpn})")
    for want in wants:
        key, _, value = want.partition("=")
        if key in ("alpn", "authority"):
            got = lines.get(key, "-")
        else:
            got = ssl.get(key, "-")
        verdict(got == value, f"{key}: {got} (expected {value})")
    unique = lines.get("unique-id", "")
    try:
        decoded = bytes.fromhex(unique).decode("ascii")
    except ValueError:
        decoded = "(not hex)"
    verdict(bool(unique) and decoded == unique_field,
            f"unique-id: {unique[:24]}... is the hex of the {decoded!r} HAProxy also sent as "
            f"X-Unique-ID ({unique_field!r})")
    # The JSON: the same facts under "tlvs" (the unique id differs: another request).
    same = {
        "alpn": (tlvs.get("alpn"), lines.get("alpn")),
        "authority": (tlvs.get("authority"), lines.get("authority")),
        "version": (jssl.get("version"), ssl.get("version")),
        "cipher": (jssl.get("cipher"), ssl.get("cipher")),
        "sig_alg": (jssl.get("sig_alg"), ssl.get("sig-alg")),
        "key_alg": (jssl.get("key_alg"), ssl.get("key-alg")),
        "cn": (jssl.get("cn"), ssl.get("cn")),
        "client_certificate": (jssl.get("client_certificate"), ssl.get("client-cert")),
    }
    differ = {k: v for k, v in same.items() if v[0] != v[1]}
    verdict("tlvs" in answer and not differ and bool(tlvs.get("unique_id")),
            f"?format=json has \"tlvs\" with the same values: {json.dumps(tlvs)[:160]}..."
            + (f" DIFFERENT: {differ}" if differ else ""))


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "stream":
        status, times, head = stream(int(args[0]), args[1], args[2:])
        print(status, " ".join(f"{t:.3f}" for t in times))
        print("\n".join(head))
    elif command == "gaps":
        print(gaps([float(t) for t in args]))
    elif command in ("streaming", "together"):
        times = [float(t) for t in args[1:]]
        test = streaming if command == "streaming" else together
        sys.exit(0 if len(times) >= 2 and test(float(args[0]), times) else 1)
    elif command == "crc":
        print(*crc(args[0]))
    elif command == "expect":
        expect(int(args[0]), args[1], int(args[2]), args[3], int(args[4]))
    elif command == "over":
        over(int(args[0]), args[1], int(args[2]))
    elif command == "metric":
        metric(int(args[0]), args[1], args[2])
    elif command == "tls":
        tls(args[0], args[1], args[2], args[3], args[4:])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
