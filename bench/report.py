#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the results tables (Markdown).

  report.py RAW.tsv MACHINE ROUNDS SECONDS HOLD SYSCALL_SECONDS CALLGRIND_ROUNDS CALLGRIND_CLOSE [SVG]

The servers (columns) and the loads (rows) are the ones run.sh declares, in its order; "who"
is compared with each of the others. Then the transfers, streams and WebSocket tables (rows
run.sh recorded from bench/load), and with SVG, the headline numbers drawn as a chart there.
"""
import datetime
import statistics
import sys
from collections import defaultdict
from html import escape

raw, machine, rounds, seconds, hold, syscall_seconds, callgrind_rounds, callgrind_close = sys.argv[1:9]
svg_path = sys.argv[9] if len(sys.argv) > 9 else None

servers = []  # in column order
kinds = {}  # server -> whod, nginx or go
scenarios = []  # in row order
latency = {}  # scenario -> whether it gets a p99 row
baselines = []  # (server, the revision asked for)
load = defaultdict(dict)  # (scenario, round) -> server -> (rps, p99_us, errors, non2xx, cpu_us)
single = defaultdict(lambda: defaultdict(list))  # measure -> server -> values
syscalls = defaultdict(lambda: defaultdict(dict))  # unit -> server -> syscall -> count per unit
syscall_units = defaultdict(dict)  # unit -> server -> requests (or connections) counted
instructions = {}  # server -> (per request, per connection)
unavailable = {}  # "syscalls", "instructions" or "node" -> why not measured
params = {}  # run.sh's sizes and counts for the bench/load parts
transfers = defaultdict(dict)  # (kind, client, round) -> server -> (bytes, seconds, cpu seconds)
streams = None  # (events, seconds, cpu seconds, max RSS KiB, short streams, idle RSS KiB)
ws_echo = defaultdict(dict)  # (size, round) -> server -> (messages, seconds, server cpu, client cpu)
ws_hold = {}  # server -> (held, RSS before KiB, RSS while held KiB, alive)
for line in open(raw):
    f = line.rstrip("\n").split("\t")
    if f[0] == "param":
        params[f[1]] = f[2]
    elif f[0] in ("download", "upload"):
        transfers[(f[0], f[3], f[1])][f[2]] = (int(f[4]), float(f[5]), float(f[6]))
    elif f[0] == "streams":
        streams = (int(f[1]), float(f[2]), float(f[3]), int(f[4]), int(f[5]), int(f[6]))
    elif f[0] == "ws_echo":
        ws_echo[(int(f[1]), f[2])][f[3]] = (int(f[4]), float(f[5]), float(f[6]), float(f[7]))
    elif f[0] == "ws_hold":
        ws_hold[f[1]] = (int(f[2]), int(f[3]), int(f[4]), int(f[5]))
    elif f[0] == "server":
        servers.append(f[1])
        kinds[f[1]] = f[2]
    elif f[0] == "scenario":
        scenarios.append(f[1])
        latency[f[1]] = f[2] == "1"
    elif f[0] == "baseline":
        baselines.append((f[1], f[2]))
    elif f[0] == "load":
        scenario, rnd, name = f[1], f[2], f[3]
        load[(scenario, rnd)][name] = (float(f[4] or 0), float(f[5] or 0), int(f[6]), int(f[7]), float(f[8]))
    elif f[0] == "syscalls":
        unit, name, call, count, units = f[1], f[2], f[3], int(f[4]), int(f[5])
        syscall_units[unit][name] = units
        syscalls[unit][name][call] = count / units if units else float("nan")
    elif f[0] == "instructions":
        instructions[f[1]] = (float(f[2]), float(f[3]))
    elif f[0].endswith("_unavailable"):
        unavailable[f[0].removesuffix("_unavailable")] = f[1].rstrip(".")
    else:
        single[f[0]][f[1]].append(float(f[2]))
        if f[0] == "hold_rss":
            single["hold_alive"][f[1]].append(float(f[3]))

others = [s for s in servers if s != "who"]


def column(server):
    return {"nginx": "nginx (1 worker)", "go": "Go original"}.get(kinds[server], server)


def short(server):
    return {"nginx": "nginx", "go": "Go"}.get(kinds[server], server)


def med(values):
    return statistics.median(values) if values else float("nan")


def by_server(scenario, index):
    return {s: [r[s][index] for (sc, _), r in load.items() if sc == scenario and s in r] for s in servers}


def ratio(scenario, index, other):
    """The median over rounds of who/other, each round's pair measured side by side."""
    values = [r["who"][index] / r[other][index] for (sc, _), r in load.items()
              if sc == scenario and "who" in r and other in r and r[other][index]]
    return f"{med(values):.2f}x" if values else ""


def cells(values, fmt):
    """One cell per server: fmt(median), or empty where the server did not run."""
    return [fmt(med(values[s])) if values[s] else "" for s in servers]


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


rows = []
for scenario in scenarios:
    rps = by_server(scenario, 0)
    rows.append((f"req/s, {scenario}", *cells(rps, lambda v: f"{v:,.0f}"), *(ratio(scenario, 0, o) for o in others)))
for scenario in (s for s in scenarios if latency[s]):
    p99 = by_server(scenario, 1)
    rows.append((f"p99 latency, {scenario}", *cells(p99, lambda v: f"{v / 1000:.2f} ms"),
                 *(ratio(scenario, 1, o) for o in others)))
for scenario in scenarios:
    cpu = by_server(scenario, 4)
    rows.append((f"CPU per request, {scenario}", *cells(cpu, lambda v: f"{v:.2f} us"),
                 *(ratio(scenario, 4, o) for o in others)))
errors = {s: sum(r[s][2] + r[s][3] for r in load.values() if s in r) for s in servers}
blank = [""] * len(others)
rows.append(("socket errors + non-2xx, all runs", *(str(errors[s]) for s in servers), *blank))
rows.append(("idle RSS after start", *cells(single["idle_rss"], mib), *blank))
rows.append(("RSS after the load", *cells(single["loaded_rss"], mib), *blank))
rows.append((f"RSS, {hold} idle keep-alive conns held", *cells(single["hold_rss"], mib), *blank))
rows.append(("exec -> first 200 (median of 3)", *cells(single["startup"], lambda v: f"{v:.1f} ms"), *blank))
rows.append(("binary size", *cells(single["size"], lambda v: f"{v / 1e6:.2f} MB"), *blank))

print(f"Measured by `make bench` on {machine}: {rounds} round(s) of {seconds} s per server and "
      "load, wrk with 1 thread, servers alternated each round. who: `whod` with "
      "its defaults (one worker), built static as in the image; nginx: 1 worker, access log off; go: the tutorial's program. "
      + "".join(f"{b}: `whod` built the same way at `{rev}`, run in the same rounds. " for b, rev in baselines)
      + "The Connection: close load sends each request on a new connection. Ratios are the "
      "median of per-round ratios (for latency and CPU, lower is better); CPU per request is "
      "the server's user and system time during the run, divided by the requests served. nginx's RSS counts master "
      "and worker; its binary is dynamically linked.\n")
table(["measure", *(column(s) for s in servers), *(f"who/{short(o)}" for o in others)], rows)

# System calls, by name: a row for each syscall that some server makes at least once per 100
# requests (or connections).
print(f"System calls, counted by `perf stat` on the syscall tracepoints of the servers' threads "
      f"while wrk loads each in turn for {syscall_seconds} s at 64 connections (separate runs, after the rounds), "
      "divided by the requests wrk completed: per request with keep-alive, per connection with "
      "`Connection: close` (one request each). The named syscalls are run.sh's list; the total is "
      "every syscall (`raw_syscalls:sys_enter`).\n")
if "syscalls" in unavailable:
    print(f"Not measured: {unavailable['syscalls']}.\n")
else:
    for unit, load_name in (("request", "keep-alive"), ("connection", "Connection: close")):
        measured = [s for s in servers if s in syscall_units[unit]]
        counts = {s: dict(syscalls[unit][s]) for s in measured}
        for s in measured:  # "_total" is every syscall: what the named ones leave is "other"
            total = counts[s].pop("_total", 0)
            counts[s]["other"] = max(0.0, total - sum(counts[s].values()))
        names = sorted({c for s in measured for c, v in counts[s].items() if v >= 0.01 and c != "other"})
        rows = [(f"`{c}`", *(f"{counts[s].get(c, 0):.2f}" for s in measured)) for c in names]
        rows.append(("other (under 0.01 each, or not listed)",
                     *(f"{counts[s]['other'] + sum(v for c, v in counts[s].items() if c not in names and c != 'other'):.2f}"
                       for s in measured)))
        rows.append(("**total**", *(f"**{sum(counts[s].values()):.2f}**" for s in measured)))
        rows.append((f"({unit}s counted)", *(f"{syscall_units[unit][s]:,}" for s in measured)))
        table([f"syscalls per {unit}, {load_name}", *(column(s) for s in measured)], rows)

print(f"User-space instructions (callgrind's Ir: the server's own code and its libraries, not the "
      f"kernel), from three runs of each server under callgrind on the same fixed load, the bytes "
      f"wrk sends: A = {callgrind_rounds} rounds of one request on each of 64 keep-alive connections, "
      f"B = {2 * int(callgrind_rounds)} rounds, C = A then {callgrind_close} requests with Connection: close, "
      "each on a new connection. Per request: (B - A) / requests; per connection: (C - A) / connections, "
      "so that start, stop and set-up cancel. nginx runs as a single process (`master_process off`); Go is "
      "not measured.\n")
if "instructions" in unavailable:
    print(f"Not measured: {unavailable['instructions']}.\n")
else:
    measured = [s for s in servers if s in instructions]
    compared = [s for s in measured if s != "who"] if "who" in measured else []

    def instruction_row(label, index):
        return (label, *(f"{instructions[s][index]:,.0f}" for s in measured),
                *(f"{instructions['who'][index] / instructions[o][index]:.2f}x" for o in compared))

    table(["instructions", *(column(s) for s in measured), *(f"who/{short(o)}" for o in compared)], [
        instruction_row("per request, keep-alive", 0),
        instruction_row("per connection, Connection: close (one request)", 1),
    ])


# The parts bench/load measures: per-round values, their medians, and who/other as the median
# of per-round ratios (the pair measured side by side).
def per_round(runs, value):
    """runs: round -> server -> measurement; returns server -> [value per round]."""
    out = defaultdict(list)
    for by_server in runs.values():
        for server, m in by_server.items():
            out[server].append(value(m))
    return out


def round_ratio(runs, value, other):
    values = [value(r["who"]) / value(r[other]) for r in runs.values()
              if "who" in r and other in r and value(r[other])]
    return f"{med(values):.2f}x" if values else ""


def size_name(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


headline = []  # (panel, group label, formatter, {server: value}) for the chart
for scenario in scenarios:
    headline.append(("rps", f"req/s, {scenario}", lambda v: f"{v:,.0f}",
                     {s: med(v) for s, v in by_server(scenario, 0).items() if v}))
    headline.append(("cpu", f"CPU per request, {scenario}", lambda v: f"{v:.2f} us",
                     {s: med(v) for s, v in by_server(scenario, 4).items() if v}))

if transfers:
    size = int(params.get("transfer_size", 0))
    count = params.get("transfer_count", "1")
    print(f"Downloads and uploads, measured by bench/load (run.sh builds it; std only, one thread) "
          f"and checked with curl: {rounds} round(s), who and nginx in turn. A download is "
          f"`GET /data?size={size}` on a new connection, read to its end ({count} per server, client "
          f"and round; bench/load reads 256 KiB at a time and drops it, curl writes to /dev/null); "
          f"nginx sends a file of the same {size_name(size)} (the same bytes) from the page cache with "
          f"`sendfile on`. An upload is one `POST /upload` of {size_name(size)} (Content-Length; "
          "bench/load writes 256 KiB at a time) on a keep-alive connection, then a `GET /who` on the "
          "same connection, which either server answers only once the whole body has been read: the "
          "time runs to that answer (curl -T: a PUT streamed from the file, to its answer). whod "
          "reads each body into its 64 KiB buffer and runs its CRC-32 over it (the answer gives size "
          "and checksum); nginx (`return 200` in `location = /upload`, `client_max_body_size 0`) "
          "reads it into a 4 KiB buffer and drops it. GB/s = 10^9 bytes per second; CPU per GB is "
          "the server's user and system time (from /proc) divided by the bytes moved. `whod` runs "
          f"with `--max-data {size} --max-body 2GiB`.\n")
    rows = []
    for kind, verb in (("download", "downloaded"), ("upload", "uploaded")):
        for client, label in (("load", "bench/load"), ("curl", "curl")):
            runs = {r: v for (k, c, r), v in transfers.items() if k == kind and c == client}
            if not runs:
                continue
            gbps = per_round(runs, lambda m: m[0] / m[1] / 1e9)
            rows.append((f"{kind} GB/s, {label}", *(f"{med(gbps[s]):.2f}" if gbps[s] else "" for s in ("who", "nginx")),
                         round_ratio(runs, lambda m: m[0] / m[1], "nginx")))
            if client == "load":
                headline.append(("rps", f"{kind} GB/s ({size_name(size)}, bench/load)", lambda v: f"{v:.2f} GB/s",
                                 {s: med(v) for s, v in gbps.items()}))
        runs = {r: v for (k, c, r), v in transfers.items() if k == kind and c == "load"}
        cpu = per_round(runs, lambda m: m[2] / (m[0] / 1e9))
        rows.append((f"server CPU per GB {verb} (bench/load)", *(f"{med(cpu[s]):.3f} s" if cpu[s] else "" for s in ("who", "nginx")),
                     round_ratio(runs, lambda m: m[2] / m[0], "nginx")))
        headline.append(("cpu", f"CPU per GB {verb}", lambda v: f"{v:.3f} s", {s: med(v) for s, v in cpu.items()}))
    table(["transfers", "who", "nginx (1 worker)", "who/nginx"], rows)

if streams:
    events, secs, cpu, rss, short_streams, idle = streams
    clients, per, interval = int(params["stream_clients"]), int(params["stream_events"]), params["stream_interval"]
    interval_s = float(interval.removesuffix("ms")) / 1000 if interval.endswith("ms") else float(interval.removesuffix("s"))
    print(f"Streams, whod alone (nginx and the Go program have no such route): {clients} connections "
          f"open `GET /stream?count={per}&interval={interval}` at once (Connection: close), and "
          "bench/load reads them all to their end on one epoll loop, counting the events. The first "
          "event goes with the answer's head, each next one when its timer fires in whod's event loop. "
          "RSS is sampled every 250 ms while they run.\n")
    table([f"/stream, {clients} at once", "who"], [
        ("events delivered (streams cut short)", f"{events:,} of {clients * per:,} ({short_streams})"),
        ("events per second", f"{events / secs:,.0f} (on time: {clients / interval_s:,.0f})"),
        ("first request to the last stream's end", f"{secs:.2f} s (on time: {(per - 1) * interval_s:.2f} s)"),
        ("server CPU per event", f"{cpu * 1e6 / events:.2f} us" if events else ""),
        (f"RSS idle, and with {clients} streams open", f"{mib(idle)}, {mib(rss)}"),
    ])

if ws_echo or ws_hold:
    others_ws = sorted({s for r in ws_echo.values() for s in r} - {"who"})
    names = {"node": "Node ws 8"}
    conns = params.get("ws_conns", "64")
    print(f"WebSocket echo, measured by bench/load: {conns} WebSockets, each sending one binary "
          f"message (masked, as a client must), waiting for its echo whole, and sending the next, for "
          f"{seconds} s per server and round ({rounds} round(s), who and Node in turn). Node: `ws` 8 "
          "with bufferutil, `perMessageDeflate: false` (`bench/ws_echo.js`), one "
          "process on one thread for JavaScript as whod's one worker. Server CPU per message is its "
          "user and system time over the messages echoed; the client's CPU share (its CPU time over "
          "the run's) shows whether the client could have been the limit. The idle rows: each "
          "server started afresh, RSS before and while bench/load holds its WebSockets open (each "
          "one handshake, then nothing), and the difference per WebSocket.\n")
    if "node" in unavailable:
        print(f"Node's ws not measured: {unavailable['node']}.\n")
    rows = []
    for size in sorted({k[0] for k in ws_echo}):
        runs = {r: v for (sz, r), v in ws_echo.items() if sz == size}
        rate = per_round(runs, lambda m: m[0] / m[1])
        rows.append((f"messages/s, {size_name(size)}", *(f"{med(rate[s]):,.0f}" for s in ["who", *others_ws]),
                     *(round_ratio(runs, lambda m: m[0] / m[1], o) for o in others_ws)))
        headline.append(("rps", f"WebSocket echoes/s, {size_name(size)}", lambda v: f"{v:,.0f}",
                         {s: med(v) for s, v in rate.items()}))
        if size >= 1024:
            rows.append((f"MB/s echoed, {size_name(size)} (each way)",
                         *(f"{med(rate[s]) * size / 1e6:,.0f}" for s in ["who", *others_ws]),
                         *(round_ratio(runs, lambda m: m[0] / m[1], o) for o in others_ws)))
    for size in sorted({k[0] for k in ws_echo}):
        runs = {r: v for (sz, r), v in ws_echo.items() if sz == size}
        cpu = per_round(runs, lambda m: m[2] / m[0] * 1e6 if m[0] else float("nan"))
        rows.append((f"server CPU per message, {size_name(size)}", *(f"{med(cpu[s]):.2f} us" for s in ["who", *others_ws]),
                     *(round_ratio(runs, lambda m: m[2] / m[0], o) for o in others_ws)))
        headline.append(("cpu", f"CPU per WebSocket echo, {size_name(size)}", lambda v: f"{v:.2f} us",
                         {s: med(v) for s, v in cpu.items()}))
    for size in sorted({k[0] for k in ws_echo}):
        runs = {r: v for (sz, r), v in ws_echo.items() if sz == size}
        busy = per_round(runs, lambda m: m[2] / m[1])
        share = per_round(runs, lambda m: m[3] / m[1])
        rows.append((f"CPU share of the run, server / client, {size_name(size)}",
                     *(f"{med(busy[s]):.0%} / {med(share[s]):.0%}" for s in ["who", *others_ws]),
                     *([""] * len(others_ws))))
    held_servers = [s for s in ["who", *others_ws] if s in ws_hold]
    if held_servers:
        held = ws_hold[held_servers[0]][0]
        rows.append((f"RSS before, and with {held:,} idle WebSockets held",
                     *(f"{mib(ws_hold[s][1])}, {mib(ws_hold[s][2])}" if s in ws_hold else "" for s in ["who", *others_ws]),
                     *([""] * len(others_ws))))
        per_socket = {s: (ws_hold[s][2] - ws_hold[s][1]) * 1024 / ws_hold[s][0] for s in held_servers}
        rows.append(("RSS per idle WebSocket (still open)",
                     *(f"{per_socket[s]:,.0f} B ({ws_hold[s][3]:,})" if s in ws_hold else "" for s in ["who", *others_ws]),
                     *(f"{per_socket['who'] / per_socket[o]:.2f}x" if "who" in per_socket and per_socket.get(o) else ""
                       for o in others_ws)))
    table(["WebSocket", "who", *(names.get(o, o) for o in others_ws), *(f"who/{o}" for o in others_ws)], rows)


# The chart: the headline numbers as horizontal bars, one group per measure, one bar per
# server; each group scaled to its own largest value (the loads differ by orders of
# magnitude), every bar labelled with its value. Hand-written SVG: no plotting library.
COLOURS = {"who": "#d9480f", "nginx": "#2b8a3e", "go": "#1971c2", "node": "#7048e8"}
SPARE = ["#f59f00", "#868e96", "#e64980", "#0c8599"]


def colour(server, spare):
    if server == "who":
        return COLOURS["who"]
    kind = kinds.get(server, server)
    if kind in ("nginx", "go", "node"):
        return COLOURS[kind]
    return SPARE[spare.index(server) % len(SPARE)] if server in spare else SPARE[-1]


def label(server):
    if server in kinds:
        return column(server)
    return {"node": "Node ws 8"}.get(server, server)


def chart(path):
    order = [*servers, *(s for g in headline for s in g[3] if s not in servers)]
    order = list(dict.fromkeys(order))
    spare = [s for s in order if s != "who" and kinds.get(s, s) not in ("nginx", "go", "node")]
    width, left, bar_max, row, gap = 980, 300, 520, 15, 10
    parts, y = [], 72
    for panel, title in (("rps", "Throughput: higher is better"), ("cpu", "Server CPU per unit of work: lower is better")):
        # A measure with one server (a path only whod serves) compares nothing: left out.
        groups = [g for g in headline if g[0] == panel and sum(v == v and v > 0 for v in g[3].values()) > 1]
        if not groups:
            continue
        parts.append(f'<text x="12" y="{y}" class="panel">{escape(title)}</text>')
        y += 14
        for _, name, fmt, values in groups:
            present = [s for s in order if s in values and values[s] == values[s]]
            top = max(values[s] for s in present) or 1
            parts.append(f'<text x="{left - 10}" y="{y + 12}" class="group" text-anchor="end">{escape(name)}</text>')
            for s in present:
                v = values[s]
                length = max(1.0, bar_max * v / top)
                parts.append(f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row - 3}" fill="{colour(s, spare)}"><title>{escape(label(s))}: {escape(fmt(v))}</title></rect>')
                parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 12}" class="value">{escape(fmt(v))}</text>')
                y += row
            y += gap
        y += 14
    legend = []
    x = 12
    for s in order:
        legend.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{colour(s, spare)}"/>'
                      f'<text x="{x + 17}" y="40" class="value">{escape(label(s))}</text>')
        x += 30 + 7 * len(label(s))
    today = datetime.date.today().isoformat()
    foot = [f"make bench, {today}, on {machine}.",
            f"{rounds} round(s), medians. Each group's bars are scaled to its own largest value."]
    height = y + 30
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">',
           "<style>.panel{font-size:15px;font-weight:bold}.group{font-size:12px}.value{font-size:11px}.title{font-size:17px;font-weight:bold}.foot{font-size:10px;fill:#555}</style>",
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="12" y="20" class="title">who (whod) against nginx, the Go original and Node ws, on loopback</text>',
           *legend, *parts,
           *(f'<text x="12" y="{height - 22 + 13 * i}" class="foot">{escape(line)}</text>' for i, line in enumerate(foot)),
           "</svg>"]
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


if svg_path:
    chart(svg_path)
    print(f"The headline numbers as a chart: `{svg_path}` (throughput, and server CPU per unit of work; "
          "each measure's bars scaled to its largest).\n")
