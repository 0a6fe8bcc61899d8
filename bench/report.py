#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the results table (Markdown).

  report.py RAW.tsv MACHINE ROUNDS SECONDS HOLD
"""
import statistics
import sys
from collections import defaultdict

raw, machine, rounds, seconds, hold = sys.argv[1:6]
servers = ["who", "nginx", "go"]
scenarios = ["64 conns", "1000 conns", "64 conns, 16 pipelined"]

load = defaultdict(dict)  # (scenario, round) -> server -> (rps, p99_us, errors, non2xx, cpu_us)
single = defaultdict(lambda: defaultdict(list))  # measure -> server -> values
for line in open(raw):
    f = line.rstrip("\n").split("\t")
    if f[0] == "load":
        scenario, rnd, name = f[1], f[2], f[3]
        load[(scenario, rnd)][name] = (float(f[4] or 0), float(f[5] or 0), int(f[6]), int(f[7]), float(f[8]))
    else:
        single[f[0]][f[1]].append(float(f[2]))
        if f[0] == "hold_rss":
            single["hold_alive"][f[1]].append(float(f[3]))


def med(values):
    return statistics.median(values) if values else float("nan")


def by_server(scenario, index):
    return {s: [r[s][index] for (sc, _), r in load.items() if sc == scenario and s in r] for s in servers}


def ratios(scenario, index, other):
    """The median over rounds of who/other, each round's pair measured side by side."""
    return med([r["who"][index] / r[other][index] for (sc, _), r in load.items() if sc == scenario and r[other][index]])


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


rows = []
for scenario in scenarios:
    rps = by_server(scenario, 0)
    rows.append((f"req/s, {scenario}", *(f"{med(rps[s]):,.0f}" for s in servers),
                 f"{ratios(scenario, 0, 'nginx'):.2f}x", f"{ratios(scenario, 0, 'go'):.2f}x"))
for scenario in scenarios[:2]:
    p99 = by_server(scenario, 1)
    rows.append((f"p99 latency, {scenario}", *(f"{med(p99[s]) / 1000:.2f} ms" for s in servers),
                 f"{ratios(scenario, 1, 'nginx'):.2f}x", f"{ratios(scenario, 1, 'go'):.2f}x"))
for scenario in scenarios:
    cpu = by_server(scenario, 4)
    rows.append((f"CPU per request, {scenario}", *(f"{med(cpu[s]):.2f} us" for s in servers),
                 f"{ratios(scenario, 4, 'nginx'):.2f}x", f"{ratios(scenario, 4, 'go'):.2f}x"))
errors = {s: sum(r[s][2] + r[s][3] for r in load.values() if s in r) for s in servers}
rows.append(("socket errors + non-2xx, all runs", *(str(errors[s]) for s in servers), "", ""))
rows.append(("idle RSS after start", *(mib(med(single["idle_rss"][s])) for s in servers), "", ""))
rows.append(("RSS after the load", *(mib(med(single["loaded_rss"][s])) for s in servers), "", ""))
rows.append((f"RSS, {hold} idle keep-alive conns held",
             *(f"{mib(med(single['hold_rss'][s]))}" for s in servers), "", ""))
rows.append(("exec -> first 200 (median of 3)", *(f"{med(single['startup'][s]):.1f} ms" for s in servers), "", ""))
rows.append(("binary size", *(f"{med(single['size'][s]) / 1e6:.2f} MB" for s in servers), "", ""))

print(f"Measured by `make bench` on {machine}: {rounds} round(s) of {seconds} s per server and "
      "load, wrk with 1 thread and keep-alive, servers alternated each round. who: `whod` with "
      "its defaults (one worker), built static as in the image; nginx: 1 worker, access log off; go: the tutorial's program. Ratios are the "
      "median of per-round ratios (for latency and CPU, lower is better); CPU per request is "
      "the server's user and system time during the run, divided by the requests served. nginx's RSS counts master "
      "and worker; its binary is dynamically linked.\n")
print("| measure | who | nginx (1 worker) | Go original | who/nginx | who/Go |")
print("|---|---:|---:|---:|---:|---:|")
for row in rows:
    print("| " + " | ".join(row) + " |")
