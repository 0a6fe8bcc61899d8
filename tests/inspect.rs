//! Inspecting the request, with real clients: `/echo` in text and JSON (parsed by Python's
//! `json` and fetched by `curl`), `--name` and `--echo-hide`, `/status/NNN`, `?delay=` (which
//! must not slow other connections), SIGTERM during delays, and the readiness switch.

mod common;

use common::{BIN, TIMEOUT, Whod, get, hostname, wait_until};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a Python snippet with `input` on its standard input; returns its standard output.
fn python(script: &str, input: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn echo_text_is_the_request_as_received() {
    let whod = Whod::start(&["--name", "blue replica"]);
    let mut client = whod.connect();
    let local = client.stream().local_addr().unwrap();
    let request = b"GET /echo?x=1 HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.1\r\nx-forwarded-for: 198.51.100.2\r\nUser-Agent:  spaced  \r\n\r\n";
    let response = client.exchange(request);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.header("Vary"), Some("Accept"));
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
    let expected = format!(
        "hostname: {}\nname: blue replica\nversion: {}\nremote: {local}\nlocal: {}\n\n\
         GET /echo?x=1 HTTP/1.1\nHost: test\nX-Forwarded-For: 198.51.100.1\n\
         x-forwarded-for: 198.51.100.2\nUser-Agent: spaced\n",
        hostname(),
        env!("CARGO_PKG_VERSION"),
        whod.addr
    );
    assert_eq!(response.text(), expected);
    // HEAD: the same headers, no body; the connection goes on.
    let head = client.exchange(b"HEAD /echo HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn echo_json_is_valid_and_lossless_for_every_byte_the_parser_accepts() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let mut request =
        b"GET /echo HTTP/1.1\r\nHost: test\r\nAccept: text/html, application/json\r\n\
X-Quote: say \"hi\" \\ bye\r\nX-Utf8: caf\xc3\xa9\r\nX-Latin1: caf\xe9\r\nX-Tab: a\tb\r\n\
X-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2\r\n\r\n"
            .to_vec();
    let response = client.exchange(&request);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Vary"), Some("Accept"));
    // Python's json gives back every field line, in order, each value's exact bytes.
    let fields = python(
        "import json, sys\n\
         d = json.load(sys.stdin)\n\
         for f in d['fields']:\n\
         \x20   raw = f['value'].encode('latin-1' if f.get('latin1') else 'utf-8')\n\
         \x20   print(f['name'], raw.hex())\n\
         print(d['headers']['x-forwarded-for'])\n\
         print(d['request']['method'], d['request']['target'], d['request']['version'])\n\
         print(d['remote']['address'], d['local']['port'], d['name'], d['proxy'])",
        &response.body,
    );
    let mut expected = String::new();
    let head_end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    for line in request[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':').unwrap();
        let value = line[colon + 1..].trim_ascii();
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        expected.push_str(&format!(
            "{} {hex}\n",
            String::from_utf8_lossy(&line[..colon])
        ));
    }
    expected.push_str("['1.1.1.1', '2.2.2.2']\nGET /echo HTTP/1.1\n");
    expected.push_str(&format!("127.0.0.1 {} None None\n", whod.addr.port()));
    assert_eq!(fields, expected);

    // ?format=json asks for JSON whatever Accept says; text/plain first asks for text.
    request = b"GET /echo?format=json HTTP/1.1\r\nHost: t\r\nAccept: text/plain\r\n\r\n".to_vec();
    let json = client.exchange(&request);
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    let text = client
        .exchange(b"GET /echo HTTP/1.1\r\nHost: t\r\nAccept: text/plain, application/json\r\n\r\n");
    assert_eq!(
        text.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn curl_shows_what_a_proxy_header_looks_like() {
    let whod = Whod::start(&[]);
    let output = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "-H",
            "X-Forwarded-For: 203.0.113.9",
            "-H",
            "Accept: application/json",
            &format!("http://{}/echo", whod.addr),
        ])
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(output.status.success());
    let shown = python(
        "import json, sys\n\
         d = json.load(sys.stdin)\n\
         print(d['headers']['x-forwarded-for'][0], d['headers']['user-agent'][0].split('/')[0], d['hostname'])",
        &output.stdout,
    );
    assert_eq!(shown, format!("203.0.113.9 curl {}\n", hostname()));
}

#[test]
fn the_largest_head_the_parser_accepts_is_echoed_whole() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    // An 8 KiB request line and a 16 KiB header section, both exactly at their limits.
    let target = format!("/echo?{}", "t".repeat(8192 - "GET /echo? HTTP/1.1".len()));
    let filler = "v".repeat(16384 - "Host: a\r\nX-Fill: \r\n\r\n".len());
    let request = format!("GET {target} HTTP/1.1\r\nHost: a\r\nX-Fill: {filler}\r\n\r\n");
    let response = client.exchange(request.as_bytes());
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(text.len() > 24 * 1024, "{} bytes", text.len());
    assert!(text.contains(&format!(
        "\n\nGET {target} HTTP/1.1\nHost: a\nX-Fill: {filler}\n"
    )));
    // Larger than the 16 KiB a connection may hold of answers, and still whole; the JSON too.
    let target = format!(
        "/echo?format=json&{}",
        "t".repeat(8192 - "GET /echo?format=json& HTTP/1.1".len())
    );
    let request = format!("GET {target} HTTP/1.1\r\nHost: a\r\nX-Fill: {filler}\r\n\r\n");
    let json = client.exchange(request.as_bytes());
    assert_eq!(json.status, 200);
    let filled = python(
        "import json, sys\nd = json.load(sys.stdin)\nprint(len(d['headers']['x-fill'][0]), len(d['request']['target']))",
        &json.body,
    );
    assert_eq!(filled, format!("{} {}\n", filler.len(), target.len()));
}

#[test]
fn echo_hide_hides_values_and_echo_off_removes_the_routes() {
    let whod = Whod::start(&["--echo-hide", "Authorization,cookie"]);
    let mut client = whod.connect();
    let text = client
        .exchange(b"GET /echo HTTP/1.1\r\nHost: t\r\nauthorization: Bearer secret\r\nCookie: a=b\r\nX-Other: shown\r\n\r\n")
        .text();
    assert!(
        text.contains("\nauthorization: [hidden]\nCookie: [hidden]\nX-Other: shown\n"),
        "{text}"
    );
    assert!(!text.contains("secret") && !text.contains("a=b"), "{text}");

    let whod = Whod::start(&["--echo", "off"]);
    let mut client = whod.connect();
    for path in ["/echo", "/status/200", "/status/503?delay=1s"] {
        assert_eq!(client.exchange(&get(path)).status, 404, "{path}");
    }
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn status_answers_the_code_asked_for() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let teapot = client.exchange(&get("/status/418"));
    assert_eq!((teapot.status, teapot.text().as_str()), (418, "418"));
    let unavailable = client.exchange(&get("/status/503"));
    assert_eq!(
        (unavailable.status, unavailable.text().as_str()),
        (503, "503 Service Unavailable")
    );
    for code in [204, 304] {
        let response = client.exchange(&get(&format!("/status/{code}")));
        assert_eq!(response.status, code);
        assert_eq!(response.header("Content-Type"), None);
    }
    // The connection is still in step after the bodiless answers.
    assert_eq!(client.exchange(&get("/status/200")).text(), "200 OK");
    for bad in ["600", "199", "abc", "2000"] {
        let response = client.exchange(&get(&format!("/status/{bad}")));
        assert_eq!(response.status, 400, "{bad}");
        assert_eq!(
            response.text(),
            format!("/status/NNN: expected a status code 200-599, got \"{bad}\"")
        );
    }
    let post =
        client.exchange(b"POST /status/200 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        (post.status, post.header("Allow")),
        (405, Some("GET, HEAD"))
    );
}

#[test]
fn a_delay_holds_one_answer_and_slows_nothing_else() {
    let whod = Whod::start(&["--workers", "1"]);
    let mut slow = whod.connect();
    let start = Instant::now();
    // A delayed request, and one pipelined behind it: they keep their order.
    slow.send(&[get("/who?delay=600ms"), get("/healthz")].concat());
    // Meanwhile another connection is answered at once, many times.
    let mut fast = whod.connect();
    for _ in 0..20 {
        let asked = Instant::now();
        assert_eq!(fast.exchange(&get("/who")).status, 200);
        assert!(
            asked.elapsed() < Duration::from_millis(300),
            "{:?}",
            asked.elapsed()
        );
    }
    assert!(
        start.elapsed() < Duration::from_millis(550),
        "the others were slowed"
    );
    let first = slow.response();
    let waited = start.elapsed();
    assert_eq!((first.status, first.text()), (200, hostname()));
    assert!(
        waited >= Duration::from_millis(590) && waited < Duration::from_millis(1600),
        "{waited:?}"
    );
    assert_eq!(slow.response().text(), "ok");
    assert!(start.elapsed() < Duration::from_millis(1600));
    // /echo and /status take delays too; the connection goes on after each.
    let start = Instant::now();
    assert_eq!(slow.exchange(&get("/status/503?delay=200ms")).status, 503);
    assert_eq!(slow.exchange(&get("/echo?delay=200ms")).status, 200);
    assert!(
        start.elapsed() >= Duration::from_millis(390),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn nothing_after_a_fragment_mark_is_read_as_the_query() {
    // A client never sends a fragment; one that does asks for nothing after its `#`.
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let asked = Instant::now();
    let who = client.exchange(&get("/who#?delay=2s"));
    assert_eq!((who.status, who.text()), (200, hostname()));
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "the delay was read"
    );
    let echo = client.exchange(&get("/echo#?format=json"));
    assert_eq!(
        echo.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        echo.text()
            .contains("\n\nGET /echo#?format=json HTTP/1.1\n")
    );
    // Before the `#`, the query counts as ever.
    let json = client.exchange(&get("/echo?format=json#x"));
    assert_eq!(json.header("Content-Type"), Some("application/json"));
}

#[test]
fn a_short_delay_is_timed_to_the_millisecond_not_to_the_deadline_scan() {
    // Timeouts are checked once a second; a delay of 100 ms must not wait for that scan.
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    for _ in 0..3 {
        let asked = Instant::now();
        assert_eq!(client.exchange(&get("/who?delay=100ms")).status, 200);
        let waited = asked.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_millis(500),
            "{waited:?}"
        );
    }
}

#[test]
fn a_delay_over_the_cap_or_malformed_is_400_naming_the_value() {
    let whod = Whod::start(&["--max-delay", "2s"]);
    let mut client = whod.connect();
    for bad in ["3s", "2001ms", "fast", "1.5s"] {
        let response = client.exchange(&get(&format!("/who?delay={bad}")));
        assert_eq!(response.status, 400, "{bad}");
        assert_eq!(
            response.text(),
            format!(
                "delay: expected a duration such as 250ms or 2s, at most 2s (--max-delay), got \"{bad}\""
            )
        );
    }
    let start = Instant::now();
    assert_eq!(client.exchange(&get("/who?delay=2s")).status, 200);
    assert!(start.elapsed() >= Duration::from_secs(2));
}

#[test]
fn the_drain_window_keeps_delays_and_the_stop_sends_the_rest() {
    let mut whod = Whod::start(&["--shutdown-delay", "2"]);
    let mut long = whod.connect();
    long.send(&get("/who?delay=10s"));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    whod.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    // Asked within the window, a delay is kept, and its answer closes the connection.
    let mut short = whod.connect();
    let asked = Instant::now();
    let response = short.exchange(&get("/who?delay=500ms"));
    assert!(
        asked.elapsed() >= Duration::from_millis(490),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(
        (response.status, response.header("Connection")),
        (200, Some("close"))
    );
    // A delay that outlasts the window is answered when the window ends, with the stop.
    let response = long.response();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(
        (response.status, response.header("Connection")),
        (200, Some("close"))
    );
    assert!(whod.wait(Duration::from_secs(5)).success());
}

#[test]
fn sigterm_sends_delayed_answers_at_once_with_connection_close() {
    let mut whod = Whod::start(&[]);
    let mut held = whod.connect();
    held.send(&[get("/who?delay=10s"), get("/who")].concat());
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    whod.signal("TERM");
    let response = held.response();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        (response.status, response.header("Connection")),
        (200, Some("close"))
    );
    assert!(held.is_closed(), "the request behind it is not answered");
    // The client closes too (else whod lingers for it, up to 2 s).
    drop(held);
    assert!(whod.wait(Duration::from_secs(5)).success());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// `whod --healthcheck` against `whod`: its exit code.
fn healthcheck(whod: &Whod) -> i32 {
    let output = Command::new(BIN)
        .args(["--healthcheck", "--port", &whod.addr.port().to_string()])
        .output()
        .unwrap();
    output.status.code().unwrap_or(-1)
}

#[test]
fn sigusr1_makes_the_replica_unready_and_sigusr2_ready_again() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    assert_eq!(healthcheck(&whod), 0);
    whod.signal("USR1");
    assert!(
        wait_until(TIMEOUT, "/healthz answers 503", || {
            client.exchange(&get("/healthz")).status == 503
        }),
        "SIGUSR1 not seen"
    );
    let health = client.exchange(&get("/healthz"));
    assert!(health.text().starts_with("not ready"), "{}", health.text());
    assert_eq!(healthcheck(&whod), 1);
    assert_eq!(
        client.exchange(&get("/who")).text(),
        hostname(),
        "still serving"
    );
    whod.signal("USR2");
    assert!(
        wait_until(TIMEOUT, "/healthz answers 200", || {
            client.exchange(&get("/healthz")).status == 200
        }),
        "SIGUSR2 not seen"
    );
    assert_eq!(healthcheck(&whod), 0);
    assert!(
        whod.said("SIGUSR1 received: /healthz answers 503 until SIGUSR2"),
        "{}",
        whod.stderr()
    );
}

#[test]
fn metrics_count_requests_per_route_and_code() {
    let whod = Whod::start(&["--metrics"]);
    let mut client = whod.connect();
    for _ in 0..3 {
        client.exchange(&get("/who"));
    }
    client.exchange(&get("/nope"));
    let mut other = whod.connect();
    other.exchange(&get("/who?second"));
    let page = client.exchange(&get("/metrics"));
    assert_eq!(
        page.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = page.text();
    assert!(
        text.contains("\nwhod_requests_total{route=\"who\",code=\"200\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("\nwhod_requests_total{route=\"other\",code=\"404\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("\nwhod_connections_open 2\n"), "{text}");
    assert_eq!(
        Whod::start(&[]).connect().exchange(&get("/metrics")).status,
        404
    );
}

#[test]
fn a_bad_name_is_a_usage_error() {
    let output = Command::new(BIN)
        .args(["--name", "a\u{1}b"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--name: invalid value \"a\\u{1}b\": expected printable ASCII"),
        "{err}"
    );
}

#[test]
fn echo_shows_what_a_tls_terminating_proxy_said_in_its_tlvs() {
    // What HAProxy sends with `send-proxy-v2-ssl-cn` for a TLS 1.3 client, then the request.
    let seed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/seeds-proxy/v2-tcp4-ssl"
    ))
    .unwrap();
    let header_and_request = &seed[1..];
    let request_at = header_and_request.len() - b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n".len();
    let header = &header_and_request[..request_at];
    let whod = Whod::start(&["--proxy-protocol"]);
    let mut client = whod.connect();
    client.send(header);
    let echo = client.exchange(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        echo.text()
            .contains("\nremote: 192.0.2.1:50000\nproxy: 127.0.0.1:"),
        "{}",
        echo.text()
    );
    assert!(
        echo.text().contains(
            "\nalpn: h2\nauthority: who.example\nssl: version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 \
             sig-alg=RSA-SHA256 key-alg=RSA2048 cn=\"client one\" client-cert=verified\n\
             unique-id: 01026964\nlocal: "
        ),
        "{}",
        echo.text()
    );
    let json = client.exchange(b"GET /echo?format=json HTTP/1.1\r\nHost: a\r\n\r\n");
    let shown = python(
        "import json, sys\n\
         t = json.load(sys.stdin)['tlvs']\n\
         print(t['alpn'], t['authority'], t['unique_id'], t['ssl']['version'], t['ssl']['cn'], t['ssl']['client_certificate'])",
        &json.body,
    );
    assert_eq!(
        shown,
        "h2 who.example 01026964 TLSv1.3 client one verified\n"
    );
}
