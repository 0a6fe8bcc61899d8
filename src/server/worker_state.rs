//! What the connections of one worker share: the settings, the clock, the host name and the
//! pre-rendered `/who` answer, the batch answers are assembled in, the access log, the
//! worker's counters, and how far the shutdown has come.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::access_log::AccessLog;
use super::clock::Clock;
use super::state::ServerState;
use crate::config::Config;
use crate::http::request::{Framing, Request};
use crate::metrics::{self, Counters, Gauges};
use crate::routes::{self, Answer, Body, Health};

/// The batch's room: one read's worth of answers usually fits (a read is at most 64 KiB of
/// requests, and most answers are shorter than their requests' heads).
const BATCH_CAPACITY: usize = 64 * 1024;

/// The settings a connection reads.
pub(crate) struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub proxy_protocol: bool,
    pub routes: routes::Settings,
    /// `--name`, shown by `/echo`.
    pub name: Option<String>,
    /// `--echo-hide`: fields `/echo` shows as `[hidden]`.
    pub echo_hide: Vec<String>,
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
    /// The answer to `GET /who` on a persistent HTTP/1.1 connection, the one that counts, ready
    /// to copy: rendered again when the second (its `Date`) or the host name changes.
    who_answer: Vec<u8>,
    /// Answers being assembled, written to the socket once per read.
    pub batch: Vec<u8>,
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
                },
                name: config.name.clone(),
                echo_hide: config.echo_hide.clone(),
            },
            clock: Clock::new(),
            log: AccessLog::new(config.access_log),
            server,
            worker,
            hostname: Vec::new(),
            who_answer: Vec::new(),
            batch: Vec::with_capacity(BATCH_CAPACITY),
            shutting_down: false,
            stopping: false,
            delay_end: None,
        };
        state.renew();
        state
    }

    /// Reads the clock; once a second, the host name too.
    pub fn tick(&mut self) {
        if self.clock.tick() {
            self.renew();
        }
    }

    fn renew(&mut self) {
        self.hostname = routes::hostname();
        self.who_answer.clear();
        Answer::who()
            .head
            .write(&self.hostname, &self.clock.date, &mut self.who_answer);
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

    /// The tutorial's request, and nearly every load balancer's: `GET /who` on a keep-alive
    /// HTTP/1.1 connection, no query, no body, nothing to log, not shutting down. Its answer is
    /// the router's (`Answer::who`, which a test holds to `routes::route`'s) and is
    /// pre-rendered, so the connection copies it without asking the router: about 200
    /// instructions a request.
    pub fn is_plain_who(&self, request: &Request) -> bool {
        request.target == b"/who"
            && request.method == b"GET"
            && request.minor_version == 1
            && request.keep_alive
            && request.framing == Framing::None
            && !self.shutting_down
            && self.log.is_off()
    }

    /// Appends the answer to a plain `GET /who` (see `is_plain_who`), and counts it.
    pub fn write_who_answer(&mut self) {
        self.counters().request(routes::Route::Who, 200);
        self.batch.extend_from_slice(&self.who_answer);
    }

    /// Appends `answer` to the batch.
    pub fn write_answer(&mut self, answer: &Answer) {
        let body = body_bytes(&self.hostname, &answer.body);
        answer.head.write(body, &self.clock.date, &mut self.batch);
    }
}

fn body_bytes<'a>(hostname: &'a [u8], body: &'a Body) -> &'a [u8] {
    match body {
        Body::Hostname => hostname,
        Body::Text(text) => text.as_bytes(),
        Body::Owned(bytes) => bytes,
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
        state.write_who_answer();
        let plain = std::mem::take(&mut state.batch);
        state.write_answer(&answer);
        assert_eq!(plain, state.batch);
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
                !state.is_plain_who(&request),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        state.shutting_down = true;
        assert!(
            !state.is_plain_who(&request),
            "shutting down: Connection: close"
        );
        state.shutting_down = false;
        state.log = AccessLog::new(Format::Common);
        assert!(!state.is_plain_who(&request), "a line to log");
    }
}
