#!/usr/bin/env bash
# Swarm, for real: a one-node swarm, the stack from deploy/compose.yaml + deploy/swarm.yaml
# (three tasks, host-mode ports), and Debian's haproxy in front, following the tasks as they
# come and go (a task fills a free server-template slot through haproxy's runtime API once
# Docker reports it healthy, and its slot goes back to maintenance once its container is gone);
# between those, haproxy's only view of a task is its own check of /healthz every 250 ms.
#   1. A rolling update (a new image tag, `docker stack deploy` again) under load, through a
#      frontend with no retries and no redispatch: not one request may fail.
#   2. `docker kill` of one task under load (its requests in flight are cut, so here haproxy
#      retries them elsewhere): Swarm replaces it, its health check gates it, no request fails.
# The swarm is left at the end, also when a step fails. Needs a Docker engine that is not in a
# swarm already (in CI, one left by a killed run is left first), haproxy and wrk: skipped
# without them, except in CI where that fails.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
engine_or_skip "swarm tests (tests/swarm.sh)"
tools_or_skip "swarm tests (tests/swarm.sh)" haproxy wrk curl ss
# A swarm this test leaves at its exit. One found here is another run's: one still going (its
# stack is named after its shell's pid, alive), or one killed before it could leave (the
# engine's state outlives its daemon, and CI reuses the machine's). In CI the machine is the
# test's: a killed run's swarm is left, with the stack it left.
live_stacks() { # the who-swarm-PID stacks of the engine whose PID is still running
    local name
    for name in $("$DOCKER" stack ls --format '{{.Name}}' 2>/dev/null); do
        [[ $name =~ ^who-swarm-([0-9]+)$ ]] && kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && echo "$name"
    done
    true
}
if [ "$("$DOCKER" info -f '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    if [ -z "${CI:-}" ]; then
        echo "SKIPPED swarm tests (tests/swarm.sh): this engine is already in a swarm, which the test would leave."
        exit 0
    fi
    running=$(live_stacks)
    [ -z "$running" ] || { echo "swarm tests: this engine is in a swarm that a running test uses ($running)" >&2; exit 1; }
    echo "        the engine is in a swarm that no running test owns (a killed run's): leaving it"
    for old in $("$DOCKER" stack ls --format '{{.Name}}' 2>/dev/null); do
        "$DOCKER" stack rm "$old" >/dev/null 2>&1
    done
    "$DOCKER" swarm leave --force >/dev/null 2>&1 || { echo "swarm tests: docker swarm leave --force failed" >&2; exit 1; }
    "$DOCKER" network rm docker_gwbridge >/dev/null 2>&1
fi

stack="who-swarm-$$"
service="${stack}_who"
next="$IMAGE-next" # the same image under another name: the version to update to
make_work swarm
swarm=""
stack_gone() { [ -z "$("$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$stack")" ]; }
leave() { # at exit, once the processes started here are stopped: the stack, the swarm, the image
    if [ -n "$swarm" ]; then
        "$DOCKER" stack rm "$stack" >/dev/null 2>&1
        # The tasks drain (WHO_SHUTDOWN_DELAY), then go: at most 30 s.
        WAIT_EVERY=0.5 wait_until 30 "the stack's containers are gone" stack_gone
        "$DOCKER" swarm leave --force >/dev/null 2>&1 && echo "        left the swarm"
        "$DOCKER" network rm docker_gwbridge >/dev/null 2>&1
    fi
    "$DOCKER" image rm "$next:multi" >/dev/null 2>&1
}
on_exit leave

"$DOCKER" image inspect "$IMAGE:multi" >/dev/null 2>&1 || make --no-print-directory image-multi >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log"; echo "0 passed, 1 failed"; exit 1; }
"$DOCKER" tag "$IMAGE:multi" "$next:multi"
window=$(sed -n 's/^ *WHO_SHUTDOWN_DELAY: \${WHO_SHUTDOWN_DELAY:-\([0-9]*\)}.*/\1/p' deploy/compose.yaml)
window=${WHO_SHUTDOWN_DELAY:-$window}
has_window=yes
if ! grep -q -- --shutdown-delay <<<"$("$DOCKER" run --rm "$IMAGE:multi" --help)"; then
    echo "        NOTE: whod in $IMAGE:multi has no --shutdown-delay: its tasks stop accepting at once"
    has_window=""
fi

section "a one-node swarm, the stack $stack: deploy/compose.yaml + deploy/swarm.yaml (drain window ${window} s)"
"$DOCKER" swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$(free_port)" >"$work/init.log" 2>&1 \
    || { cat "$work/init.log"; echo "0 passed, 1 failed"; exit 1; }
swarm=yes
deploy() { # deploy IMAGE: `docker stack deploy` of the compose file with that image
    for _ in 1 2 3; do
        # A service that has just changed state may refuse with "update out of sequence": again.
        IMAGE=$1 "$DOCKER" stack deploy --resolve-image never -c deploy/compose.yaml -c deploy/swarm.yaml "$stack" >"$work/deploy.log" 2>&1 \
            && return 0
        sed 's/^/        docker stack deploy failed: /' "$work/deploy.log" | grep -iv -e warning -e ignoring
        sleep 1
    done
    return 1
}
healthy_tasks() { # the containers of the service that Docker reports healthy, one ID a line
    "$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$service" --filter health=healthy
}
healthy_count_is() { # healthy_count_is N: true if N tasks are healthy
    [ "$(healthy_tasks | wc -l)" -eq "$1" ]
}
start=$(now_ms)
deploy "$IMAGE" || { cat "$work/deploy.log"; echo "0 passed, 1 failed"; exit 1; }
grep -i ignor "$work/deploy.log" | sed 's/^/        docker stack deploy: /'
took=""
WAIT_EVERY=0.5 wait_until 60 "three tasks are healthy" healthy_count_is 3 && took=$(($(now_ms) - start))
check "three tasks healthy after the deploy (${took:-never} ms)" test -n "$took"
one=$(healthy_tasks | head -n 1)
check "tasks run read-only, all capabilities dropped, 32M, as 65534:65534 (no-new-privileges: ignored by Swarm)" test \
    "$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.Memory}} {{.Config.User}}' "$one")" \
    = "true [ALL] 33554432 65534:65534"
check "tasks publish 8080 in host mode, each on its own port" test \
    "$(for id in $(healthy_tasks); do "$DOCKER" port "$id" 8080/tcp | head -n 1; done | sort -u | wc -l)" = 3

# The balancer: two frontends over the same tasks. "exact" never retries (the rolling update
# must lose nothing there); "retry" retries a cut request elsewhere (for the kill).
# The tasks go into server-template slots, declared in maintenance and filled at run time, not
# into servers made with the runtime API's `add server`: haproxy 2.6 never reuses a connection
# to an added server (one connection a request, whatever http-reuse says), and every connection
# through a task's host port crosses docker-proxy, whose side towards the task then sits in
# TIME_WAIT for 60 s. At this load that was 95,000 sockets, every source port towards a task:
# docker-proxy's dials failed (EADDRNOTAVAIL, the client reset: failed checks, failed requests),
# and Docker, which picks host ports from the kernel's ephemeral range, gave new tasks ports
# those sockets held ("address already in use"). Slots keep their connections, as a production
# balancer does: a few thousand TIME_WAIT sockets, from the checks.
slots=8 # tasks at once: 3, a 4th during a start-first step, an old one draining, a replacement
admin_port=$(free_port)
lb=$(free_port)
lb_retry=$(free_port)
cat >"$work/haproxy.cfg" <<CFG
global
    maxconn 4096
    stats socket ipv4@127.0.0.1:$admin_port level admin
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host who
frontend exact
    bind 127.0.0.1:$lb
    default_backend exact
frontend retry
    bind 127.0.0.1:$lb_retry
    default_backend retry
backend exact
    balance roundrobin
    retries 0
    server-template task 1-$slots 127.0.0.1:1 check inter 250ms fall 1 rise 1 disabled
backend retry
    balance roundrobin
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    server-template task 1-$slots 127.0.0.1:1 check inter 250ms fall 1 rise 1 disabled
CFG
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=("$!")
admin() { # admin COMMAND: one command to haproxy's runtime API; prints the answer
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$admin_port" || return 1
    printf '%s\n' "$1" >&"$fd"
    timeout 2 cat <&"$fd"
    exec {fd}>&-
}
admin_answers() { admin "show info" >/dev/null 2>&1; }
wait_until 5 "haproxy's runtime API answers" admin_answers

# follow: twice a second, puts each task container that Docker reports healthy into a free slot
# of both backends (its address and port, then out of maintenance: from then on haproxy checks
# it every 250 ms), and puts the slot of each task whose container is gone back into
# maintenance (which closes its idle connections), free for another task. One `docker ps` a
# turn: the balancer must not eat the CPU the tasks need. Logs what it does, and any answer of
# haproxy's other than the address change's.
follow() {
    declare -A known=() # container ID -> its slot
    local id status port running backend slot free=()
    for slot in $(seq "$slots"); do free+=("task$slot"); done
    for _ in $(seq 1200); do # 10 minutes at most
        running=" "
        while read -r id status port; do
            running+="$id "
            [ -n "${known[$id]:-}" ] || [ "$status" != healthy ] || [ -z "$port" ] && continue
            if [ ${#free[@]} -eq 0 ]; then
                echo "$(now_ms) no free slot for $id 127.0.0.1:$port"
                continue
            fi
            slot=${free[0]}
            free=("${free[@]:1}")
            for backend in exact retry; do
                admin "set server $backend/$slot addr 127.0.0.1 port $port" | grep -v -e '^$' -e 'changed from'
                admin "enable health $backend/$slot" | grep -v '^$'
                admin "set server $backend/$slot state ready" | grep -v '^$'
            done
            known[$id]=$slot
            echo "$(now_ms) added $id 127.0.0.1:$port as $slot"
        done < <("$DOCKER" ps --filter "label=com.docker.swarm.service.name=$service" --format '{{.ID}} {{.Status}} {{.Ports}}' \
            | sed -E 's/^([0-9a-f]+) .*\(healthy\).*0\.0\.0\.0:([0-9]+)->8080.*/\1 healthy \2/; t; s/^([0-9a-f]+) .*/\1 -/')
        for id in "${!known[@]}"; do
            [[ "$running" == *" $id "* ]] && continue
            slot=${known[$id]}
            for backend in exact retry; do
                admin "set server $backend/$slot state maint" | grep -v '^$'
            done
            free+=("$slot")
            unset "known[$id]"
            echo "$(now_ms) removed $id from $slot"
        done
        sleep 0.5
    done
}
follow >"$work/follow.log" 2>&1 &
pids+=("$!")
servers_up() { # servers_up BACKEND: how many of its servers haproxy's checks see up
    admin "show stat" | awk -F, -v b="$1" '$1 == b && $2 != "BACKEND" && $18 == "UP"' | wc -l
}
three_up() { [ "$(servers_up exact)" -eq 3 ]; }
wait_until 10 "haproxy sees three servers up" three_up
check "haproxy follows the three tasks, checked up" test "$(servers_up exact)" = 3
seen=$(for _ in $(seq 30); do curl -sS --max-time 5 "http://127.0.0.1:$lb/who"; echo; done | sort | uniq -c)
echo "$seen" | sed 's/^/        /'
check "30 requests through haproxy show three task hostnames" test "$(echo "$seen" | wc -l)" = 3

# Container events (ns): SIGTERM (kill, signal 15) and exit (die) of each task, for stop times.
"$DOCKER" events --filter type=container --filter "label=com.docker.swarm.service.name=$service" \
    --format '{{.TimeNano}} {{.Action}} {{.ID}} signal={{index .Actor.Attributes "signal"}} exit={{index .Actor.Attributes "exitCode"}}' \
    >"$work/events.log" 2>&1 &
pids+=("$!")
# TIME_WAIT sockets on this host once a second, "MS ALL NEW": all of them, and those towards a
# container's 8080 (docker-proxy's side) that entered TIME_WAIT since the phase began (the time
# in ms in $work/tw-since), told by their timer (60 s from then), so that what the tests before
# this one left does not count. 10 minutes at most.
echo 0 >"$work/tw-since"
(
    for _ in $(seq 600); do
        now=$(now_ms)
        begun=$(cat "$work/tw-since" 2>/dev/null)
        age=$(((now - ${begun:-0}) / 1000))
        echo "$now $(ss -Htan state time-wait | wc -l) $(ss -Htano state time-wait '( dport = :8080 )' | awk -v age="$age" '
            { t = $NF; sub(/^timer:\(timewait,/, "", t); sub(/,.*/, "", t); left = t ~ /sec$/ ? t + 0 : t ~ /min/ ? 60 : 0 }
            left > 60 - age { n++ } END { print n + 0 }')"
        sleep 1
    done
) >"$work/timewait.txt" 2>&1 &
pids+=("$!")
phase_begins() { # phase_begins: from now on, the NEW column counts from here; sets tw_since
    tw_since=$(now_ms)
    echo "$tw_since" >"$work/tw-since"
}
timewait_peak() { # timewait_peak: the most TIME_WAIT sockets seen since phase_begins, "ALL NEW"
    awk -v since=$((tw_since + 1000)) '$1 >= since && $2 > all { all = $2 } $1 >= since && $3 > new { new = $3 }
        END { print all + 0, new + 0 }' "$work/timewait.txt"
}
# load FRONTEND_PORT NAME: wrk through haproxy in the background until stop_load (10 minutes at
# most); its numbers in $work/wrk-NAME.tsv (bench/numbers.lua), its text in $work/wrk-NAME.txt
load() {
    WRK_NUMBERS=$work/wrk-$2.tsv wrk -s bench/numbers.lua -t1 -c16 -d600s --timeout 5s "http://127.0.0.1:$1/who" >"$work/wrk-$2.txt" 2>&1 &
    wrk_pid=$!
    pids+=("$wrk_pid")
}
stop_load() { # stop_load NAME: stops wrk, sets requests and lost (socket errors + non-2xx)
    local errors non2xx
    kill -INT "$wrk_pid"
    wait "$wrk_pid"
    forget "$wrk_pid"
    sed 's/^/        /' "$work/wrk-$1.txt"
    read -r requests errors non2xx _ < <(wrk_numbers "$work/wrk-$1.tsv")
    lost=$((errors + non2xx))
}
# stop_times SINCE_NS: for each task sent SIGTERM since then, "ms from SIGTERM to exit, exit code"
stop_times() {
    awk -v since="$1" '
        $1 < since { next }
        $2 == "kill" && $4 == "signal=15" && !($3 in term) { term[$3] = $1 }
        $2 == "die" && ($3 in term) { sub(/^exit=/, "", $5); printf "%d ms (exit %s)\n", ($1 - term[$3]) / 1000000, $5 }
    ' "$work/events.log"
}
# exit_code ID: the exit code of container ID from its die event (Swarm may have removed it since)
exit_code() {
    awk -v id="$1" '$2 == "die" && index($3, id) == 1 { sub(/^exit=/, "", $5); print $5 }' "$work/events.log" | tail -n 1
}
# start_failures SERVICE: how many of its tasks failed to start (not counting exits), and why
start_failures() {
    "$DOCKER" service ps "$1" --no-trunc --format '{{.Error}}' | grep -v -e '^$' -e 'non-zero exit' | sed 's/.*: //; s/"$//' | sort | uniq -c
}

section "rolling update to $next:multi under load, through the frontend with no retries"
phase_begins
load "$lb" update
sleep 2
since=$(date +%s%N)
update_ended() { # update_ended: true once the update (or its rollback) has ended; sets state
    state=$("$DOCKER" service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service")
    case "$state" in completed | paused | rollback_completed | rollback_paused) return 0 ;; esac
    return 1
}
update() { # update IMAGE: deploys it, waits for the update (or its rollback) to end; sets state, update_ms
    local start
    start=$(now_ms)
    state=""
    deploy "$1" || return
    WAIT_EVERY=0.5 wait_until 180 "the update ends" update_ended
    update_ms=$(($(now_ms) - start))
}
update "$next"
# Docker picks a host-mode task's port itself, from the kernel's ephemeral range, where any socket
# may hold it: the task then fails to start ("address already in use") and, failure_action being
# rollback, Swarm rolls the update back. Then, and only then, deploy once more, as an operator
# would. It was frequent while haproxy opened a connection a request (its TIME_WAIT sockets held
# those ports); with the slots few sockets hold them, and it has not happened in the runs
# measured for docs/deployment.md, but it stays possible: any socket may hold the port.
if [ "$state" = rollback_completed ] && start_failures "$service" | grep -q 'address already in use' \
    && ! start_failures "$service" | grep -qv 'address already in use'; then
    echo "        the update was rolled back after ${update_ms} ms: a new task failed to start, its host port was in use; deploying again"
    start_failures "$service" | sed 's/^/        tasks that failed to start: /'
    update "$next"
fi
# An old task may still be draining: wait until only the three new ones run (30 s at most).
three_run() { [ "$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$service" | wc -l)" -le 3 ]; }
WAIT_EVERY=0.5 wait_until 30 "only three tasks run" three_run
sleep 1
stop_load update
times=$(stop_times "$since")
echo "        update: $state in ${update_ms} ms; $requests requests, $lost failed; old tasks, SIGTERM to exit:"
echo "$times" | sed 's/^/          /'
read -r tw_all tw_task < <(timewait_peak)
echo "        TIME_WAIT sockets on this host during the update, at most: $tw_all ($tw_task of them docker-proxy's, towards a task, from the update)"
sed 's/^/        follow: /' "$work/follow.log"
start_failures "$service" | sed 's/^/        tasks that failed to start: /'
check "the rolling update completed (state: ${state:-none}, ${update_ms} ms)" test "$state" = completed
check "three tasks run $next:multi" test "$("$DOCKER" service ps "$service" --filter desired-state=running --format '{{.Image}} {{.CurrentState}}' \
    | grep -c "^$next:multi Running")" = 3
check "wrk completed requests during the update ($requests)" test "$requests" -gt 0
check "no request failed during the rolling update, with no balancer retry ($lost failed)" test "$lost" = 0
check "haproxy kept its connections to the tasks: docker-proxy's TIME_WAIT sockets towards them from the update stayed under 10,000 ($tw_task)" \
    test "$tw_task" -lt 10000
check "every task stopped by the update exited 0 after SIGTERM ($(grep -c '(exit 0)' <<<"$times") of $(grep -c . <<<"$times"))" \
    test "$(grep -c '(exit 0)' <<<"$times")" = "$(grep -c . <<<"$times")" -a "$(grep -c . <<<"$times")" -ge 3
if [ -n "$has_window" ]; then
    # The times are Docker's: it stamps the kill event once the signal is delivered and the die
    # event once it learns of the exit, each as late as dockerd is busy, so a task that drained
    # its whole window may measure a few ms short of it under this load (4,998 ms for 5 s, seen
    # once). 100 ms short still counts as the window served; a task that does not drain exits
    # within a few ms of its SIGTERM.
    check "each drained its ${window} s window (to 100 ms: Docker's event times), then exited within the 15 s grace period" \
        test -z "$(awk -v w=$((window * 1000 - 100)) '$1 < w || $1 >= 15000' <<<"$times")"
fi

section "docker kill of one task under load, through the frontend that retries"
phase_begins
load "$lb_retry" kill
sleep 2
victim=$(healthy_tasks | head -n 1)
start=$(now_ms)
"$DOCKER" kill "$victim" >/dev/null
replaced=""
replaced_by_three() { [ "$(healthy_tasks | grep -vc "^$victim")" -eq 3 ]; }
WAIT_EVERY=0.5 wait_until 60 "three healthy tasks, the killed one not among them" replaced_by_three \
    && replaced=$(($(now_ms) - start))
sleep 1
stop_load kill
code=$(exit_code "$victim")
echo "        kill: task $victim (exit $code) replaced by a healthy task in ${replaced:-never} ms; $requests requests, $lost failed"
read -r tw_all tw_task < <(timewait_peak)
echo "        TIME_WAIT sockets on this host during the kill, at most: $tw_all ($tw_task of them docker-proxy's, towards a task, from the kill)"
# Docker picks a host-mode port from the kernel's ephemeral range; should a socket hold the port
# it picked for the replacement, that task fails to start ("address already in use") and Swarm
# starts another after the restart delay (5 s): slower, not failed. Listed here when it happens.
start_failures "$service" | sed 's/^/        tasks that failed to start: /'
check "Swarm replaced the killed task with a healthy one (${replaced:-never} ms)" test -n "$replaced"
check "the killed task exited 137 (SIGKILL)" test "$code" = 137
check "wrk completed requests during the kill ($requests)" test "$requests" -gt 0
check "no request failed through the kill, with balancer retries ($lost failed)" test "$lost" = 0

summary
