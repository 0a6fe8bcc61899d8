//! The HTTP contract, spoken over real sockets to the real binary.

mod common;

use common::{Client, Whod, get, hostname};
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn who_answers_the_hostname_with_the_contract_headers() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let response = client.exchange(&get("/who"));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        hostname(),
        "the body is the host name, exactly, no newline"
    );
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        response.header("Content-Length"),
        Some(hostname().len().to_string().as_str())
    );
    let date = response.header("Date").expect("Date");
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    assert_eq!(date.len(), 29, "{date}");
    assert!(date.ends_with(" GMT") && &date[3..5] == ", ", "{date}");
    let now = std::process::Command::new("date")
        .args(["-u", "+%a, %d %b %Y"])
        .output()
        .unwrap();
    assert_eq!(
        &date[..16],
        String::from_utf8_lossy(&now.stdout).trim(),
        "the Date is today's"
    );

    let head = client.exchange(b"HEAD /who HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        response.header("Content-Length")
    );
    assert_eq!(head.header("Content-Type"), response.header("Content-Type"));
    // The same connection still works: the HEAD answer had no body.
    assert_eq!(client.exchange(&get("/who")).text(), hostname());
}

#[test]
fn routes_queries_absolute_form_and_errors() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    assert_eq!(client.exchange(&get("/who?ignored=1&x")).text(), hostname());
    assert_eq!(
        client
            .exchange(b"GET http://example.com/who HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .text(),
        hostname()
    );
    let health = client.exchange(&get("/healthz"));
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    assert_eq!(
        client
            .exchange(b"HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            .status,
        200
    );
    for path in ["/", "/who/", "/WHO", "/whoami", "/healthz/x"] {
        assert_eq!(client.exchange(&get(path)).status, 404, "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let response =
            client.exchange(format!("{method} /who HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD"));
    }
    assert_eq!(
        client
            .exchange(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
            .status,
        404
    );
    // After all of that, still one open connection.
    assert_eq!(client.exchange(&get("/who")).status, 200);
}

#[test]
fn keep_alive_and_connection_close() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    for _ in 0..50 {
        let response = client.exchange(&get("/who"));
        assert_eq!(
            response.header("Connection"),
            None,
            "HTTP/1.1 persists without saying so"
        );
    }
    let last = client.exchange(b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(last.header("Connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let response = client.exchange(b"GET /who HTTP/1.0\r\n\r\n");
    assert_eq!(
        (response.status, response.header("Connection")),
        (200, Some("close"))
    );
    assert!(client.is_closed());

    let mut client = whod.connect();
    for _ in 0..3 {
        let response = client.exchange(b"GET /who HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(response.header("Connection"), Some("keep-alive"));
        assert_eq!(response.text(), hostname());
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let mut batch = Vec::new();
    let paths = ["/who", "/healthz", "/nope", "/who?2", "/healthz"];
    for path in paths {
        batch.extend_from_slice(&get(path));
    }
    // A HEAD, a body to skip, and a close at the end.
    batch.extend_from_slice(b"HEAD /who HTTP/1.1\r\nHost: a\r\n\r\n");
    batch.extend_from_slice(b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    batch.extend_from_slice(
        b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    batch.extend_from_slice(b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    client.send(&batch);
    let expected = [
        (200, hostname()),
        (200, "ok".into()),
        (404, "not found: try /who".into()),
        (200, hostname()),
        (200, "ok".into()),
    ];
    for (status, body) in expected {
        let response = client.response();
        assert_eq!((response.status, response.text()), (status, body));
    }
    assert_eq!(client.response_to(true).status, 200);
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().text(), hostname());
    assert!(client.is_closed());
}

#[test]
fn many_pipelined_requests_in_one_write() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let count = 2000; // more than one read buffer's worth of requests
    client.send(&get("/who").repeat(count));
    for _ in 0..count {
        assert_eq!(client.response().text(), hostname());
    }
}

/// `/who`'s answer byte for byte, its Date aside, as every version has written it: from the
/// pre-rendered copy (a plain GET) and from the router (a query, HTTP/1.0) alike.
#[test]
fn who_answers_the_same_bytes_by_every_path() {
    let whod = Whod::start(&[]);
    let host = hostname();
    let answer = |date: &str, connection: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
             Date: {date}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             {connection}\r\n{host}",
            host.len()
        )
    };
    let cases: [(&[u8], &str); 4] = [
        (b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n", ""),
        (b"GET /who?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", ""),
        (
            b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "Connection: close\r\n",
        ),
        (b"GET /who HTTP/1.0\r\n\r\n", "Connection: close\r\n"),
    ];
    for (request, connection) in cases {
        let mut client = whod.connect();
        client.send(request);
        let mut bytes = vec![0; answer(&"D".repeat(29), connection).len()];
        client
            .reader
            .read_exact(&mut bytes)
            .expect("the whole answer");
        let text = String::from_utf8(bytes).unwrap();
        let date = text.split("Date: ").nth(1).map_or("", |rest| &rest[..29]);
        assert_eq!(text, answer(date, connection), "{request:?}");
        assert!(connection.is_empty() || client.is_closed(), "{request:?}");
    }
}

/// A client that sends many requests before it reads an answer: the answers fill the
/// sockets' buffers, whod waits for the client to take more (watching the socket for
/// writability from then on), and every answer arrives, in order, once it reads. Twice: the
/// second connection likely takes the slot the first left, which must not look watched.
#[test]
fn answers_wait_for_a_client_that_reads_late() {
    let whod = Whod::start(&[]);
    for _ in 0..2 {
        let mut client = whod.connect();
        // About 6 MB of requests and 26 MB of answers: more than loopback's buffers hold.
        let count = 200_000;
        let requests = get("/who").repeat(count);
        let mut sender = client.stream().try_clone().unwrap();
        let sending = std::thread::spawn(move || sender.write_all(&requests));
        std::thread::sleep(Duration::from_millis(300));
        for index in 0..count {
            let response = client.response();
            assert_eq!(
                response.status,
                200,
                "answer {index}: {:?}",
                response.text()
            );
        }
        sending.join().unwrap().expect("every request sent");
        drop(client);
        // whod reads the end of file and closes, freeing the slot.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_request_may_arrive_one_byte_at_a_time() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let request = b"\r\nGET /who?x HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    for byte in request {
        client.send(&[*byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(client.response().text(), hostname());
    // And a body one byte at a time.
    for byte in
        b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
    {
        client.send(&[*byte]);
    }
    assert_eq!(client.response().status, 405);
    assert_eq!(client.exchange(&get("/who")).status, 200);
}

/// Each bad request gets its status, `Connection: close`, and then the close: nothing sent
/// after it is ever answered.
#[test]
fn rejections_answer_then_close() {
    let whod = Whod::start(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8200));
    let big_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(17 * 1024)
    );
    let many_fields = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X: y\r\n".repeat(100)
    );
    let cases: Vec<(&[u8], u16)> = vec![
        (b"GET\r\n\r\n", 400),
        (b"G=T /who HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /who HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400),
        (b"GET /who HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET /who http/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
        (b"GET /who HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
        (long_line.as_bytes(), 414),
        (big_headers.as_bytes(), 431),
        (many_fields.as_bytes(), 431),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
    ];
    for (request, status) in cases {
        let mut client = whod.connect();
        // A valid request follows the bad one: it must never be answered.
        client.send(&[request, &get("/who")[..]].concat());
        let response = client.response();
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        assert_eq!(response.status, status, "{shown:?}: {}", response.text());
        assert_eq!(response.header("Connection"), Some("close"), "{shown:?}");
        assert!(
            !response.body.is_empty(),
            "{shown:?}: the body says what was wrong"
        );
        assert!(client.is_closed(), "{shown:?}: the connection must close");
    }
    // Nothing above disturbed the server.
    assert_eq!(whod.connect().exchange(&get("/who")).status, 200);
}

#[test]
fn smuggling_attempts_get_one_answer_only() {
    let whod = Whod::start(&[]);
    let attempts: [&[u8]; 3] = [
        // CL.TE: a front end using Content-Length would forward the GET as body.
        b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        // A bare LF inside chunked framing.
        b"POST /who HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\nGET /who HTTP/1.1\r\nHost: a\r\n\r\n",
        // Transfer-Encoding on HTTP/1.0 is faulty framing.
        b"POST /who HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /who HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for attempt in attempts {
        let mut client = whod.connect();
        client.send(attempt);
        assert_eq!(
            client.response().status,
            400,
            "{:?}",
            String::from_utf8_lossy(attempt)
        );
        assert!(client.is_closed());
    }
}

#[test]
fn expect_100_continue_is_answered_at_once_and_closed() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    let response = client.exchange(
        b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(
        (response.status, response.header("Connection")),
        (405, Some("close"))
    );
    assert!(client.is_closed());
}

#[test]
fn max_connections_refuses_new_ones_without_stalling_the_others() {
    let whod = Whod::start(&["--max-connections", "2", "--workers", "1"]);
    let mut first = whod.connect();
    let mut second = whod.connect();
    assert_eq!(first.exchange(&get("/who")).status, 200);
    assert_eq!(second.exchange(&get("/who")).status, 200);
    let mut third = whod.connect();
    let refused = third.response();
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (503, "too many connections")
    );
    assert_eq!(refused.header("Cache-Control"), Some("no-store"));
    assert!(third.is_closed());
    assert_eq!(first.exchange(&get("/who")).status, 200);
    drop(first);
    // Once one closes, a new connection is served again.
    assert!(whod.serves_new_connections(), "no room after a close");
    assert_eq!(second.exchange(&get("/who")).status, 200);
}

#[test]
fn concurrent_clients_each_get_their_answers() {
    let whod = Whod::start(&["--workers", "3"]);
    assert!(whod.stderr().contains("(3 workers,"));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let addr = whod.addr;
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut client = Client::connect(addr);
                    for _ in 0..20 {
                        assert_eq!(client.exchange(&get("/who")).text(), hostname());
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn access_log_has_one_line_per_request() {
    let mut whod = Whod::start(&["--access-log"]);
    let mut client = whod.connect();
    client.exchange(&get("/who?a=1"));
    client.exchange(b"HEAD /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    client.send(b"GET /who HTTP/9.9\r\n\r\n");
    assert_eq!(client.response().status, 505);
    whod.signal("TERM");
    assert!(whod.wait(Duration::from_secs(5)).success());
    let log = whod.stdout();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0].starts_with("127.0.0.1 - - [")
            && lines[0].ends_with(&format!(
                "] \"GET /who?a=1 HTTP/1.1\" 200 {}",
                hostname().len()
            )),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("\"HEAD /healthz HTTP/1.0\" 200 0"),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with("\"-\" 505 26"), "{}", lines[2]);
}

#[test]
fn curl_prints_exactly_the_hostname() {
    let whod = Whod::start(&[]);
    let output = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            &format!("http://{}/who", whod.addr),
        ])
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap(), hostname());
}

#[test]
fn a_half_closed_client_gets_every_answer_then_the_close() {
    let whod = Whod::start(&[]);
    let mut client = whod.connect();
    client.send(&[get("/who"), get("/healthz")].concat());
    client.stream().shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(client.response().text(), hostname());
    assert_eq!(client.response().text(), "ok");
    assert!(
        client.is_closed(),
        "closed once the answers are sent, not after the idle timeout"
    );

    // A large pipeline (about 3 MB of answers) and then the half-close: whod pauses reading
    // while its answers wait, and must still see the end of file after them. The requests are
    // written from another thread, since neither side reads while its writes are blocked.
    let mut client = whod.connect();
    let count = 20_000;
    let mut writer = client.stream().try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        writer.write_all(&get("/who").repeat(count)).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..count {
        assert_eq!(client.response().status, 200);
    }
    sender.join().unwrap();
    assert!(
        client.is_closed(),
        "closed once the answers are sent, not after the idle timeout"
    );
}
