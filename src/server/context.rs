//! What the connections of one worker share: the settings, the clock, the host name, the
//! buffer answers are assembled in, and the access log.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::http::date;
use crate::http::request::Request;
use crate::http::response::{Connection, Response};
use crate::who::{self, Content, Health, Reply};

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
        self.date = date::http_date(second);
        self.log_date = date::log_date(second);
        true
    }
}

/// The settings a connection reads.
pub(crate) struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub access_log: bool,
}

pub(crate) struct Context {
    pub settings: Settings,
    pub clock: Clock,
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
}

impl Context {
    pub fn new(config: &Config) -> Context {
        let mut ctx = Context {
            settings: Settings {
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
                access_log: config.access_log,
            },
            clock: Clock::new(),
            hostname: Vec::new(),
            who_answer: Vec::new(),
            batch: Vec::with_capacity(super::worker::READ_BUFFER),
            log: Vec::new(),
            shutting_down: false,
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
            body: &self.hostname,
            head_only: false,
            allow: false,
            connection: Connection::Persistent,
        };
        response.write_to(&mut self.who_answer, &self.clock.date);
    }

    pub fn health(&self) -> Health {
        if self.shutting_down {
            Health::ShuttingDown
        } else {
            Health::Serving
        }
    }

    /// The bytes of a reply's body.
    pub fn body<'a>(&'a self, content: &Content) -> &'a [u8] {
        body(&self.hostname, content)
    }

    /// Appends the answer to `batch`.
    pub fn write_answer(&mut self, reply: &Reply, head_only: bool, connection: Connection) {
        if reply.content == Content::Hostname
            && reply.status == 200
            && !head_only
            && connection == Connection::Persistent
        {
            self.batch.extend_from_slice(&self.who_answer);
            return;
        }
        let response = Response {
            status: reply.status,
            body: body(&self.hostname, &reply.content),
            head_only,
            allow: reply.allow,
            connection,
        };
        response.write_to(&mut self.batch, &self.clock.date);
    }

    /// One Common Log Format line: `127.0.0.1 - - [date] "GET /who HTTP/1.1" 200 12`.
    pub fn log(&mut self, peer: SocketAddr, request: Option<&Request>, status: u16, bytes: usize) {
        let _ = write!(self.log, "{} - - [", peer.ip());
        self.log.extend_from_slice(&self.clock.log_date);
        self.log.extend_from_slice(b"] \"");
        match request {
            Some(request) => {
                self.log.extend_from_slice(request.method);
                self.log.push(b' ');
                self.log.extend_from_slice(request.target);
                self.log.extend_from_slice(if request.minor_version == 0 {
                    b" HTTP/1.0"
                } else {
                    b" HTTP/1.1"
                });
            }
            None => self.log.push(b'-'),
        }
        let _ = writeln!(self.log, "\" {status} {bytes}");
    }
}

fn body<'a>(hostname: &'a [u8], content: &Content) -> &'a [u8] {
    match content {
        Content::Hostname => hostname,
        Content::Text(text) => text.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_who_answer_is_the_general_answer_copied() {
        let mut ctx = Context::new(&Config::default());
        let reply = who::route(b"GET", Some(b"/who"), Health::Serving);
        ctx.write_answer(&reply, false, Connection::Persistent);
        let fast = std::mem::take(&mut ctx.batch);
        let response = Response {
            status: 200,
            body: &who::hostname(),
            head_only: false,
            allow: false,
            connection: Connection::Persistent,
        };
        response.write_to(&mut ctx.batch, &ctx.clock.date);
        assert_eq!(fast, ctx.batch);
        // Other forms of the same answer take the general path.
        ctx.batch.clear();
        ctx.write_answer(&reply, true, Connection::Persistent);
        assert!(ctx.batch.ends_with(b"\r\n\r\n"), "HEAD: no body");
        ctx.batch.clear();
        ctx.write_answer(&reply, false, Connection::Close);
        assert!(ctx.batch.windows(19).any(|w| w == b"Connection: close\r\n"));
    }
}
