#!/usr/bin/env bash
# `make bench`: whod against the tutorial's Go server and nginx with one worker, on loopback,
# in one run. Load rounds alternate the servers (who nginx go who nginx go ...) so that drift on
# a shared machine hits all alike; the report gives per-server medians and the median of the
# per-round ratios. Then, per server: the system calls it makes per request and per connection
# (perf stat on its syscall tracepoints, during a wrk load), and the user-space instructions it
# executes per request and per connection (callgrind, a fixed load; who and nginx). Then what
# wrk cannot load, with bench/load (the bench's own client, built here): downloads (/data
# against nginx's sendfile), uploads (/upload against nginx discarding the body), many /stream
# at once (whod alone), and WebSocket echoes and idle WebSockets (/ws against Node's ws).
# Writes target/bench/results.md and the chart target/bench/throughput.svg.
#
#   bench/run.sh [--rounds N] [--seconds S] [--hold N] [--baseline REV] [--smoke]
#   --baseline REV: also build whod at git revision REV and run it as one more server,
#                   who@REV, in the same rounds (BENCH_BASELINE=REV does the same). With
#                   REV=HEAD it shows what the uncommitted changes do.
#   --smoke: 1 round of 1 s, 500 held connections, short perf and callgrind runs, 64 MiB
#            transfers, 100 streams, 500 idle WebSockets: as CI runs it, so that every part of
#            the bench runs and cannot rot.
# wrk's numbers come from bench/numbers.lua's done() hook (bench/pipeline.lua loads it too).
# shellcheck source=tests/common.sh
source "$(dirname "$0")/../tests/common.sh"
set -e
source scripts/lib.sh

rounds=3 seconds=4 hold=5000 baseline=${BENCH_BASELINE:-}
syscall_seconds=3     # each perf stat run: one wrk load of this length per server and load
callgrind_rounds=200  # keep-alive requests under callgrind: this many rounds over 64 connections
callgrind_close=2560  # Connection: close requests (each a new connection) under callgrind
transfer_size=1073741824  # each download and upload: 1 GiB
transfer_count=2      # downloads per server, client and round (uploads: one per round)
stream_clients=1000 stream_events=50 stream_interval=100ms  # /stream: clients at once, events each
ws_conns=64           # WebSockets echoing at once, one message in flight each
ws_hold=10000         # idle WebSockets held
usage="usage: bench/run.sh [--rounds N] [--seconds S] [--hold N] [--baseline REV] [--smoke]"
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --hold) hold=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        --smoke)
            rounds=1 seconds=1 hold=500 syscall_seconds=1 callgrind_rounds=10 callgrind_close=128
            transfer_size=67108864 transfer_count=1 stream_clients=100 stream_events=10 ws_hold=500
            shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done

out=target/bench
mkdir -p "$out"
load_start=$(cut -d' ' -f1 /proc/loadavg) # the machine's load average, said in the report
raw=$out/raw.tsv
: >"$raw"
ulimit -n "$(ulimit -Hn)" # wrk at 1000 connections and the held ones need more than 1024

missing=() optional=()
for pair in wrk:wrk nginx:nginx-light go:golang-go python3:python3 curl:curl; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# Without these the bench still runs; the report says which part it left out and why.
for pair in perf:linux-perf valgrind:valgrind node:nodejs npm:npm; do
    command -v "${pair%%:*}" >/dev/null || optional+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing ${missing[*]} ${optional[*]}"
        apt-get update -qq
        [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        [ ${#optional[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${optional[@]}" >/dev/null 2>&1 \
            || echo "bench: could not install ${optional[*]}; going on without"
    elif [ ${#missing[@]} -gt 0 ]; then
        echo "bench: missing tools; install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

echo "bench: building whod (release, static, as Dockerfile.multi builds it) and the Go original"
whod=$(static_build target)
GOCACHE=$PWD/$out/gocache CGO_ENABLED=0 go build -o "$out/who-go" bench/who.go
echo "bench: building the load client (bench/load) and installing Node's ws 8"
cargo build --release --locked -q --manifest-path bench/load/Cargo.toml --target-dir "$out/load"
load=$out/load/release/load
# Node's ws, the WebSocket row's reference, with bufferutil (the add-on ws recommends for
# speed, a prebuilt binary in its package). Without node or npm the WebSocket table has
# whod alone, and says why.
node_unavailable=""
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    node_unavailable="node or npm is not installed (Debian: apt-get install nodejs npm)"
elif [ ! -f "$out/node/node_modules/ws/package.json" ] &&
    ! npm install --no-audit --no-fund --silent --prefix "$out/node" ws@8 bufferutil@4 >"$out/npm.log" 2>&1; then
    node_unavailable="npm install ws@8 failed: $(tail -n 1 "$out/npm.log")"
fi
if [ -n "$baseline" ]; then
    # The baseline's sources from git (git archive: the repository's worktrees are not
    # touched), built the same way into a target directory of its own.
    sha=$(git rev-parse --verify --short "$baseline^{commit}")
    echo "bench: building whod at $baseline ($sha) as who@$sha"
    src=$out/baseline/src-$sha
    if [ ! -f "$src/Cargo.toml" ]; then
        rm -rf "$src" && mkdir -p "$src"
        git archive "$sha" | tar -x -C "$src"
    fi
    built=$(cd "$src" && static_build "$PWD/../target")
    cp "$built" "$out/baseline/whod-$sha"
fi

# The servers, one column each, in this order: server NAME KIND BINARY [FLAGS...].
# KIND says how to start it (command_for below): whod, nginx or go. The report compares "who"
# with each of the others (who/NAME). A variant of whod is one more line, e.g.
#   server "who --metrics" whod "$whod" --metrics
servers=()
declare -A kind bin flags in_table
server() {
    servers+=("$1")
    in_table[$1]=1
    helper "$@"
}
# helper NAME KIND BINARY [FLAGS...]: a server started for a later part (not a /who column).
helper() {
    local name=$1
    kind[$name]=$2 bin[$name]=$3
    shift 3
    flags[$name]="$*"
}
server who whod "$whod"
server nginx nginx nginx
server go go "$out/who-go"
[ -z "$baseline" ] || server "who@$sha" whod "$out/baseline/whod-$sha"
server "who --metrics" whod "$whod" --metrics

# The loads, one row each, in this order: scenario NAME CONNECTIONS [OPTIONS]. Each is one wrk
# run (1 thread, --latency) per server per round. OPTIONS:
#   --script FILE    wrk's -s, a script that loads bench/numbers.lua (then the report gives no
#                    p99 row for it: wrk's percentiles are per batch)
#   --header H       wrk's -H
#   --path P         the path loaded, /who by default
#   --only NAME      only for this server (and no ratio columns), e.g.
#   scenario "/echo, 64 conns" 64 --path /echo --only who
scenarios=()
declare -A s_conns s_script s_header s_path s_only
scenario() {
    local name=$1
    scenarios+=("$name")
    s_conns[$name]=$2 s_script[$name]=bench/numbers.lua s_header[$name]="" s_path[$name]=/who s_only[$name]=""
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --script) s_script[$name]=$2 ;;
            --header) s_header[$name]=$2 ;;
            --path) s_path[$name]=$2 ;;
            --only) s_only[$name]=$2 ;;
            *) echo "bench: scenario $name: unknown option $1" >&2; exit 2 ;;
        esac
        shift 2
    done
}
scenario "64 conns" 64
scenario "1000 conns" 1000
scenario "64 conns, 16 pipelined" 64 --script bench/pipeline.lua
scenario "64 conns, Connection: close" 64 --header "Connection: close"
scenario "/echo, 64 conns" 64 --path /echo --only who

nginx_prefix=$PWD/$out/nginx
mkdir -p "$nginx_prefix"

# command_for NAME PORT [callgrind]: the command line that starts server NAME on PORT; with
# callgrind, the one that runs it in a single process (nginx: no master) under callgrind,
# writing to $out/callgrind.out.
command_for() {
    local name=$1 p=$2 valgrind=""
    [ "${3:-}" != callgrind ] || valgrind="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out --log-file=$out/callgrind.log"
    case ${kind[$name]} in
        whod) echo "$valgrind ${bin[$name]} --port $p --bind 127.0.0.1 ${flags[$name]}" ;;
        go) echo "env PORT=$p ${bin[$name]} ${flags[$name]}" ;;
        node) echo "env NODE_PATH=$out/node/node_modules ${bin[$name]} bench/ws_echo.js $p" ;;
        nginx)
            sed -e "s|PREFIX|$nginx_prefix|g" -e "s|PORT|$p|g" bench/nginx.conf >"$nginx_prefix/nginx-$p.conf"
            if [ -n "$valgrind" ]; then
                echo "$valgrind ${bin[$name]} -p $nginx_prefix -c $nginx_prefix/nginx-$p.conf -g 'daemon off; master_process off;'"
            else
                echo "${bin[$name]} -p $nginx_prefix -c $nginx_prefix/nginx-$p.conf -g 'daemon off;'"
            fi ;;
    esac
}

for name in "${servers[@]}"; do echo -e "server\t$name\t${kind[$name]}" >>"$raw"; done
[ -z "$baseline" ] || echo -e "baseline\twho@$sha\t$baseline" >>"$raw"
for name in "${scenarios[@]}"; do
    echo -e "scenario\t$name\t$([ "${s_script[$name]}" != bench/numbers.lua ] && echo 0 || echo 1)" >>"$raw"
done

# start NAME: starts server NAME on a fresh port (recorded in pids, stopped at exit), records
# exec -> first 200 (ms).
declare -A port pid
start() {
    local name=$1 p ms server_pid attempt
    # A port free now can be taken before the server binds it (on a shared machine, or by a
    # client's TIME_WAIT: the Go server binds [::] and fails on those), so up to 3 tries.
    for attempt in 1 2 3; do
        p=$(free_port)
        # shellcheck disable=SC2046 # the command is split into words on purpose
        read -r ms server_pid < <(eval python3 bench/probe.py first200 "$p" $(command_for "$name" "$p") 2>"$out/start.err") && break
        echo "bench: $name did not start on port $p: $(cat "$out/start.err")" >&2
        [ "$attempt" -lt 3 ] || exit 1
    done
    port[$name]=$p
    pid[$name]=$server_pid
    pids+=("${pid[$name]}")
    [ -z "${in_table[$name]:-}" ] || echo -e "startup\t$name\t$ms" >>"$raw"
}

echo "bench: exec -> first 200, three starts each"
for _ in 1 2 3; do
    for name in "${servers[@]}"; do
        start "$name"
        sleep 0.2
        echo -e "idle_rss\t$name\t$(python3 bench/probe.py rss "${pid[$name]}")" >>"$raw"
        stop_pids
    done
done
for name in "${servers[@]}"; do start "$name"; done
sleep 0.3

# load SCENARIO: one wrk run per server per round.
load() {
    local scenario=$1 round name args ticks
    for round in $(seq "$rounds"); do
        for name in "${servers[@]}"; do
            [ -z "${s_only[$scenario]}" ] || [ "${s_only[$scenario]}" = "$name" ] || continue
            args=(-t1 "-c${s_conns[$scenario]}" "-d${seconds}s" --latency --timeout 5s -s "${s_script[$scenario]}")
            [ -z "${s_header[$scenario]}" ] || args+=(-H "${s_header[$scenario]}")
            ticks=$(python3 bench/probe.py cpu "${pid[$name]}")
            rm -f "$out/wrk.tsv"
            WRK_NUMBERS=$out/wrk.tsv wrk "${args[@]}" "http://127.0.0.1:${port[$name]}${s_path[$scenario]}" >"$out/wrk.txt" 2>&1
            ticks=$(( $(python3 bench/probe.py cpu "${pid[$name]}") - ticks ))
            read -r requests errors non2xx rps p99 < <(wrk_numbers "$out/wrk.tsv")
            awk -v requests="$requests" -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" -v line="load\t$scenario\t$round\t$name\t$rps\t$p99\t$errors\t$non2xx" \
                'BEGIN { printf "%s\t%.3f\n", line, requests ? ticks * 1000000 / hz / requests : 0 }' >>"$raw"
            printf '  %-27s round %d  %-12s %s req/s\n' "$scenario" "$round" "$name" "$(tail -n 1 "$raw" | cut -f5)"
        done
    done
}
echo "bench: load, $rounds round(s) of ${seconds}s per server and scenario"
for scenario in "${scenarios[@]}"; do load "$scenario"; done

for name in "${servers[@]}"; do
    echo -e "loaded_rss\t$name\t$(python3 bench/probe.py rss "${pid[$name]}")" >>"$raw"
done

# System calls: perf stat counts syscall tracepoints in the servers' threads (nginx: master and
# worker; the threads that exist when perf attaches) while wrk loads each server in turn; the
# counts divided by wrk's requests are per request (keep-alive) or per connection (Connection:
# close: wrk opens one connection per request). Each tracepoint costs perf tens of ms to set up,
# so one session per load covers all servers and counts the syscalls a server may make per
# request (the list), plus raw_syscalls:sys_enter, all of them: the report shows the rest as
# "other". perf needs root (or perf_event_paranoid -1).
perf_syscalls="accept accept4 read write readv writev recvfrom sendto recvmsg sendmsg recvmmsg sendmmsg
    sendfile64 splice epoll_wait epoll_pwait epoll_pwait2 epoll_ctl poll ppoll select pselect6 close
    shutdown setsockopt getsockopt getsockname getpeername ioctl fcntl futex nanosleep clock_nanosleep
    sched_yield mmap munmap madvise mprotect brk rt_sigprocmask rt_sigreturn tgkill getpid gettid
    newuname clock_gettime getrandom openat newfstatat io_uring_enter timerfd_settime"
perf_unavailable=""
if ! command -v perf >/dev/null; then
    perf_unavailable="perf is not installed (Debian: apt-get install linux-perf)"
elif ! perf stat -x, -o "$out/perf.txt" -e raw_syscalls:sys_enter -- true >"$out/perf.err" 2>&1; then
    perf_unavailable="perf cannot count syscall tracepoints here: $(grep -v '^\s*$' "$out/perf.err" | head -n 1)"
fi
if [ -n "$perf_unavailable" ]; then
    echo "bench: syscalls skipped: $perf_unavailable"
    echo -e "syscalls_unavailable\t$perf_unavailable" >>"$raw"
else
    echo "bench: syscalls, perf stat during ${syscall_seconds}s of wrk per server, keep-alive and Connection: close"
    events=raw_syscalls:sys_enter
    known=$(perf list 'syscalls:sys_enter_*' 2>/dev/null)
    for call in $perf_syscalls; do
        ! grep -qw "syscalls:sys_enter_$call" <<<"$known" || events+=",syscalls:sys_enter_$call"
    done
    tids=() ports=()
    for name in "${servers[@]}"; do
        ports+=("${port[$name]}")
        for p in $(python3 bench/probe.py pids "${pid[$name]}" | tr , ' '); do
            for t in /proc/"$p"/task/*; do tids+=("${t##*/}") && echo -e "${t##*/}\t$name"; done
        done
    done >"$out/tids.tsv"
    for unit in request connection; do
        header=""
        [ $unit = request ] || header="Connection: close"
        # shellcheck disable=SC2016 # the script's variables are its own
        perf stat -x, --per-thread -o "$out/perf.txt" -e "$events" -t "$(IFS=,; echo "${tids[*]}")" -- \
            bash -c 'out=$1 seconds=$2 header=(${3:+-H "$3"}); shift 3; for p in "$@"; do
                         rm -f "$out/wrk-$p.tsv"
                         WRK_NUMBERS=$out/wrk-$p.tsv wrk -s bench/numbers.lua -t1 -c64 "-d${seconds}s" --timeout 5s "${header[@]}" \
                             "http://127.0.0.1:$p/who" >"$out/wrk-$p.txt" 2>&1
                     done' bench "$out" "$syscall_seconds" "$header" "${ports[@]}"
        for name in "${servers[@]}"; do
            read -r requests errors _ < <(wrk_numbers "$out/wrk-${port[$name]}.tsv")
            # perf --per-thread -x, lines: COMM-TID,COUNT,UNIT,EVENT,... (COUNT "<not counted>" for none)
            awk -F, -v unit="$unit" -v name="$name" -v requests="$requests" '
                FNR == NR { server[$1] = $2; next }
                { tid = $1; sub(/.*-/, "", tid) }
                server[tid] == name && $2 ~ /^[0-9]+$/ && $2 > 0 {
                    call = $4 == "raw_syscalls:sys_enter" ? "_total" : substr($4, length("syscalls:sys_enter_") + 1)
                    count[call] += $2
                }
                END { for (call in count) printf "syscalls\t%s\t%s\t%s\t%d\t%d\n", unit, name, call, count[call], requests }
            ' FS='\t' "$out/tids.tsv" FS=, "$out/perf.txt" >>"$raw"
            printf '  per %-10s %-12s %d requests, %d socket errors\n' "$unit" "$name" "$requests" "$errors"
        done
    done
fi

echo "bench: holding $hold idle keep-alive connections per server"
for name in "${servers[@]}"; do
    read -r rss alive < <(python3 bench/probe.py hold "${port[$name]}" "$hold" "${pid[$name]}")
    echo -e "hold_rss\t$name\t$rss\t$alive" >>"$raw"
done
stop_pids

# Instructions: each whod and nginx runs under callgrind three times, on the same fixed load
# from bench/probe.py (the bytes wrk sends), and the differences between the runs cancel the
# start, the stop and the connections' set-up:
#   A: K rounds over 64 keep-alive connections    B: 2K rounds    C: K rounds, then M requests
#   with Connection: close, one connection each.  Per request (B - A) / 64K; per connection
#   (C - A) / M. nginx runs as one process (master_process off).
if ! command -v valgrind >/dev/null; then
    echo "bench: instructions skipped: valgrind is not installed"
    echo -e "instructions_unavailable\tvalgrind is not installed (apt-get install valgrind)" >>"$raw"
else
    echo "bench: instructions, callgrind: $callgrind_rounds and $((2 * callgrind_rounds)) rounds over 64 keep-alive connections, $callgrind_close Connection: close requests"
    for name in "${servers[@]}"; do
        [ "${kind[$name]}" != go ] || continue # Go's runtime is not at home under valgrind
        irs=()
        for run in "$callgrind_rounds 0" "$((2 * callgrind_rounds)) 0" "$callgrind_rounds $callgrind_close"; do
            p=$(free_port)
            # shellcheck disable=SC2046,SC2086 # split into words on purpose
            irs+=("$(eval python3 bench/probe.py callgrind "$out/callgrind.out" $run 64 "$p" $(command_for "$name" "$p" callgrind))")
        done
        awk -v name="$name" -v a="${irs[0]}" -v b="${irs[1]}" -v c="${irs[2]}" -v k="$callgrind_rounds" -v m="$callgrind_close" \
            'BEGIN { printf "instructions\t%s\t%.0f\t%.0f\n", name, (b - a) / (64 * k), (c - a) / m }' >>"$raw"
        printf '  %-12s %s per request, %s per connection\n' "$name" "$(tail -n 1 "$raw" | cut -f3)" "$(tail -n 1 "$raw" | cut -f4)"
    done
fi

# What wrk cannot load, with bench/load (one thread, epoll; see its header). The servers: whod
# with room for these loads (its defaults cap /data at 100 MiB, bodies at 1 MiB, connections at
# 10,000), nginx with the same bench/nginx.conf (/data: a file of the download's size, written
# here, sent with sendfile; /upload: the body read and discarded), Node's ws (bench/ws_echo.js).
# Each row is a median over the rounds; who and the other server alternate within a round, and
# their ratio is the median of the per-round ratios. The servers' CPU time is read around each
# run (/proc, as for the /who loads).
hz=$(getconf CLK_TCK)
cpu_of() { python3 bench/probe.py cpu "${pid[$1]}"; }
helper who+ whod "$whod" --max-data "$transfer_size" --max-body 2GiB
helper nginx+ nginx nginx
{
    echo -e "param\ttransfer_size\t$transfer_size"
    echo -e "param\ttransfer_count\t$transfer_count"
    echo -e "param\tstream_clients\t$stream_clients"
    echo -e "param\tstream_events\t$stream_events"
    echo -e "param\tstream_interval\t$stream_interval"
    echo -e "param\tws_conns\t$ws_conns"
} >>"$raw"
# nginx's file holds whod's bytes (bench/load checks only the length): its 64-byte line over
# and over.
(yes 'who/data 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOP' || true) | head -c "$transfer_size" >"$nginx_prefix/data.bin"
on_exit rm -f "$nginx_prefix/data.bin"
start who+
start nginx+
# transfer KIND ROUND NAME CLIENT COMMAND...: runs COMMAND (which prints BYTES SECONDS lines),
# records their sums and the server's CPU seconds meanwhile.
transfer() {
    local what=$1 round=$2 name=$3 client=$4 ticks
    shift 4
    ticks=$(cpu_of "$name")
    "$@" >"$out/transfer.tsv"
    ticks=$(( $(cpu_of "$name") - ticks ))
    awk -F'\t' -v line="$what\t$round\t${name%+}\t$client" -v cpu="$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { print t / hz }')" \
        '{ bytes += $1; seconds += $2 } END { printf "%s\t%d\t%.6f\t%.3f\n", line, bytes, seconds, cpu }' "$out/transfer.tsv" >>"$raw"
    tail -n 1 "$raw" | awk -F'\t' '{ printf "  %-8s round %d  %-6s %-5s %.2f GB/s, server CPU %.2f s\n", $1, $2, $3, $4, $5 / $6 / 1e9, $7 }'
}
curl_download() { # PORT COUNT: what bench/load download prints, by curl
    for _ in $(seq "$2"); do
        curl -sS -o /dev/null -w '%{size_download}\t%{time_total}\n' "http://127.0.0.1:$1/data?size=$transfer_size"
    done
}
curl_upload() { # PORT: one upload of nginx's file (curl -T: PUT, streamed from the file)
    curl -sS -o /dev/null -w '%{size_upload}\t%{time_total}\n' -T "$nginx_prefix/data.bin" "http://127.0.0.1:$1/upload"
}
upload_total() { # PORT: bench/load's total line (to the answer of a GET sent after the body)
    "$load" upload "$1" /upload "$transfer_size" 1 | awk -F'\t' '$1 == "total" { print $2 "\t" $3 }'
}
echo "bench: downloads and uploads, $rounds round(s): $transfer_count download(s) of $transfer_size bytes per server and client, one upload"
for round in $(seq "$rounds"); do
    for name in who+ nginx+; do
        transfer download "$round" "$name" load "$load" download "${port[$name]}" "/data?size=$transfer_size" "$transfer_count"
        transfer download "$round" "$name" curl curl_download "${port[$name]}" "$transfer_count"
    done
    for name in who+ nginx+; do
        transfer upload "$round" "$name" load upload_total "${port[$name]}"
        transfer upload "$round" "$name" curl curl_upload "${port[$name]}"
    done
done
rm -f "$nginx_prefix/data.bin"

echo "bench: /stream, $stream_clients at once, $stream_events events each, one every $stream_interval"
idle=$(python3 bench/probe.py rss "${pid[who+]}")
ticks=$(cpu_of who+)
read -r events stream_seconds stream_rss short < <("$load" streams "${port[who+]}" \
    "/stream?count=$stream_events&interval=$stream_interval" "$stream_clients" "$stream_events" "${pid[who+]}")
ticks=$(( $(cpu_of who+) - ticks ))
echo -e "streams\t$events\t$stream_seconds\t$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { print t / hz }')\t$stream_rss\t$short\t$idle" >>"$raw"
echo "  $events events in $stream_seconds s, $short stream(s) short"
stop_pids

# WebSocket: whod (room for the held connections) and Node's ws, echoing; then each started
# afresh to hold the idle ones. The client holds one descriptor per WebSocket, as the servers.
helper ws whod "$whod" --max-connections $((ws_hold + 100))
helper node node node
ws_servers=(ws)
if [ -n "$node_unavailable" ]; then
    echo "bench: WebSocket without Node's ws: $node_unavailable"
    echo -e "node_unavailable\t$node_unavailable" >>"$raw"
else
    ws_servers+=(node)
fi
for name in "${ws_servers[@]}"; do start "$name"; done
echo "bench: WebSocket echo, $rounds round(s) of ${seconds}s, $ws_conns connections, one message in flight each"
for size in 16 65536; do
    for round in $(seq "$rounds"); do
        for name in "${ws_servers[@]}"; do
            ticks=$(cpu_of "$name")
            read -r messages ws_seconds client_cpu < <("$load" ws-echo "${port[$name]}" /ws "$ws_conns" "$size" 1 "$seconds")
            ticks=$(( $(cpu_of "$name") - ticks ))
            echo -e "ws_echo\t$size\t$round\t${name/ws/who}\t$messages\t$ws_seconds\t$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { print t / hz }')\t$client_cpu" >>"$raw"
            printf '  %5d B  round %d  %-5s %s messages/s\n' "$size" "$round" "${name/ws/who}" "$(awk -v m="$messages" -v s="$ws_seconds" 'BEGIN { printf "%.0f", m / s }')"
        done
    done
done
stop_pids
held=$(( ws_hold < $(ulimit -n) - 200 ? ws_hold : $(ulimit -n) - 200 ))
echo "bench: $held idle WebSockets held per server"
for name in "${ws_servers[@]}"; do
    start "$name"
    sleep 0.2
    read -r before during alive < <("$load" ws-hold "${port[$name]}" /ws "$held" "${pid[$name]}")
    echo -e "ws_hold\t${name/ws/who}\t$held\t$before\t$during\t$alive" >>"$raw"
    echo "  ${name/ws/who}: RSS $before KiB, $during KiB with $alive open"
    stop_pids
done

for name in "${servers[@]}"; do
    case ${kind[$name]} in
        nginx) echo -e "size\t$name\t$(stat -c %s "$(command -v "${bin[$name]}")")" ;;
        *) echo -e "size\t$name\t$(stat -c %s "${bin[$name]}")" ;;
    esac
done >>"$raw"
machine="$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r)"
machine+=" (load average $load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end)"
python3 bench/report.py "$raw" "$machine" "$rounds" "$seconds" "$hold" "$syscall_seconds" "$callgrind_rounds" "$callgrind_close" \
    "$out/throughput.svg" | tee "$out/results.md"
echo "bench: done in $SECONDS s; results in $out/results.md"
