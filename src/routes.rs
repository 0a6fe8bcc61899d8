//! The routes: what `who` answers, decided from the request and the few facts a route asks of
//! the server (`Facts`: readiness, the echo of the request, the metrics page). Nothing here
//! reads the environment, the file system or the clock.

use std::time::Duration;

use crate::duration::{parse_duration, show_duration};
use crate::echo::Format;
use crate::http::head;
use crate::http::query;
use crate::http::request::Request;
use crate::http::response::{self, Connection, reason_phrase};

/// Which route answered: a fixed set, so that the metrics' labels are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Who,
    Healthz,
    Echo,
    Status,
    Metrics,
    /// Any other path: 404.
    Other,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::Who,
        Route::Healthz,
        Route::Echo,
        Route::Status,
        Route::Metrics,
        Route::Other,
    ];

    /// The status the route usually answers, whose count the metrics page always shows (at
    /// 0 from the start, so that a `rate()` over it starts at once).
    pub fn usual_status(self) -> u16 {
        match self {
            Route::Other => 404,
            _ => 200,
        }
    }

    /// The metrics' label value.
    pub fn label(self) -> &'static str {
        match self {
            Route::Who => "who",
            Route::Healthz => "healthz",
            Route::Echo => "echo",
            Route::Status => "status",
            Route::Metrics => "metrics",
            Route::Other => "other",
        }
    }
}

/// What an answer's body is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// The host's name as it is when the answer is written, exactly (no newline: the bytes the
    /// original Go server sends).
    Hostname,
    Text(&'static str),
    /// Written for this request: a `/status` line, an error naming the value given, an echo,
    /// the metrics page.
    Owned(Vec<u8>),
}

/// The answer to one request: its head, its body, and how long to hold it (`?delay=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub route: Route,
    pub head: response::Head,
    pub body: Body,
    pub delay: Duration,
}

impl Answer {
    /// `status` with `body`, in plain text.
    fn new(route: Route, status: u16, body: Body) -> Answer {
        Answer::typed(route, status, response::TEXT, body)
    }

    fn typed(route: Route, status: u16, content_type: &'static str, body: Body) -> Answer {
        Answer {
            route,
            head: response::Head {
                // Only `/echo` depends on the request's `Accept`.
                vary_accept: route == Route::Echo,
                ..response::Head::new(status, content_type)
            },
            body,
            delay: Duration::ZERO,
        }
    }

    /// The answer to a plain `GET /who` on a persistent connection: the one a load balancer
    /// asks for all day, which the server pre-renders (and a test holds to `route`'s).
    pub fn who() -> Answer {
        Answer::new(Route::Who, 200, Body::Hostname)
    }
}

/// What `/healthz` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Serving,
    /// SIGUSR1 made the replica unready on purpose; SIGUSR2 makes it ready again.
    NotReady,
    /// SIGTERM has come: draining or stopping.
    ShuttingDown,
}

/// What the routes ask of the server: the facts a request alone does not tell.
pub trait Facts {
    fn health(&self) -> Health;
    /// The request whose head is `head`, as received, in `format` (see `echo`).
    fn echo(&self, format: Format, head: &[u8]) -> Vec<u8>;
    /// The metrics page (see `metrics`).
    fn metrics_page(&self) -> Vec<u8>;
}

/// The settings the routes read.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `/echo` and `/status/NNN` are served.
    pub echo: bool,
    /// `/metrics` is served.
    pub metrics: bool,
    pub max_delay: Duration,
}

/// The longest piece of a request quoted back in an error.
const QUOTED: usize = 64;

/// `"value"`, cut at `QUOTED` bytes; the request's target is visible ASCII, so this is too.
fn quote(value: &[u8]) -> String {
    let shown = String::from_utf8_lossy(&value[..value.len().min(QUOTED)]);
    let more = if value.len() > QUOTED { "..." } else { "" };
    format!("{shown:?}{more}")
}

/// Routes by path (the query matters only for `?delay=` and `/echo`'s `?format=`), then by
/// method. `head` is the request's head as received, read only by `/echo`.
///
/// - `/who`: the host name. `/healthz`: `ok`; `503` after SIGUSR1 or once shutdown has begun,
///   so that a load balancer stops sending here.
/// - `/echo` (unless `--echo off`): the request as received, in text or JSON.
/// - `/status/NNN` (unless `--echo off`): status NNN, 200-599.
/// - `/metrics` (with `--metrics`): the metrics page.
/// - `?delay=DURATION` holds the answer of `/who`, `/echo` and `/status/NNN`.
/// - A known path with a method other than GET or HEAD: 405. Anything else: 404.
///
/// The answer's `Connection` and HEAD handling are the server's to set.
pub fn route(request: &Request, head: &[u8], settings: &Settings, facts: &impl Facts) -> Answer {
    let path = request.path();
    let known = match path {
        Some(b"/who") => Route::Who,
        Some(b"/healthz") => Route::Healthz,
        Some(b"/echo") if settings.echo => Route::Echo,
        Some(p) if settings.echo && p.starts_with(b"/status/") => Route::Status,
        Some(b"/metrics") if settings.metrics => Route::Metrics,
        _ => {
            return Answer::new(Route::Other, 404, Body::Text("not found: try /who"));
        }
    };
    if !matches!(request.method, b"GET" | b"HEAD") {
        let mut answer = Answer::new(
            known,
            405,
            Body::Text("method not allowed: use GET or HEAD"),
        );
        answer.head.allow = true;
        return answer;
    }
    match known {
        Route::Healthz => {
            return match facts.health() {
                Health::Serving => Answer::new(known, 200, Body::Text("ok")),
                Health::NotReady => Answer::new(
                    known,
                    503,
                    Body::Text("not ready (SIGUSR1; SIGUSR2 makes it ready)"),
                ),
                Health::ShuttingDown => Answer::new(known, 503, Body::Text("shutting down")),
            };
        }
        Route::Metrics => {
            return Answer::typed(
                known,
                200,
                response::PROMETHEUS,
                Body::Owned(facts.metrics_page()),
            );
        }
        _ => {}
    }
    let status = match path.and_then(|p| p.strip_prefix(b"/status/")) {
        Some(code) if known == Route::Status => match status_code(code) {
            Some(status) => status,
            None => {
                let message = format!(
                    "/status/NNN: expected a status code 200-599, got {}",
                    quote(code)
                );
                return Answer::new(known, 400, Body::Owned(message.into_bytes()));
            }
        },
        _ => 200,
    };
    // Checked before an echo is rendered: a refused delay renders nothing.
    let delay = match requested_delay(request, path, settings) {
        Ok(delay) => delay,
        Err(message) => return Answer::new(known, 400, Body::Owned(message.into_bytes())),
    };
    let mut answer = match known {
        Route::Echo => {
            let format = Format::requested(&head::read(head));
            let body = Body::Owned(facts.echo(format, head));
            Answer::typed(known, 200, format.content_type(), body)
        }
        Route::Status => {
            let line = match reason_phrase(status) {
                "" => status.to_string(),
                phrase => format!("{status} {phrase}"),
            };
            Answer::new(known, status, Body::Owned(line.into_bytes()))
        }
        // `/who`: the other routes were answered above.
        _ => Answer::new(known, 200, Body::Hostname),
    };
    answer.delay = delay;
    answer
}

/// The `?delay=` asked for, zero without one; an error message naming the value when it is
/// malformed or over `--max-delay`.
fn requested_delay(
    request: &Request,
    path: Option<&[u8]>,
    settings: &Settings,
) -> Result<Duration, String> {
    // A target no longer than its path has no query (`GET /who`): no need to look for one.
    if request.target.len() <= path.map_or(0, <[u8]>::len) {
        return Ok(Duration::ZERO);
    }
    let Some(value) = query::param(request.target, b"delay") else {
        return Ok(Duration::ZERO);
    };
    match parse_duration(value) {
        Some(delay) if delay <= settings.max_delay => Ok(delay),
        _ => Err(format!(
            "delay: expected a duration such as 250ms or 2s, at most {} (--max-delay), got {}",
            show_duration(settings.max_delay),
            quote(value)
        )),
    }
}

/// `NNN`, three digits, 200-599.
fn status_code(digits: &[u8]) -> Option<u16> {
    let [a, b, c] = digits else {
        return None;
    };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) {
        return None;
    }
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    (200..=599).contains(&code).then_some(code)
}

/// The host's name now; `unknown` if the kernel will not say (as the Go original does).
pub fn hostname() -> Vec<u8> {
    crate::sys::hostname().unwrap_or_else(|_| b"unknown".to_vec())
}

/// The `Connection` of an answer: closing when the client asked, or when the server is
/// shutting down; `keep-alive` spelled out for an HTTP/1.0 client that asked for it.
pub fn connection(request: &Request, shutting_down: bool) -> Connection {
    if !request.keep_alive || shutting_down {
        Connection::Close
    } else if request.minor_version == 0 {
        Connection::KeepAlive
    } else {
        Connection::Persistent
    }
}

#[cfg(test)]
mod tests {
    use super::Health::{NotReady, Serving, ShuttingDown};
    use super::*;
    use crate::http::Status;
    use crate::http::request;

    const ALL_ON: Settings = Settings {
        echo: true,
        metrics: true,
        max_delay: Duration::from_secs(10),
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
            (Connection::Persistent, false, false, false)
        );
    }

    #[test]
    fn methods_and_unknown_paths() {
        let post = route_with("POST", "/who", None, &ALL_ON, Serving);
        assert_eq!(
            (post.route, post.head.status, post.head.allow),
            (Route::Who, 405, true)
        );
        for target in ["/healthz", "/echo", "/status/200", "/metrics"] {
            let answer = route_with("DELETE", target, None, &ALL_ON, Serving);
            assert_eq!(
                (answer.head.status, answer.head.allow),
                (405, true),
                "{target}"
            );
        }
        for path in [
            "/", "/who/", "/WHO", "//who", "/who%20", "/echo/", "/status",
        ] {
            let answer = get(path);
            assert_eq!(
                (answer.route, answer.head.status, answer.head.allow),
                (Route::Other, 404, false),
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
            max_delay: Duration::from_secs(10),
        };
        for target in ["/echo", "/status/200", "/metrics"] {
            let answer = route_with("GET", target, None, &only_who, Serving);
            assert_eq!(
                (answer.route, answer.head.status),
                (Route::Other, 404),
                "{target}"
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
}
