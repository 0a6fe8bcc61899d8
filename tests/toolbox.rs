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

/// The CRC-32 zlib and `cksum -a crc32b` compute, the test's own byte-wise one.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `size` bytes that are not all alike.
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `body` in chunks of `chunk` bytes, then the last chunk.
fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn an_upload_is_read_whole_and_its_size_and_checksum_said() {
    let whod = Whod::start(&["--max-body", "8MiB"]);
    let mut client = whod.connect();
    let body = payload(5 << 20);
    let expected = format!("size={} crc32={:08x} seconds=", body.len(), crc32(&body));
    // Content-Length, then chunked, on one connection; then the connection goes on.
    let mut request = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let answer = client.exchange(&request);
    assert_eq!(answer.status, 200);
    assert!(answer.text().starts_with(&expected), "{}", answer.text());
    assert!(
        answer
            .text()
            .ends_with(&format!(" hostname={}\n", hostname()))
    );
    let mut request =
        b"PUT /upload?format=json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    request.extend_from_slice(&chunked(&body, 10_000));
    let answer = client.exchange(&request);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    assert!(
        answer.text().contains(&format!(
            "\"size\": {}, \"crc32\": \"{:08x}\", \"seconds\": ",
            body.len(),
            crc32(&body)
        )),
        "{}",
        answer.text()
    );
    // An empty upload.
    let empty = client.exchange(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert!(
        empty.text().starts_with("size=0 crc32=00000000 "),
        "{}",
        empty.text()
    );
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn a_body_over_the_cap_is_413_and_a_close_whatever_its_framing() {
    let whod = Whod::start(&["--max-body", "1KiB"]);
    let mut client = whod.connect();
    let refused =
        client.exchange(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n");
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (413, "request body larger than 1024 bytes")
    );
    assert_eq!(refused.header("Connection"), Some("close"));
    let mut client = whod.connect();
    let mut request =
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&chunked(&payload(1025), 500));
    let refused = client.exchange(&request);
    assert_eq!(refused.status, 413);
    assert!(client.is_closed());
    // Exactly the cap passes.
    let mut request =
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&chunked(&payload(1024), 500));
    assert_eq!(whod.connect().exchange(&request).status, 200);
}

#[test]
fn expect_100_continue_is_answered_100_when_the_body_is_wanted_and_417_for_another() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    client.send(
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    // The interim answer first: the client sends its body only then.
    let mut interim = [0u8; 25];
    client.reader.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.send(b"hello");
    let answer = client.response();
    assert!(
        answer
            .text()
            .starts_with(&format!("size=5 crc32={:08x} ", crc32(b"hello"))),
        "{}",
        answer.text()
    );
    // An answer that does not need the body is sent at once, closing (as before).
    let mut client = whod.connect();
    let answer = client.exchange(
        b"POST /who HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(answer.status, 405);
    assert!(client.is_closed());
    // An expectation whod cannot meet.
    let mut client = whod.connect();
    let answer = client.exchange(
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: teapot\r\n\r\n",
    );
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (
            417,
            "expectation failed: only Expect: 100-continue is known"
        )
    );
    assert!(client.is_closed());
}

#[test]
fn echo_says_what_the_body_was_and_shows_it_when_asked() {
    let whod = Whod::start(&["--max-echo-body", "8B"]);
    let mut client = whod.connect();
    let post = |client: &mut Client, target: &str, body: &[u8]| {
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        client.exchange(&request)
    };
    let echo = post(&mut client, "/echo", b"hello\nworld");
    let text = echo.text();
    let expected_end = format!(
        "Content-Length: 11\n\nbody: 11 bytes, crc32 {:08x}\n",
        crc32(b"hello\nworld")
    );
    assert!(text.ends_with(&expected_end), "{text}");
    // Shown, escaped as field values are, cut at --max-echo-body.
    let echo = post(&mut client, "/echo?body=1", b"hello\nworld");
    assert!(
        echo.text()
            .ends_with("\nhello\\x0Awo\n(the first 8 of 11 bytes: --max-echo-body)\n"),
        "{}",
        echo.text()
    );
    let json = post(&mut client, "/echo?body=1&format=json", b"caf\xc3\xa9!");
    assert!(
        json.text().ends_with(&format!(
            "\"body\": {{\"size\": 6, \"crc32\": \"{:08x}\", \"value\": \"café!\", \"truncated\": false}}\n}}\n",
            crc32(b"caf\xc3\xa9!")
        )),
        "{}",
        json.text()
    );
    let get_json = client.exchange(&get("/echo?format=json"));
    assert!(get_json.text().ends_with("\"body\": null\n}\n"));
}
