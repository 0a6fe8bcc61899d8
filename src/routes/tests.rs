use super::Health::{NotReady, Serving, ShuttingDown};
use super::*;
use crate::http::Status;
use crate::http::request;

const ALL_ON: Settings = Settings {
    echo: true,
    metrics: true,
    max_delay: Duration::from_secs(10),
    max_stream_events: 1000,
    max_stream_duration: Duration::from_secs(300),
    max_data: 100 << 20,
};

/// The server's side, as a route sees it: a fixed health, and marked renderings.
struct Fake(Health);

impl Facts for Fake {
    fn health(&self) -> Health {
        self.0
    }
    fn echo(&self, format: Format, head: &[u8]) -> Vec<u8> {
        format!("echo {format:?} of {} bytes", head.len()).into_bytes()
    }
    fn metrics_page(&self) -> Vec<u8> {
        b"the page".to_vec()
    }
}

/// Routes `METHOD TARGET` with the given `Accept`, if any.
fn route_with(
    method: &str,
    target: &str,
    accept: Option<&str>,
    settings: &Settings,
    health: Health,
) -> Answer {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let head = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{accept}\r\n");
    let Ok(Status::Complete(request)) = request::parse(head.as_bytes()) else {
        panic!("{head:?} does not parse")
    };
    route(&request, head.as_bytes(), settings, &Fake(health))
}

fn get(target: &str) -> Answer {
    route_with("GET", target, None, &ALL_ON, Serving)
}

fn text(answer: &Answer) -> String {
    match &answer.body {
        Body::Hostname => "<hostname>".to_string(),
        Body::Text(text) => text.to_string(),
        Body::Owned(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        other => format!("{other:?}"),
    }
}

#[test]
fn who_and_healthz() {
    assert_eq!(get("/who"), Answer::who());
    assert_eq!(
        (get("/who").head.status, &get("/who").body),
        (200, &Body::Hostname)
    );
    assert_eq!(get("/who?x=1").body, Body::Hostname);
    assert_eq!(get("http://h/who").body, Body::Hostname);
    assert_eq!(
        route_with("HEAD", "/who", None, &ALL_ON, ShuttingDown)
            .head
            .status,
        200
    );
    assert_eq!(
        get("/healthz"),
        Answer::new(Route::Healthz, 200, Body::Text("ok"))
    );
    for health in [NotReady, ShuttingDown] {
        let answer = route_with("GET", "/healthz", None, &ALL_ON, health);
        assert_eq!((answer.route, answer.head.status), (Route::Healthz, 503));
    }
    assert_ne!(
        route_with("GET", "/healthz", None, &ALL_ON, NotReady).body,
        route_with("GET", "/healthz", None, &ALL_ON, ShuttingDown).body,
        "the body says why"
    );
    // /healthz takes no delay: a balancer's probe must be answered at once.
    assert_eq!(get("/healthz?delay=5s").delay, Duration::ZERO);
    // Every answer is plain text, persistent, full (the server sets those two).
    let head = get("/who").head;
    assert_eq!(head.content_type, response::TEXT);
    assert_eq!(
        (
            head.connection,
            head.head_only,
            head.allow,
            head.vary_accept
        ),
        (Connection::Persistent, false, None, false)
    );
    assert_eq!(head.length, response::Length::Body);
}

#[test]
fn methods_and_unknown_paths() {
    let post = route_with("POST", "/who", None, &ALL_ON, Serving);
    assert_eq!(
        (post.route, post.head.status, post.head.allow),
        (Route::Who, 405, Some("GET, HEAD"))
    );
    for (target, allow, message) in [
        (
            "/healthz",
            "GET, HEAD",
            "method not allowed: use GET or HEAD",
        ),
        (
            "/echo",
            "GET, HEAD, POST, PUT",
            "method not allowed: use GET, HEAD, POST or PUT",
        ),
        (
            "/status/200",
            "GET, HEAD",
            "method not allowed: use GET or HEAD",
        ),
        (
            "/stream",
            "GET, HEAD",
            "method not allowed: use GET or HEAD",
        ),
        ("/data", "GET, HEAD", "method not allowed: use GET or HEAD"),
        (
            "/upload",
            "POST, PUT",
            "method not allowed: use POST or PUT",
        ),
        (
            "/metrics",
            "GET, HEAD",
            "method not allowed: use GET or HEAD",
        ),
    ] {
        let answer = route_with("DELETE", target, None, &ALL_ON, Serving);
        assert_eq!(
            (
                answer.head.status,
                answer.head.allow,
                text(&answer).as_str()
            ),
            (405, Some(allow), message),
            "{target}"
        );
    }
    assert_eq!(
        get("/upload").head.status,
        405,
        "an upload is a POST or a PUT"
    );
    for path in [
        "/", "/who/", "/WHO", "//who", "/who%20", "/echo/", "/status",
    ] {
        let answer = get(path);
        assert_eq!(
            (answer.route, answer.head.status, answer.head.allow),
            (Route::Other, 404, None),
            "{path}"
        );
    }
    let options = route_with("OPTIONS", "*", None, &ALL_ON, Serving);
    assert_eq!((options.route, options.head.status), (Route::Other, 404));
}

#[test]
fn echo_in_text_or_json() {
    assert_eq!(text(&get("/echo")), "echo Text of 31 bytes");
    assert_eq!(text(&get("/echo#?format=json")), "echo Text of 44 bytes");
    assert_eq!(text(&get("/echo?format=json")), "echo Json of 43 bytes");
    let json = route_with("GET", "/echo", Some("application/json"), &ALL_ON, Serving);
    assert_eq!(text(&json), "echo Json of 57 bytes");
    assert_eq!(json.head.content_type, "application/json");
    assert!(json.head.vary_accept);
    let plain = route_with("GET", "/echo", Some("text/plain, */*"), &ALL_ON, Serving);
    assert_eq!(plain.head.content_type, "text/plain; charset=utf-8");
    assert!(plain.head.vary_accept);
    assert!(!get("/who").head.vary_accept);
    // Every answer on /echo varies with Accept, its refusals too.
    assert!(get("/echo?delay=x").head.vary_accept);
    assert!(
        route_with("PUT", "/echo", None, &ALL_ON, Serving)
            .head
            .vary_accept
    );
}

#[test]
fn status_codes() {
    let answer = get("/status/418");
    assert_eq!((answer.route, answer.head.status), (Route::Status, 418));
    assert_eq!(text(&answer), "418");
    assert_eq!(text(&get("/status/503")), "503 Service Unavailable");
    assert_eq!(get("/status/200").head.status, 200);
    assert_eq!(get("/status/599").head.status, 599);
    for bad in [
        "199",
        "600",
        "1000",
        "20",
        "abc",
        "2x0",
        "+20",
        "%32%30%30",
        "",
    ] {
        let answer = get(&format!("/status/{bad}"));
        assert_eq!(
            (answer.route, answer.head.status),
            (Route::Status, 400),
            "{bad}"
        );
        let message = text(&answer);
        assert!(message.ends_with(&format!("got \"{bad}\"")), "{message}");
    }
    // A bad code is named before a bad delay.
    assert!(text(&get("/status/600?delay=x")).starts_with("/status/NNN"));
    let long = "9".repeat(200);
    let message = text(&get(&format!("/status/{long}")));
    assert!(
        message.ends_with(&format!("\"{}\"...", "9".repeat(64))),
        "{message}"
    );
}

#[test]
fn a_quoted_value_is_cut_only_past_its_bound() {
    let longest = "a".repeat(QUOTED);
    assert_eq!(quote(longest.as_bytes()), format!("\"{longest}\""));
    let over = format!("{longest}b");
    assert_eq!(quote(over.as_bytes()), format!("\"{longest}\"..."));
}

#[test]
fn delays() {
    assert_eq!(get("/who?delay=250ms").delay, Duration::from_millis(250));
    assert_eq!(
        get("/echo?format=json&delay=2s").delay,
        Duration::from_secs(2)
    );
    assert_eq!(get("/status/503?delay=10s").delay, Duration::from_secs(10));
    assert_eq!(get("/status/503?delay=10s").head.status, 503);
    assert_eq!(get("/who?delay=0ms").delay, Duration::ZERO);
    for bad in [
        "10001ms",
        "11s",
        "1.5s",
        "5",
        "ms",
        "-1s",
        "1m",
        "",
        "9999999999s",
    ] {
        let answer = get(&format!("/who?delay={bad}"));
        assert_eq!(
            (answer.head.status, answer.delay),
            (400, Duration::ZERO),
            "{bad}"
        );
        let message = text(&answer);
        assert!(message.contains("at most 10s (--max-delay)"), "{message}");
        assert!(message.ends_with(&format!("got \"{bad}\"")), "{message}");
    }
    // A fragment is ignored, a `?` inside it too: no client sends one, and no part of it
    // can ask for anything.
    assert_eq!(get("/who#?delay=2s").delay, Duration::ZERO);
    assert_eq!(get("/who#?delay=2s").head.status, 200);
    assert_eq!(get("/who?delay=1s#x").delay, Duration::from_secs(1));
    // A 405 or a 404 is never held.
    let post = route_with("POST", "/who?delay=1s", None, &ALL_ON, Serving);
    assert_eq!((post.head.status, post.delay), (405, Duration::ZERO));
    assert_eq!(get("/nope?delay=1s").delay, Duration::ZERO);
}

#[test]
fn switched_off_routes_are_404() {
    let only_who = Settings {
        echo: false,
        metrics: false,
        ..ALL_ON
    };
    for (method, target) in [
        ("GET", "/echo"),
        ("GET", "/status/200"),
        ("GET", "/stream"),
        ("GET", "/data"),
        ("POST", "/upload"),
        ("GET", "/upload"),
        ("GET", "/ws"),
        ("GET", "/metrics"),
    ] {
        let answer = route_with(method, target, None, &only_who, Serving);
        assert_eq!(
            (answer.route, answer.head.status),
            (Route::Other, 404),
            "{method} {target}"
        );
    }
    assert_eq!(
        route_with("GET", "/who", None, &only_who, Serving)
            .head
            .status,
        200
    );
    assert_eq!(text(&get("/metrics")), "the page");
    assert_eq!(get("/metrics").head.content_type, response::PROMETHEUS);
}

#[test]
fn streams_of_events_in_lines_or_sse() {
    let default = get("/stream");
    let events = |answer: &Answer| match &answer.body {
        Body::Events(events) => *events,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        events(&default),
        Events {
            format: stream::Format::Lines,
            count: 10,
            interval: Duration::from_secs(1)
        }
    );
    assert_eq!(default.head.content_type, response::TEXT);
    assert!(default.head.vary_accept);
    let sse = route_with(
        "GET",
        "/stream?count=3&interval=250ms",
        Some("text/event-stream"),
        &ALL_ON,
        Serving,
    );
    assert_eq!(
        events(&sse),
        Events {
            format: stream::Format::Sse,
            count: 3,
            interval: Duration::from_millis(250)
        }
    );
    assert_eq!(sse.head.content_type, "text/event-stream");
    for (target, accept, format) in [
        ("/stream?format=sse", None, stream::Format::Sse),
        ("/stream?format=SSE", None, stream::Format::Sse),
        (
            "/stream?format=text",
            Some("text/event-stream"),
            stream::Format::Lines,
        ),
        (
            "/stream",
            Some("text/html, Text/Event-Stream;q=0.9"),
            stream::Format::Sse,
        ),
        ("/stream", Some("text/*"), stream::Format::Lines),
    ] {
        let answer = route_with("GET", target, accept, &ALL_ON, Serving);
        assert_eq!(events(&answer).format, format, "{target} {accept:?}");
    }
    // The caps: the count, and the stream's length (its first event goes at once).
    assert_eq!(events(&get("/stream?count=1000&interval=0ms")).count, 1000);
    assert_eq!(events(&get("/stream?count=301&interval=1s")).count, 301);
    for (bad, message) in [
        (
            "count=0",
            "count: expected a number of events 1-1000 (--max-stream-events), got \"0\"",
        ),
        (
            "count=1001",
            "count: expected a number of events 1-1000 (--max-stream-events), got \"1001\"",
        ),
        (
            "count=x",
            "count: expected a number of events 1-1000 (--max-stream-events), got \"x\"",
        ),
        // Past u64: refused, not wrapped (nor a panic).
        (
            "count=99999999999999999999",
            "count: expected a number of events 1-1000 (--max-stream-events), got \
             \"99999999999999999999\"",
        ),
        (
            "interval=1",
            "interval: expected a duration such as 250ms or 2s, got \"1\"",
        ),
        (
            "count=302&interval=1s",
            "a stream of 302 events 1s apart lasts 301s, over 300s (--max-stream-duration)",
        ),
    ] {
        let answer = get(&format!("/stream?{bad}"));
        assert_eq!(
            (answer.route, answer.head.status),
            (Route::Stream, 400),
            "{bad}"
        );
        assert_eq!(text(&answer), message);
    }
    assert_eq!(get("/stream?delay=2s").delay, Duration::from_secs(2));
}

#[test]
fn downloads_of_a_size_asked_for() {
    let download = |target: &str| get(target).body;
    assert_eq!(download("/data"), Body::Download(1 << 20));
    assert_eq!(download("/data?size=0"), Body::Download(0));
    assert_eq!(download("/data?size=1500"), Body::Download(1500));
    assert_eq!(download("/data?size=10MiB"), Body::Download(10 << 20));
    assert_eq!(download("/data?size=100mib"), Body::Download(100 << 20));
    assert_eq!(get("/data").head.content_type, "application/octet-stream");
    assert!(!get("/data").head.vary_accept);
    for bad in ["100MiB1", "101MiB", "1.5MiB", "-1", "x"] {
        let answer = get(&format!("/data?size={bad}"));
        assert_eq!(answer.head.status, 400, "{bad}");
        assert_eq!(
            text(&answer),
            format!(
                "size: expected a size such as 1500, 64KiB or 10MiB, at most 100MiB (--max-data), got \"{bad}\""
            )
        );
    }
    // With a smaller cap, the default shrinks to it.
    let small = Settings {
        max_data: 1000,
        ..ALL_ON
    };
    assert_eq!(
        route_with("GET", "/data", None, &small, Serving).body,
        Body::Download(1000)
    );
}

#[test]
fn connection_follows_the_request_and_the_shutdown() {
    let parse = |head: &'static [u8]| match request::parse(head) {
        Ok(Status::Complete(request)) => request,
        other => panic!("{other:?}"),
    };
    let http11 = parse(b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n");
    let close = parse(b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let http10 = parse(b"GET /who HTTP/1.0\r\n\r\n");
    let kept10 = parse(b"GET /who HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(connection(&http11, false), Connection::Persistent);
    assert_eq!(connection(&http11, true), Connection::Close);
    assert_eq!(connection(&close, false), Connection::Close);
    assert_eq!(connection(&http10, false), Connection::Close);
    assert_eq!(connection(&kept10, false), Connection::KeepAlive);
    assert_eq!(connection(&kept10, true), Connection::Close);
}

#[test]
fn hostname_is_the_kernels() {
    let name = hostname();
    assert!(!name.is_empty() && !name.contains(&0));
    let expected = std::fs::read("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(name, expected.trim_ascii_end());
}

/// Routes a whole head, as written (field lines, and a body's framing, included).
fn route_head(head: &str) -> Answer {
    let Ok(Status::Complete(request)) = request::parse(head.as_bytes()) else {
        panic!("{head:?} does not parse")
    };
    route(&request, head.as_bytes(), &ALL_ON, &Fake(Serving))
}

/// RFC 6455 §1.3's example key.
const UPGRADE: &str = "Host: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[test]
fn bodies_go_to_echo_and_upload_by_post_or_put() {
    for method in ["POST", "PUT"] {
        for (target, about) in [
            (
                "/echo",
                AboutBody::Echo {
                    format: Format::Text,
                    show: false,
                },
            ),
            (
                "/echo?body=1",
                AboutBody::Echo {
                    format: Format::Text,
                    show: true,
                },
            ),
            (
                "/echo?body=TRUE",
                AboutBody::Echo {
                    format: Format::Text,
                    show: true,
                },
            ),
            (
                "/echo?body=0",
                AboutBody::Echo {
                    format: Format::Text,
                    show: false,
                },
            ),
            ("/upload", AboutBody::Upload(Format::Text)),
            ("/upload?format=json", AboutBody::Upload(Format::Json)),
        ] {
            let answer = route_head(&format!(
                "{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n"
            ));
            assert_eq!(
                (answer.head.status, answer.body),
                (200, Body::AboutBody(about)),
                "{method} {target}"
            );
        }
    }
    // An upload without a body is answered about its empty body all the same.
    let answer = route_head("POST /upload HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        answer.body,
        Body::AboutBody(AboutBody::Upload(Format::Text))
    );
}

#[test]
fn ws_answers_the_handshake_with_a_greeting_if_asked() {
    for (query, greeting) in [
        ("", None),
        ("?greeting=text", Some("echo Text")),
        ("?greeting=JSON", Some("echo Json")),
    ] {
        let head = format!("GET /ws{query} HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\r\n");
        let answer = route_head(&head);
        let Body::Upgrade(upgrade) = &answer.body else {
            panic!("{query}: {answer:?}")
        };
        assert_eq!(&upgrade.accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(upgrade.head, head.as_bytes());
        // The fake's echo: "echo FORMAT of N bytes", of the whole upgrade request.
        let expected = greeting.map(|g| format!("{g} of {} bytes", head.len()).into_bytes());
        assert_eq!(upgrade.greeting, expected, "{query}");
    }
}

#[test]
fn ws_refusals_close_and_a_wrong_version_says_which_it_takes() {
    let version = route_head(&format!(
        "GET /ws HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Version: 8\r\n\r\n"
    ));
    assert_eq!(
        (
            version.head.status,
            version.head.connection,
            version.head.field
        ),
        (426, Connection::Close, Some(handshake::VERSION_FIELD))
    );
    // Any method reaches the handshake, which names what is wrong: not a 405.
    for head in [
        format!(
            "POST /ws HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
        ),
        "GET /ws HTTP/1.1\r\nHost: t\r\n\r\n".to_string(),
        format!("GET /ws?greeting=yaml HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\r\n"),
    ] {
        let answer = route_head(&head);
        assert_eq!(
            (
                answer.route,
                answer.head.status,
                answer.head.connection,
                answer.head.field
            ),
            (Route::WebSocket, 400, Connection::Close, None),
            "{head:?}: {}",
            text(&answer)
        );
    }
}

#[test]
fn a_stream_format_asked_for_beats_accept_unless_unknown() {
    let sse = Some("text/event-stream");
    for (target, accept, format) in [
        ("/stream?format=text", sse, stream::Format::Lines),
        ("/stream?format=TEXT", sse, stream::Format::Lines),
        ("/stream?format=sse", None, stream::Format::Sse),
        ("/stream?format=bogus", sse, stream::Format::Sse),
        ("/stream?format=bogus", None, stream::Format::Lines),
    ] {
        let answer = route_with("GET", target, accept, &ALL_ON, Serving);
        let Body::Events(events) = answer.body else {
            panic!("{target}: {answer:?}")
        };
        assert_eq!(events.format, format, "{target} {accept:?}");
    }
}

#[test]
fn digits_are_plain_and_at_most_fifteen() {
    assert_eq!(digits(b"0"), Some(0));
    assert_eq!(digits(b"007"), Some(7));
    assert_eq!(digits(b"999999999999999"), Some(999_999_999_999_999));
    for bad in [
        &b""[..],
        b"9999999999999999",
        b"+1",
        b"1 ",
        b"1e3",
        b"\xd9\xa1",
    ] {
        assert_eq!(digits(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}
