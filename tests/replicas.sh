#!/usr/bin/env bash
# Many replicas behind a real load balancer: three who:multi containers from deploy/compose.yaml
# (Debian's docker-compose v1; plain `docker run` if no compose binary is found), nginx on the
# host balancing over their 127.0.0.1 ports, and a replica stopped while wrk drives traffic
# through nginx. Everything started is torn down at the end, also when a step fails.
# Needs a Docker engine: skipped without one, except in CI where that fails.
set -uo pipefail
cd "$(dirname "$0")/.."
DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-who}
source tests/common.sh
source scripts/lib.sh
engine_or_skip "replica tests (tests/replicas.sh)"

project="who-replicas-$$"
work=$(mktemp -d /tmp/who-replicas.XXXXXX)
nginx_pid=""
compose=""
command -v docker-compose >/dev/null && compose=docker-compose
teardown() {
    [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null
    if [ -n "$compose" ]; then
        "$compose" -f deploy/compose.yaml -p "$project" down -t 5 >/dev/null 2>&1
    fi
    cleanup_containers
    rm -rf "$work"
}
trap teardown EXIT

"$DOCKER" image inspect "$IMAGE:multi" >/dev/null 2>&1 || make --no-print-directory image-multi >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log"; echo "0 passed, 1 failed"; exit 1; }

names=()
if [ -n "$compose" ]; then
    echo "== three replicas with $compose ($("$compose" version --short 2>/dev/null)) from deploy/compose.yaml"
    IMAGE=$IMAGE "$compose" -f deploy/compose.yaml -p "$project" up -d --no-build >"$work/up.log" 2>&1 \
        || { cat "$work/up.log"; echo "0 passed, 1 failed"; exit 1; }
    for i in 1 2 3; do names+=("$("$compose" -f deploy/compose.yaml -p "$project" ps -q who | sed -n "${i}p")"); done
else
    echo "== three replicas with docker run (no docker-compose binary found)"
    for i in 1 2 3; do
        name="$project-who-$i"
        containers+=("$name")
        "$DOCKER" run -d --name "$name" -p 127.0.0.1::8080 --read-only --cap-drop ALL \
            --security-opt no-new-privileges:true "$IMAGE:multi" >/dev/null
        names+=("$name")
    done
fi

ports=()
hostnames=()
for name in "${names[@]}"; do
    port=$(published_port "$name")
    ports+=("$port")
    hostnames+=("$("$DOCKER" inspect -f '{{.Config.Hostname}}' "$name")")
    wait_for_http "http://127.0.0.1:$port/healthz"
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
            # A replica that refuses or drops a connection: try the next one.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
        }
    }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
wait_for_http "http://127.0.0.1:$lb_port/healthz"
seen=$(for _ in $(seq 30); do curl -sS --max-time 5 "http://127.0.0.1:$lb_port/who"; echo; done | sort | uniq -c)
echo "$seen" | sed 's/^/        /'
check "30 requests through nginx show all three hostnames" test "$(echo "$seen" | wc -l)" = 3

echo "== wrk through nginx for 6 s; replica 2 is stopped after 2 s"
(
    sleep 2
    start=$(date +%s%N)
    "$DOCKER" stop "${names[1]}" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 )) >"$work/stop-ms"
) &
stopper=$!
wrk -t1 -c16 -d6s --timeout 5s "http://127.0.0.1:$lb_port/who" >"$work/wrk.txt" 2>&1
wait "$stopper"
sed 's/^/        /' "$work/wrk.txt"
read -r requests socket_errors non2xx _ < <(wrk_summary "$work/wrk.txt")
check "wrk completed requests ($requests)" test "$requests" -gt 0
check "zero non-2xx responses through the rolling stop ($non2xx)" test "$non2xx" = 0
check "zero socket errors through the rolling stop ($socket_errors)" test "$socket_errors" = 0
stop_ms=$(cat "$work/stop-ms")
check "the stopped replica exited within 2 s (took ${stop_ms} ms)" test "$stop_ms" -lt 2000
check "the stopped replica exited 0" test "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "${names[1]}")" = 0
check "the other two replicas still answer" bash -c \
    "curl -fsS --max-time 5 http://127.0.0.1:${ports[0]}/who >/dev/null && curl -fsS --max-time 5 http://127.0.0.1:${ports[2]}/who >/dev/null"
if [ -n "$compose" ]; then
    check "compose applied read_only, cap_drop, no-new-privileges and the 32M limit" test \
        "$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}}' "${names[0]}")" \
        = "true [ALL] [no-new-privileges:true] 33554432"
fi

summary
