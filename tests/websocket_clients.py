#!/usr/bin/env python3
"""What tests/websocket.sh asks of Python: the reference echo server of PyPI's `websockets`, the
Autobahn verdicts of three servers compared, and `websockets` as a client of whod, directly and
through proxies. Loopback only; every wait and read is bounded.

  websocket_clients.py serve                 an echo server of `websockets` (the reference:
                                             no size limit, no compression) on a free port of
                                             127.0.0.1; prints "listening on 127.0.0.1:PORT"
                                             and serves until SIGTERM
  websocket_clients.py autobahn OUT NAME=DIR...
                                             each server's kosoku report (DIR/index.json) read,
                                             its verdicts written to OUT/NAME.tsv, compared with
                                             the first server's; prints the cases that differ
  websocket_clients.py client URL            text, binary, a 1 MiB message and a ping to URL
  websocket_clients.py proxied PROXY URL SOURCE REMOTE [NAME=VALUE...]
                                             from SOURCE through PROXY: echoes (up to 16 MiB,
                                             and 1009 past it), and the greeting (?greeting=json)
                                             shows remote address REMOTE and each header field
                                             NAME with VALUE
  websocket_clients.py refused URL           an upgrade the server is expected to refuse: prints
                                             "STATUS BODY" (or "open" if it was accepted)
  websocket_clients.py quiet URL SECONDS     says nothing for SECONDS, answering whod's pings
                                             (as any client does), then sends one message;
                                             prints "STATE SECONDS PINGS CODE" (STATE: alive or
                                             cut: the connection ended while quiet)
  websocket_clients.py replicas URL COUNT NAME...
                                             COUNT WebSockets at once through a balancer: each
                                             greeting names one of NAME..., and each answers
  websocket_clients.py rolling URL CLIENTS DIR SECONDS
                                             CLIENTS clients sending numbered messages without
                                             pause, reconnecting through URL after a close and
                                             sending again what had no echo; DIR/ready when all
                                             are connected, stop when DIR/stop exists (at most
                                             SECONDS); writes DIR/closes.tsv (REPLICA CODE
                                             REASON) and prints the verdicts

Every check prints a verdict line, "ok DESCRIPTION" or "FAILED DESCRIPTION", that the shell
script counts; other lines (indented) only inform.
"""
import asyncio
import collections
import json
import os
import signal
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

TIMEOUT = 10  # seconds: any single wait for a peer
LARGEST = bytes(range(256)) * (1 << 16)  # 16 MiB, whod's default --ws-max-message
# Autobahn's verdicts, best first: a server is worse on a case if its verdict ranks lower.
RANK = {"OK": 2, "NON-STRICT": 2, "INFORMATIONAL": 2, "UNIMPLEMENTED": 1, "FAILED": 0}


def verdict(ok, description):
    print(f"{'ok' if ok else 'FAILED'} {description}", flush=True)
    return ok


def inform(line):
    print(f"        {line}".rstrip(), flush=True)


def count_pings(ws):
    """Counts the pings the peer sends on ws (the library answers them by itself); returns a
    list whose length is the count."""
    pings = []
    receive = ws.protocol.recv_frame

    def recv_frame(frame):
        if frame.opcode == websockets.frames.Opcode.PING:
            pings.append(time.monotonic())
        receive(frame)

    ws.protocol.recv_frame = recv_frame
    return pings


# --- serve -----------------------------------------------------------------------------------


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def serve_reference():
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    # Autobahn's 9.x cases send messages up to 16 MiB: no limit, as whod's 16 MiB is none for
    # them; compression off, as whod offers none (Autobahn's 12.x and 13.x are not run).
    async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"websockets {websockets.__version__} listening on 127.0.0.1:{port}", flush=True)
        await stop


# --- autobahn --------------------------------------------------------------------------------


def tally(report):
    """"298 OK, 3 INFORMATIONAL": the count of each verdict, the commonest first."""
    counts = collections.Counter(b for b, _, _ in report.values())
    return ", ".join(f"{n} {v}" for v, n in counts.most_common())


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def read_report(directory):
    """{case: (behavior, behaviorClose, why)} from kosoku's index.json and case files; why is
    Autobahn's result, and for a case not passed the close the server sent: Autobahn's result
    alone can mislead ("did not receive message" when the server closed instead)."""
    with open(os.path.join(directory, "index.json")) as f:
        (cases,) = json.load(f).values()  # one agent: the server under test
    report = {}
    for case, outcome in cases.items():
        why = ""
        try:
            with open(os.path.join(directory, outcome["reportfile"])) as f:
                details = json.load(f)
            why = details.get("result") or ""
            code, reason = details.get("remoteCloseCode"), details.get("remoteCloseReason")
            if RANK.get(outcome["behavior"], 0) < 2 and code:
                why += f" (the server closed: {code}{' ' + reason if reason else ''})"
        except (OSError, ValueError):
            pass
        report[case] = (outcome["behavior"], outcome["behaviorClose"], why)
    return report


def autobahn(out, pairs):
    servers = [pair.partition("=")[::2] for pair in pairs]
    reports = {name: read_report(directory) for name, directory in servers}
    names = [name for name, _ in servers]
    first, whod = names[0], reports[names[0]]
    os.makedirs(out, exist_ok=True)
    for name in names:
        with open(os.path.join(out, f"{name}.tsv"), "w") as f:
            f.write("case\tbehavior\tbehaviorClose\tresult\n")
            f.writelines("\t".join((c, *reports[name][c])) + "\n"
                         for c in sorted(reports[name], key=case_key))
        inform(f"{name}: {len(reports[name])} cases, {tally(reports[name])}")

    def behavior(name, case):
        return reports[name].get(case, ("absent",))[0]

    def passed(name, case):
        return RANK.get(behavior(name, case), 0)

    bad = sorted((c for c, (b, bc, _) in whod.items() if RANK.get(b, 0) < 2 or RANK.get(bc, 0) < 2),
                 key=case_key)
    verdict(len(whod) > 290 and not bad,
            f"Autobahn, cases 1 to 10: every one of {first}'s {len(whod)} cases is OK, NON-STRICT "
            f"or INFORMATIONAL ({tally(whod)})" + (f"; not: {', '.join(bad)}" if bad else ""))
    cases = sorted(set().union(*(set(r) for r in reports.values())), key=case_key)
    for name in names[1:]:
        other = reports[name]
        verdict(set(other) == set(whod),
                f"the same {len(whod)} cases ran against {name} ({len(other)})")
        worse = [c for c in cases if passed(first, c) < passed(name, c)]
        verdict(not worse, f"{first} is no worse than {name} on any case"
                + (f"; worse on {', '.join(worse)}" if worse else
                   f" ({name} does not pass {sum(passed(name, c) < 2 for c in other)})"))
    differ = [c for c in cases if len({behavior(n, c) for n in names}) > 1]

    def cell(name, case):
        outcome, _, why = reports[name].get(case, ("absent", "", ""))
        return outcome if RANK.get(outcome, 0) == 2 or not why else f"{outcome}: {why}"

    with open(os.path.join(out, "differences.md"), "w") as f:
        f.write("| case | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n")
        f.writelines(f"| {c} | " + " | ".join(cell(n, c) for n in names) + " |\n" for c in differ)
    inform(f"the {len(differ)} cases whose verdicts differ (for a case not passed: Autobahn's "
           "result, and the close the server sent):")
    widths = [max([len(n)] + [len(behavior(n, c)) for c in differ]) for n in names]
    inform(f"{'case':<8}" + "  ".join(f"{n:<{w}}" for n, w in zip(names, widths)))
    for c in differ:
        inform(f"{c:<8}" + "  ".join(f"{behavior(n, c):<{w}}" for n, w in zip(names, widths)))
    whys = sorted({(n, cell(n, c).partition(": ")[2]) for c in differ for n in names
                   if ": " in cell(n, c)})
    for name, why in whys:
        inform(f"{name}: {why} ({', '.join(c for c in differ if cell(name, c).endswith(why))})")


# --- client ----------------------------------------------------------------------------------


async def client(url):
    megabyte = bytes(range(256)) * 4096  # 1 MiB, every byte value
    async with connect(url, max_size=None, compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("hello, whod")
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        verdict(got == "hello, whod",
                f"websockets {websockets.__version__}: a text message comes back as text ({got!r})")
        await ws.send(b"\x00\x01\xfe\xff binary")
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        verdict(got == b"\x00\x01\xfe\xff binary",
                f"websockets: a binary message comes back as binary ({got!r})")
        start = time.monotonic()
        await ws.send(megabyte)
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        verdict(got == megabyte, f"websockets: a 1 MiB binary message comes back whole and the "
                f"same ({len(got)} bytes in {time.monotonic() - start:.3f} s)")
        pong = await ws.ping(b"are you there")
        latency = await asyncio.wait_for(pong, TIMEOUT)
        verdict(True, f"websockets: a ping with a payload gets its pong ({latency * 1000:.1f} ms)")
        await ws.close()
        verdict(ws.close_code == 1000,
                f"websockets: a close (1000) is answered with a close (code {ws.close_code})")


# --- proxied ---------------------------------------------------------------------------------


async def proxied(proxy, url, source, remote, expected):
    async with connect(url, local_addr=(source, 0), max_size=None, compression=None,
                       open_timeout=TIMEOUT) as ws:
        greeting = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        inform(f"the upgrade request as {greeting['name'] or 'whod'} got it through {proxy}: "
               f"remote {greeting['remote']['address']}:{greeting['remote']['port']}")
        for field in greeting["fields"]:
            inform(f"    {field['name']}: {field['value']}")
        message = "x" * 70000  # over a 16-bit frame length: the proxy must pass a 64-bit one
        echoes = []
        for sent in ("through " + proxy, b"\x00\xff binary", message):
            await ws.send(sent)
            echoes.append(await asyncio.wait_for(ws.recv(), TIMEOUT) == sent)
        verdict(all(echoes), f"through {proxy}: text, binary and a 70000-byte message come back "
                f"the same ({echoes})")
        verdict(greeting["remote"]["address"] == remote,
                f"the greeting through {proxy} shows the proxy's address as the remote one "
                f"({greeting['remote']['address']}, the client being {source})")
        for name, value in expected:
            got = greeting["headers"].get(name.lower())
            verdict(got == [value],
                    f"the greeting through {proxy} shows {name}: {value} (got {got})")
        start = time.monotonic()
        await ws.send(LARGEST)
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        verdict(got == LARGEST, f"through {proxy}: a 16 MiB message (whod's --ws-max-message) "
                f"comes back whole and the same ({time.monotonic() - start:.2f} s)")
    # One byte more: whod closes with 1009 once the frame's header has announced its length,
    # before the payload, which the client is still sending; the proxy must carry the close.
    ws = await connect(url, max_size=None, compression=None, open_timeout=TIMEOUT)
    try:
        await asyncio.wait_for(ws.recv(), TIMEOUT)  # the greeting
        await ws.send(LARGEST + b"!")
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    except ConnectionClosed:
        pass
    finally:
        try:
            await ws.close()
        except Exception:  # noqa: BLE001 - the connection is gone, however it went
            pass
    close = ws.protocol.close_rcvd
    verdict(close is not None and close.code == 1009,
            f"through {proxy}: a message one byte longer gets a close, 1009 "
            f"({close.code if close else 'none'} '{close.reason if close else ''}')")


# --- refused ---------------------------------------------------------------------------------


async def refused(url):
    try:
        async with connect(url, compression=None, open_timeout=TIMEOUT):
            print("open", flush=True)
    except InvalidStatus as e:
        body = e.response.body.decode("utf-8", "replace").strip()
        print(f"{e.response.status_code} {body}", flush=True)


# --- quiet -----------------------------------------------------------------------------------


async def quiet(url, seconds):
    start = time.monotonic()
    async with connect(url, compression=None, open_timeout=TIMEOUT, ping_interval=None) as ws:
        pings = count_pings(ws)
        try:
            await asyncio.wait_for(ws.wait_closed(), seconds)
            state = "cut"
        except TimeoutError:
            try:  # still open: it must still echo
                await ws.send("still here")
                echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
                state = "alive" if echo == "still here" else "wrong"
            except ConnectionClosed:
                state = "cut"
        code = ws.close_code if ws.close_code is not None else "-"
        print(f"{state} {time.monotonic() - start:.1f} {len(pings)} {code}", flush=True)


# --- replicas --------------------------------------------------------------------------------


async def one_replica(url, index):
    async with connect(url, compression=None, open_timeout=TIMEOUT) as ws:
        name = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["name"]
        answered = 0
        for n in range(5):
            await ws.send(f"socket {index} message {n}")
            answered += await asyncio.wait_for(ws.recv(), TIMEOUT) == f"socket {index} message {n}"
        return name, answered


async def replicas(url, count, names):
    results = await asyncio.gather(*(one_replica(url, i) for i in range(count)))
    seen = collections.Counter(name for name, _ in results)
    inform("WebSockets per replica: " + ", ".join(f"{n} {seen[n]}" for n in sorted(seen)))
    verdict(set(seen) == set(names), f"the greetings of {count} WebSockets through the balancer "
            f"name every replica ({', '.join(sorted(seen))}), and no other")
    answered = collections.Counter()
    for name, n in results:
        answered[name] += n
    verdict(all(answered[n] > 0 for n in names) and sum(answered.values()) == 5 * count,
            f"all {5 * count} messages were answered, by each of the three "
            f"({', '.join(f'{n}: {answered[n]}' for n in sorted(answered))})")


# --- rolling ---------------------------------------------------------------------------------

WINDOW = 16  # messages a client may have sent without their echo yet
PAUSE = 0.01  # seconds between two messages of a client


class Sender:
    """One client: numbered messages, each echo checked against the oldest one unanswered (a
    connection's echoes come in order); after a close, what had no echo is sent again on the
    next connection."""

    def __init__(self, index, url):
        self.index = index
        self.url = url
        self.next = 1  # the next number to send
        self.unanswered = collections.deque()  # numbers sent on this connection, no echo yet
        self.echoes = collections.Counter()  # number -> echoes received, over all connections
        self.sendings = 0
        self.resent = 0
        self.connections = []  # the replica of each connection, in order
        self.closes = []  # [replica, code, reason, seconds until the next connection opened]
        self.wrong_echoes = []
        self.failed_connects = []
        self.history = collections.defaultdict(list)  # number -> "sent to R", "echoed by R"...

    def message(self, n):
        return f"client {self.index} message {n}"

    async def open(self):
        """A new connection through the balancer, and the replica it reached (its greeting);
        retried for a while: a balancer may refuse while no replica is up."""
        for _ in range(100):
            try:
                ws = await connect(self.url, compression=None, open_timeout=TIMEOUT)
                greeting = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                return ws, greeting["name"]
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as e:
                self.failed_connects.append(repr(e))
                await asyncio.sleep(0.1)
        raise RuntimeError(f"client {self.index}: no connection after 100 tries")

    async def read(self, ws):
        async for echo in ws:
            expected = self.message(self.unanswered[0]) if self.unanswered else None
            if echo != expected:
                self.wrong_echoes.append(f"{echo!r}, expecting {expected!r}")
                continue
            n = self.unanswered.popleft()
            self.echoes[n] += 1
            self.history[n].append(f"echoed by {self.connections[-1]}")

    async def send(self, ws, n):
        self.unanswered.append(n)  # first: its echo may come before send() returns
        self.sendings += 1
        self.history[n].append(f"sent to {self.connections[-1]}")
        await ws.send(self.message(n))

    async def run(self, connected, stop):
        closed_at = None
        while True:
            ws, replica = await self.open()
            if closed_at is not None:
                self.closes[-1][3] = time.monotonic() - closed_at
            self.connections.append(replica)
            again, self.unanswered = list(self.unanswered), collections.deque()
            reader = asyncio.create_task(self.read(ws))
            try:
                for n in again:
                    self.resent += 1
                    await self.send(ws, n)
                connected.set()
                while not stop.is_set() and not reader.done():
                    if len(self.unanswered) < WINDOW:
                        self.next += 1  # first: if the send fails, the number is in unanswered
                        await self.send(ws, self.next - 1)
                    await asyncio.sleep(PAUSE)
                if not reader.done():  # the end: every echo, then a close
                    for _ in range(int(TIMEOUT / PAUSE)):
                        if not self.unanswered or reader.done():
                            break
                        await asyncio.sleep(PAUSE)
                    if not reader.done():
                        await ws.close()
                        await asyncio.wait_for(reader, TIMEOUT)
                        return
            except ConnectionClosed:
                pass
            await asyncio.wait_for(reader, TIMEOUT)
            closed_at = time.monotonic()
            self.closes.append([replica, ws.close_code, ws.close_reason, None])


async def rolling(url, clients, directory, seconds):
    senders = [Sender(i + 1, url) for i in range(clients)]
    connected = [asyncio.Event() for _ in senders]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(c, stop)) for s, c in zip(senders, connected)]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), TIMEOUT)
    with open(os.path.join(directory, "ready"), "w") as f:
        f.write(" ".join(s.connections[0] for s in senders) + "\n")
    deadline = time.monotonic() + seconds
    while not os.path.exists(os.path.join(directory, "stop")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    done, pending = await asyncio.wait(tasks, timeout=2 * TIMEOUT)
    for task in pending:
        task.cancel()
    verdict(not pending and all(t.exception() is None for t in done),
            f"the {clients} clients ended by themselves ({len(pending)} stuck, "
            f"{sum(t.exception() is not None for t in done)} failed: "
            f"{[repr(t.exception()) for t in done if t.exception()][:3]})")

    closes = [c for s in senders for c in s.closes]
    with open(os.path.join(directory, "closes.tsv"), "w") as f:
        f.writelines(f"{replica}\t{code}\t{reason}\n" for replica, code, reason, _ in closes)
    sendings = sum(s.sendings for s in senders)
    numbers = sum(s.next - 1 for s in senders)
    echoes = sum(sum(s.echoes.values()) for s in senders)
    resent = sum(s.resent for s in senders)
    inform(f"{clients} clients: {numbers} numbered messages, {sendings} sendings ({resent} again "
           f"after a close), {echoes} echoes, {len(closes)} closes during the run")
    for s in senders:
        inform(f"client {s.index}: connections to {' -> '.join(s.connections)}; closes: "
               + ", ".join(f"{r} {code} '{why}', reconnected in {(t or 0) * 1000:.0f} ms"
                           for r, code, why, t in s.closes))
    wrong = [e for s in senders for e in s.wrong_echoes]
    verdict(not wrong, f"every echo was the oldest message unanswered on its connection "
            f"({len(wrong)} not: {wrong[:3]})")
    numbered = [(s, n) for s in senders for n in range(1, s.next)]
    missing = [(s.index, n, s.history[n]) for s, n in numbered if s.echoes[n] == 0]
    twice = [(s.index, n, s.history[n]) for s, n in numbered if s.echoes[n] > 1]
    verdict(numbers > 0 and not missing and not twice,
            f"every one of the {numbers} numbered messages was echoed exactly once "
            f"({len(missing)} never: {missing[:5]}; {len(twice)} more than once: {twice[:5]})")
    verdict(sendings == echoes + resent,
            f"each sending got its echo but those the close overtook, sent again ({sendings} "
            f"sendings = {echoes} echoes + {resent} sent again)")
    other = [c[:3] for c in closes if c[1:3] != [1001, "server stopping"]]
    verdict(closes and not other, f"every close during the run was 1001 'server stopping' "
            f"({len(closes)} closes; not: {other[:3]})")
    same = [(s.index, a) for s in senders
            for a, b in zip(s.connections, s.connections[1:]) if a == b]
    verdict(not same, f"every reconnection reached another replica than the one stopping "
            f"({len(same)} did not: {same[:3]})")
    waits = [c[3] for c in closes]
    failed = [e for s in senders for e in s.failed_connects]
    longest = max((w or 0 for w in waits), default=0)
    verdict(None not in waits, f"after every close the client was connected again through the "
            f"balancer (the longest wait {longest * 1000:.0f} ms; {len(failed)} tries failed: "
            f"{failed[:2]})")


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "serve":
        asyncio.run(serve_reference())
    elif command == "autobahn":
        autobahn(args[0], args[1:])
    elif command == "client":
        asyncio.run(client(args[0]))
    elif command == "proxied":
        expected = [pair.partition("=")[::2] for pair in args[4:]]
        asyncio.run(proxied(args[0], args[1], args[2], args[3], expected))
    elif command == "refused":
        asyncio.run(refused(args[0]))
    elif command == "quiet":
        asyncio.run(quiet(args[0], float(args[1])))
    elif command == "replicas":
        asyncio.run(replicas(args[0], int(args[1]), args[2:]))
    elif command == "rolling":
        asyncio.run(rolling(args[0], int(args[1]), args[2], float(args[3])))
    else:
        sys.exit(f"unknown command {command}: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
