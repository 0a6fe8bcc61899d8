//! The routes: what `who` answers, decided from the request alone. Nothing here reads the
//! environment or the file system; the server renders what a reply names (the host name, an
//! echo of the request, the metrics page).

use std::time::Duration;

use crate::config::Config;
use crate::echo::Format;
use crate::http::head;
use crate::http::query;
use crate::http::request::Request;
use crate::http::response::reason_phrase;

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

/// What an answer says: its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The host's name, exactly (no newline: the bytes the original Go server sends).
    Hostname,
    Text(&'static str),
    /// Written for this request: a `/status` line, an error naming the value given.
    Message(String),
    /// The request as received, in this form.
    Echo(Format),
    /// The metrics page.
    Metrics,
}

/// The answer to one request, before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub route: Route,
    pub status: u16,
    pub content: Content,
    /// 405 names the methods that work: `Allow: GET, HEAD`.
    pub allow: bool,
    /// Hold the answer this long (`?delay=`).
    pub delay: Duration,
}

impl Reply {
    fn new(route: Route, status: u16, content: Content) -> Reply {
        Reply {
            route,
            status,
            content,
            allow: false,
            delay: Duration::ZERO,
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(&self) -> &'static str {
        match self.content {
            Content::Echo(format) => format.content_type(),
            Content::Metrics => crate::metrics::CONTENT_TYPE,
            _ => "text/plain; charset=utf-8",
        }
    }

    /// The answer depends on the `Accept` field: `Vary: Accept`.
    pub fn varies_with_accept(&self) -> bool {
        self.route == Route::Echo
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

/// The settings the routes read.
#[derive(Clone, Debug)]
pub struct Routes {
    /// `/echo` and `/status/NNN` are served.
    pub echo: bool,
    /// `/metrics` is served.
    pub metrics: bool,
    pub max_delay: Duration,
}

impl Routes {
    pub fn new(config: &Config) -> Routes {
        Routes {
            echo: config.echo,
            metrics: config.metrics,
            max_delay: config.max_delay,
        }
    }
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
/// method. `head` is the request's head as received, read only by `/echo`; `health` is asked
/// only by `/healthz`.
///
/// - `/who`: the host name. `/healthz`: `ok`; `503` after SIGUSR1 or once shutdown has begun,
///   so that a load balancer stops sending here.
/// - `/echo` (unless `--echo off`): the request as received, in text or JSON.
/// - `/status/NNN` (unless `--echo off`): status NNN, 200-599.
/// - `/metrics` (with `--metrics`): the metrics page.
/// - `?delay=DURATION` holds the answer of `/who`, `/echo` and `/status/NNN`.
/// - A known path with a method other than GET or HEAD: 405. Anything else: 404.
pub fn route(
    request: &Request,
    head: &[u8],
    routes: &Routes,
    health: impl FnOnce() -> Health,
) -> Reply {
    let path = request.path();
    let known = match path {
        Some(b"/who") => Route::Who,
        Some(b"/healthz") => Route::Healthz,
        Some(b"/echo") if routes.echo => Route::Echo,
        Some(p) if routes.echo && p.starts_with(b"/status/") => Route::Status,
        Some(b"/metrics") if routes.metrics => Route::Metrics,
        _ => {
            return Reply::new(Route::Other, 404, Content::Text("not found: try /who"));
        }
    };
    if !matches!(request.method, b"GET" | b"HEAD") {
        return Reply {
            allow: true,
            ..Reply::new(
                known,
                405,
                Content::Text("method not allowed: use GET or HEAD"),
            )
        };
    }
    let mut reply = match known {
        Route::Who => Reply::new(known, 200, Content::Hostname),
        Route::Healthz => {
            return match health() {
                Health::Serving => Reply::new(known, 200, Content::Text("ok")),
                Health::NotReady => Reply::new(
                    known,
                    503,
                    Content::Text("not ready (SIGUSR1; SIGUSR2 makes it ready)"),
                ),
                Health::ShuttingDown => Reply::new(known, 503, Content::Text("shutting down")),
            };
        }
        Route::Echo => Reply::new(
            known,
            200,
            Content::Echo(Format::requested(&head::read(head))),
        ),
        Route::Status => {
            let code = &path.unwrap_or_default()[b"/status/".len()..];
            match status_code(code) {
                Some(status) => {
                    let line = match reason_phrase(status) {
                        "" => status.to_string(),
                        phrase => format!("{status} {phrase}"),
                    };
                    Reply::new(known, status, Content::Message(line))
                }
                None => {
                    return Reply::new(
                        known,
                        400,
                        Content::Message(format!(
                            "/status/NNN: expected a status code 200-599, got {}",
                            quote(code)
                        )),
                    );
                }
            }
        }
        Route::Metrics => return Reply::new(known, 200, Content::Metrics),
        Route::Other => unreachable!("answered 404 above"),
    };
    // A target no longer than its path has no query (`GET /who`): no need to look for one.
    let has_query = request.target.len() > path.map_or(0, <[u8]>::len);
    let delay = if has_query {
        query::param(request.target, b"delay")
    } else {
        None
    };
    if let Some(value) = delay {
        match parse_duration(value) {
            Some(delay) if delay <= routes.max_delay => reply.delay = delay,
            _ => {
                return Reply::new(
                    known,
                    400,
                    Content::Message(format!(
                        "delay: expected a duration such as 250ms or 2s, at most {} \
                         (--max-delay), got {}",
                        show_duration(routes.max_delay),
                        quote(value)
                    )),
                );
            }
        }
    }
    reply
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

/// A duration as `?delay=` and `--max-delay` take it: whole milliseconds (`250ms`) or seconds
/// (`2s`), at most 9 digits.
pub fn parse_duration(text: &[u8]) -> Option<Duration> {
    let (digits, unit) = if let Some(ms) = text.strip_suffix(b"ms") {
        (ms, Duration::from_millis(1))
    } else {
        (text.strip_suffix(b"s")?, Duration::from_secs(1))
    };
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    Some(unit * n)
}

/// `10s`, or `250ms` when not whole seconds: what `parse_duration` reads back.
pub fn show_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The host's name now; `unknown` if the kernel will not say (as the Go original does).
pub fn hostname() -> Vec<u8> {
    crate::sys::hostname().unwrap_or_else(|_| b"unknown".to_vec())
}

#[cfg(test)]
mod tests {
    use super::Health::{NotReady, Serving, ShuttingDown};
    use super::*;
    use crate::http::Status;
    use crate::http::request;

    const ALL_ON: Routes = Routes {
        echo: true,
        metrics: true,
        max_delay: Duration::from_secs(10),
    };

    /// Routes `METHOD TARGET` with the given `Accept`, if any.
    fn route_with(
        method: &str,
        target: &str,
        accept: Option<&str>,
        routes: &Routes,
        health: Health,
    ) -> Reply {
        let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
        let head = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{accept}\r\n");
        let Ok(Status::Complete(request)) = request::parse(head.as_bytes()) else {
            panic!("{head:?} does not parse")
        };
        route(&request, head.as_bytes(), routes, || health)
    }

    fn get(target: &str) -> Reply {
        route_with("GET", target, None, &ALL_ON, Serving)
    }

    #[test]
    fn who_and_healthz() {
        assert_eq!(get("/who"), Reply::new(Route::Who, 200, Content::Hostname));
        assert_eq!(get("/who?x=1").content, Content::Hostname);
        assert_eq!(get("http://h/who").content, Content::Hostname);
        assert_eq!(
            route_with("HEAD", "/who", None, &ALL_ON, ShuttingDown).status,
            200
        );
        assert_eq!(
            get("/healthz"),
            Reply::new(Route::Healthz, 200, Content::Text("ok"))
        );
        for health in [NotReady, ShuttingDown] {
            let reply = route_with("GET", "/healthz", None, &ALL_ON, health);
            assert_eq!((reply.route, reply.status), (Route::Healthz, 503));
        }
        assert_ne!(
            route_with("GET", "/healthz", None, &ALL_ON, NotReady).content,
            route_with("GET", "/healthz", None, &ALL_ON, ShuttingDown).content,
            "the body says why"
        );
        // /healthz takes no delay: a balancer's probe must be answered at once.
        assert_eq!(get("/healthz?delay=5s").delay, Duration::ZERO);
    }

    #[test]
    fn methods_and_unknown_paths() {
        let post = route_with("POST", "/who", None, &ALL_ON, Serving);
        assert_eq!(
            (post.route, post.status, post.allow),
            (Route::Who, 405, true)
        );
        for target in ["/healthz", "/echo", "/status/200", "/metrics"] {
            let reply = route_with("DELETE", target, None, &ALL_ON, Serving);
            assert_eq!((reply.status, reply.allow), (405, true), "{target}");
        }
        for path in [
            "/", "/who/", "/WHO", "//who", "/who%20", "/echo/", "/status",
        ] {
            let reply = get(path);
            assert_eq!((reply.route, reply.status), (Route::Other, 404), "{path}");
        }
        let options = route_with("OPTIONS", "*", None, &ALL_ON, Serving);
        assert_eq!((options.route, options.status), (Route::Other, 404));
    }

    #[test]
    fn echo_in_text_or_json() {
        assert_eq!(get("/echo").content, Content::Echo(Format::Text));
        assert_eq!(
            get("/echo#?format=json").content,
            Content::Echo(Format::Text)
        );
        assert_eq!(
            get("/echo?format=json").content,
            Content::Echo(Format::Json)
        );
        let json = route_with("GET", "/echo", Some("application/json"), &ALL_ON, Serving);
        assert_eq!(json.content, Content::Echo(Format::Json));
        assert_eq!(json.content_type(), "application/json");
        assert!(json.varies_with_accept());
        let text = route_with("GET", "/echo", Some("text/plain, */*"), &ALL_ON, Serving);
        assert_eq!(text.content_type(), "text/plain; charset=utf-8");
        assert!(text.varies_with_accept());
        assert!(!get("/who").varies_with_accept());
    }

    #[test]
    fn status_codes() {
        let reply = get("/status/418");
        assert_eq!((reply.route, reply.status), (Route::Status, 418));
        assert_eq!(reply.content, Content::Message("418".to_string()));
        assert_eq!(
            get("/status/503").content,
            Content::Message("503 Service Unavailable".to_string())
        );
        assert_eq!(get("/status/200").status, 200);
        assert_eq!(get("/status/599").status, 599);
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
            let reply = get(&format!("/status/{bad}"));
            assert_eq!((reply.route, reply.status), (Route::Status, 400), "{bad}");
            let Content::Message(message) = &reply.content else {
                panic!("{bad}: {reply:?}")
            };
            assert!(message.ends_with(&format!("got \"{bad}\"")), "{message}");
        }
        let long = "9".repeat(200);
        let Content::Message(message) = get(&format!("/status/{long}")).content else {
            panic!()
        };
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
        assert_eq!(get("/status/503?delay=10s").status, 503);
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
            let reply = get(&format!("/who?delay={bad}"));
            assert_eq!((reply.status, reply.delay), (400, Duration::ZERO), "{bad}");
            let Content::Message(message) = &reply.content else {
                panic!()
            };
            assert!(message.contains("at most 10s (--max-delay)"), "{message}");
            assert!(message.ends_with(&format!("got \"{bad}\"")), "{message}");
        }
        // A fragment is ignored, a `?` inside it too: no client sends one, and no part of it
        // can ask for anything.
        assert_eq!(get("/who#?delay=2s").delay, Duration::ZERO);
        assert_eq!(get("/who#?delay=2s").status, 200);
        assert_eq!(get("/who?delay=1s#x").delay, Duration::from_secs(1));
        // A 405 or a 404 is never held.
        let post = route_with("POST", "/who?delay=1s", None, &ALL_ON, Serving);
        assert_eq!((post.status, post.delay), (405, Duration::ZERO));
        assert_eq!(get("/nope?delay=1s").delay, Duration::ZERO);
    }

    #[test]
    fn switched_off_routes_are_404() {
        let only_who = Routes {
            echo: false,
            metrics: false,
            max_delay: Duration::from_secs(10),
        };
        for target in ["/echo", "/status/200", "/metrics"] {
            let reply = route_with("GET", target, None, &only_who, Serving);
            assert_eq!((reply.route, reply.status), (Route::Other, 404), "{target}");
        }
        assert_eq!(
            route_with("GET", "/who", None, &only_who, Serving).status,
            200
        );
        assert_eq!(get("/metrics").content, Content::Metrics);
        assert_eq!(get("/metrics").content_type(), crate::metrics::CONTENT_TYPE);
    }

    #[test]
    fn durations_read_back_as_shown() {
        for (text, duration) in [
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("0ms", Duration::ZERO),
            ("999999999ms", Duration::from_millis(999_999_999)),
        ] {
            assert_eq!(parse_duration(text.as_bytes()), Some(duration), "{text}");
        }
        for duration in [Duration::from_secs(10), Duration::from_millis(1500)] {
            assert_eq!(
                parse_duration(show_duration(duration).as_bytes()),
                Some(duration)
            );
        }
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn hostname_is_the_kernels() {
        let name = hostname();
        assert!(!name.is_empty() && !name.contains(&0));
        let expected = std::fs::read("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(name, expected.trim_ascii_end());
    }
}
