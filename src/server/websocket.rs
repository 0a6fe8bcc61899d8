//! An upgraded connection's WebSocket side, as the server runs it: the echo session
//! (`websocket::session`, which does no I/O), when the client was last heard from (the idle
//! timer, with a ping at half of it), what was counted, and the access log line written at the
//! close.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::worker_state::WorkerState;
use crate::metrics::Counters;
use crate::routes::Upgrade;
use crate::websocket::handshake;
use crate::websocket::session::{self, Read, Session};

/// The close code counted for a connection that ended without a close frame (RFC 6455
/// §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was received by
/// the endpoint ..., _The WebSocket Connection Close Code_ is considered to be 1006").
const ABNORMAL: u16 = 1006;

/// The payload of the ping sent when the client has been quiet for half the idle timeout.
const PING: &[u8] = b"whod";

pub(crate) struct WebSocket {
    pub session: Session,
    /// When the client last sent anything.
    pub heard: Instant,
    /// A ping went out since the client was last heard from.
    pub pinged: bool,
    /// When the upgrade was answered: the log line says how long the connection lasted.
    pub since: Instant,
    /// The upgrade request's head, for the log line written at the close (only with the
    /// access log on).
    pub log_head: Option<Vec<u8>>,
    /// The session's counts already added to the worker's.
    counted: session::Counters,
}

impl std::fmt::Debug for WebSocket {
    // The session's buffers say little; what it counted and the timers say where it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("counters", &self.session.counters())
            .field("heard", &self.heard)
            .field("pinged", &self.pinged)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// The handshake was accepted: writes the 101 (and the greeting, if one was asked for) to
    /// the batch, and counts the WebSocket open.
    pub fn open(upgrade: Upgrade, worker: &mut WorkerState) -> WebSocket {
        let Upgrade {
            accept,
            greeting,
            head,
        } = upgrade;
        let extra = &worker.settings.extra.lines;
        handshake::write_switching(&accept, extra, &mut worker.batch);
        let log_head = (!worker.log.is_off()).then_some(head);
        let max_message = worker.settings.ws_max_message;
        let mut ws = WebSocket::new(max_message, worker.clock.now, log_head);
        if let Some(greeting) = greeting {
            ws.session.text(&greeting, &mut worker.batch);
            ws.account(worker.counters());
        }
        worker.counters().websockets_open.add(1);
        ws
    }

    /// The WebSocket is over (closed both ways, failed, stopped, timed out, or the connection
    /// lost): counted by the code of the close that ended it, and logged, for `client`, with
    /// how long it lasted.
    pub fn end(&mut self, client: SocketAddr, worker: &mut WorkerState) {
        self.account(worker.counters());
        let counters = worker.counters();
        counters.websockets_open.sub(1);
        counters.websocket_closed(self.close_code());
        if let Some(head) = self.log_head.take() {
            let date = worker.clock.log_date;
            let sent = self.session.counters().bytes_out as usize;
            let lasted = worker.clock.now.saturating_duration_since(self.since);
            worker
                .log
                .line_lasting(&date, client, Some(&head), 101, sent, Some(lasted));
        }
    }

    pub fn new(max_message: u64, now: Instant, log_head: Option<Vec<u8>>) -> WebSocket {
        WebSocket {
            session: Session::new(max_message),
            heard: now,
            pinged: false,
            since: now,
            log_head,
            counted: session::Counters::default(),
        }
    }

    /// Feeds what the client sent; the answers go to `out`.
    pub fn read(&mut self, data: &[u8], out: &mut Vec<u8>, now: Instant) -> Read {
        self.heard = now;
        self.pinged = false;
        self.session.read(data, out)
    }

    /// Whether to read more from the client while `unsent` bytes wait for it. Below `limit`
    /// (the output limit), yes. Past it, only inside a message, whose echo may have to wait
    /// whole (see `websocket::session` on what a client that sends a whole message before
    /// reading needs), and not once a whole message's worth waits past the limit: a client
    /// whose reads keep ending inside a message (small messages, cut anywhere) holds at most
    /// that, and one read.
    pub fn wants_input(&self, unsent: usize, limit: usize) -> bool {
        unsent < limit
            || (self.session.in_message()
                && (unsent as u64) < limit as u64 + self.session.max_message())
    }

    /// When the timer is due: the ping at half the idle timeout, then the close at its end.
    pub fn deadline(&self, idle_timeout: Duration) -> Instant {
        if self.pinged {
            self.heard + idle_timeout
        } else {
            self.heard + idle_timeout / 2
        }
    }

    /// The timer is due: a ping if none was sent, else the close (1001, going away). Returns
    /// whether the connection closes.
    pub fn on_quiet(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.pinged && self.session.ping(PING, out) {
            self.pinged = true;
            return false;
        }
        self.session.close(session::GOING_AWAY, "idle timeout", out);
        true
    }

    /// Adds what the session counted since the last call to the worker's counters.
    pub fn account(&mut self, counters: &Counters) {
        let now = *self.session.counters();
        counters
            .websocket_messages_in
            .add(now.messages_in - self.counted.messages_in);
        counters
            .websocket_messages_out
            .add(now.messages_out - self.counted.messages_out);
        counters
            .websocket_bytes_in
            .add(now.bytes_in - self.counted.bytes_in);
        counters
            .websocket_bytes_out
            .add(now.bytes_out - self.counted.bytes_out);
        self.counted = now;
    }

    /// The code of the close that ended the connection: the client's, or the server's when it
    /// closed first (a fault, the stop, the idle timeout), or 1006 when none came.
    pub fn close_code(&self) -> u16 {
        let counters = self.session.counters();
        counters
            .close_received
            .or(counters.close_sent)
            .unwrap_or(ABNORMAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_output_limit_only_a_message_is_read_and_at_most_its_worth() {
        let mut ws = WebSocket::new(1000, Instant::now(), None);
        let limit = 100;
        // Between messages: up to the limit.
        assert!(ws.wants_input(99, limit));
        assert!(!ws.wants_input(100, limit));
        // Inside one (a masked frame of 10 bytes begun, 2 of its payload read): up to the
        // limit and a message.
        ws.read(
            &[0x82, 0x8a, 0, 0, 0, 0, 1, 2],
            &mut Vec::new(),
            Instant::now(),
        );
        assert!(ws.session.in_message());
        assert!(ws.wants_input(100, limit));
        assert!(ws.wants_input(1099, limit));
        assert!(!ws.wants_input(1100, limit));
    }

    #[test]
    fn a_quiet_client_is_pinged_at_half_the_timeout_then_closed() {
        let start = Instant::now();
        let mut ws = WebSocket::new(1 << 20, start, None);
        let idle = Duration::from_secs(60);
        assert_eq!(ws.deadline(idle), start + Duration::from_secs(30));
        let mut out = Vec::new();
        assert!(!ws.on_quiet(&mut out), "a ping first");
        assert_eq!(out, b"\x89\x04whod");
        assert_eq!(ws.deadline(idle), start + idle);
        out.clear();
        assert!(ws.on_quiet(&mut out), "then the close");
        assert_eq!(&out[..4], b"\x88\x0e\x03\xe9", "1001, \"idle timeout\"");
        assert_eq!(ws.close_code(), 1001);
        // Hearing from the client starts the timer over.
        let later = start + Duration::from_secs(45);
        let mut ws = WebSocket::new(1 << 20, start, None);
        ws.on_quiet(&mut Vec::new());
        ws.read(b"", &mut Vec::new(), later);
        assert_eq!(ws.deadline(idle), later + Duration::from_secs(30));
        assert_eq!(WebSocket::new(1, start, None).close_code(), 1006);
    }

    #[test]
    fn what_the_session_counted_is_added_once() {
        let counters = Counters::new();
        let mut ws = WebSocket::new(1 << 20, Instant::now(), None);
        // A masked "Hello" (RFC 6455 §5.7), twice.
        let hello = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let mut out = Vec::new();
        ws.read(&[&hello[..], hello].concat(), &mut out, Instant::now());
        ws.account(&counters);
        ws.account(&counters);
        assert_eq!(counters.websocket_messages_in.get(), 2);
        assert_eq!(counters.websocket_messages_out.get(), 2);
        assert_eq!(counters.websocket_bytes_in.get(), 10);
        assert_eq!(counters.websocket_bytes_out.get(), 10);
    }
}
