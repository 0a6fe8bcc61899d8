#!/usr/bin/env bash
# The drain window (--shutdown-delay) against a real balancer: three whod processes on loopback
# behind Debian's haproxy, whose only signal is its active check of /healthz every 250 ms, with
# no retries and no redispatch. One replica gets SIGTERM while wrk drives traffic through
# haproxy. With a window, no request may be lost; with window 0 (whod's default, which stops
# accepting at once) the same run loses some, which shows that the test can see a loss.
#
#   tests/drain.sh [WINDOW...]      windows in seconds, default: 2 0
#
# Needs haproxy, wrk and curl: skipped without them, except in CI where that fails.
# WHOD=PATH tests that binary instead of building target/release/whod.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
tools_or_skip "drain tests (tests/drain.sh)" haproxy wrk curl

windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(2 0)
STOP_AFTER=1.5 # seconds of load before the SIGTERM

make_work drain
build_whod
has_window=""
grep -q -- --shutdown-delay <<<"$("$WHOD" --help)" && has_window=yes

# haproxy_config LB_PORT SERVER_PORT...: the balancer (haproxy_round_robin), with no second
# chance: a request sent to a replica that is gone fails.
haproxy_config() {
    local lb=$1
    shift
    haproxy_round_robin "$lb" 4096 "    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 0" "$@"
}

run_window() {
    local window=$1 i lb args=() stop_ms status code head
    local -a ports=() whods=()
    section "window ${window} s: three whod behind haproxy (checks every 250 ms, no retries); replica 2 gets SIGTERM under load"
    if [ "$window" != 0 ]; then
        if [ -z "$has_window" ]; then
            check "this whod has --shutdown-delay (its --help does not list it)" false
            return
        fi
        args=(--shutdown-delay "$window")
    fi
    for i in 1 2 3; do
        start_whod "whod-$window-$i" "${args[@]}"
        whods+=("$pid")
        ports+=("$port")
    done
    lb=$(free_port)
    haproxy_config "$lb" "${ports[@]}" >"$work/haproxy-$window.cfg"
    haproxy -db -f "$work/haproxy-$window.cfg" >"$work/haproxy-$window.log" 2>&1 &
    pids+=("$!")
    wait_until 10 "haproxy answers /healthz" http_ok "http://127.0.0.1:$lb/healthz"
    sleep 0.5 # every server has passed a check

    WRK_NUMBERS=$work/wrk-$window.tsv wrk -s bench/numbers.lua -t1 -c16 -d"$((window + 4))s" --timeout 5s \
        "http://127.0.0.1:$lb/who" >"$work/wrk-$window.txt" 2>&1 &
    local wrk_pid=$!
    pids+=("$wrk_pid")
    sleep "$STOP_AFTER"
    local start
    start=$(now_ms)
    kill -TERM "${whods[1]}"
    if [ "$window" != 0 ]; then
        sleep 0.2
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${ports[1]}/healthz")
        check "during the window /healthz answers 503 (got $code)" test "$code" = 503
        head=$(curl -s -D - -o /dev/null --max-time 2 "http://127.0.0.1:${ports[1]}/who" | tr -d '\r')
        check "during the window /who still answers 200, with Connection: close" \
            bash -c 'grep -q "^HTTP/1.1 200" <<<"$0" && grep -qi "^connection: close" <<<"$0"' "$head"
    fi
    wait "${whods[1]}"
    status=$?
    stop_ms=$(($(now_ms) - start))
    wait "$wrk_pid"
    forget "${whods[1]}" "$wrk_pid"
    sed 's/^/        /' "$work/wrk-$window.txt"
    read -r requests socket_errors non2xx _ < <(wrk_numbers "$work/wrk-$window.tsv")
    local lost=$((socket_errors + non2xx))
    echo "        window ${window} s: $requests requests, $lost failed ($non2xx non-2xx, $socket_errors socket errors); replica 2 exited $status, ${stop_ms} ms after SIGTERM"
    check "wrk completed requests through haproxy ($requests)" test "$requests" -gt 0
    check "replica 2 exited 0 (exit $status)" test "$status" = 0
    if [ "$window" = 0 ]; then
        check "without a window, the stop loses requests ($lost): the race the window closes" test "$lost" -gt 0
        check "without a window, replica 2 exited at once (${stop_ms} ms)" test "$stop_ms" -lt 1000
    else
        check "with a ${window} s window, the stop loses no request ($lost failed)" test "$lost" = 0
        check "replica 2 served the whole window, then exited within 1.5 s (${stop_ms} ms)" \
            test "$stop_ms" -ge "$((window * 1000))" -a "$stop_ms" -lt "$((window * 1000 + 1500))"
    fi
    check "the other two replicas still answer" bash -c \
        "curl -fsS --max-time 2 http://127.0.0.1:${ports[0]}/who >/dev/null && curl -fsS --max-time 2 http://127.0.0.1:${ports[2]}/who >/dev/null"
    # Leave nothing running for the next window.
    stop_pids
}

for window in "${windows[@]}"; do
    run_window "$window"
done
summary
