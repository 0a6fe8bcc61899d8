//! What the connections of one worker share: the settings, the clock, the host name and the
//! pre-rendered `/who` answer, the batch answers are assembled in, the access log, the
//! worker's counters, and how far the shutdown has come.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::access_log::AccessLog;
use super::clock::Clock;
use super::state::ServerState;
use crate::config::Config;
use crate::http::date::iso8601;
use crate::http::request::{Framing, Request};
use crate::http::response::{self, Connection};
use crate::metrics::{self, Counters, Gauges};
use crate::random::Rng;
use crate::routes::{self, Answer, Body, Health};
use crate::stream;

/// The batch's room: one read's worth of answers usually fits (a read is at most 64 KiB of
/// requests, and most answers are shorter than their requests' heads).
const BATCH_CAPACITY: usize = 64 * 1024;

/// The settings a connection reads.
pub(crate) struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub proxy_protocol: bool,
    pub routes: routes::Settings,
    /// `--name`, shown by `/echo` and `/stream`.
    pub name: Option<String>,
    /// `--echo-hide`: fields `/echo` shows as `[hidden]`.
    pub echo_hide: Vec<String>,
    /// `--header`: the operator's field lines, on every answer.
    pub extra: response::Extra,
    /// `--max-body`, `--max-echo-body`, `--ws-max-message`.
    pub max_body: u64,
    pub max_echo_body: u64,
    pub ws_max_message: u64,
    pub faults: Faults,
}

/// Failures and latency on purpose (`--fail-rate`, `--fail-status`, `--latency`; `--sick` is
/// the server's, switched by signals).
pub(crate) struct Faults {
    /// In millionths of the requests.
    pub fail_rate: u32,
    pub fail_status: u16,
    pub latency: (Duration, Duration),
}

impl Faults {
    fn from(config: &Config) -> Faults {
        Faults {
            fail_rate: config.fail_rate,
            fail_status: config.fail_status,
            latency: config.latency,
        }
    }

    /// No failure and no latency is ever injected (unless the replica is made sick).
    fn none(&self) -> bool {
        self.fail_rate == 0 && self.latency.1.is_zero()
    }
}

pub(crate) struct WorkerState {
    pub settings: Settings,
    pub clock: Clock,
    pub log: AccessLog,
    pub server: Arc<ServerState>,
    /// This worker's index in `server.counters`.
    worker: usize,
    /// The host's name, read again when the clock's second changes.
    hostname: Vec<u8>,
    /// The answers to `GET /who` over HTTP/1.1, the one that counts, ready to copy: on a
    /// persistent connection, and with `Connection: close`. Rendered again when the second
    /// (their `Date`) or the host name changes.
    who_answer: Vec<u8>,
    who_answer_closing: Vec<u8>,
    /// Answers being assembled, written to the socket once per read.
    pub batch: Vec<u8>,
    /// Shutdown has begun (the drain window, then the stop): every answer closes its
    /// connection and `/healthz` answers 503.
    pub shutting_down: bool,
    /// The stop has begun, after the drain window: answers are no longer held by a delay.
    /// (Within the window a delay is kept, so that a client testing a timeout during a
    /// rollout sees it; its answer closes the connection.)
    pub stopping: bool,
    /// The earliest deadline set since the worker last asked that can fall before the next
    /// scan (a delay's end, a stream's next event: the timeouts are a second or more).
    wake_at: Option<Instant>,
    /// The draws of `--fail-rate` and `--latency`.
    pub rng: Rng,
    /// A plain `GET /who` may be answered by copying `who_answer` (see `is_plain_who`): not
    /// shutting down, nothing to log, no fault to inject. Renewed every turn of the loop.
    plain_who: bool,
}

impl WorkerState {
    pub fn new(config: &Config, server: Arc<ServerState>, worker: usize) -> WorkerState {
        let mut state = WorkerState {
            settings: Settings {
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
                proxy_protocol: config.proxy_protocol,
                routes: routes::Settings {
                    echo: config.echo,
                    metrics: config.metrics,
                    max_delay: config.max_delay,
                    max_stream_events: config.max_stream_events,
                    max_stream_duration: config.max_stream_duration,
                    max_data: config.max_data,
                },
                name: config.name.clone(),
                echo_hide: config.echo_hide.clone(),
                extra: extra_headers(&config.headers),
                max_body: config.max_body,
                max_echo_body: config.max_echo_body,
                ws_max_message: config.ws_max_message,
                faults: Faults::from(config),
            },
            clock: Clock::new(),
            log: AccessLog::new(config.access_log),
            server,
            worker,
            hostname: Vec::new(),
            who_answer: Vec::new(),
            who_answer_closing: Vec::new(),
            batch: Vec::with_capacity(BATCH_CAPACITY),
            shutting_down: false,
            stopping: false,
            wake_at: None,
            rng: Rng::from_clock(worker as u64),
            plain_who: false,
        };
        state.renew();
        state.tick();
        state
    }

    /// Reads the clock (once a second, the host name too) and the switches the main thread
    /// may have flipped.
    pub fn tick(&mut self) {
        if self.clock.tick() {
            self.renew();
        }
        self.plain_who = !self.shutting_down
            && self.log.is_off()
            && self.settings.faults.none()
            && !self.server.is_sick();
    }

    fn renew(&mut self) {
        self.hostname = routes::hostname();
        for (answer, connection) in [
            (&mut self.who_answer, Connection::Persistent),
            (&mut self.who_answer_closing, Connection::Close),
        ] {
            answer.clear();
            let head = response::Head {
                connection,
                ..Answer::who().head
            };
            head.write(
                &self.hostname,
                &self.clock.date,
                &self.settings.extra,
                answer,
            );
        }
    }

    /// Shutdown begins: `/healthz` answers 503 and every answer closes its connection.
    pub fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        self.plain_who = false;
    }

    /// Something of a connection's is due at `at` (a delay's end, a stream's next event): the
    /// worker scans the deadlines then, even when its next scan would come later.
    pub fn wake_at(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |earliest| earliest.min(at)));
    }

    /// The earliest time given to `wake_at` since the last call, if any.
    pub fn take_wake_at(&mut self) -> Option<Instant> {
        self.wake_at.take()
    }

    /// This worker's counters.
    pub fn counters(&self) -> &Counters {
        &self.server.counters[self.worker]
    }

    pub fn health(&self) -> Health {
        if self.shutting_down {
            Health::ShuttingDown
        } else if !self.server.is_ready() {
            Health::NotReady
        } else {
            Health::Serving
        }
    }

    /// The metrics page: every worker's counters summed. (Out of line: rare work, kept out of
    /// the code the request path inlines.)
    #[inline(never)]
    pub fn metrics_page(&self) -> Vec<u8> {
        let gauges = Gauges {
            connections_open: self.server.connections_open() as u64,
            ready: self.health() == Health::Serving,
            start_time: self.server.start_time,
        };
        let mut out = Vec::with_capacity(4096);
        metrics::render(&mut out, &self.server.counters, &gauges);
        out
    }

    pub fn hostname(&self) -> &[u8] {
        &self.hostname
    }

    /// The bytes of a body.
    pub fn body<'a>(&'a self, body: &'a Body) -> &'a [u8] {
        body_bytes(&self.hostname, body)
    }

    /// The tutorial's request, and nearly every load balancer's: `GET /who` over HTTP/1.1, no
    /// query, no body; and nothing to log, no fault to inject, not shutting down. Its answer
    /// is the router's (`Answer::who`, which a test holds to `routes::route`'s, with either
    /// `Connection`) and is pre-rendered, so the connection copies it without asking the
    /// router: about 200 instructions a request.
    pub fn is_plain_who(&self, request: &Request) -> bool {
        request.target == b"/who"
            && request.method == b"GET"
            && request.minor_version == 1
            && request.framing == Framing::None
            && self.plain_who
    }

    /// Appends the answer to a plain `GET /who` (see `is_plain_who`), closing the connection
    /// if the request asked, and counts it.
    pub fn write_who_answer(&mut self, keep_alive: bool) {
        self.counters().request(routes::Route::Who, 200);
        let answer = if keep_alive {
            &self.who_answer
        } else {
            &self.who_answer_closing
        };
        self.batch.extend_from_slice(answer);
    }

    /// Appends `answer` to the batch: the whole of it, or for a streamed body the head only.
    pub fn write_answer(&mut self, answer: &Answer) {
        let body = body_bytes(&self.hostname, &answer.body);
        answer.head.write(
            body,
            &self.clock.date,
            &self.settings.extra,
            &mut self.batch,
        );
    }

    /// Appends the next event of a stream, `seq` of `count`: as a chunk, or as it is (HTTP/1.0).
    pub fn write_event(&mut self, format: stream::Format, seq: u64, count: u64, chunked: bool) {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_millis() as u64);
        let event = stream::Event {
            seq,
            count,
            hostname: &self.hostname,
            name: self.settings.name.as_deref(),
            time: &iso8601(millis),
        };
        if chunked {
            let mut line = Vec::with_capacity(128);
            stream::write_event(format, &event, &mut line);
            response::write_chunk(&line, &mut self.batch);
        } else {
            stream::write_event(format, &event, &mut self.batch);
        }
    }

    /// Appends the end of a stream cut short by the stop, then its last chunk.
    pub fn write_stream_end(&mut self, format: stream::Format, chunked: bool) {
        if chunked {
            let mut line = Vec::new();
            stream::write_end(format, &mut line);
            response::write_chunk(&line, &mut self.batch);
            self.batch.extend_from_slice(response::LAST_CHUNK);
        } else {
            stream::write_end(format, &mut self.batch);
        }
    }
}

/// `--header`'s field lines, rendered once.
fn extra_headers(headers: &[(String, String)]) -> response::Extra {
    let mut extra = response::Extra::default();
    for (name, value) in headers {
        extra
            .lines
            .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        extra.cache_control |= name.eq_ignore_ascii_case("cache-control");
    }
    extra
}

fn body_bytes<'a>(hostname: &'a [u8], body: &'a Body) -> &'a [u8] {
    match body {
        Body::Hostname => hostname,
        Body::Text(text) => text.as_bytes(),
        Body::Owned(bytes) => bytes,
        // Written after the head, as they come; an answer about a body is made `Owned` before
        // it is written.
        Body::Events(_) | Body::Download(_) | Body::AboutBody(_) | Body::Upgrade(_) => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AccessLog as Format;
    use crate::http::Status;
    use crate::http::request::parse;

    struct Serving;

    impl routes::Facts for Serving {
        fn health(&self) -> Health {
            Health::Serving
        }
        fn echo(&self, _: crate::echo::Format, _: &[u8]) -> Vec<u8> {
            unimplemented!("not asked by /who")
        }
        fn metrics_page(&self) -> Vec<u8> {
            unimplemented!("not asked by /who")
        }
    }

    #[test]
    fn a_plain_get_who_is_answered_as_the_router_answers_it() {
        let mut state = WorkerState::new(&Config::default(), Arc::new(ServerState::new(1)), 0);
        let head = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
        let Ok(Status::Complete(request)) = parse(head) else {
            panic!()
        };
        assert!(state.is_plain_who(&request));
        let answer = routes::route(&request, head, &state.settings.routes, &Serving);
        assert_eq!(answer, Answer::who());
        state.write_who_answer(true);
        let plain = std::mem::take(&mut state.batch);
        state.write_answer(&answer);
        assert_eq!(plain, std::mem::take(&mut state.batch));
        // With Connection: close, the router's answer closing.
        let head = b"GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        let Ok(Status::Complete(closing)) = parse(head) else {
            panic!()
        };
        assert!(state.is_plain_who(&closing) && !closing.keep_alive);
        let mut answer = routes::route(&closing, head, &state.settings.routes, &Serving);
        answer.head.connection = routes::connection(&closing, false);
        state.write_who_answer(false);
        let plain = std::mem::take(&mut state.batch);
        state.write_answer(&answer);
        assert_eq!(plain, state.batch);
        assert!(String::from_utf8_lossy(&plain).contains("\r\nConnection: close\r\n"));
        // Anything else takes the router.
        for other in [
            &b"GET /who?delay=1s HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"HEAD /who HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /who HTTP/1.0\r\n\r\n",
            b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n",
            b"GET http://a/who HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            let Ok(Status::Complete(request)) = parse(other) else {
                panic!()
            };
            assert!(
                !state.is_plain_who(&request),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        state.begin_shutdown();
        assert!(
            !state.is_plain_who(&request),
            "shutting down: Connection: close"
        );
        state.shutting_down = false;
        state.tick();
        assert!(state.is_plain_who(&request));
        state.log = AccessLog::new(Format::Common);
        state.tick();
        assert!(!state.is_plain_who(&request), "a line to log");
        state.log = AccessLog::new(Format::Off);
        state.server.set_sick(true);
        state.tick();
        assert!(!state.is_plain_who(&request), "sick: a failure to answer");
        for faulty in [
            Config {
                fail_rate: 1,
                ..Config::default()
            },
            Config {
                latency: (Duration::ZERO, Duration::from_millis(1)),
                ..Config::default()
            },
        ] {
            let state = WorkerState::new(&faulty, Arc::new(ServerState::new(1)), 0);
            assert!(!state.is_plain_who(&request), "{:?}", faulty.latency);
        }
    }
}
