#!/usr/bin/env bash
# The proxy toolbox (README, "Testing a proxy") against real proxies, on loopback: what nginx
# does with /stream's events (buffered or not), /data downloads and /upload bodies (its
# client_max_body_size against whod's --max-body, Expect: 100-continue, chunked uploads), how
# nginx retries whod's failures on purpose and times out its latency, how HAProxy's health
# checks miss a sick replica that its passive observation ejects, operator headers through
# nginx and its cache, and what a TLS-terminating HAProxy tells whod in PROXY v2 TLVs (ALPN,
# SNI, TLS version and cipher, the client certificate). docs/proxies.md has the numbers.
#
# Every daemon runs on a free port of 127.0.0.1 and is stopped by its pid at the end, also when
# a step fails; every wait is bounded. Timings are told apart by factors, not milliseconds: the
# machine may be shared. Needs nginx, haproxy, openssl, curl and python3: skipped without them,
# except in CI, where that fails. WHOD=PATH tests that binary instead of building one.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
PATH=$PATH:/usr/sbin # nginx and haproxy, for a user whose PATH lacks them
tools_or_skip "proxy tests (tests/proxies.sh)" nginx haproxy openssl curl python3
started=$(date +%s%N)

make_work proxies
# nginx's workers run as nobody when it is started as root: they write request bodies and long
# answers in temporary directories under the work directory, and must reach them.
chmod 711 "$work"
section "building whod (cargo build --release --locked)"
build_whod
# The interpreter itself: a version manager's python3 shim can take 0.3 s a start.
python=$(python3 -c 'import sys; print(sys.executable)')
py() { "$python" tests/proxies_clients.py "$@"; }

# verdicts FILE: counts each "ok|FAILED DESCRIPTION" line that proxies_clients.py printed.
verdicts() {
    local verdict description
    while read -r verdict description; do
        check "$description" test "$verdict" = ok
    done <"$1"
}

# nginx_up PORT PID: true once nginx answers its own /nginx-ready on PORT, or has exited.
nginx_up() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/nginx-ready")" = 204 ] || gone "$2"
}

# start_nginx NAME [HTTP_DIRECTIVES]: nginx (one worker) on a free port of 127.0.0.1, its one
# server's directives read from stdin, HTTP_DIRECTIVES (upstreams, a cache) in its http block;
# its files in $work/NAME. Sets nginx_port; the process is in pids. A port taken between
# free_port and nginx's bind is tried again, up to 3 times; no start is a failure, and the end.
start_nginx() {
    local name=$1 http=${2:-} dir=$work/$1 server nginx_pid
    server=$(cat)
    mkdir -p "$dir"
    for _ in 1 2 3; do
        nginx_port=$(free_port)
        cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 256;
}
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
$http
    server {
        listen 127.0.0.1:$nginx_port;
        location = /nginx-ready {
            return 204;
        }
$server
    }
}
CONF
        nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >>"$dir/stderr.log" 2>&1 &
        nginx_pid=$!
        if wait_until 5 "nginx $name answers" nginx_up "$nginx_port" "$nginx_pid" && ! gone "$nginx_pid"; then
            pids+=("$nginx_pid")
            return 0
        fi
        kill "$nginx_pid" 2>/dev/null
        wait "$nginx_pid" 2>/dev/null
    done
    check "nginx $name started ($(tail -n 3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null))" false
    summary
    exit 1
}

# start_haproxy NAME: haproxy on the configuration read from stdin ($work/NAME.cfg, checked
# with haproxy -c first); waits until URL (the second argument) answers. The process is in
# pids; its log is $work/NAME.log.
start_haproxy() {
    local name=$1 url=$2
    cat >"$work/$name.cfg"
    if ! haproxy -c -q -f "$work/$name.cfg" >"$work/$name.log" 2>&1; then
        check "haproxy -c accepts $name's configuration ($(tail -n 5 "$work/$name.log"))" false
        return 1
    fi
    haproxy -db -f "$work/$name.cfg" >"$work/$name.log" 2>&1 &
    pids+=("$!")
    wait_until 5 "haproxy $name answers $url" curl -s -k -o /dev/null --max-time 1 "$url" \
        || { check "haproxy $name started ($(tail -n 5 "$work/$name.log"))" false; return 1; }
}

# answer CURL_ARGS...: the body of the answer and its status, on one line ("size=3 ... 200").
answer() {
    curl -s --max-time 30 -w ' %{http_code}' "$@" | tr '\n' ' ' | tr -s ' '
}

# like STRING PATTERN...: STRING matches one of the glob PATTERNs.
like() {
    local string=$1 pattern
    shift
    for pattern; do
        # shellcheck disable=SC2053 # a glob on purpose
        [[ $string == $pattern ]] && return 0
    done
    return 1
}

# field FILE NAME: the values of the field NAME (any case) in the response head FILE (curl -D),
# one a line, without the CR.
field() {
    tr -d '\r' <"$1" | sed -n "s/^$2: *//Ip"
}

# ---------------------------------------------------------------------------------------------
INTERVAL=0.5 # seconds between a stream's events
COUNT=4
section "streams: $COUNT events ${INTERVAL} s apart, direct and through nginx $(nginx -v 2>&1 | sed 's|.*nginx/||')"
start_whod stream
stream_port=$port
start_whod accel --header 'X-Accel-Buffering: no'
accel_port=$port
start_nginx streams <<CONF
        location /unbuffered/ {
            proxy_pass http://127.0.0.1:$stream_port/;
            proxy_buffering off;
        }
        location /buffered/ {
            proxy_pass http://127.0.0.1:$stream_port/;
        }
        location /buffered11/ {
            proxy_pass http://127.0.0.1:$stream_port/;
            proxy_http_version 1.1;
        }
        location /accel/ {
            proxy_pass http://127.0.0.1:$accel_port/;
        }
CONF
q="stream?count=$COUNT&interval=500ms"
# label|port|target|expected: streaming (an interval apart) or together (all at the end)
rows=(
    "direct|$stream_port|/$q|streaming"
    "nginx, proxy_buffering off|$nginx_port|/unbuffered/$q|streaming"
    "nginx, defaults (buffering on, proxy_http_version 1.0)|$nginx_port|/buffered/$q|together"
    "nginx, buffering on, proxy_http_version 1.1|$nginx_port|/buffered11/$q|streaming"
    "nginx, defaults, whod --header 'X-Accel-Buffering: no'|$nginx_port|/accel/$q|streaming"
    "SSE direct|$stream_port|/$q&format=sse|streaming"
    "SSE nginx, proxy_buffering off|$nginx_port|/unbuffered/$q&format=sse|streaming"
    "SSE nginx, defaults (buffering on, proxy_http_version 1.0)|$nginx_port|/buffered/$q&format=sse|together"
    "SSE nginx, buffering on, proxy_http_version 1.1|$nginx_port|/buffered11/$q&format=sse|streaming"
)
# All at once: each client waits on its own stream, so they take one stream's time together.
clients=()
for i in "${!rows[@]}"; do
    IFS='|' read -r _ row_port target _ <<<"${rows[$i]}"
    py stream "$row_port" "$target" >"$work/stream-$i.txt" 2>&1 &
    clients+=("$!")
done
for client in "${clients[@]}"; do wait "$client"; done
echo "        the arrival of each event, in seconds since the request was sent:"
for i in "${!rows[@]}"; do
    IFS='|' read -r label _ _ expected <<<"${rows[$i]}"
    read -r code times <"$work/stream-$i.txt"
    # shellcheck disable=SC2086 # the times are words on purpose
    printf '        %-58s %s\n' "$label" "$(py gaps $times 2>/dev/null || head -c 200 "$work/stream-$i.txt")"
done
for i in "${!rows[@]}"; do
    IFS='|' read -r label _ _ expected <<<"${rows[$i]}"
    read -r code times <"$work/stream-$i.txt"
    read -r -a arrivals <<<"$times"
    # shellcheck disable=SC2086
    gaps=$(py gaps $times 2>/dev/null)
    ok=no
    [ "$code" = 200 ] && [ "${#arrivals[@]}" = "$COUNT" ] && py "$expected" "$INTERVAL" "${arrivals[@]}" && ok=yes
    if [ "$expected" = streaming ]; then
        check "$label: 200, the $COUNT events arrived about ${INTERVAL} s apart ($code; $gaps)" test "$ok" = yes
    else
        check "$label: 200, the $COUNT events arrived together, at the end ($code; $gaps)" test "$ok" = yes
    fi
done
accel_head=$(sed -n '2,$p' "$work/stream-4.txt")
check "nginx obeyed whod's X-Accel-Buffering: no and kept it: the client does not see it" \
    test -z "$(grep -i '^X-Accel-Buffering' <<<"$accel_head")"
check "through nginx an SSE stream keeps its type ($(sed -n 's/^Content-Type: //Ip' "$work/stream-6.txt"))" \
    grep -qi '^Content-Type: text/event-stream' "$work/stream-6.txt"
stop_pids

# ---------------------------------------------------------------------------------------------
section "downloads and uploads with curl $(curl --version | sed -n '1s/^curl \([^ ]*\).*/\1/p'), direct and through nginx"
MAX_BODY=4194304 # whod's --max-body, 4 MiB; nginx's client_max_body_size is 8m, or 1m at /capped/
start_whod transfers --max-body 4MiB --max-data 20MiB
data_port=$port
start_nginx transfers <<CONF
        client_max_body_size 8m;
        location /buffered/ {
            proxy_pass http://127.0.0.1:$data_port/;
        }
        location /streamed/ {
            proxy_pass http://127.0.0.1:$data_port/;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }
        location /capped/ {
            proxy_pass http://127.0.0.1:$data_port/;
            client_max_body_size 1m;
        }
CONF
direct=http://127.0.0.1:$data_port
nginx=http://127.0.0.1:$nginx_port/buffered
for size in 0 1 10MiB; do
    bytes=$size
    [ "$size" = 10MiB ] && bytes=10485760
    for via in direct nginx; do
        base=$direct
        [ "$via" = nginx ] && base=$nginx
        read -r code got < <(curl -s --max-time 30 -o "$work/data-$via-$size" -D "$work/data-$via-$size.head" \
            -w '%{http_code} %{size_download}\n' "$base/data?size=$size")
        length=$(field "$work/data-$via-$size.head" Content-Length)
        check "/data?size=$size $via: $code, curl's size_download $got, Content-Length ${length:-none}: both $bytes" \
            test "$code,$got,$length" = "200,$bytes,$bytes"
    done
    check "/data?size=$size: the same bytes through nginx as direct ($(py crc "$work/data-nginx-$size"))" \
        cmp -s "$work/data-direct-$size" "$work/data-nginx-$size"
done
rm -f "$work"/data-*
for via in direct nginx; do
    base=$direct
    [ "$via" = nginx ] && base=$nginx
    answer=$(answer "$base/data?size=21MiB")
    check "/data?size=21MiB $via, over --max-data 20MiB: 400 naming the limit ($answer)" \
        like "$answer" '*at most 20MiB (--max-data)*21MiB* 400'
done

head -c 1000 /dev/urandom >"$work/small"
head -c 3145728 /dev/urandom >"$work/medium"  # 3 MiB: under --max-body; curl sends Expect: 100-continue
head -c 5242880 /dev/urandom >"$work/large"   # 5 MiB: over --max-body, under nginx's 8m
head -c 2097152 /dev/urandom >"$work/two"     # 2 MiB: over /capped/'s client_max_body_size 1m
: >"$work/empty"
for file in empty small medium; do
    read -r size crc < <(py crc "$work/$file")
    for via in direct nginx; do
        base=$direct
        [ "$via" = nginx ] && base=$nginx
        put=$(answer -T "$work/$file" "$base/upload")
        post=$(answer --data-binary "@$work/$file" "$base/upload")
        check "upload of $size bytes $via, PUT (curl -T) and POST (--data-binary): size=$size crc32=$crc as zlib's ($put; $post)" \
            like "$put|$post" "size=$size crc32=$crc * 200|size=$size crc32=$crc * 200"
    done
done
read -r size crc < <(py crc "$work/medium")
for via in direct nginx streamed; do
    case $via in direct) base=$direct ;; nginx) base=$nginx ;; streamed) base=http://127.0.0.1:$nginx_port/streamed ;; esac
    answer=$(answer -H 'Transfer-Encoding: chunked' --data-binary "@$work/medium" "$base/upload")
    check "chunked upload of $size bytes $via: size=$size crc32=$crc ($answer)" \
        like "$answer" "size=$size crc32=$crc * 200"
done
# What reached whod from a chunked upload: nginx buffers the body and sends its length, unless
# proxy_request_buffering is off (then, with proxy_http_version 1.1, the chunks go on; but a
# body nginx has read whole with the head, 1000 bytes, still goes with its length).
for via in buffered streamed; do
    curl -s --max-time 10 -H 'Transfer-Encoding: chunked' --data-binary "@$work/medium" \
        "http://127.0.0.1:$nginx_port/$via/echo" >"$work/echo-$via.txt"
done
framing() { grep -iE '^(Content-Length|Transfer-Encoding): ' "$1" | paste -sd ' ' -; }
check "nginx (proxy_request_buffering on, the default) turned the chunked upload into $(framing "$work/echo-buffered.txt")" \
    grep -qi '^Content-Length: 3145728$' "$work/echo-buffered.txt"
check "nginx with proxy_request_buffering off and proxy_http_version 1.1 passed it on as $(framing "$work/echo-streamed.txt")" \
    grep -qi '^Transfer-Encoding: chunked$' "$work/echo-streamed.txt"

py over "$data_port" /upload 5242880 >"$work/over.txt"
read -r code state seconds <"$work/over.txt"
check "a 5 MiB Content-Length over --max-body 4MiB, direct: $code and a close ($state after ${seconds} s; $(sed -n 2p "$work/over.txt"))" \
    test "$code,$state" = 413,eof
answer=$(answer --data-binary "@$work/large" "$nginx/upload")
check "5 MiB through nginx (client_max_body_size 8m): whod's 413, its own words ($answer)" \
    test "$answer" = "request body larger than $MAX_BODY bytes 413"
answer=$(answer --data-binary "@$work/two" "http://127.0.0.1:$nginx_port/capped/upload")
check "2 MiB through nginx with client_max_body_size 1m: nginx's 413, its page, not whod's ($(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$answer"), ${answer##* })" \
    like "$answer" '*<title>413 Request Entity Too Large</title>*<center>nginx*</center>* 413'

py expect "$data_port" /upload 3145728 "$work/small" "$MAX_BODY" >"$work/expect.txt"
py expect "$data_port" /upload 5242880 "$work/small" "$MAX_BODY" >>"$work/expect.txt"
verdicts "$work/expect.txt"
curl -sv --max-time 30 -o "$work/expect-curl.out" --data-binary "@$work/medium" "$direct/upload" 2>"$work/expect-curl.err"
order=$(grep -nE '^> Expect: 100-continue|^< HTTP/1.1 100 Continue|upload completely sent off|We are completely uploaded|^< HTTP/1.1 200' "$work/expect-curl.err" \
    | sed -e 's/upload completely sent off.*/body sent/' -e 's/We are completely uploaded.*/body sent/' -e 's/^[0-9]*:[<>*] *//' | tr -d '\r' | paste -sd '|' -)
check "curl -v, 3 MiB: it sends Expect: 100-continue by itself, whod's 100 comes before the body, then the 200 ($order)" \
    test "$order" = "Expect: 100-continue|HTTP/1.1 100 Continue|body sent|HTTP/1.1 200 OK"
curl -sv --max-time 10 -o "$work/expect-nginx.txt" -H 'Expect: 100-continue' --data-binary "@$work/small" \
    "$nginx/echo" 2>"$work/expect-nginx.err"
expect_fields=$(grep -ci '^expect:' "$work/expect-nginx.txt")
check "through nginx, Expect: 100-continue is nginx's to answer: curl got a 100 ($(grep -c '^< HTTP/1.1 100 Continue' "$work/expect-nginx.err")), and no Expect reached whod ($expect_fields in /echo)" \
    test "$(grep -c '^< HTTP/1.1 100 Continue' "$work/expect-nginx.err"),$expect_fields" = 1,0
answer=$(answer -H 'Expect: something-else' --data-binary "@$work/small" "$direct/upload")
check "Expect: something-else, direct: 417 ($answer)" \
    test "$answer" = "expectation failed: only Expect: 100-continue is known 417"
# nginx drops Expect (as it drops TE, Keep-Alive and Upgrade) whatever it says: whod never sees it.
answer=$(answer -H 'Expect: something-else' --data-binary "@$work/small" "$nginx/upload")
expect_fields=$(curl -s --max-time 10 -H 'Expect: something-else' --data-binary "@$work/small" "$nginx/echo" | grep -ci '^expect:')
check "Expect: something-else through nginx: nginx drops the field ($expect_fields in /echo), whod answers the upload ($answer)" \
    like "$answer,$expect_fields" "size=1000 * 200,0"
stop_pids

# ---------------------------------------------------------------------------------------------
section "faults through nginx: retries of --fail-rate 0.5 (proxy_next_upstream http_503), --latency against proxy_read_timeout"
start_whod half1 --fail-rate 0.5 --metrics
half1=$port
start_whod half2 --fail-rate 0.5 --metrics
half2=$port
start_whod half3 --fail-rate 0.5 --metrics
half3=$port
start_whod well --metrics
well=$port
start_whod slow --latency 200ms-300ms
slow=$port
# max_fails=0: a 503 must not take the replica out for fail_timeout (nginx counts an http_503
# named in proxy_next_upstream as a failure), which would hide the retries.
start_nginx faults "
    upstream halves {
        server 127.0.0.1:$half1 max_fails=0;
        server 127.0.0.1:$half2 max_fails=0;
    }
    upstream one_failing {
        server 127.0.0.1:$half3 max_fails=0;
        server 127.0.0.1:$well max_fails=0;
    }" <<CONF
        location /halves/ {
            proxy_pass http://halves/;
            proxy_next_upstream error timeout http_503;
        }
        location /one-failing/ {
            proxy_pass http://one_failing/;
            proxy_next_upstream error timeout http_503;
        }
        location /read-1s/ {
            proxy_pass http://127.0.0.1:$slow/;
            proxy_read_timeout 1s;
        }
        location /read-50ms/ {
            proxy_pass http://127.0.0.1:$slow/;
            proxy_read_timeout 50ms;
        }
CONF
answers() { py metric "$1" whod_requests_total "route=\"who\",code=\"$2\""; }
N=200
curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$nginx_port/halves/who?n=[1-$N]" >"$work/halves.txt"
seen200=$(grep -c '^200$' "$work/halves.txt")
seen503=$(grep -c '^503$' "$work/halves.txt")
answered200=$(($(answers "$half1" 200) + $(answers "$half2" 200)))
answered503=$(($(answers "$half1" 503) + $(answers "$half2" 503)))
echo "        $N requests through nginx to two replicas failing half the time: the client saw $seen200 200 and $seen503 503;"
echo "        the replicas answered $((answered200 + answered503)): $answered200 200 and $answered503 503 (their /metrics)"
check "every request got 200 or 503 ($seen200 + $seen503 = $N)" test "$((seen200 + seen503))" = "$N"
check "nginx retried: the client saw far fewer 503s ($seen503) than the replicas answered ($answered503), at most half" \
    test "$((seen503 * 2))" -le "$answered503" -a "$answered503" -gt 0
check "each retry is a 503 the client did not see: $((answered200 + answered503)) answers - $N requests = $answered503 - $seen503" \
    test "$((answered200 + answered503 - N))" = "$((answered503 - seen503))"
check "every 200 the replicas gave reached the client ($answered200 = $seen200)" test "$answered200" = "$seen200"
N=100
curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$nginx_port/one-failing/who?n=[1-$N]" >"$work/one-failing.txt"
seen200=$(grep -c '^200$' "$work/one-failing.txt")
failing503=$(answers "$half3" 503)
check "one replica failing half the time, one well: the client saw $seen200 200 of $N, though the failing one answered $failing503 503" \
    test "$seen200,$((failing503 > 0))" = "$N,1"

curl -s --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$slow/who?n=[1-5]" >"$work/slow-direct.txt"
curl -s --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$nginx_port/read-1s/who?n=[1-5]" >"$work/slow-1s.txt"
curl -s --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$nginx_port/read-50ms/who?n=[1-5]" >"$work/slow-50ms.txt"
timeout_page=$(answer "http://127.0.0.1:$nginx_port/read-50ms/who")
times() { awk '{ printf "%s%s %.2f", (NR > 1 ? ", " : ""), $1, $2 }' "$1"; }
# all_codes FILE CODE [SECONDS]: FILE's five lines are "CODE TIME", each TIME at least SECONDS.
all_codes() { awk -v code="$2" -v least="${3:-0}" '$1 == code && $2 >= least { n++ } END { exit n != 5 }' "$1"; }
check "--latency 200ms-300ms direct: 5 answers 200, each 0.2 s or more ($(times "$work/slow-direct.txt") s)" \
    all_codes "$work/slow-direct.txt" 200 0.195
check "through nginx with proxy_read_timeout 1s: 5 answers 200, each 0.2 s or more ($(times "$work/slow-1s.txt") s)" \
    all_codes "$work/slow-1s.txt" 200 0.195
check "through nginx with proxy_read_timeout 50ms: 5 answers 504 ($(times "$work/slow-50ms.txt") s), nginx's: $(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$timeout_page")" \
    like "$(all_codes "$work/slow-50ms.txt" 504 && echo yes) $timeout_page" 'yes *<title>504 Gateway Time-out</title>* 504'
stop_pids

# ---------------------------------------------------------------------------------------------
section "a sick replica behind HAProxy $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p'): its health check passes, its traffic fails, observe layer7 ejects it"
start_whod sick --metrics
sick_pid=$pid
sick=$port
start_whod well
well=$port
checked_port=$(free_port)
observed_port=$(other_port "$checked_port")
stats_port=$(other_port "$checked_port" "$observed_port")
start_haproxy sick "http://127.0.0.1:$stats_port/stats" <<CFG
global
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host haproxy
frontend checked
    bind 127.0.0.1:$checked_port
    default_backend checked
backend checked
    server sick 127.0.0.1:$sick check inter 200ms
frontend observed
    bind 127.0.0.1:$observed_port
    default_backend observed
backend observed
    balance roundrobin
    # Three errors in a row from the traffic mark it DOWN; then five passing checks, a second
    # apart, bring it back UP.
    server sick 127.0.0.1:$sick check inter 1s rise 5 observe layer7 error-limit 3 on-error mark-down
    server well 127.0.0.1:$well check inter 1s
listen stats
    bind 127.0.0.1:$stats_port
    stats enable
    stats uri /stats
CFG
# state BACKEND SERVER: "STATUS CHECK_STATUS CHECK_CODE" of the server, from the stats CSV.
state() {
    curl -s --max-time 2 "http://127.0.0.1:$stats_port/stats;csv" \
        | awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18, $37, $38 }'
}
status_is() { [ "$(state "$1" "$2" | cut -d' ' -f1)" = "$3" ]; }
# code URL: the status and body of URL, "503 sick on purpose (...)".
code() { curl -s --max-time 5 -w ' %{http_code}' "$1" | awk '{ code = $NF; $NF = ""; sub(/ $/, ""); print code, $0 }'; }
all_up() { [ "$(state checked sick),$(state observed sick),$(state observed well)" = "UP L7OK 200,UP L7OK 200,UP L7OK 200" ]; }
wait_until 10 "HAProxy has every server UP" all_up
check "HAProxy sees the replicas UP (checked/sick: $(state checked sick); observed/sick: $(state observed sick))" all_up
kill -TTIN "$sick_pid"
wait_until 3 "whod says it is sick" grep -q 'SIGTTIN received' "$work/sick.err"
check "after SIGTTIN, directly: /healthz $(code "http://127.0.0.1:$sick/healthz"), /who $(code "http://127.0.0.1:$sick/who")" \
    test "$(code "http://127.0.0.1:$sick/healthz" | cut -d' ' -f1),$(code "http://127.0.0.1:$sick/who" | cut -d' ' -f1)" = 200,503
sleep 1 # five checks, 200 ms apart: three failing ones would have marked it DOWN
check "through HAProxy: /healthz $(code "http://127.0.0.1:$checked_port/healthz" | cut -d' ' -f1), /who $(code "http://127.0.0.1:$checked_port/who")" \
    test "$(code "http://127.0.0.1:$checked_port/healthz" | cut -d' ' -f1),$(code "http://127.0.0.1:$checked_port/who" | cut -d' ' -f1)" = 200,503
check "HAProxy's health check (every 200 ms) still passes: the server is $(state checked sick) though every /who fails" \
    status_is checked sick UP
curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$observed_port/who?n=[1-20]" >"$work/observed.txt"
seen503=$(grep -c '^503$' "$work/observed.txt")
check "observe layer7 error-limit 3: 20 requests with a well replica beside it, $seen503 503 seen before HAProxy ejected it" \
    test "$seen503" -ge 1 -a "$seen503" -le 4
check "... HAProxy marked it $(state observed sick) ('$(grep -o 'observed/sick is DOWN, reason: [^,]*' "$work/sick.log" | head -n 1)')" \
    status_is observed sick DOWN
ejected=$(now_ms)
wait_until 15 "observed/sick is UP again" status_is observed sick UP
check "... and its health check brought it back UP, still sick, $(($(now_ms) - ejected)) ms later: a check of /healthz cannot see it" \
    status_is observed sick UP
kill -TTOU "$sick_pid"
wait_until 3 "whod says it is well" grep -q 'SIGTTOU received' "$work/sick.err"
curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$observed_port/who?n=[1-10]" >"$work/observed-well.txt"
check "after SIGTTOU: /who $(code "http://127.0.0.1:$sick/who" | cut -d' ' -f1) directly, $(code "http://127.0.0.1:$checked_port/who" | cut -d' ' -f1) through HAProxy, $(grep -c '^200$' "$work/observed-well.txt") of 10 200 through the observed backend" \
    test "$(code "http://127.0.0.1:$sick/who" | cut -d' ' -f1),$(code "http://127.0.0.1:$checked_port/who" | cut -d' ' -f1),$(grep -c '^200$' "$work/observed-well.txt")" = 200,200,10
stop_pids

# ---------------------------------------------------------------------------------------------
section "operator headers (--header), direct and through nginx, and nginx's proxy_cache"
start_whod headers --metrics --header 'Access-Control-Allow-Origin: *' --header 'Cache-Control: max-age=60'
headers=$port
start_whod default --metrics
default=$port
start_nginx headers "    proxy_cache_path $work/headers/cache keys_zone=who:1m;" <<CONF
        location /headers/ {
            proxy_pass http://127.0.0.1:$headers/;
        }
        location /cached/ {
            proxy_pass http://127.0.0.1:$headers/;
            proxy_cache who;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
        location /cached-default/ {
            proxy_pass http://127.0.0.1:$default/;
            proxy_cache who;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
CONF
for via in direct nginx; do
    url=http://127.0.0.1:$headers/who
    [ "$via" = nginx ] && url=http://127.0.0.1:$nginx_port/headers/who
    curl -s --max-time 5 -o /dev/null -D "$work/headers-$via.head" -H 'Origin: https://evil.example' \
        -H 'Access-Control-Allow-Origin: evil' -H 'Cache-Control: no-store' "$url"
    acao=$(field "$work/headers-$via.head" Access-Control-Allow-Origin | paste -sd ' ' -)
    cc=$(field "$work/headers-$via.head" Cache-Control | paste -sd ' ' -)
    check "$via: Access-Control-Allow-Origin: $acao and Cache-Control: $cc, once each, whatever the request said" \
        test "$acao|$cc" = "*|max-age=60"
done
curl -s --max-time 5 -o /dev/null -D "$work/headers-default.head" -H 'Access-Control-Allow-Origin: evil' "http://127.0.0.1:$default/who"
check "a whod without --header: no Access-Control-Allow-Origin for a request that sends one ($(field "$work/headers-default.head" Access-Control-Allow-Origin | wc -l)), Cache-Control: $(field "$work/headers-default.head" Cache-Control)" \
    test "$(field "$work/headers-default.head" Access-Control-Allow-Origin | wc -l),$(field "$work/headers-default.head" Cache-Control)" = 0,no-store
# cache_statuses PATH: X-Cache-Status of two requests for PATH through nginx.
cache_statuses() {
    local i
    for i in 1 2; do
        curl -s --max-time 5 -o /dev/null -D "$work/cache-$i.head" "http://127.0.0.1:$nginx_port$1"
        field "$work/cache-$i.head" X-Cache-Status
    done | paste -sd ' ' -
}
before=$(answers "$headers" 200)
statuses=$(cache_statuses /cached/who?cache=1)
after=$(answers "$headers" 200)
check "proxy_cache, Cache-Control: max-age=60: $statuses, and whod answered $((after - before)) of the 2" \
    test "$statuses,$((after - before))" = "MISS HIT,1"
before=$(answers "$default" 200)
statuses=$(cache_statuses /cached-default/who?cache=1)
after=$(answers "$default" 200)
check "proxy_cache, whod's default Cache-Control: no-store: $statuses, and whod answered $((after - before)) of the 2" \
    test "$statuses,$((after - before))" = "MISS MISS,2"
stop_pids

# ---------------------------------------------------------------------------------------------
section "TLS facts from HAProxy: PROXY v2 TLVs to whod --proxy-protocol, shown by /echo"
tls=$work/tls
mkdir -p "$tls"
# make_cert NAME SUBJECT [ISSUER]: NAME.key and NAME.crt, signed by ISSUER (ca), else self-signed.
make_cert() {
    local name=$1 subject=$2 issuer=${3:-} ext=$tls/$1.ext
    if [ -z "$issuer" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/$name.key" -out "$tls/$name.crt" -days 2 -subj "$subject" 2>>"$tls/openssl.log"
        return
    fi
    printf '%s\n' "${EXT:-basicConstraints=CA:FALSE}" >"$ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$tls/$name.key" -out "$tls/$name.csr" -subj "$subject" 2>>"$tls/openssl.log" \
        && openssl x509 -req -in "$tls/$name.csr" -CA "$tls/$issuer.crt" -CAkey "$tls/$issuer.key" -CAcreateserial \
            -out "$tls/$name.crt" -days 2 -extfile "$ext" 2>>"$tls/openssl.log"
}
make_cert ca '/CN=who test CA' \
    && EXT='subjectAltName=DNS:who.test,IP:127.0.0.1' make_cert server /CN=who.test ca \
    && make_cert client '/CN=client one' ca \
    && make_cert stranger /CN=stranger
check "openssl made a CA, a server certificate for who.test, a client certificate it signed and a self-signed one" \
    test -s "$tls/stranger.crt" -a -s "$tls/client.crt" -a -s "$tls/server.crt"
cat "$tls/server.crt" "$tls/server.key" >"$tls/server.pem"
start_whod tls --proxy-protocol
tls_whod=$port
tls_port=$(free_port)
# verify optional: a client certificate is asked for, not required; crt-ignore-err and
# ca-ignore-err let one that does not verify through, for whod to be told so.
start_haproxy tls "https://127.0.0.1:$tls_port/healthz" <<CFG
global
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend tls
    bind 127.0.0.1:$tls_port ssl crt $tls/server.pem alpn h2,http/1.1 ca-file $tls/ca.crt verify optional crt-ignore-err all ca-ignore-err all
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    unique-id-header X-Unique-ID
    default_backend whod
backend whod
    server whod 127.0.0.1:$tls_whod send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,unique-id
CFG
# tls_case NAME HOST CURL_OPTIONS... -- WANT...: /echo, text and JSON, through HAProxy with
# those options; prints the TLV lines of the text; counts the verdicts of proxies_clients.py tls.
tls_case() {
    local name=$1 host=$2 options=() unique
    shift 2
    while [ "$1" != -- ]; do options+=("$1"); shift; done
    shift
    curl -sv --max-time 10 --cacert "$tls/ca.crt" --resolve "who.test:$tls_port:127.0.0.1" "${options[@]}" \
        -o "$work/tls-$name.txt" "https://$host:$tls_port/echo" 2>"$work/tls-$name.curl"
    curl -s --max-time 10 --cacert "$tls/ca.crt" --resolve "who.test:$tls_port:127.0.0.1" "${options[@]}" \
        -o "$work/tls-$name.json" "https://$host:$tls_port/echo?format=json"
    echo "        curl ${options[*]//$tls\//} https://$host:PORT/echo  ($(sed -n 's/^\* SSL connection using //p' "$work/tls-$name.curl"), ALPN $(sed -n 's/^\* ALPN: server accepted //p' "$work/tls-$name.curl")):"
    sed -n '/^\(alpn\|authority\|ssl\|unique-id\): /s/^/            /p' "$work/tls-$name.txt"
    unique=$(field "$work/tls-$name.txt" X-Unique-ID)
    py tls "$work/tls-$name.txt" "$work/tls-$name.json" "$work/tls-$name.curl" "$unique" "$@" >"$work/tls-$name.verdicts"
    while read -r verdict description; do
        check "$name: $description" test "$verdict" = ok
    done <"$work/tls-$name.verdicts"
}
tls_case "no client certificate" who.test -- alpn=h2 authority=who.test version=TLSv1.3 client-cert=none cn=-
tls_case "client certificate" who.test --http1.1 --cert "$tls/client.crt" --key "$tls/client.key" -- \
    alpn=http/1.1 authority=who.test version=TLSv1.3 "cn=client one" client-cert=verified
tls_case "TLS 1.2" who.test --tlsv1.2 --tls-max 1.2 --cert "$tls/client.crt" --key "$tls/client.key" -- \
    alpn=h2 authority=who.test version=TLSv1.2 "cn=client one" client-cert=verified
tls_case "self-signed client certificate" who.test --cert "$tls/stranger.crt" --key "$tls/stranger.key" -- \
    cn=stranger client-cert=unverified verify=18
tls_case "no SNI (an IP address)" 127.0.0.1 -- authority=- client-cert=none
stop_pids

echo "tests/proxies.sh took $(( ($(date +%s%N) - started) / 1000000 )) ms"
summary
