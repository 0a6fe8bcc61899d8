//! What the connections of one worker share: the settings, the clock, the host name, the
//! buffer answers are assembled in, the access log, and the worker's counters.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Shared;
use crate::config::{AccessLog, Config};
use crate::echo::{self, Echo, Format};
use crate::http::head;
use crate::http::request::{Framing, Request};
use crate::http::response::{Connection, Response, TEXT};
use crate::metrics::{self, Counters, Gauges};
use crate::who::{self, Health, Route, Routes};

/// The worker's clock: one read per turn of its loop. The wall clock is read again only when
/// the monotonic one says its second may have changed, and then the `Date` value and the
/// access log's date are renewed, so neither is ever more than a second stale.
pub(crate) struct Clock {
    pub now: Instant,
    /// When the wall clock's next second is due, by the monotonic clock.
    next_second: Instant,
    unix_second: u64,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    pub date: [u8; 29],
    /// `06/Nov/1994:08:49:37 +0000`
    pub log_date: [u8; 26],
}

impl Clock {
    pub fn new() -> Clock {
        let now = Instant::now();
        let mut clock = Clock {
            now,
            next_second: now,
            unix_second: u64::MAX,
            date: [0; 29],
            log_date: [0; 26],
        };
        clock.read_wall_clock();
        clock
    }

    /// Reads the time; returns true when the wall clock's second has changed.
    pub fn tick(&mut self) -> bool {
        self.now = Instant::now();
        self.now >= self.next_second && self.read_wall_clock()
    }

    fn read_wall_clock(&mut self) -> bool {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let to_next =
            Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
        self.next_second = self.now + to_next;
        let second = since_epoch.as_secs();
        if second == self.unix_second {
            return false;
        }
        self.unix_second = second;
        self.date = crate::http::date::http_date(second);
        self.log_date = crate::http::date::log_date(second);
        true
    }
}

/// The settings a connection reads.
pub(crate) struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub access_log: AccessLog,
    pub proxy_protocol: bool,
    pub routes: Routes,
    name: Option<String>,
    echo_hide: Vec<String>,
}

/// The body of an answer, decided when the request's head arrived.
#[derive(Debug)]
pub(crate) enum Body {
    /// The host name as it is when the answer is written.
    Hostname,
    Text(&'static str),
    /// Rendered from the request (an echo, a message) or the counters (the metrics page).
    Owned(Vec<u8>),
}

/// An answer decided when its head arrived, written once the request's body has been read
/// (and its delay has passed).
#[derive(Debug)]
pub(crate) struct Owed {
    pub status: u16,
    pub body: Body,
    pub content_type: &'static str,
    pub vary_accept: bool,
    pub allow: bool,
    pub head_only: bool,
    pub connection: Connection,
    pub delay: Duration,
}

/// Who is at the other end of a connection, for `/echo` and the access log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peers {
    /// The client: the socket's peer, or the source a PROXY protocol header gave.
    pub client: SocketAddr,
    /// The socket's peer when a PROXY protocol header gave the client: the proxy itself.
    pub proxy: Option<SocketAddr>,
    /// The connection's address on our side.
    pub local: SocketAddr,
}

pub(crate) struct Context {
    pub settings: Settings,
    pub clock: Clock,
    shared: Arc<Shared>,
    /// This worker's index in `shared.counters`.
    worker: usize,
    /// The host's name, read again when the clock's second changes.
    hostname: Vec<u8>,
    /// The answer to `GET /who` on a persistent HTTP/1.1 connection, the one that counts, ready
    /// to copy: rendered again when the second (its `Date`) or the host name changes.
    who_answer: Vec<u8>,
    /// Answers being assembled, written to the socket once per read.
    pub batch: Vec<u8>,
    /// Access log lines, written to stdout once per turn of the loop.
    pub log: Vec<u8>,
    /// Shutdown has begun (the drain window, then the stop): every answer closes its
    /// connection and `/healthz` answers 503.
    pub shutting_down: bool,
    /// The stop has begun, after the drain window: answers are no longer held by a delay.
    /// (Within the window a delay is kept, so that a client testing a timeout during a
    /// rollout sees it; its answer closes the connection.)
    pub stopping: bool,
    /// The earliest end of a delay begun since the worker last asked: the one deadline that
    /// can fall before the next scan (the timeouts are a second or more).
    delay_end: Option<Instant>,
}

impl Context {
    pub fn new(config: &Config, shared: Arc<Shared>, worker: usize) -> Context {
        let mut ctx = Context {
            settings: Settings {
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
                access_log: config.access_log,
                proxy_protocol: config.proxy_protocol,
                routes: Routes::new(config),
                name: config.name.clone(),
                echo_hide: config.echo_hide.clone(),
            },
            clock: Clock::new(),
            shared,
            worker,
            hostname: Vec::new(),
            who_answer: Vec::new(),
            batch: Vec::with_capacity(super::worker::READ_BUFFER),
            log: Vec::new(),
            shutting_down: false,
            stopping: false,
            delay_end: None,
        };
        ctx.renew();
        ctx
    }

    /// Reads the clock; once a second, the host name too.
    pub fn tick(&mut self) {
        if self.clock.tick() {
            self.renew();
        }
    }

    fn renew(&mut self) {
        self.hostname = who::hostname();
        self.who_answer.clear();
        let response = Response {
            status: 200,
            content_type: TEXT,
            body: &self.hostname,
            head_only: false,
            allow: false,
            vary_accept: false,
            connection: Connection::Persistent,
        };
        response.write_to(&mut self.who_answer, &self.clock.date);
    }

    /// A delay begins, to end at `end`.
    pub fn delay_until(&mut self, end: Instant) {
        self.delay_end = Some(self.delay_end.map_or(end, |earliest| earliest.min(end)));
        self.counters().delayed_answers.add(1);
    }

    /// The earliest end of the delays begun since the last call, if any.
    pub fn take_delay_end(&mut self) -> Option<Instant> {
        self.delay_end.take()
    }

    /// This worker's counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters[self.worker]
    }

    pub fn health(&self) -> Health {
        if self.shutting_down {
            Health::ShuttingDown
        } else if !self.shared.is_ready() {
            Health::NotReady
        } else {
            Health::Serving
        }
    }

    /// The bytes of a body.
    pub fn body<'a>(&'a self, body: &'a Body) -> &'a [u8] {
        body_bytes(&self.hostname, body)
    }

    /// The echo of a request whose head is `head`, as received. (Out of line, as `metrics_page`
    /// and `log`: rare work, kept out of the code the request path inlines.)
    #[inline(never)]
    pub fn echo(&self, format: Format, head: &[u8], peers: &Peers) -> Vec<u8> {
        let echo = Echo {
            hostname: &self.hostname,
            name: self.settings.name.as_deref(),
            version: env!("CARGO_PKG_VERSION"),
            remote: peers.client,
            proxy: peers.proxy,
            local: peers.local,
            head: head::read(head),
            hide: &self.settings.echo_hide,
        };
        let mut out = Vec::with_capacity(1024 + 2 * head.len());
        echo.write(format, &mut out);
        out
    }

    /// The metrics page: every worker's counters summed.
    #[inline(never)]
    pub fn metrics_page(&self) -> Vec<u8> {
        let gauges = Gauges {
            connections_open: self.shared.connections_open() as u64,
            ready: self.health() == Health::Serving,
            start_time: self.shared.start_time,
        };
        let mut out = Vec::with_capacity(4096);
        metrics::render(&mut out, &self.shared.counters, &gauges);
        out
    }

    /// The tutorial's request, and nearly every load balancer's: `GET /who` on a keep-alive
    /// HTTP/1.1 connection, no query, no body, nothing to log, not shutting down. Its answer is
    /// the router's (a 200 with the host name, see `who::route`) and is pre-rendered, so the
    /// connection copies it without asking the router: about 200 instructions a request.
    pub fn is_plain_who(&self, request: &Request) -> bool {
        request.target == b"/who"
            && request.method == b"GET"
            && request.minor_version == 1
            && request.keep_alive
            && request.framing == Framing::None
            && !self.shutting_down
            && self.settings.access_log == AccessLog::Off
    }

    /// Appends the answer to a plain `GET /who` (see `is_plain_who`), and counts it.
    pub fn write_who_answer(&mut self) {
        self.counters().request(Route::Who, 200);
        self.batch.extend_from_slice(&self.who_answer);
    }

    /// Appends the answer to `batch`.
    pub fn write_answer(&mut self, owed: &Owed) {
        let response = Response {
            status: owed.status,
            content_type: owed.content_type,
            body: body_bytes(&self.hostname, &owed.body),
            head_only: owed.head_only,
            allow: owed.allow,
            vary_accept: owed.vary_accept,
            connection: owed.connection,
        };
        response.write_to(&mut self.batch, &self.clock.date);
    }

    /// One access log line, in the Common Log Format (`127.0.0.1 - - [date] "GET /who
    /// HTTP/1.1" 200 12`) or the Combined one (the same, then `"Referer" "User-Agent"`).
    /// `head` is the request's head as received, or `None` for a request refused before it
    /// was understood (shown as `"-"`). Bytes that could break a quoted field (`"`, controls,
    /// bytes ≥ 0x80) are written `\xHH`, as nginx does, and a backslash `\\`.
    #[inline(never)]
    pub fn log(&mut self, client: SocketAddr, head: Option<&[u8]>, status: u16, bytes: usize) {
        let _ = write!(self.log, "{} - - [", client.ip());
        self.log.extend_from_slice(&self.clock.log_date);
        self.log.extend_from_slice(b"] \"");
        let head = head.map(head::read);
        match &head {
            Some(head) => log_escaped(&mut self.log, head.request_line),
            None => self.log.push(b'-'),
        }
        let _ = write!(self.log, "\" {status} {bytes}");
        if self.settings.access_log == AccessLog::Combined {
            for name in [&b"referer"[..], b"user-agent"] {
                self.log.extend_from_slice(b" \"");
                match head.as_ref().and_then(|h| h.values(name).next()) {
                    Some(value) => log_escaped(&mut self.log, value),
                    None => self.log.push(b'-'),
                }
                self.log.push(b'"');
            }
        }
        self.log.push(b'\n');
    }
}

fn body_bytes<'a>(hostname: &'a [u8], body: &'a Body) -> &'a [u8] {
    match body {
        Body::Hostname => hostname,
        Body::Text(text) => text.as_bytes(),
        Body::Owned(bytes) => bytes,
    }
}

/// Visible ASCII but `"` as itself; the rest escaped (see `Context::log`).
fn log_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    echo::push_escaped(out, bytes, |b| {
        b.is_ascii_graphic() && b != b'"' || b == b' '
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(config: &Config) -> Context {
        Context::new(config, Arc::new(Shared::new(1)), 0)
    }

    #[test]
    fn the_clock_renews_the_date_when_the_second_changes() {
        let mut clock = Clock::new();
        let first = clock.date;
        assert!(first.ends_with(b" GMT"));
        // Within the same second nothing changes; across a second boundary the date does.
        let until_next = clock.next_second.saturating_duration_since(Instant::now());
        std::thread::sleep(until_next + Duration::from_millis(5));
        assert!(clock.tick(), "the second changed");
        assert_ne!(clock.date, first);
        assert!(!clock.tick(), "still the same second");
    }

    fn owed(body: Body, head_only: bool, connection: Connection) -> Owed {
        Owed {
            status: 200,
            body,
            content_type: TEXT,
            vary_accept: false,
            allow: false,
            head_only,
            connection,
            delay: Duration::ZERO,
        }
    }

    #[test]
    fn a_plain_get_who_is_answered_as_the_router_answers_it() {
        use crate::http::Status;
        use crate::http::request::parse;
        let mut ctx = context(&Config::default());
        let head = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
        let Ok(Status::Complete(request)) = parse(head) else {
            panic!()
        };
        assert!(ctx.is_plain_who(&request));
        let reply = who::route(&request, head, &ctx.settings.routes, || Health::Serving);
        assert_eq!(
            (reply.route, reply.status, &reply.content, reply.delay),
            (Route::Who, 200, &who::Content::Hostname, Duration::ZERO)
        );
        ctx.write_who_answer();
        let plain = std::mem::take(&mut ctx.batch);
        ctx.write_answer(&owed(Body::Hostname, false, Connection::Persistent));
        assert_eq!(plain, ctx.batch);
        // Anything else takes the router.
        for other in [
            &b"GET /who?delay=1s HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"HEAD /who HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /who HTTP/1.0\r\n\r\n",
            b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n",
            b"GET http://a/who HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            let Ok(Status::Complete(request)) = parse(other) else {
                panic!()
            };
            assert!(
                !ctx.is_plain_who(&request),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        ctx.shutting_down = true;
        assert!(
            !ctx.is_plain_who(&request),
            "shutting down: Connection: close"
        );
        ctx.shutting_down = false;
        ctx.settings.access_log = AccessLog::Common;
        assert!(!ctx.is_plain_who(&request), "a line to log");
    }

    #[test]
    fn common_and_combined_log_lines_escape_what_could_break_a_field() {
        let client: SocketAddr = "192.0.2.1:5555".parse().unwrap();
        let head = b"GET /who?q=\"x\\y HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8 \"quoted\" caf\xc3\xa9\r\n\r\n";
        let mut ctx = context(&Config {
            access_log: AccessLog::Common,
            ..Config::default()
        });
        ctx.log(client, Some(head), 200, 12);
        ctx.log(client, None, 400, 5);
        let log = String::from_utf8(ctx.log.clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert!(lines[0].starts_with("192.0.2.1 - - ["), "{}", lines[0]);
        assert!(
            lines[0].ends_with("] \"GET /who?q=\\x22x\\\\y HTTP/1.1\" 200 12"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with("] \"-\" 400 5"), "{}", lines[1]);

        let mut ctx = context(&Config {
            access_log: AccessLog::Combined,
            ..Config::default()
        });
        ctx.log(client, Some(head), 200, 12);
        ctx.log(client, None, 400, 5);
        let log = String::from_utf8(ctx.log.clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert!(
            lines[0].ends_with(" 200 12 \"-\" \"curl/8 \\x22quoted\\x22 caf\\xC3\\xA9\""),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with("] \"-\" 400 5 \"-\" \"-\""),
            "{}",
            lines[1]
        );
    }
}
