#!/usr/bin/env bash
# /ws with real programs, on loopback: Autobahn's cases 1 to 10 (PyPI kosoku) against whod and
# against two reference servers, Python's websockets and Node's ws, whod being no worse than
# either on any case; real clients (websockets, ws; curl where it speaks WebSocket); nginx and
# HAProxy in front, and what each forwards and cuts; three replicas behind HAProxy; a rolling
# stop of all three under numbered traffic, which no message may survive unechoed.
# The Autobahn verdicts go to target/autobahn/ (NAME.tsv, differences.md, runs.tsv).
# docs/websocket.md says what each part shows.
#
#   tests/websocket.sh [PART...]    parts: autobahn clients proxies replicas (the three
#                                   replicas, then their rolling stop); default: all four
#
# Needs python3 with websockets and kosoku (PyPI), node and npm (ws@8 is installed by this
# script, into target/websocket/node), nginx, haproxy and curl: skipped without them, except in
# CI where that fails. WHOD=PATH tests that binary instead of building target/release/whod.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
PATH=$PATH:/usr/sbin # nginx and haproxy, for a user whose PATH lacks them
parts=" ${*:-autobahn clients proxies replicas} "
for part in $parts; do
    case $part in
        autobahn | clients | proxies | replicas) ;;
        *) echo "usage: tests/websocket.sh [autobahn|clients|proxies|replicas]... (not $part)" >&2; exit 2 ;;
    esac
done
# wanted PART: PART is to run.
wanted() { [[ $parts == *" $1 "* ]]; }
tools_or_skip "WebSocket tests (tests/websocket.sh)" python3 py:websockets py:kosoku node npm nginx haproxy curl
SOURCE_IP=127.0.0.7 # the clients' address behind a proxy, distinct from the proxy's (127.0.0.1)
WINDOW=2            # the replicas' --shutdown-delay in the rolling stop, seconds
CLIENTS=6           # clients in the rolling stop: two per replica

make_work websocket
section "building whod (cargo build --release --locked)"
build_whod
# The interpreter itself: a version manager's python3 shim can take 0.3 s a start.
python=$(python3 -c 'import sys; print(sys.executable)')
clients_py=tests/websocket_clients.py
peer_mjs=tests/websocket_peer.mjs
node_modules=target/websocket/node # npm's ws, kept between runs
# In the foreground only: in the background, a function is a subshell of its own, whose pid
# ($!) is not the program's, which stopping the subshell would leave behind.
py() { "$python" "$clients_py" "$@"; }
# kosoku's command beside that interpreter: a version manager may not have put it on PATH yet.
kosoku_bin=$(dirname "$python")/kosoku
[ -x "$kosoku_bin" ] || kosoku_bin=$(command -v kosoku)
peer() { node "$peer_mjs" "$1" "$node_modules/node_modules" "${@:2}"; }
websockets_version=$("$python" -c 'import websockets; print(websockets.__version__)')
kosoku_version=$("$python" -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null || echo "?")
ws_version="" # install_ws

# verdicts FILE: counts each "ok|FAILED DESCRIPTION" line a helper printed; shows the others.
verdicts() {
    local line
    while IFS= read -r line; do
        case $line in
            "ok "*) check "${line#ok }" true ;;
            "FAILED "*) check "${line#FAILED }" false ;;
            *) echo "$line" ;;
        esac
    done <"$1"
}


# listening_port FILE: the port of the "... listening on 127.0.0.1:PORT" line in FILE.
listening_port() {
    sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n 1
}

# metric PORT SERIES: one sample of whod's /metrics on PORT, SERIES as the page writes it
# (whod_websocket_closes_total{code="1001"}); empty if there is none.
metric() {
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v series="$2" '$1 == series { print $2 }'
}

# seconds_since MS: the seconds since now_ms said MS, to a tenth.
seconds_since() {
    local ms=$(($(now_ms) - $1))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# both_listening: the two reference servers have said where they listen.
both_listening() {
    grep -q listening "$work/websockets-server.log" && grep -q listening "$work/ws-server.log"
}

# whod_saw_cut: the whod behind nginx has counted one WebSocket lost without a close.
whod_saw_cut() {
    [ "$(metric "$patient_port" 'whod_websocket_closes_total{code="1006"}')" = 1 ]
}

# closes_1000 PORT...: the sum of whod_websocket_closes_total{code="1000"} over the whods on PORT...
closes_1000() {
    local port sum=0 value
    for port; do
        value=$(metric "$port" 'whod_websocket_closes_total{code="1000"}')
        sum=$((sum + ${value:-0}))
    done
    echo "$sum"
}

# replacements_counted PORT...: the whods on PORT... have counted a close (1000) per client.
replacements_counted() {
    [ "$(closes_1000 "$@")" = "$CLIENTS" ]
}

# all_checked: HAProxy has checked every replica (its first check comes within 250 ms).
all_checked() {
    [ "$(grep -l '"GET /healthz HTTP/1.1" 200' "$work/r1.log" "$work/r2.log" "$work/r3.log" 2>/dev/null | wc -l)" = 3 ]
}

# install_ws: npm's ws 8 into $node_modules, unless it is there from a run before.
install_ws() {
    section "npm install ws@8 (into $node_modules, once)"
    if ! grep -qs '"version": "8\.' "$node_modules/node_modules/ws/package.json"; then
        mkdir -p "$node_modules"
        npm install --prefix "$node_modules" --no-audit --no-fund --no-save --silent ws@8 >"$work/npm.log" 2>&1 \
            || { tail -n 20 "$work/npm.log"; }
    fi
    ws_version=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$node_modules/node_modules/ws/package.json" 2>/dev/null)
    check "npm's ws 8 is there (${ws_version:-not installed}; node $(node --version))" test "${ws_version%%.*}" = 8
}

part_autobahn() {
    local autobahn whod_port websockets_port ws_port
    section "Autobahn's cases 1 to 10 (kosoku $kosoku_version) against whod, websockets $websockets_version and ws $ws_version"
    # 12.x and 13.x test permessage-deflate, which whod does not offer (nor do the references here).
    autobahn=target/autobahn
    rm -rf "$autobahn" && mkdir -p "$autobahn"
    printf 'server\tversion\tseconds\n' >"$autobahn/runs.tsv"
    start_whod autobahn
    whod_port=$port
    "$python" "$clients_py" serve >"$work/websockets-server.log" 2>&1 &
    pids+=("$!")
    node "$peer_mjs" server "$node_modules/node_modules" >"$work/ws-server.log" 2>&1 &
    pids+=("$!")
    wait_until 10 "the reference servers say where they listen" both_listening
    websockets_port=$(listening_port "$work/websockets-server.log")
    ws_port=$(listening_port "$work/ws-server.log")
    # run_kosoku SERVER VERSION PORT: Autobahn's fuzzingclient against 127.0.0.1:PORT/ws, four cases at
    # a time; its report in $work/autobahn-SERVER. Its exit status says whether any case failed:
    # the verdicts are judged from the report instead.
    run_kosoku() {
        local started
        started=$(now_ms)
        "$kosoku_bin" "127.0.0.1:$3/ws" -x '12.*' -x '13.*' -p 4 -o "$work/autobahn-$1" >"$work/kosoku-$1.log" 2>&1
        printf '%s\t%s\t%s\n' "$1" "$2" "$(seconds_since "$started")" >>"$autobahn/runs.tsv"
        check "kosoku ran the cases against $1 $2 on port $3 and wrote its report ($(seconds_since "$started") s)" \
            test -s "$work/autobahn-$1/index.json"
    }
    if [ -n "$websockets_port" ] && [ -n "$ws_port" ]; then
        run_kosoku whod "$("$WHOD" --version | cut -d' ' -f2)" "$whod_port"
        run_kosoku websockets "$websockets_version" "$websockets_port"
        run_kosoku ws "$ws_version" "$ws_port"
        py autobahn "$autobahn" whod="$work/autobahn-whod" websockets="$work/autobahn-websockets" \
            ws="$work/autobahn-ws" >"$work/autobahn.txt" 2>&1
        check "the verdicts were read and compared (written to $autobahn/)" test $? = 0
        verdicts "$work/autobahn.txt"
    else
        check "the reference servers started ($(cat "$work/websockets-server.log" "$work/ws-server.log"))" false
    fi
    stop_pids
}

part_clients() {
    local greeting
    section "real clients of whod: websockets $websockets_version and ws $ws_version; curl if it speaks WebSocket"
    start_whod clients
    py client "ws://127.0.0.1:$port/ws" >"$work/client-websockets.txt" 2>&1
    check "websockets' client ran to the end" test $? = 0
    verdicts "$work/client-websockets.txt"
    peer client "ws://127.0.0.1:$port/ws" >"$work/client-ws.txt" 2>&1
    check "ws's client ran to the end" test $? = 0
    verdicts "$work/client-ws.txt"
    if curl -V | grep -q '^Protocols:.* ws '; then
        greeting=$(curl -s --max-time 2 "ws://127.0.0.1:$port/ws?greeting=text")
        check "curl receives the greeting: the upgrade request it sent" grep -q '^GET /ws?greeting=text HTTP/1.1' <<<"$greeting"
    else
        echo "SKIPPED curl as a WebSocket client: $(curl -V | head -n 1 | cut -d' ' -f1-2) lists no ws among its protocols"
        echo "        (WebSocket support is a build option of curl 7.86 and later, off in Debian's 7.88)"
    fi
    stop_pids
}

part_proxies() {
    local patient_port pinging_port nginx_port nginx_pinging_port haproxy_port quiet_nginx quiet_pinging quiet_haproxy \
        status body state seconds pings code cut
    section "through nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') and HAProxy $(haproxy -v | sed -n '1s/HAProxy version \([^ ]*\).*/\1/p'): what each forwards, and how each treats a quiet WebSocket"
    # Two whods: one with the default --idle-timeout (75 s, a ping after 37.5 s of quiet), one with
    # 2 s (a ping after 1 s of quiet), both behind nginx whose proxy_read_timeout is 3 s.
    start_whod patient --metrics
    patient_port=$port
    start_whod pinging --idle-timeout 2
    pinging_port=$port
    nginx_port=$(free_port)
    nginx_pinging_port=$(other_port "$nginx_port")
    haproxy_port=$(other_port "$nginx_port" "$nginx_pinging_port")
    # The upgrade settings every nginx WebSocket guide gives: Upgrade and Connection are hop-by-hop
    # fields, which nginx does not forward unless told.
    # shellcheck disable=SC2016 # nginx's variables, for nginx
    local upgrade='proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 3s;'
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://127.0.0.1:$patient_port;
            $upgrade
        }
        # A proxy set up as for plain HTTP: the upgrade cannot get through.
        location /plain/ {
            proxy_pass http://127.0.0.1:$patient_port/;
            proxy_http_version 1.1;
        }
    }
    server {
        listen 127.0.0.1:$nginx_pinging_port;
        location / {
            proxy_pass http://127.0.0.1:$pinging_port;
            $upgrade
        }
    }
}
NGINX
    # HAProxy passes an upgrade by itself in mode http; after it, `timeout tunnel` replaces the
    # client and server timeouts, here much shorter.
    cat >"$work/haproxy-proxies.cfg" <<CFG
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 2s
    timeout server 2s
    timeout tunnel 30s
frontend ws
    bind 127.0.0.1:$haproxy_port
    option forwardfor
    default_backend whod
backend whod
    server patient 127.0.0.1:$patient_port
CFG
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/stdout.log" 2>&1 &
    pids+=("$!")
    haproxy -db -f "$work/haproxy-proxies.cfg" >"$work/haproxy-proxies.log" 2>&1 &
    pids+=("$!")
    wait_until 10 "nginx and HAProxy answer /healthz" \
        bash -c "curl -fs -o /dev/null --max-time 1 http://127.0.0.1:$nginx_port/healthz && curl -fs -o /dev/null --max-time 1 http://127.0.0.1:$haproxy_port/healthz" \
        || { cat "$work/nginx/error.log" "$work/haproxy-proxies.log"; }
    # The quiet clients first, in the background: they take 8 s, while the greetings are checked.
    "$python" "$clients_py" quiet "ws://127.0.0.1:$nginx_port/ws" 8 >"$work/quiet-nginx.txt" 2>&1 &
    quiet_nginx=$!
    "$python" "$clients_py" quiet "ws://127.0.0.1:$nginx_pinging_port/ws" 8 >"$work/quiet-nginx-pinging.txt" 2>&1 &
    quiet_pinging=$!
    "$python" "$clients_py" quiet "ws://127.0.0.1:$haproxy_port/ws" 8 >"$work/quiet-haproxy.txt" 2>&1 &
    quiet_haproxy=$!
    pids+=("$quiet_nginx" "$quiet_pinging" "$quiet_haproxy")

    py proxied nginx "ws://127.0.0.1:$nginx_port/ws?greeting=json" "$SOURCE_IP" 127.0.0.1 \
        X-Forwarded-For="$SOURCE_IP" Upgrade=websocket Connection=upgrade Host="127.0.0.1:$patient_port" >"$work/proxied-nginx.txt" 2>&1
    check "the client through nginx ran to the end" test $? = 0
    verdicts "$work/proxied-nginx.txt"
    read -r status body < <(py refused "ws://127.0.0.1:$nginx_port/plain/ws")
    check "without proxy_set_header Upgrade and Connection, nginx drops those hop-by-hop fields: whod refuses the upgrade ($status: $body)" \
        test "$status" = 400
    py proxied HAProxy "ws://127.0.0.1:$haproxy_port/ws?greeting=json" "$SOURCE_IP" 127.0.0.1 \
        X-Forwarded-For="$SOURCE_IP" Upgrade=websocket Connection=Upgrade Host="127.0.0.1:$haproxy_port" >"$work/proxied-haproxy.txt" 2>&1
    check "the client through HAProxy ran to the end" test $? = 0
    verdicts "$work/proxied-haproxy.txt"

    wait "$quiet_nginx" "$quiet_pinging" "$quiet_haproxy"
    forget "$quiet_nginx" "$quiet_pinging" "$quiet_haproxy"
    read -r state seconds pings code <"$work/quiet-nginx.txt"
    check "through nginx (proxy_read_timeout 3s) to a whod with the default --idle-timeout (75 s), a quiet WebSocket is cut: $state after $seconds s, without a close frame (code $code), $pings pings" \
        test "$state,$code" = "cut,1006"
    wait_until 5 "whod counts the cut WebSocket" whod_saw_cut
    cut=$(metric "$patient_port" 'whod_websocket_closes_total{code="1006"}')
    check "whod counted the cut WebSocket as lost without a close: whod_websocket_closes_total{code=\"1006\"} is ${cut:-absent}" \
        test "$cut" = 1
    read -r state seconds pings code <"$work/quiet-nginx-pinging.txt"
    check "through the same nginx to a whod with --idle-timeout 2, its pings (after 1 s of quiet) keep a quiet WebSocket open: $state after $seconds s, $pings pings answered" \
        test "$state" = alive -a "$pings" -ge 3
    read -r state seconds pings code <"$work/quiet-haproxy.txt"
    check "through HAProxy, a WebSocket quiet for longer than timeout client and server (2 s) stays open: timeout tunnel (30 s) rules it ($state after $seconds s, $pings pings)" \
        test "$state" = alive
    stop_pids
}

# haproxy_balancer LB_PORT SERVER_PORT...: three replicas behind HAProxy (haproxy_round_robin):
# a replica whose window has begun (503) is out at its next check; a WebSocket is a tunnel.
haproxy_balancer() {
    local lb=$1
    shift
    haproxy_round_robin "$lb" 1024 "    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout tunnel 60s
    retries 3
    option redispatch" "$@"
}

part_replicas() {
    local i lb_port rolling_pid stopping stopping_port stop_started code open status seen logged closed_normally
    section "three replicas (--name r1, r2, r3) behind HAProxy, round robin"
    local -a replica_ports=() replica_pids=() logged_before=()
    for i in 1 2 3; do
        start_whod "r$i" --name "r$i" --shutdown-delay "$WINDOW" --access-log --metrics
        replica_ports+=("$port")
        replica_pids+=("$pid")
    done
    lb_port=$(free_port)
    haproxy_balancer "$lb_port" "${replica_ports[@]}" >"$work/haproxy-balancer.cfg"
    haproxy -db -f "$work/haproxy-balancer.cfg" >"$work/haproxy-balancer.log" 2>&1 &
    pids+=("$!")
    wait_until 10 "HAProxy answers /healthz" http_ok "http://127.0.0.1:$lb_port/healthz" || cat "$work/haproxy-balancer.log"
    wait_until 5 "HAProxy has checked the three replicas" all_checked
    py replicas "ws://127.0.0.1:$lb_port/ws?greeting=json" 9 r1 r2 r3 >"$work/replicas.txt" 2>&1
    check "the WebSockets through the balancer ran to the end" test $? = 0
    verdicts "$work/replicas.txt"

    section "a rolling stop: r1, r2, r3 get SIGTERM one at a time (window $WINDOW s) and are replaced, under $CLIENTS clients' numbered messages"
    mkdir -p "$work/rolling"
    # The WebSockets of the part before are in the access logs already: only those after count.
    for i in 1 2 3; do
        logged_before+=("$(grep -c '"GET /ws?greeting=json HTTP/1.1" 101 ' "$work/r$i.log")")
    done
    "$python" "$clients_py" rolling "ws://127.0.0.1:$lb_port/ws?greeting=json" "$CLIENTS" "$work/rolling" 90 >"$work/rolling.txt" 2>&1 &
    rolling_pid=$!
    pids+=("$rolling_pid")
    wait_until 15 "the $CLIENTS clients are connected" test -s "$work/rolling/ready"
    echo "        the clients' first replicas: $(cat "$work/rolling/ready")"
    for i in 1 2 3; do
        stopping=${replica_pids[$((i - 1))]}
        stopping_port=${replica_ports[$((i - 1))]}
        sleep 1 # a second of traffic on every replica
        kill -TERM "$stopping"
        stop_started=$(now_ms)
        sleep 0.3
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$stopping_port/healthz")
        open=$(metric "$stopping_port" whod_websocket_connections_open)
        check "r$i, in its window: /healthz answers 503 ($code), and its WebSockets go on (whod_websocket_connections_open $open)" \
            test "$code" = 503 -a "${open:-0}" -gt 0
        wait "$stopping"
        status=$?
        forget "$stopping"
        check "r$i exited 0 (exit $status), $(seconds_since "$stop_started") s after SIGTERM" test "$status" = 0
        [ "$status,$code" = 0,503 ] || sed 's/^/        r'"$i"': /' "$work/r$i.err"
        # Its replacement, on its port: HAProxy sends it clients once a check has passed.
        start_whod "r${i}b" --name "r${i}b" --port "$stopping_port" --shutdown-delay "$WINDOW" --access-log --metrics
        wait_until 5 "HAProxy has checked r${i}b" grep -q '"GET /healthz HTTP/1.1" 200' "$work/r${i}b.log"
    done
    sleep 1
    touch "$work/rolling/stop"
    wait_until 30 "the clients have finished" gone "$rolling_pid"
    wait "$rolling_pid"
    check "the clients ran to the end" test $? = 0
    forget "$rolling_pid"
    verdicts "$work/rolling.txt"
    for i in 1 2 3; do
        seen=$(awk -F'\t' -v r="r$i" '$1 == r && $2 == 1001' "$work/rolling/closes.tsv" | wc -l)
        logged=$(($(grep -c '"GET /ws?greeting=json HTTP/1.1" 101 ' "$work/r$i.log") - logged_before[i - 1]))
        check "r$i closed its $seen WebSockets with 1001 at its stop, and its access log has as many WebSocket lines ($logged)" \
            test "$seen" -gt 0 -a "$seen" = "$logged"
    done
    wait_until 5 "the replacements count the clients' closes" replacements_counted "${replica_ports[@]}"
    closed_normally=$(closes_1000 "${replica_ports[@]}")
    check "the replacements' /metrics counted the $CLIENTS clients' final closes (whod_websocket_closes_total{code=\"1000\"}: $closed_normally)" \
        test "$closed_normally" = "$CLIENTS"
}

if wanted autobahn || wanted clients; then install_ws; fi
for part in autobahn clients proxies replicas; do
    if wanted "$part"; then "part_$part"; fi
done
summary
