#!/usr/bin/env bash
# `make bench`: whod against the tutorial's Go server and nginx with one worker, on loopback,
# in one run. Load rounds alternate the servers (who nginx go who nginx go ...) so that drift on
# a shared machine hits all alike; the report gives per-server medians and the median of the
# per-round ratios. Writes target/bench/results.md.
#
#   bench/run.sh [--rounds N] [--seconds S] [--hold N] [--smoke]
#   --smoke: 1 round of 1 s and 500 held connections, as CI runs it so the bench cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

rounds=3 seconds=4 hold=5000
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --hold) hold=$2; shift 2 ;;
        --smoke) rounds=1 seconds=1 hold=500; shift ;;
        *) echo "usage: bench/run.sh [--rounds N] [--seconds S] [--hold N] [--smoke]" >&2; exit 2 ;;
    esac
done

out=target/bench
mkdir -p "$out"
raw=$out/raw.tsv
: >"$raw"
ulimit -n "$(ulimit -Hn)" # wrk at 1000 connections and the held ones need more than 1024

missing=()
for pair in wrk:wrk nginx:nginx-light go:golang-go python3:python3 curl:curl; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "bench: missing tools; install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

echo "bench: building whod (release, static, as Dockerfile.multi builds it) and the Go original"
whod=$(static_build target)
GOCACHE=$PWD/$out/gocache CGO_ENABLED=0 go build -o "$out/who-go" bench/who.go

pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

nginx_prefix=$PWD/$out/nginx
mkdir -p "$nginx_prefix"

# command NAME PORT: the command line that starts server NAME on PORT.
command_for() {
    case $1 in
        who) echo "$whod --port $2 --bind 127.0.0.1" ;;
        go) echo "env PORT=$2 $out/who-go" ;;
        nginx)
            sed -e "s|PREFIX|$nginx_prefix|g" -e "s|PORT|$2|g" bench/nginx.conf >"$nginx_prefix/nginx-$2.conf"
            echo "nginx -p $nginx_prefix -c $nginx_prefix/nginx-$2.conf -g 'daemon off;'" ;;
    esac
}

# start NAME: starts server NAME on a fresh port, records exec -> first 200 (ms) and idle RSS.
declare -A port pid
start() {
    local name=$1 p ms server_pid
    p=$(free_port)
    # shellcheck disable=SC2046 # the command is split into words on purpose
    read -r ms server_pid < <(eval python3 bench/probe.py first200 "$p" $(command_for "$name" "$p"))
    port[$name]=$p
    pid[$name]=$server_pid
    pids+=("${pid[$name]}")
    echo -e "startup\t$name\t$ms" >>"$raw"
}

servers=(who nginx go)
echo "bench: exec -> first 200, three starts each"
for _ in 1 2 3; do
    for name in "${servers[@]}"; do
        start "$name"
        sleep 0.2
        echo -e "idle_rss\t$name\t$(python3 bench/probe.py rss "${pid[$name]}")" >>"$raw"
        kill "${pid[$name]}"
        wait "${pid[$name]}" 2>/dev/null || true
    done
done
for name in "${servers[@]}"; do start "$name"; done
sleep 0.3

# load SCENARIO CONNECTIONS [SCRIPT]: one wrk run per server per round.
load() {
    local scenario=$1 connections=$2 script=${3:-} round name args ticks
    for round in $(seq "$rounds"); do
        for name in "${servers[@]}"; do
            args=(-t1 "-c$connections" "-d${seconds}s" --latency --timeout 5s)
            [ -z "$script" ] || args+=(-s "$script")
            ticks=$(python3 bench/probe.py cpu "${pid[$name]}")
            wrk "${args[@]}" "http://127.0.0.1:${port[$name]}/who" >"$out/wrk.txt" 2>&1
            ticks=$(( $(python3 bench/probe.py cpu "${pid[$name]}") - ticks ))
            read -r requests errors non2xx rps p99 < <(wrk_summary "$out/wrk.txt")
            awk -v requests="$requests" -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" -v line="load\t$scenario\t$round\t$name\t$rps\t$p99\t$errors\t$non2xx" \
                'BEGIN { printf "%s\t%.3f\n", line, requests ? ticks * 1000000 / hz / requests : 0 }' >>"$raw"
            printf '  %-22s round %d  %-6s %s req/s\n' "$scenario" "$round" "$name" "$(tail -n 1 "$raw" | cut -f5)"
        done
    done
}
echo "bench: load, $rounds round(s) of ${seconds}s per server and scenario"
load "64 conns" 64
load "1000 conns" 1000
load "64 conns, 16 pipelined" 64 bench/pipeline.lua

for name in "${servers[@]}"; do
    echo -e "loaded_rss\t$name\t$(python3 bench/probe.py rss "${pid[$name]}")" >>"$raw"
done
echo "bench: holding $hold idle keep-alive connections per server"
for name in "${servers[@]}"; do
    read -r rss alive < <(python3 bench/probe.py hold "${port[$name]}" "$hold" "${pid[$name]}")
    echo -e "hold_rss\t$name\t$rss\t$alive" >>"$raw"
done

echo -e "size\twho\t$(stat -c %s "$whod")" >>"$raw"
echo -e "size\tgo\t$(stat -c %s "$out/who-go")" >>"$raw"
echo -e "size\tnginx\t$(stat -c %s "$(command -v nginx)")" >>"$raw"
machine="$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r)"
python3 bench/report.py "$raw" "$machine" "$rounds" "$seconds" "$hold" | tee "$out/results.md"
