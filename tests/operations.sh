#!/usr/bin/env bash
# Operations with real parts, on loopback: the /metrics page read by the official Prometheus
# client's parser and scraped by a real Prometheus server; the PROXY protocol (v1 and v2) behind
# a real HAProxy; the access log, Common and Combined. Every daemon is started on a free port
# of 127.0.0.1 and stopped by its pid at the end, also when a step fails; every wait is bounded.
# Needs curl, python3 with prometheus_client (PyPI prometheus-client), prometheus and promtool
# (Debian prometheus), haproxy (Debian haproxy): a part whose tool is missing is skipped, saying
# so, except in CI (CI set), where a missing tool fails the run.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
PATH=$PATH:/usr/sbin # haproxy, for a user whose PATH lacks it
SOURCE_IP=127.0.0.7  # the client's address, distinct from the proxy's (127.0.0.1)
started=$(date +%s%N)

# In CI every part must run: a missing tool fails the run. Anywhere else a part whose tool is
# missing is skipped, saying so (needs).
[ -z "${CI:-}" ] || tools_or_skip "operations tests (tests/operations.sh)" curl python3 py:prometheus_client prometheus promtool haproxy
# needs PART TOOL...: 0 if every TOOL is there; else says PART is skipped, and why.
needs() {
    local part=$1 tool
    shift
    for tool; do
        if ! available "$tool"; then
            echo "SKIPPED $part: ${tool#py:} is not installed here (CI installs it; see .ci/run)."
            return 1
        fi
    done
}
needs "operations tests (tests/operations.sh)" curl python3 || exit 0

make_work operations
section "building whod (cargo build --release --locked)"
build_whod
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
hostname=$(uname -n)
# The interpreter itself: a version manager's python3 shim can take 0.3 s a start.
python=$(python3 -c 'import sys; print(sys.executable)')
py() { "$python" tests/operations.py "$@"; }

# verdicts FILE: counts each "ok|FAILED DESCRIPTION" line that operations.py printed.
verdicts() {
    local verdict description
    while read -r verdict description; do
        check "$description" test "$verdict" = ok
    done <"$1"
}

# log_line NAME NEEDLE: the first line of NAME's access log that holds NEEDLE, waiting for it
# at most 2 s (whod writes its log once per turn of its loop).
log_line() {
    wait_until 2 "$1's access log has a line with $2" grep -qF -- "$2" "$work/$1.log" && grep -F -m 1 -- "$2" "$work/$1.log"
}

# A log line's date, as the Common Log Format writes it.
DATE='\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000\]'

# Prometheus first: its first scrape comes about 6 s after it starts, while the other parts run.
prometheus_pid=""
if needs "Prometheus scraping whod" prometheus; then
    section "starting Prometheus $(prometheus --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p') (its first scrape comes about 6 s later; the checks come last)"
    start_whod scraped --metrics
    scraped_port=$port
    # And one that Prometheus cannot scrape: it sends no PROXY header.
    start_whod scraped_proxied --metrics --proxy-protocol
    scraped_proxied_port=$port
    prometheus_port=$(other_port "$scraped_port" "$scraped_proxied_port")
    cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: whod
    static_configs:
      - targets: ['127.0.0.1:$scraped_port']
  - job_name: whod_proxied
    static_configs:
      - targets: ['127.0.0.1:$scraped_proxied_port']
YAML
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
        --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
    prometheus_pid=$!
    pids+=("$prometheus_pid")
    prometheus_started=$(date +%s%N)
fi

section "/metrics read by the official Python client's parser"
if needs "the /metrics parser checks" py:prometheus_client; then
    start_whod metrics --metrics
    metrics_port=$port
    py metrics "$port" 137 "$version" "$pid" "$launched" "$work/page.txt" >"$work/verdicts.txt"
    check "operations.py metrics ran to the end" test $? = 0
    verdicts "$work/verdicts.txt"
    if available promtool; then
        check "promtool check metrics finds nothing to say about the page" promtool check metrics <"$work/page.txt"
    fi
fi
start_whod quiet
check "without --metrics, /metrics is 404" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" = 404
check "without --metrics, /who still answers $hostname" \
    test "$(curl -s --max-time 5 "http://127.0.0.1:$port/who")" = "$hostname"

section "a PROXY v1 line sent straight to a whod without --proxy-protocol"
if [ -z "${metrics_port:-}" ]; then start_whod metrics --metrics; metrics_port=$port; fi
refused_before=$(py value "$metrics_port" whod_requests_refused_total:code=400)
py raw "$SOURCE_IP" "$metrics_port" \
    'PROXY TCP4 127.0.0.7 127.0.0.1 5555 80\r\nGET /who HTTP/1.1\r\nHost: ops\r\n\r\n' >"$work/raw.txt"
read -r state seconds bytes <"$work/raw.txt"
check "it is answered 400, a bad request line ($(sed -n 2p "$work/raw.txt" | tr -d '\r'); body: $(tail -n 1 "$work/raw.txt"))" \
    grep -q '^HTTP/1.1 400 Bad Request' "$work/raw.txt"
check "the connection is closed after it, and the GET behind it is not answered ($state after ${seconds} s; $(grep -c '^HTTP/' "$work/raw.txt") answer)" \
    test "$state,$(grep -c '^HTTP/' "$work/raw.txt")" = eof,1
refused_after=$(py value "$metrics_port" whod_requests_refused_total:code=400)
check "whod_requests_refused_total{code=\"400\"} rose by 1 (${refused_before/absent/0} -> $refused_after)" \
    test "$((${refused_after/absent/0} - ${refused_before/absent/0}))" = 1

section "HAProxy (mode tcp, then http) in front of whod --proxy-protocol --access-log, send-proxy and send-proxy-v2"
if needs "the HAProxy checks" haproxy; then
    start_whod proxied --proxy-protocol --access-log --metrics
    proxied_port=$port
    v1_port=$(free_port)
    v2_port=$(other_port "$v1_port")
    http_port=$(other_port "$v1_port" "$v2_port")
    # mode tcp: HAProxy relays the bytes as they are, one server connection per client
    # connection, so the client's address can only reach whod in the PROXY header, and nothing
    # can add X-Forwarded-For. The health checks use the PROXY header too, as a real setup's.
    # Then mode http, once, with the most connection reuse HAProxy allows: a request must still
    # reach whod on a connection whose PROXY header names its own client.
    cat >"$work/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 256
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend via_v1
    bind 127.0.0.1:$v1_port
    default_backend whod_v1
backend whod_v1
    option httpchk GET /healthz?check=v1
    server whod 127.0.0.1:$proxied_port send-proxy check inter 500ms
frontend via_v2
    bind 127.0.0.1:$v2_port
    default_backend whod_v2
backend whod_v2
    option httpchk GET /healthz?check=v2
    server whod 127.0.0.1:$proxied_port send-proxy-v2 check inter 500ms
frontend via_http
    mode http
    bind 127.0.0.1:$http_port
    default_backend whod_http
backend whod_http
    mode http
    http-reuse always
    server whod 127.0.0.1:$proxied_port send-proxy-v2
CFG
    check "haproxy -c accepts the configuration ($(haproxy -v | head -n 1 | cut -d' ' -f1-3))" \
        haproxy -c -q -f "$work/haproxy.cfg"
    haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
    pids+=("$!")
    wait_until 5 "haproxy answers /healthz" curl -fs -o /dev/null --max-time 1 --interface "$SOURCE_IP" "http://127.0.0.1:$v2_port/healthz" \
        || { cat "$work/haproxy.log"; echo "haproxy did not start"; }
    for v in v1 v2; do
        [ "$v" = v1 ] && via=$v1_port || via=$v2_port
        curl -s --max-time 5 --interface "$SOURCE_IP" -o "$work/echo-$v.json" \
            -w '%{http_code} %{local_ip} %{local_port} %{size_download}' \
            "http://127.0.0.1:$via/echo?format=json&via=$v" >"$work/curl-$v.txt"
        read -r code client_ip client_port size <"$work/curl-$v.txt"
        read -r remote remote_port proxy proxy_port local local_port forwarding < <(py echo "$work/echo-$v.json")
        check "$v: /echo?format=json through HAProxy answers 200 ($code)" test "$code" = 200
        check "$v: /echo's remote is the client, $client_ip:$client_port ($remote:$remote_port)" \
            test "$remote:$remote_port" = "$SOURCE_IP:$client_port"
        check "$v: /echo's proxy is HAProxy's connection to whod ($proxy:$proxy_port)" \
            test "$proxy" = 127.0.0.1 -a "$proxy_port" != "$client_port"
        check "$v: /echo's local is whod's own address ($local:$local_port)" test "$local:$local_port" = "127.0.0.1:$proxied_port"
        check "$v: no Forwarded, X-Forwarded-For or X-Real-IP reached whod ($forwarding)" test "$forwarding" = -
        line=$(log_line proxied "/echo?format=json&via=$v ")
        echo "        $line"
        check "$v: the access log names $SOURCE_IP, in the Common Log Format, with the bytes curl received ($size)" \
            grep -qE "^127\.0\.0\.7 - - $DATE \"GET /echo\?format=json&via=$v HTTP/1\.1\" 200 $size\$" <<<"$line"
        text=$(curl -s --max-time 5 --interface "$SOURCE_IP" "http://127.0.0.1:$via/echo?via=$v-text")
        check "$v: the text /echo says remote: $SOURCE_IP:... and proxy: 127.0.0.1:..." \
            bash -c 'grep -q "^remote: 127\.0\.0\.7:[0-9]*$" <<<"$1" && grep -q "^proxy: 127\.0\.0\.1:[0-9]*$" <<<"$1"' _ "$text"
    done
    curl -s --max-time 5 --interface "$SOURCE_IP" -o /dev/null -w '%{num_connects}\n' \
        "http://127.0.0.1:$v2_port/who?keepalive=[1-5]" >"$work/keepalive.txt"
    keepalive_logged() { [ "$(grep -c 'GET /who?keepalive=' "$work/proxied.log")" = 5 ]; }
    wait_until 2 "the 5 keep-alive requests are logged" keepalive_logged
    check "v2: 5 requests on one keep-alive connection ($(awk '{ n += $1 } END { print n }' "$work/keepalive.txt") connect), all 5 logged from $SOURCE_IP" \
        test "$(grep -c "^127\.0\.0\.7 - - .*\"GET /who?keepalive=[1-5] HTTP/1.1\" 200 ${#hostname}\$" "$work/proxied.log")" = 5
    check "v1: /who through HAProxy answers the host name, $hostname" \
        test "$(curl -s --max-time 5 --interface "$SOURCE_IP" "http://127.0.0.1:$v1_port/who")" = "$hostname"
    for v in v1 v2; do
        check "$v: HAProxy's health checks (GET /healthz?check=$v, after a PROXY header) are answered 200" \
            wait_until 3 "a $v check is logged" grep -q "\"GET /healthz?check=$v HTTP/1.0\" 200 " "$work/proxied.log"
    done
    for source in 127.0.0.7 127.0.0.8 127.0.0.7; do
        client_port=$(curl -s --max-time 5 --interface "$source" -o "$work/echo-http.json" -w '%{local_port}' \
            "http://127.0.0.1:$http_port/echo?format=json")
        read -r remote remote_port _ _ _ _ forwarding < <(py echo "$work/echo-http.json")
        check "mode http, send-proxy-v2, http-reuse always: the request from $source:$client_port is whod's $remote:$remote_port, with no forwarding header ($forwarding)" \
            test "$remote:$remote_port,$forwarding" = "$source:$client_port,-"
    done
    refused=$(py value "$proxied_port" whod_proxy_headers_refused_total proxy)
    check "whod_proxy_headers_refused_total is 0 after all of HAProxy's traffic ($refused)" test "$refused" = 0
fi

section "whod --proxy-protocol reached directly"
[ -n "${proxied_port:-}" ] || { start_whod proxied --proxy-protocol --access-log --metrics; proxied_port=$port; }
refused_before=$(py value "$proxied_port" whod_proxy_headers_refused_total proxy)
bad=(
    'GET /who?plain-http HTTP/1.1\r\nHost: ops\r\n\r\n'
    'PROXY TCP4 127.0.0.7 127.0.0.1 05555 80\r\nGET /who?zero-port HTTP/1.1\r\nHost: ops\r\n\r\n'
    '\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c\x7f\x00\x00\x07\x7f\x00\x00\x01\x15\xb3\x00\x50GET /who?v3 HTTP/1.1\r\nHost: ops\r\n\r\n'
)
what=("plain HTTP" "a PROXY v1 line with a port 05555" "a PROXY v2 header of version 3")
# A connection closed before its first byte (a TCP probe: Kubernetes' tcpSocket, HAProxy's
# plain check) proves nothing wrong, and is not counted.
"$python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3).close()' "$proxied_port"
for i in 0 1 2; do
    py raw "$SOURCE_IP" "$proxied_port" "${bad[$i]}" >"$work/raw.txt"
    read -r state seconds bytes <"$work/raw.txt"
    check "${what[$i]}: closed without an answer ($state after $seconds s, $bytes bytes)" \
        test "$state,$bytes" = eof,0
done
refused_after=$(py value "$proxied_port" whod_proxy_headers_refused_total proxy)
check "whod_proxy_headers_refused_total rose by 3, the bare connect and close not counted ($refused_before -> $refused_after)" \
    test "$((refused_after - refused_before))" = 3
check "no access log line for them" bash -c "! grep -qE 'plain-http|zero-port|\?v3' '$work/proxied.log'"
py raw "$SOURCE_IP" "$proxied_port" \
    'PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\nGET /echo?format=json HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n' >"$work/raw.txt"
sed -n '/^{/,$p' "$work/raw.txt" >"$work/claimed.json"
read -r remote remote_port _ < <(py echo "$work/claimed.json")
check "a client that reaches it directly can claim any address: /echo believes $remote:$remote_port" \
    test "$remote:$remote_port" = 198.51.100.7:5555
# A container started with WHO_PROXY_PROTOCOL=1 runs its HEALTHCHECK (whod --healthcheck) with
# that variable too: the health check must get through to /healthz.
env WHO_PROXY_PROTOCOL=1 "$WHOD" --healthcheck --bind 127.0.0.1 --port "$proxied_port" 2>"$work/healthcheck.err"
healthcheck=$?
check "whod --healthcheck with WHO_PROXY_PROTOCOL=1, as the image's HEALTHCHECK runs in such a container, exits 0 (exit $healthcheck: $(cat "$work/healthcheck.err"))" \
    test "$healthcheck" = 0

section "the Combined Log Format (--access-log=combined), from $SOURCE_IP"
start_whod combined --access-log=combined
py raw "$SOURCE_IP" "$port" 'GET /who?combined=1 HTTP/1.1\r\nHost: ops\r\nReferer: https://example.test/page?q="quoted"&path=a\\b\r\nUser-Agent: Mozilla/5.0 (X11) "quoted" back\\slash tab\there caf\xc3\xa9 \xff\r\n\r\nGET /who?combined=2 HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n' >/dev/null
py raw "$SOURCE_IP" "$port" 'GET /who?combined=3 HTTP/1.1\r\nHost: ops\r\nUser-Agent: a\x01b\r\n\r\n' >/dev/null
py raw "$SOURCE_IP" "$port" 'GET /who?q="x" HTTP/1.1\r\nHost: ops\r\nReferer: -\r\nConnection: close\r\n\r\n' >/dev/null
line=$(log_line combined "combined=1 ")
echo "        $line"
check "Referer and User-Agent are logged, \" as \\x22, \\ as \\\\, tab, UTF-8 and 0xFF as \\xHH" \
    grep -qF -- ' "GET /who?combined=1 HTTP/1.1" 200 '"${#hostname}"' "https://example.test/page?q=\x22quoted\x22&path=a\\b" "Mozilla/5.0 (X11) \x22quoted\x22 back\\slash tab\x09here caf\xC3\xA9 \xFF"' <<<"$line"
check "the whole line is the Combined Log Format, from $SOURCE_IP" \
    grep -qE "^127\.0\.0\.7 - - $DATE \"GET /who\?combined=1 HTTP/1\.1\" 200 [0-9]+ \"[^\"]*\" \"[^\"]*\"\$" <<<"$line"
line=$(log_line combined "combined=2 ")
echo "        $line"
check "a request without Referer and User-Agent logs \"-\" \"-\"" \
    grep -qE "\"GET /who\?combined=2 HTTP/1\.1\" 200 [0-9]+ \"-\" \"-\"\$" <<<"$line"
wait_until 2 "a 400 is logged" grep -q '" 400 ' "$work/combined.log"
line=$(grep -m 1 '" 400 ' "$work/combined.log")
echo "        $line"
check "a refused request (a control byte in User-Agent) logs \"-\" 400 N \"-\" \"-\"" \
    grep -qE "^127\.0\.0\.7 - - $DATE \"-\" 400 [0-9]+ \"-\" \"-\"\$" <<<"$line"
line=$(log_line combined 'q=\x22x\x22')
echo "        $line"
check "a \" in the request line is \\x22 too" \
    grep -qF '"GET /who?q=\x22x\x22 HTTP/1.1" 200 '"${#hostname}"' "-" "-"' <<<"$line"
check "every log line is printable ASCII" bash -c "! LC_ALL=C grep -q '[^ -~]' '$work/combined.log'"

if [ -n "$prometheus_pid" ]; then
    section "Prometheus scraping whod every second"
    q() { py promql "$prometheus_port" "$1" 2>/dev/null; }
    series='whod_requests_total{route="who",code="200"}'
    check "Prometheus is ready" wait_until 15 "Prometheus is ready" http_ok "http://127.0.0.1:$prometheus_port/-/ready"
    is_up() { [ "$(q 'up{job="whod"}' | cut -d' ' -f1)" = 1 ]; }
    wait_until 20 "Prometheus has scraped whod" is_up
    up=$?
    first=$(q 'up{job="whod"}[1m]' | head -n 1 | awk -v s="$prometheus_started" '{ printf "%d", ($2 - s / 1e9) * 1000 }')
    check "Prometheus has scraped whod: up == 1 (its first scrape ${first:-?} ms after it started; waited at most 20 s)" test "$up" = 0
    # The two jobs' scrapes start at different offsets: the proxied target may not have had
    # its first scrape (health "unknown") when whod's is up. Wait for it, at most 10 s.
    proxied_scraped() { py targets "$prometheus_port" | grep -qE '^whod_proxied (up|down) '; }
    wait_until 10 "Prometheus has scraped the proxied whod" proxied_scraped
    py targets "$prometheus_port" >"$work/targets.txt"
    read -r _ health url last_error < <(grep '^whod ' "$work/targets.txt")
    check "the target is healthy, with no scrape error ($health, $url, last error: $last_error)" \
        test "$health,$last_error" = up,-
    read -r _ health url last_error < <(grep '^whod_proxied ' "$work/targets.txt")
    check "a --proxy-protocol whod cannot be scraped directly: Prometheus sends no PROXY header ($health, $url: $last_error)" \
        test "$health" = down
    refused=$(py value "$scraped_proxied_port" whod_proxy_headers_refused_total proxy)
    check "... and each of its scrapes is counted in whod_proxy_headers_refused_total ($refused)" test "${refused/absent/0}" -ge 1
    scraped=$(q 'scrape_samples_scraped{job="whod"}' | cut -d' ' -f1)
    lines=$(curl -s --max-time 5 "http://127.0.0.1:$scraped_port/metrics" | grep -cv '^#')
    check "Prometheus took every sample of the page ($scraped scraped, $lines lines)" test "$scraped" = "$lines"
    # The last scrape before the requests (stored, so it ended before they began), then the
    # first scrape that began after the last answer: the counter must differ by exactly N.
    read -r before before_ts _ < <(q "${series}[1m]" | tail -n 1)
    n=500
    curl -s --max-time 20 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$scraped_port/who?n=[1-$n]" >"$work/codes.txt"
    answered=$(date +%s.%N)
    check "$n requests answered 200" test "$(grep -c '^200$' "$work/codes.txt")" = "$n"
    # Prometheus may move a scrape's timestamp by up to 2 ms, to align it: wait for one 10 ms on.
    after_scrape() { q "${series}[1m]" | awk -v t="$answered" '$2 > t + 0.01 { print; exit }'; }
    scraped_after() { [ -n "$(after_scrape)" ]; }
    wait_until 10 "a scrape after the requests is stored" scraped_after
    read -r after after_ts _ < <(after_scrape)
    check "the counter rose by exactly $n between two scrapes (${before:-none} at ${before_ts:-?}; answers done at ${answered:0:14}; ${after:-none} at ${after_ts:-?})" \
        test "$(( ${after:-0} - ${before:-0} ))" = "$n" -a -n "$before" -a -n "$after"
    rate=$(q 'sum by (instance) (rate(whod_requests_total{route="who"}[1m]))')
    check "sum by (instance) (rate(whod_requests_total{route=\"who\"}[1m])) names the replica ($rate)" \
        grep -qE "^[0-9.e+]+ [0-9.]+ instance=127\.0\.0\.1:$scraped_port\$" <<<"$rate"
    check "... with a rate above 0" awk '$1 > 0 { found = 1 } END { exit !found }' <<<"$rate"
fi

echo "tests/operations.sh took $(( ($(date +%s%N) - started) / 1000000 )) ms"
summary
