//! The routes and switches for exercising a proxy, with the real binary over real sockets:
//! `/stream` (chunks written as their timers fire, Server-Sent Events, HTTP/1.0), `/data`
//! (every byte, and no memory for a client that does not read), failures and latency on
//! purpose, and the operator's headers on every answer.

mod common;

use common::{Client, Whod, get, hostname, rss_kib, wait_until};
use std::io::Read;
use std::time::{Duration, Instant};

/// The fields of one logfmt line: `seq=2 count=4 hostname=h time=...`.
fn fields(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("key=value");
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn a_stream_sends_each_event_when_its_time_comes_in_its_own_chunk() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let asked = Instant::now();
    client.send(&get("/stream?count=4&interval=200ms"));
    let head = client.head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("Vary"), Some("Accept"));
    let mut arrivals = Vec::new();
    while let Some(chunk) = client.chunk() {
        arrivals.push(asked.elapsed());
        let line = String::from_utf8(chunk).unwrap();
        let seq = arrivals.len().to_string();
        let fields = fields(&line);
        assert_eq!(fields[0], ("seq".to_string(), seq), "{line}");
        assert_eq!(fields[1], ("count".to_string(), "4".to_string()));
        assert_eq!(fields[2], ("hostname".to_string(), hostname()));
        assert_eq!(fields[3].0, "time");
        assert_eq!(fields[3].1.len(), 24, "{line}");
    }
    assert_eq!(arrivals.len(), 4);
    // The first event comes with the head, the others each an interval after the one before:
    // the client sees them apart, not all at the end.
    assert!(arrivals[0] < Duration::from_millis(150), "{arrivals:?}");
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(150),
            "{arrivals:?}"
        );
    }
    // The connection goes on.
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn server_sent_events_as_eventsource_reads_them() {
    let whod = Whod::start(&["--name", "blue replica"]);
    let mut client = whod.connect();
    client.send(
        b"GET /stream?count=2&interval=50ms HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n",
    );
    let head = client.head();
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    for seq in 1..=2 {
        let event = String::from_utf8(client.chunk().unwrap()).unwrap();
        let expected_start = format!(
            "id: {seq}\ndata: seq={seq} count=2 hostname={} name=\"blue replica\" time=",
            hostname()
        );
        assert!(event.starts_with(&expected_start), "{event:?}");
        assert!(event.ends_with("Z\n\n"), "{event:?}");
    }
    assert_eq!(client.chunk(), None);
}

#[test]
fn an_http_1_0_client_gets_the_lines_until_the_close() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let response = client.exchange(b"GET /stream?count=3&interval=10ms HTTP/1.0\r\n\r\n");
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(response.header("Transfer-Encoding"), None);
    let text = response.text();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|line| line.starts_with("seq=")));
    assert!(client.is_closed());
}

#[test]
fn head_of_a_stream_or_a_download_is_its_head_only() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let stream = client.exchange(b"HEAD /stream?count=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(stream.header("Transfer-Encoding"), Some("chunked"));
    let data = client.exchange(b"HEAD /data?size=10MiB HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(data.header("Content-Length"), Some("10485760"));
    assert_eq!(
        data.header("Content-Type"),
        Some("application/octet-stream")
    );
    // Nothing followed either head: the next answer is the next thing on the connection.
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn requests_behind_a_stream_or_a_download_wait_their_turn() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    client.send(
        &[
            get("/stream?count=3&interval=100ms"),
            get("/data?size=300000"),
            get("/who"),
        ]
        .concat(),
    );
    let stream = client.response();
    assert_eq!(stream.text().lines().count(), 3);
    let data = client.response();
    assert_eq!(data.body.len(), 300_000);
    assert_eq!(client.response().text(), hostname());
}

#[test]
fn a_download_is_every_byte_of_the_line_over_and_over() {
    const LINE: &[u8; 64] = b"who/data 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOP\n";
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    for size in [0, 1, 64, 65, 3 << 20] {
        let response = client.exchange(&get(&format!("/data?size={size}")));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Length"), Some(&*size.to_string()));
        assert_eq!(response.body.len(), size);
        assert!(
            response
                .body
                .iter()
                .enumerate()
                .all(|(i, &b)| b == LINE[i % 64]),
            "size {size}"
        );
    }
    let over = client.exchange(&get("/data?size=101MiB"));
    assert_eq!(over.status, 400);
    assert!(
        over.text().contains("at most 100MiB (--max-data)"),
        "{}",
        over.text()
    );
    let whod = Whod::start(&["--max-data", "1KiB"]);
    let mut client = whod.connect();
    assert_eq!(client.exchange(&get("/data")).body.len(), 1024);
    assert_eq!(client.exchange(&get("/data?size=1025")).status, 400);
}

#[test]
fn a_client_that_does_not_read_a_download_costs_no_memory() {
    let whod = Whod::start(&[]);
    let before = rss_kib(whod.pid());
    let mut slow = whod.connect();
    slow.send(&get("/data?size=100MiB"));
    // Let it fill every buffer on the way, then look again: the bytes are written from one
    // shared buffer, never kept for the connection.
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(whod.pid());
    assert!(
        during < before + 1024,
        "RSS {before} KiB before, {during} KiB while a client does not read 100 MiB"
    );
    // The others are served meanwhile.
    assert_eq!(whod.connect().exchange(&get("/who")).status, 200);
    // And the slow client gets every byte once it reads.
    let head = slow.head();
    assert_eq!(head.header("Content-Length"), Some("104857600"));
    let mut got = 0u64;
    let mut buf = vec![0; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(30);
    while got < 100 << 20 {
        assert!(Instant::now() < deadline, "the download stalled at {got}");
        got += slow.reader.read(&mut buf).unwrap() as u64;
    }
    assert_eq!(got, 100 << 20);
}

#[test]
fn sigterm_ends_a_stream_with_its_end_event_within_the_drain_window() {
    let mut whod = Whod::start(&["--shutdown-delay", "1"]);
    let mut client = whod.connect();
    client.send(&get("/stream?count=100&interval=100ms"));
    let head = client.head();
    assert_eq!(head.status, 200);
    std::thread::sleep(Duration::from_millis(250));
    let signalled = Instant::now();
    whod.signal("TERM");
    let mut lines = Vec::new();
    while let Some(chunk) = client.chunk() {
        lines.push(String::from_utf8(chunk).unwrap());
    }
    let took = signalled.elapsed();
    // Events went on through the window, then the end said why.
    assert_eq!(
        lines.last().map(String::as_str),
        Some("end=stopping\n"),
        "{lines:?}"
    );
    assert!(lines.len() > 10, "{lines:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(client.is_closed());
    assert!(whod.wait(Duration::from_secs(5)).success());
}

#[test]
fn failures_on_purpose_spare_healthz_and_metrics() {
    let whod = Whod::start(&["--fail-rate", "1", "--fail-status", "500", "--metrics"]);
    let mut client = whod.connect();
    for path in [
        "/who",
        "/echo",
        "/status/200",
        "/stream",
        "/data",
        "/nowhere",
    ] {
        let response = client.exchange(&get(path));
        assert_eq!(response.status, 500, "{path}");
        assert_eq!(response.text(), "failed on purpose (--fail-rate)");
    }
    assert_eq!(client.exchange(&get("/healthz")).status, 200);
    let page = client.exchange(&get("/metrics"));
    assert_eq!(page.status, 200);
    assert!(
        page.text()
            .contains("whod_requests_total{route=\"who\",code=\"500\"} 1\n"),
        "failures are counted on their route"
    );

    // Half of them, at random: far from none and from all.
    let whod = Whod::start(&["--fail-rate", "50%"]);
    let mut client = whod.connect();
    let failed = (0..400)
        .filter(|_| client.exchange(&get("/who")).status == 503)
        .count();
    assert!((120..=280).contains(&failed), "{failed} of 400 failed");
}

#[test]
fn latency_on_purpose_holds_every_answer_but_healthz() {
    let whod = Whod::start(&["--latency", "150ms-200ms"]);
    let mut client = whod.connect();
    for _ in 0..3 {
        let asked = Instant::now();
        assert_eq!(client.exchange(&get("/who")).status, 200);
        let took = asked.elapsed();
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
    let asked = Instant::now();
    assert_eq!(client.exchange(&get("/healthz")).status, 200);
    assert!(asked.elapsed() < Duration::from_millis(150));
}

#[test]
fn the_operators_headers_are_on_every_answer() {
    let whod = Whod::start(&[
        "--header",
        "Access-Control-Allow-Origin: *",
        "--header",
        "Cache-Control: max-age=5",
    ]);
    let mut client = whod.connect();
    let check = |response: &common::Response, what: &str| {
        assert_eq!(
            response.header("Access-Control-Allow-Origin"),
            Some("*"),
            "{what}"
        );
        let cache: Vec<&str> = response
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(cache, ["max-age=5"], "{what}");
    };
    // The pre-rendered /who, the router's answers, a stream's head.
    for path in ["/who", "/healthz", "/echo", "/nowhere", "/stream?count=1"] {
        check(&client.exchange(&get(path)), path);
    }
    // A request the parser refuses.
    let mut bad = Client::connect(whod.addr);
    check(&bad.exchange(b"GET / HTTP/9.9\r\n\r\n"), "a refusal");
    // The request cannot choose them.
    let asked = client
        .exchange(b"GET /who HTTP/1.1\r\nHost: t\r\nAccess-Control-Allow-Origin: evil\r\n\r\n");
    check(&asked, "a request naming the header");
}

#[test]
fn a_client_that_does_not_read_a_stream_holds_at_most_the_output_limit() {
    // As fast as it can: events with no interval, to a client that reads nothing.
    let whod = Whod::start(&["--max-stream-events", "1000000"]);
    let before = rss_kib(whod.pid());
    let mut slow = whod.connect();
    slow.send(&get("/stream?count=1000000&interval=0ms"));
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(whod.pid());
    assert!(
        during < before + 1024,
        "RSS {before} KiB before, {during} KiB while a client reads no event"
    );
    // It waits for the client, and goes on when the client reads.
    let head = slow.head();
    assert_eq!(head.status, 200);
    for seq in 1..=2000 {
        let chunk = slow.chunk().expect("an event");
        let line = String::from_utf8(chunk).unwrap();
        assert!(line.starts_with(&format!("seq={seq} ")), "{line}");
    }
}

#[test]
fn sigttin_makes_the_replica_sick_and_sigttou_well_again() {
    let whod = Whod::start(&["--fail-status", "502"]);
    let mut client = whod.connect();
    assert_eq!(client.exchange(&get("/who")).status, 200);
    whod.signal("TTIN");
    assert!(
        wait_until(Duration::from_secs(5), "/who answers 502", || {
            client.exchange(&get("/who")).status == 502
        }),
        "SIGTTIN not seen"
    );
    let sick = client.exchange(&get("/echo"));
    assert_eq!(
        (sick.status, sick.text().as_str()),
        (
            502,
            "sick on purpose (--sick or SIGTTIN; SIGTTOU makes it well)"
        )
    );
    // A balancer's probe still passes: only the traffic fails (outlier detection).
    assert_eq!(client.exchange(&get("/healthz")).status, 200);
    assert!(whod.said("SIGTTIN received: sick"), "{}", whod.stderr());
    whod.signal("TTOU");
    assert!(
        wait_until(Duration::from_secs(5), "/who answers 200", || {
            client.exchange(&get("/who")).status == 200
        }),
        "SIGTTOU not seen"
    );
    assert!(
        whod.said("SIGTTOU received: well again"),
        "{}",
        whod.stderr()
    );

    // --sick: sick from the start.
    let whod = Whod::start(&["--sick"]);
    assert_eq!(whod.connect().exchange(&get("/who")).status, 503);
    assert_eq!(whod.connect().exchange(&get("/healthz")).status, 200);
}
