//! The accept loop, connections, timeouts and shutdown.
//!
//! As in nginx: a few event loops, no thread per connection. Each of `--workers` threads runs
//! one epoll loop over non-blocking std sockets. All of them watch the one listening socket with
//! EPOLLEXCLUSIVE, so a new connection wakes one worker, which then owns it for its whole life:
//! the only state the workers share is a counter of open connections.
//!
//! A connection owns no buffer while idle. Bytes are read into the worker's input buffer and
//! answers assembled in its output buffer, which leaves in one write; only leftovers (a request
//! cut between two reads, an answer the socket did not take yet) are copied into the
//! connection's own vectors, and those are freed once empty.
//!
//! Every timeout is explicit: `--header-timeout` while a request arrives, `--idle-timeout`
//! between requests and while an answer waits for the client to take it, `LINGER` while
//! closing, `SHUTDOWN_GRACE` after SIGTERM. Deadlines are checked by a scan of the worker's
//! connections when the earliest is due, and at least once a second.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::http::body::BodySkipper;
use crate::http::request::{self, Request};
use crate::http::response::{Connection, Response};
use crate::http::{Reject, Status, date};
use crate::sys::{self, Epoll};
use crate::who::{self, Reply};

/// The worker's input buffer: room for the largest request head (8 KiB request line and
/// 16 KiB of fields) and many pipelined requests after it.
const READ_BUFFER: usize = 64 * 1024;
/// Answers a connection may have waiting to be sent before it stops answering more: a client
/// that pipelines requests without reading the answers holds at most this much (plus one read
/// of unanswered requests) of our memory, rather than every answer to everything it sent.
const OUTPUT_LIMIT: usize = 16 * 1024;
/// Reads per connection per event before the others get their turn.
const READS_PER_EVENT: usize = 16;
/// Connections accepted per wake-up before other events get their turn.
const ACCEPTS_PER_EVENT: usize = 64;
const EVENTS_PER_WAIT: usize = 512;
/// The accept queue: std's 128 overflows when a thousand clients connect at once.
const LISTEN_BACKLOG: i32 = 4096;
/// After the last answer, how long to read and drop what the client still sends. Closing a
/// socket with unread bytes sends a reset, which can destroy the answer before the client
/// reads it (nginx's "lingering close").
const LINGER: Duration = Duration::from_secs(2);
/// How long requests in flight get to finish after SIGTERM or SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to leave the listener alone when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Deadlines are checked at least this often.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);

const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

const REQUEST_TIMEOUT: Reject = Reject::new(408, "request not received within the header timeout");
/// The answer to a connection past `--max-connections`.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 20\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
Connection: close\r\n\r\ntoo many connections";

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    config: Config,
}

impl Server {
    pub fn bind(config: &Config) -> io::Result<Server> {
        let listener = TcpListener::bind((config.bind, config.port))?;
        listener.set_nonblocking(true)?;
        sys::set_listen_backlog(listener.as_raw_fd(), LISTEN_BACKLOG)?;
        Ok(Server {
            listener,
            config: config.clone(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the workers. They serve until `Running::stop`.
    pub fn start(self) -> io::Result<Running> {
        let (wake, wake_receiver) = UnixStream::pair()?;
        let listener = Arc::new(self.listener);
        let open = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::with_capacity(self.config.workers);
        for id in 0..self.config.workers {
            let mut worker = Worker::new(
                &self.config,
                Arc::clone(&listener),
                wake_receiver.try_clone()?,
                Arc::clone(&open),
            )?;
            let thread = std::thread::Builder::new()
                .name(format!("whod-worker-{id}"))
                .spawn(move || {
                    if let Err(error) = worker.run() {
                        eprintln!("whod: worker {id} failed: {error}");
                        std::process::exit(1);
                    }
                })?;
            workers.push(thread);
        }
        Ok(Running { wake, workers })
    }
}

/// The workers, serving.
pub struct Running {
    wake: UnixStream,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (`SHUTDOWN_GRACE` at most), closes idle
    /// connections, and returns when every worker is done.
    pub fn stop(mut self) {
        // One byte, never read, keeps the wake socket readable for every worker's epoll.
        let _ = self.wake.write_all(b"!");
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

/// The clock of a worker, read once per turn of its loop; the `Date` value and the host name
/// are renewed when the second changes, so neither is ever more than a second stale.
struct Clock {
    now: Instant,
    unix_second: u64,
    date: [u8; 29],
    log_date: [u8; 26],
    hostname: Vec<u8>,
}

impl Clock {
    fn new() -> Clock {
        let mut clock = Clock {
            now: Instant::now(),
            unix_second: u64::MAX,
            date: [0; 29],
            log_date: [0; 26],
            hostname: Vec::new(),
        };
        clock.tick();
        clock
    }

    fn tick(&mut self) {
        self.now = Instant::now();
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.unix_second {
            self.unix_second = second;
            self.date = date::http_date(second);
            self.log_date = date::log_date(second);
            self.hostname = who::hostname();
        }
    }
}

/// What the connections of one worker share.
struct Context {
    header_timeout: Duration,
    idle_timeout: Duration,
    access_log: bool,
    clock: Clock,
    /// Answers being assembled, written to the socket once per read.
    output: Vec<u8>,
    /// Access log lines, written to stdout once per turn of the loop.
    log: Vec<u8>,
    /// Shutdown has begun: every answer closes its connection.
    stopping: bool,
}

impl Context {
    /// One Common Log Format line: `127.0.0.1 - - [date] "GET /who HTTP/1.1" 200 12`.
    fn log(&mut self, peer: SocketAddr, request: Option<&Request>, status: u16, bytes: usize) {
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

/// What a connection does next, as its handler tells the worker.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Keep,
    Close,
    /// More to read than one turn allows: come back without waiting for a new event.
    Again,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading requests and answering them.
    Open,
    /// The last answer is decided: send what is owed, then linger.
    Closing,
    /// Sending side shut: reading and dropping until the client closes or `LINGER` passes.
    Lingering,
}

/// What the connection's deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// No request under way: close silently.
    Idle,
    /// A request is arriving: answer 408 and close.
    Request,
    /// An answer waits for the client to take it: close.
    Send,
    /// Lingering: close.
    Linger,
}

/// An answer decided when its head arrived, sent once the request body has been read.
#[derive(Clone, Copy, Debug)]
struct Owed {
    reply: Reply,
    head_only: bool,
    connection: Connection,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// The start of a request whose end has not arrived.
    input: Vec<u8>,
    /// Answers the socket has not taken yet.
    output: Vec<u8>,
    /// A request body being read and dropped, and the answer owed after it.
    body: Option<(BodySkipper, Owed)>,
    phase: Phase,
    timer: Timer,
    deadline: Instant,
    /// An answer was written since the timer was last set: it starts over.
    answered: bool,
    /// The client has shut its sending side (EPOLLRDHUP): its end of file is waiting to be read.
    peer_closed: bool,
    /// `input` holds requests left unanswered because `OUTPUT_LIMIT` was reached: they are
    /// answered before anything more is read.
    backlog: bool,
}

/// Writes as much of `bytes` as the socket takes now; returns how much that was.
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

impl Conn {
    fn new(stream: TcpStream, peer: SocketAddr, ctx: &Context) -> Conn {
        Conn {
            stream,
            peer,
            input: Vec::new(),
            output: Vec::new(),
            body: None,
            phase: Phase::Open,
            // A new connection gets the header timeout to send its first request.
            timer: Timer::Idle,
            deadline: ctx.clock.now + ctx.header_timeout,
            answered: false,
            peer_closed: false,
            backlog: false,
        }
    }

    fn is_idle(&self) -> bool {
        self.phase == Phase::Open
            && self.input.is_empty()
            && self.body.is_none()
            && self.output.is_empty()
    }

    /// Reads what the socket has and answers every complete request in it.
    fn on_readable(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        if self.phase == Phase::Lingering {
            return self.discard(buf);
        }
        let mut reads = 0;
        // While answers are waiting for the client to read them, read no more requests.
        while self.phase == Phase::Open && self.output.is_empty() {
            if reads == READS_PER_EVENT {
                self.rearm(ctx);
                return Next::Again;
            }
            reads += 1;
            let kept = self.input.len();
            buf[..kept].copy_from_slice(&self.input);
            // Requests already read but left unanswered go first; then read more.
            let read = if std::mem::take(&mut self.backlog) {
                None
            } else {
                match self.stream.read(&mut buf[kept..]) {
                    Ok(0) => {
                        // The client sends no more: answer nothing further, send what is owed,
                        // close.
                        self.input = Vec::new();
                        self.body = None;
                        self.phase = Phase::Closing;
                        break;
                    }
                    Ok(n) => Some(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Next::Close,
                }
            };
            let filled = kept + read.unwrap_or(0);
            let used = self.process(&buf[..filled], ctx);
            self.input.clear();
            self.input.extend_from_slice(&buf[used..filled]);
            if self.input.is_empty() {
                self.input = Vec::new(); // an idle connection holds no buffer
            }
            if self.send(ctx).is_err() {
                return Next::Close;
            }
            // A short read emptied the socket, and new bytes will bring a new edge-triggered
            // event. Not so the end of file, if the client has closed: read on until it shows;
            // nor a backlog, which nothing will announce.
            let drained = read.is_some_and(|n| n < buf.len() - kept);
            if drained && !self.peer_closed && !self.backlog {
                break;
            }
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }

    /// Answers every complete request at the start of `data`; returns how many bytes it used.
    /// What is left is the beginning of a request still arriving.
    fn process(&mut self, data: &[u8], ctx: &mut Context) -> usize {
        let mut at = 0;
        while self.phase == Phase::Open {
            if let Some((reader, owed)) = &mut self.body {
                match reader.read(&data[at..]) {
                    Ok(Status::Complete(n)) => {
                        at += n;
                        let owed = *owed;
                        self.body = None;
                        self.answer(owed, ctx);
                        continue;
                    }
                    Ok(Status::Partial) => return data.len(),
                    Err(reject) => {
                        self.reject(reject, ctx);
                        break;
                    }
                }
            }
            if ctx.output.len() >= OUTPUT_LIMIT {
                self.backlog = true;
                return at;
            }
            match request::parse(&data[at..]) {
                Ok(Status::Complete(request)) => {
                    at += request.head_len;
                    let owed = self.decide(&request, ctx);
                    match BodySkipper::new(request.framing) {
                        None => self.answer(owed, ctx),
                        // The client waits for "100 Continue" before it sends the body: answer
                        // now and close, rather than wait for a body that may never come.
                        Some(_) if request.expect_continue => self.answer(
                            Owed {
                                connection: Connection::Close,
                                ..owed
                            },
                            ctx,
                        ),
                        Some(reader) => self.body = Some((reader, owed)),
                    }
                }
                Ok(Status::Partial) => return at,
                Err(reject) => {
                    self.reject(reject, ctx);
                    break;
                }
            }
        }
        // Closing: whatever follows the last answer is dropped unread.
        data.len()
    }

    /// Routes a request and logs it; the answer is written now or after the body.
    fn decide(&self, request: &Request, ctx: &mut Context) -> Owed {
        let reply = who::route(request.method, request.path(), ctx.stopping);
        let connection = if !request.keep_alive || ctx.stopping {
            Connection::Close
        } else if request.minor_version == 0 {
            Connection::KeepAlive
        } else {
            Connection::Persistent
        };
        let head_only = request.method == b"HEAD";
        if ctx.access_log {
            let bytes = match reply.content {
                _ if head_only => 0,
                who::Content::Hostname => ctx.clock.hostname.len(),
                who::Content::Text(text) => text.len(),
            };
            ctx.log(self.peer, Some(request), reply.status, bytes);
        }
        Owed {
            reply,
            head_only,
            connection,
        }
    }

    fn answer(&mut self, owed: Owed, ctx: &mut Context) {
        let body = match owed.reply.content {
            who::Content::Hostname => &ctx.clock.hostname[..],
            who::Content::Text(text) => text.as_bytes(),
        };
        let response = Response {
            status: owed.reply.status,
            body,
            head_only: owed.head_only,
            allow: owed.reply.allow,
            connection: owed.connection,
        };
        response.write_to(&mut ctx.output, &ctx.clock.date);
        if owed.connection == Connection::Close {
            self.phase = Phase::Closing;
        }
        self.answered = true;
    }

    /// Answers a bad request with its status and reason, and closes: nothing after a bad
    /// request is parsed, so nothing can be smuggled behind it.
    fn reject(&mut self, reject: Reject, ctx: &mut Context) {
        let message = reject.message();
        if ctx.access_log {
            ctx.log(self.peer, None, reject.status, message.len());
        }
        let response = Response {
            status: reject.status,
            body: message.as_bytes(),
            head_only: false,
            allow: false,
            connection: Connection::Close,
        };
        response.write_to(&mut ctx.output, &ctx.clock.date);
        self.body = None;
        self.phase = Phase::Closing;
        self.answered = true;
    }

    /// Writes the answers assembled in `ctx.output` after any still owed; keeps what the socket
    /// does not take.
    fn send(&mut self, ctx: &mut Context) -> io::Result<()> {
        if ctx.output.is_empty() {
            return Ok(());
        }
        let result = if self.output.is_empty() {
            write_some(&mut self.stream, &ctx.output)
                .map(|written| self.output.extend_from_slice(&ctx.output[written..]))
        } else {
            self.output.extend_from_slice(&ctx.output);
            Ok(())
        };
        ctx.output.clear();
        result
    }

    /// The socket takes bytes again: send what is owed, then resume reading.
    fn on_writable(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        if self.output.is_empty() {
            return Next::Keep;
        }
        match write_some(&mut self.stream, &self.output) {
            Ok(written) => drop(self.output.drain(..written)),
            Err(_) => return Next::Close,
        }
        if !self.output.is_empty() {
            return Next::Keep;
        }
        self.output = Vec::new();
        if self.phase == Phase::Open {
            // Requests may be waiting, unread, that no new event will announce.
            return self.on_readable(buf, ctx);
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }

    /// Once all that is owed is sent, a closing connection shuts its sending side and lingers.
    fn after_send(&mut self, buf: &mut [u8], ctx: &Context) -> Next {
        if self.phase != Phase::Closing || !self.output.is_empty() {
            return Next::Keep;
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        self.phase = Phase::Lingering;
        self.timer = Timer::Linger;
        self.deadline = ctx.clock.now + LINGER;
        self.discard(buf)
    }

    /// Reads and drops what the client still sends; its end of file ends the connection.
    fn discard(&mut self, buf: &mut [u8]) -> Next {
        for _ in 0..READS_PER_EVENT {
            match self.stream.read(buf) {
                Ok(0) => return Next::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        Next::Again
    }

    /// Sets the timer for what the connection waits for now. A timer keeps its deadline while
    /// it stays the same, so a trickled request cannot extend it; an answer starts it over.
    fn rearm(&mut self, ctx: &Context) {
        if self.phase == Phase::Lingering {
            return;
        }
        let (timer, timeout) = if !self.output.is_empty() {
            (Timer::Send, ctx.idle_timeout)
        } else if !self.input.is_empty() || self.body.is_some() {
            (Timer::Request, ctx.header_timeout)
        } else {
            (Timer::Idle, ctx.idle_timeout)
        };
        if timer != self.timer || self.answered {
            self.timer = timer;
            self.deadline = ctx.clock.now + timeout;
        }
        self.answered = false;
    }

    fn on_timeout(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        if self.timer != Timer::Request {
            return Next::Close;
        }
        self.reject(REQUEST_TIMEOUT, ctx);
        self.input = Vec::new();
        if self.send(ctx).is_err() {
            return Next::Close;
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }
}

struct Slot {
    /// Bumped when the slot is freed, so a stale event cannot reach the slot's next connection.
    generation: u32,
    conn: Option<Conn>,
}

/// One event loop and the connections it owns.
struct Worker {
    epoll: Epoll,
    /// `None` once shutdown has begun; the listening socket closes when no worker holds it.
    listener: Option<Arc<TcpListener>>,
    wake: UnixStream,
    open: Arc<AtomicUsize>,
    max_connections: usize,
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    /// Connections to serve again in the next turn, without waiting for an event.
    ready: Vec<u64>,
    input: Vec<u8>,
    ctx: Context,
    next_scan: Instant,
    accept_resume: Option<Instant>,
    last_accept_error: Option<Instant>,
    stop_deadline: Option<Instant>,
}

impl Worker {
    fn new(
        config: &Config,
        listener: Arc<TcpListener>,
        wake: UnixStream,
        open: Arc<AtomicUsize>,
    ) -> io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(
            listener.as_raw_fd(),
            sys::READABLE | sys::EXCLUSIVE,
            LISTENER,
        )?;
        epoll.add(wake.as_raw_fd(), sys::READABLE, WAKE)?;
        let clock = Clock::new();
        Ok(Worker {
            epoll,
            listener: Some(listener),
            wake,
            open,
            max_connections: config.max_connections,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            ready: Vec::new(),
            input: vec![0; READ_BUFFER],
            next_scan: clock.now + SCAN_INTERVAL,
            ctx: Context {
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
                access_log: config.access_log,
                clock,
                output: Vec::with_capacity(READ_BUFFER),
                log: Vec::new(),
                stopping: false,
            },
            accept_resume: None,
            last_accept_error: None,
            stop_deadline: None,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = vec![sys::empty_event(); EVENTS_PER_WAIT];
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
            let n = self.epoll.wait(&mut events, timeout)?;
            self.ctx.clock.tick();
            for event in &events[..n] {
                let (token, flags) = (event.u64, event.events);
                match token {
                    LISTENER => self.accept(),
                    WAKE => self.begin_stop(),
                    _ => self.on_event(token, flags),
                }
            }
            for token in std::mem::take(&mut self.ready) {
                self.on_event(token, sys::READABLE);
            }
            let now = self.ctx.clock.now;
            if now >= self.next_scan {
                self.expire();
            }
            if self.accept_resume.is_some_and(|at| now >= at) {
                self.resume_accept();
            }
            if !self.ctx.log.is_empty() {
                let _ = io::stdout().lock().write_all(&self.ctx.log);
                self.ctx.log.clear();
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

    fn on_event(&mut self, token: u64, flags: u32) {
        let index = (token & 0xffff_ffff) as usize;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if u64::from(slot.generation) != token >> 32 {
            return;
        }
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let next = if flags & (sys::ERROR | sys::HANGUP) != 0 {
            // Reset by the client, or both directions shut: nothing more can be said.
            Next::Close
        } else {
            conn.peer_closed |= flags & sys::PEER_CLOSED != 0;
            let mut next = Next::Keep;
            if flags & sys::WRITABLE != 0 {
                next = conn.on_writable(&mut self.input, &mut self.ctx);
            }
            if next == Next::Keep && flags & (sys::READABLE | sys::PEER_CLOSED) != 0 {
                next = conn.on_readable(&mut self.input, &mut self.ctx);
            }
            next
        };
        match next {
            Next::Keep => {}
            Next::Again => self.ready.push(token),
            Next::Close => self.close(index),
        }
    }

    fn accept(&mut self) {
        let Some(listener) = self.listener.clone() else {
            return;
        };
        for _ in 0..ACCEPTS_PER_EVENT {
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    self.pause_accept(&listener, &e);
                    return;
                }
                // The client left before we accepted it (ECONNABORTED) and the like: next.
                Err(_) => {}
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.max_connections {
            self.open.fetch_sub(1, Ordering::Relaxed);
            // Refuse cleanly, without waiting on the client: say why and close.
            let _ = stream.set_nonblocking(true);
            let _ = stream.write(BUSY);
            return;
        }
        if stream.set_nonblocking(true).is_err() {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        // Answers leave as soon as they are written, even when a previous one is unacknowledged.
        let _ = stream.set_nodelay(true);
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                conn: None,
            });
            self.slots.len() - 1
        });
        let events = sys::READABLE | sys::WRITABLE | sys::PEER_CLOSED | sys::EDGE_TRIGGERED;
        if self
            .epoll
            .add(stream.as_raw_fd(), events, self.token(index))
            .is_err()
        {
            self.free.push(index);
            self.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.slots[index].conn = Some(Conn::new(stream, peer, &self.ctx));
        self.live += 1;
    }

    fn close(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        // Dropping the stream closes the socket, which also removes it from the epoll set.
        if slot.conn.take().is_some() {
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(index);
            self.live -= 1;
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Out of file descriptors: stop watching the listener for a while rather than spin on
    /// it. Open connections are served meanwhile; each one closed frees a descriptor.
    fn pause_accept(&mut self, listener: &TcpListener, error: &io::Error) {
        let now = self.ctx.clock.now;
        let _ = self.epoll.delete(listener.as_raw_fd());
        self.accept_resume = Some(now + ACCEPT_BACKOFF);
        if self
            .last_accept_error
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(10))
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
        if let Some(listener) = &self.listener
            && let Err(error) = self.epoll.add(
                listener.as_raw_fd(),
                sys::READABLE | sys::EXCLUSIVE,
                LISTENER,
            )
        {
            eprintln!("whod: cannot watch the listener again: {error}");
            self.accept_resume = Some(self.ctx.clock.now + ACCEPT_BACKOFF);
        }
    }

    /// SIGTERM or SIGINT: stop accepting, close idle connections now, let the others finish.
    fn begin_stop(&mut self) {
        if self.stop_deadline.is_some() {
            return;
        }
        self.ctx.stopping = true;
        self.stop_deadline = Some(self.ctx.clock.now + SHUTDOWN_GRACE);
        let _ = self.epoll.delete(self.wake.as_raw_fd());
        if let Some(listener) = self.listener.take()
            && self.accept_resume.take().is_none()
        {
            let _ = self.epoll.delete(listener.as_raw_fd());
        }
        for index in 0..self.slots.len() {
            if self.slots[index].conn.as_ref().is_some_and(Conn::is_idle) {
                self.close(index);
            }
        }
    }

    /// Acts on every deadline that has passed; schedules the next scan at the earliest one left.
    fn expire(&mut self) {
        let now = self.ctx.clock.now;
        let mut next = now + SCAN_INTERVAL;
        for index in 0..self.slots.len() {
            let Some(conn) = self.slots[index].conn.as_mut() else {
                continue;
            };
            if conn.deadline <= now {
                match conn.on_timeout(&mut self.input, &mut self.ctx) {
                    Next::Keep => {}
                    Next::Again => self.ready.push(self.token(index)),
                    Next::Close => {
                        self.close(index);
                        continue;
                    }
                }
            }
            if let Some(conn) = &self.slots[index].conn {
                next = next.min(conn.deadline);
            }
        }
        // Never schedule a scan in the past, which would spin.
        self.next_scan = next.max(now + Duration::from_millis(1));
    }
}
