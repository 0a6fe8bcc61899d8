#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the results tables (Markdown).

  report.py RAW.tsv MACHINE ROUNDS SECONDS HOLD SYSCALL_SECONDS CALLGRIND_ROUNDS CALLGRIND_CLOSE

The servers (columns) and the loads (rows) are the ones run.sh declares, in its order; "who"
is compared with each of the others.
"""
import statistics
import sys
from collections import defaultdict

raw, machine, rounds, seconds, hold, syscall_seconds, callgrind_rounds, callgrind_close = sys.argv[1:9]

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
unavailable = {}  # "syscalls" or "instructions" -> why not measured
for line in open(raw):
    f = line.rstrip("\n").split("\t")
    if f[0] == "server":
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
