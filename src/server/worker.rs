//! One event loop and the connections it owns: slots and tokens, accepting (and backing off when
//! out of descriptors), the deadline scan, and the stop. It never looks at HTTP: that is `Conn`'s.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Conn, Next};
use super::state::{Lifecycle, ServerState};
use super::worker_state::WorkerState;
use crate::config::Config;
use crate::sys::{self, Epoll, Event, Events, Interest};

/// The worker's read buffer: room for the largest request head (8 KiB request line and
/// 16 KiB of fields) and many pipelined requests after it.
pub(crate) const READ_BUFFER: usize = 64 * 1024;
const EVENTS_PER_WAIT: usize = 512;
/// How long requests in flight get to finish once the stop begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to leave the listener alone when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The same accept error is reported at most this often.
const ACCEPT_ERROR_INTERVAL: Duration = Duration::from_secs(10);
/// Deadlines are checked at least this often.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);

const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

/// The answer to a connection past `--max-connections`: a constant, so that a refused
/// connection costs no work.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 20\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
Connection: close\r\n\r\ntoo many connections";

struct Slot {
    /// Bumped when the slot is freed, so a stale event cannot reach the slot's next connection.
    generation: u32,
    conn: Option<Conn>,
    /// The connection is watched for writability (`Interest::CONNECTION_WRITING`).
    watches_writable: bool,
}

pub(crate) struct Worker {
    epoll: Epoll,
    events: Events,
    /// `None` once the stop has begun; the listening socket closes when no worker holds it.
    listener: Option<Arc<TcpListener>>,
    wake: UnixStream,
    server: Arc<ServerState>,
    max_connections: usize,
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    /// Connections to serve again in the next turn, without waiting for an event.
    ready: Vec<u64>,
    read_buf: Vec<u8>,
    state: WorkerState,
    next_scan: Instant,
    accept_resume: Option<Instant>,
    last_accept_error: Option<Instant>,
    stop_deadline: Option<Instant>,
}

impl Worker {
    pub fn new(
        config: &Config,
        listener: Arc<TcpListener>,
        wake: UnixStream,
        server: Arc<ServerState>,
        id: usize,
    ) -> io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(&wake, Interest::WAKE, WAKE)?;
        let state = WorkerState::new(config, Arc::clone(&server), id);
        let worker = Worker {
            epoll,
            events: Events::with_capacity(EVENTS_PER_WAIT),
            listener: Some(listener),
            wake,
            server,
            max_connections: config.max_connections,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            ready: Vec::new(),
            read_buf: vec![0; READ_BUFFER],
            next_scan: state.clock.now + SCAN_INTERVAL,
            state,
            accept_resume: None,
            last_accept_error: None,
            stop_deadline: None,
        };
        worker.watch_listener()?;
        Ok(worker)
    }

    /// Serves until the stop is done.
    pub fn run(&mut self) -> io::Result<()> {
        loop {
            let timeout = if self.ready.is_empty() {
                let wakeup = [Some(self.next_scan), self.accept_resume, self.stop_deadline]
                    .into_iter()
                    .flatten()
                    .min();
                wakeup.map_or(SCAN_INTERVAL, |at| {
                    at.saturating_duration_since(Instant::now())
                })
            } else {
                Duration::ZERO
            };
            self.epoll.wait(&mut self.events, timeout)?;
            self.state.tick();
            for index in 0..self.events.len() {
                let event = self.events.get(index);
                match event.token() {
                    LISTENER => self.accept(),
                    WAKE => self.on_wake(),
                    token => self.on_event(token, &event),
                }
            }
            for token in std::mem::take(&mut self.ready) {
                self.on_ready_again(token);
            }
            // A delay or a stream's event due before the next scan: scan then.
            if let Some(at) = self.state.take_wake_at() {
                self.next_scan = self.next_scan.min(at);
            }
            let now = self.state.clock.now;
            if now >= self.next_scan {
                self.check_deadlines();
            }
            if self.accept_resume.is_some_and(|at| now >= at) {
                self.resume_accept();
            }
            if !self.state.log.lines.is_empty() {
                let _ = io::stdout().lock().write_all(&self.state.log.lines);
                self.state.log.lines.clear();
            }
            if self
                .stop_deadline
                .is_some_and(|deadline| self.live == 0 || now >= deadline)
            {
                return Ok(());
            }
        }
    }

    fn token(&self, index: usize) -> u64 {
        (u64::from(self.slots[index].generation) << 32) | index as u64
    }

    /// The connection a token names, if it is still the one the token was made for.
    fn conn_for(slots: &mut [Slot], token: u64) -> Option<(usize, &mut Conn)> {
        let index = (token & 0xffff_ffff) as usize;
        let slot = slots.get_mut(index)?;
        if u64::from(slot.generation) != token >> 32 {
            return None;
        }
        Some((index, slot.conn.as_mut()?))
    }

    fn on_event(&mut self, token: u64, event: &Event) {
        let Some((index, conn)) = Self::conn_for(&mut self.slots, token) else {
            return;
        };
        let next = if event.is_failed() {
            Next::Close
        } else {
            if event.is_peer_closed() {
                conn.on_peer_closed();
            }
            let mut next = Next::Wait;
            if event.is_writable() {
                next = conn.on_writable(&mut self.read_buf, &mut self.state);
            }
            if next == Next::Wait && (event.is_readable() || event.is_peer_closed()) {
                next = conn.on_readable(&mut self.read_buf, &mut self.state);
            }
            next
        };
        self.act_on(index, token, next);
    }

    fn on_ready_again(&mut self, token: u64) {
        if let Some((index, conn)) = Self::conn_for(&mut self.slots, token) {
            let next = conn.on_readable(&mut self.read_buf, &mut self.state);
            self.act_on(index, token, next);
        }
    }

    fn act_on(&mut self, index: usize, token: u64, next: Next) {
        match next {
            Next::Wait => {}
            Next::WaitWritable => self.watch_writable(index, token),
            Next::Again => self.ready.push(token),
            Next::Close => self.close(index),
        }
    }

    /// The first time a connection's answers wait for the socket, it is watched for
    /// writability too, for the rest of its life.
    fn watch_writable(&mut self, index: usize, token: u64) {
        let slot = &mut self.slots[index];
        let Some(conn) = &slot.conn else {
            return;
        };
        if slot.watches_writable {
            return;
        }
        match self
            .epoll
            .modify(conn.socket(), Interest::CONNECTION_WRITING, token)
        {
            Ok(()) => slot.watches_writable = true,
            Err(_) => self.close(index),
        }
    }

    fn watch_listener(&self) -> io::Result<()> {
        match &self.listener {
            Some(listener) => self
                .epoll
                .add(&**listener, Interest::SHARED_LISTENER, LISTENER),
            None => Ok(()),
        }
    }

    /// Accepts one connection, as nginx does by default: the listener is level-triggered, so
    /// while more wait, the next turn reports it again. Accepting on until the queue is empty
    /// would cost one more accept call, the one that finds nothing, per wake-up.
    fn accept(&mut self) {
        let Some(listener) = self.listener.clone() else {
            return;
        };
        match sys::accept(&listener) {
            Ok((stream, peer)) => self.admit(stream, peer),
            Err(e) if sys::is_out_of_resources(&e) => self.pause_accept(&listener, &e),
            // Another worker took it (EAGAIN), or the client left before we accepted it
            // (ECONNABORTED) and the like.
            Err(_) => {}
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.server.open_connection() > self.max_connections {
            self.server.close_connection();
            self.state.counters().connections_refused.add(1);
            // Refuse cleanly, without waiting on the client: say why and close. The socket is
            // non-blocking, and a fresh one takes these few bytes.
            let _ = stream.write(BUSY);
            return;
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                conn: None,
                watches_writable: false,
            });
            self.slots.len() - 1
        });
        if self
            .epoll
            .add(&stream, Interest::CONNECTION, self.token(index))
            .is_err()
        {
            self.free.push(index);
            self.server.close_connection();
            return;
        }
        self.slots[index].conn = Some(Conn::new(stream, peer, &self.state));
        self.live += 1;
        self.state.counters().connections_accepted.add(1);
    }

    fn close(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        if let Some(conn) = &mut slot.conn {
            conn.close(&mut self.state);
            // Dropped where it lies (taking it out would copy it first). Dropping the stream
            // closes the socket, which also removes it from the epoll set.
            slot.conn = None;
            slot.generation = slot.generation.wrapping_add(1);
            slot.watches_writable = false;
            self.free.push(index);
            self.live -= 1;
            self.server.close_connection();
        }
    }

    /// Out of file descriptors: stop watching the listener for a while rather than spin on
    /// it. Open connections are served meanwhile; each one closed frees a descriptor.
    fn pause_accept(&mut self, listener: &TcpListener, error: &io::Error) {
        let now = self.state.clock.now;
        let _ = self.epoll.delete(listener);
        self.accept_resume = Some(now + ACCEPT_BACKOFF);
        if self
            .last_accept_error
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_INTERVAL)
        {
            eprintln!(
                "whod: cannot accept connections: {error}; retrying every {} ms",
                ACCEPT_BACKOFF.as_millis()
            );
            self.last_accept_error = Some(now);
        }
    }

    fn resume_accept(&mut self) {
        self.accept_resume = None;
        if let Err(error) = self.watch_listener() {
            eprintln!("whod: cannot watch the listener again: {error}");
            self.accept_resume = Some(self.state.clock.now + ACCEPT_BACKOFF);
        }
    }

    /// The main thread moved the lifecycle on: drain, then stop. Answers held by a delay are
    /// kept through the drain window, and go at the stop.
    fn on_wake(&mut self) {
        match self.server.lifecycle() {
            Lifecycle::Serving => {}
            Lifecycle::Draining => self.state.begin_shutdown(),
            Lifecycle::Stopping => self.begin_stop(),
        }
    }

    /// Stop accepting, close idle connections now, let the others finish within the grace.
    fn begin_stop(&mut self) {
        if self.stop_deadline.is_some() {
            return;
        }
        self.state.begin_shutdown();
        self.state.stopping = true;
        self.stop_deadline = Some(self.state.clock.now + SHUTDOWN_GRACE);
        let _ = self.epoll.delete(&self.wake);
        if let Some(listener) = self.listener.take()
            && self.accept_resume.take().is_none()
        {
            let _ = self.epoll.delete(&*listener);
        }
        for index in 0..self.slots.len() {
            let Some(conn) = self.slots[index].conn.as_mut() else {
                continue;
            };
            if conn.is_idle() {
                self.close(index);
            } else {
                let next = conn.on_stop(&mut self.read_buf, &mut self.state);
                let token = self.token(index);
                self.act_on(index, token, next);
            }
        }
    }

    /// Acts on every deadline that has passed; schedules the next scan at the earliest one left.
    fn check_deadlines(&mut self) {
        let now = self.state.clock.now;
        let mut next = now + SCAN_INTERVAL;
        for index in 0..self.slots.len() {
            let Some(conn) = self.slots[index].conn.as_mut() else {
                continue;
            };
            if conn.deadline() <= now {
                let next = conn.on_timeout(&mut self.read_buf, &mut self.state);
                let token = self.token(index);
                self.act_on(index, token, next);
            }
            if let Some(conn) = &self.slots[index].conn {
                next = next.min(conn.deadline());
            }
        }
        self.next_scan = not_before(next, now);
    }
}

/// `at`, or 1 ms from `now` if that is later: a scan scheduled in the past would spin. (Every
/// deadline a scan leaves is in the future; this is the net under that.)
fn not_before(at: Instant, now: Instant) -> Instant {
    at.max(now + Duration::from_millis(1))
}
