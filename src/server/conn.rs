//! One connection: it reads requests, answers them in order, keeps its timer, and closes. It
//! never touches epoll: the worker calls it when its socket is ready or its deadline passes, and
//! `Next` tells the worker what to do with it.
//!
//! A connection holds no buffer while idle. Bytes are read into the worker's buffer and answers
//! assembled in the context's batch, which leaves in one write; only leftovers (a request cut
//! between two reads, an answer the socket did not take yet) are copied into the connection's
//! own vectors, and those are freed once empty.
//!
//! An answer asked to wait (`?delay=`) is held by the connection with its deadline as the
//! connection's timer; the requests behind it wait unread, so answers keep their order, and the
//! worker goes on serving the others.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::context::{Context, Owed};
use crate::config::AccessLog;
use crate::http::body::BodySkipper;
use crate::http::request;
use crate::http::response::{Connection, Response, TEXT};
use crate::http::{Reject, Status};
use crate::metrics::Timeout;
use crate::proxy_protocol;
use crate::sys;

/// Answers a connection may have waiting to be sent before it stops answering more: a client
/// that pipelines requests without reading the answers holds at most this much (plus one read
/// of unanswered requests) of our memory, rather than every answer to everything it sent. One
/// answer larger than this (a large echo) is still sent whole.
pub(crate) const OUTPUT_LIMIT: usize = 16 * 1024;
/// Reads per connection per event before the others get their turn.
const READS_PER_EVENT: usize = 16;
/// After the last answer, how long to read and drop what the client still sends. Closing a
/// socket with unread bytes sends a reset, which can destroy the answer before the client
/// reads it (nginx's "lingering close").
pub(crate) const LINGER: Duration = Duration::from_secs(2);

const REQUEST_TIMEOUT: Reject = Reject::new(408, "request not received within the header timeout");

/// What the worker does with the connection next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait for its next event or its deadline.
    Wait,
    /// The same, with answers the socket has not taken: it must be watched for writability.
    WaitWritable,
    /// More to do than one turn allows: come back without waiting for an event.
    Again,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// With `--proxy-protocol`: waiting for the PROXY protocol header.
    ProxyHeader,
    /// Reading requests and answering them.
    Open,
    /// The last answer is decided: send what is owed, then linger (or close).
    Closing,
    /// Sending side shut: reading and dropping until the client closes or `LINGER` passes.
    Lingering,
}

/// What the connection's deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A new connection waits for its first request, within the header timeout: close
    /// silently.
    FirstRequest,
    /// Between requests: close silently.
    Idle,
    /// A request is arriving: answer 408 and close.
    Request,
    /// An answer is held by `?delay=`: send it.
    Delay,
    /// An answer waits for the client to take it: close.
    Send,
    /// Lingering: close.
    Linger,
}

/// Whether Nagle's algorithm is still on. The first write on a connection leaves at once
/// anyway (nothing of ours is unacknowledged), so `TCP_NODELAY` is set only before a second
/// one: a connection that gets a single answer never pays for the system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nagle {
    NothingWritten,
    On,
    Off,
}

pub(crate) struct Conn {
    stream: TcpStream,
    /// The socket's peer.
    peer: SocketAddr,
    /// The client, as a PROXY protocol header gave it; else the peer.
    client: SocketAddr,
    /// The start of a request whose end has not arrived, or requests held back.
    partial: Vec<u8>,
    /// Answers the socket has not taken yet.
    unsent: Vec<u8>,
    /// A request body being skipped, and the answer owed after it.
    body: Option<(BodySkipper, Owed)>,
    /// An answer held by `?delay=` until the deadline.
    delayed: Option<Owed>,
    phase: Phase,
    timer: Timer,
    deadline: Instant,
    /// An answer was written since the timer was last set: it starts over.
    answered: bool,
    /// A complete request has arrived: from now on, between requests, the idle timeout counts.
    any_request: bool,
    /// The client has shut its sending side (EPOLLRDHUP): its end of file is waiting to be read.
    peer_closed: bool,
    /// The client's end of file has been read, so nothing it sent is left unread: a closing
    /// connection can close at once, without lingering.
    eof_read: bool,
    /// The last read emptied the socket: anything the client sends later brings a new event.
    drained: bool,
    /// The client may still be sending when the connection closes (its request was refused,
    /// or bytes followed the last answered one): linger rather than close at once.
    linger: bool,
    /// `partial` holds requests left unanswered because `OUTPUT_LIMIT` was reached or an
    /// answer was delayed: they are answered before anything more is read.
    held_back: bool,
    nagle: Nagle,
}

/// Writes as much of `bytes` as the socket takes now; returns how much that was.
fn write_some(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match sys::write(stream, &bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

impl Conn {
    /// A connection just accepted; `stream` is non-blocking.
    pub fn new(stream: TcpStream, peer: SocketAddr, ctx: &Context) -> Conn {
        Conn {
            stream,
            peer,
            client: peer,
            partial: Vec::new(),
            unsent: Vec::new(),
            body: None,
            delayed: None,
            phase: if ctx.settings.proxy_protocol {
                Phase::ProxyHeader
            } else {
                Phase::Open
            },
            timer: Timer::FirstRequest,
            deadline: ctx.clock.now + ctx.settings.header_timeout,
            answered: false,
            any_request: false,
            peer_closed: false,
            eof_read: false,
            drained: false,
            linger: false,
            held_back: false,
            nagle: Nagle::NothingWritten,
        }
    }

    /// For the worker, to change what epoll watches it for.
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Between requests, with nothing owed: closing it loses nothing.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Open
            && self.partial.is_empty()
            && self.body.is_none()
            && self.delayed.is_none()
            && self.unsent.is_empty()
    }

    /// Reading requests: the PROXY protocol header, then HTTP.
    fn is_reading(&self) -> bool {
        matches!(self.phase, Phase::ProxyHeader | Phase::Open)
    }

    /// The client shut its sending side: its end of file will be read after what it sent.
    pub fn on_peer_closed(&mut self) {
        self.peer_closed = true;
    }

    /// Reads what the socket has and answers every complete request in it.
    pub fn on_readable(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        if self.phase == Phase::Lingering {
            return self.discard(buf);
        }
        let mut reads = 0;
        // While answers are waiting for the client to read them, or one is held by a delay,
        // read no more requests.
        while self.is_reading() && self.unsent.is_empty() && self.delayed.is_none() {
            if reads == READS_PER_EVENT {
                self.rearm(ctx);
                return Next::Again;
            }
            reads += 1;
            // What was kept (the start of a request, or requests held back) goes first in the
            // buffer, and what is read now after it.
            let kept = self.partial.len();
            // Requests held back are answered before anything more is read.
            let read = if std::mem::take(&mut self.held_back) {
                None
            } else {
                match sys::read(&self.stream, &mut buf[kept..]) {
                    Ok(0) => {
                        // The client sends no more: answer nothing further, send what is owed,
                        // close.
                        self.partial = Vec::new();
                        self.body = None;
                        self.phase = Phase::Closing;
                        self.eof_read = true;
                        break;
                    }
                    Ok(n) => Some(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.drained = true;
                        break;
                    }
                    Err(_) => return Next::Close,
                }
            };
            // Moved into the buffer only now, so that a read that found nothing leaves it kept.
            if kept != 0 {
                buf[..kept].copy_from_slice(&std::mem::take(&mut self.partial));
            }
            let filled = kept + read.unwrap_or(0);
            let Some(used) = self.answer_all(&buf[..filled], ctx) else {
                // Not a PROXY protocol header: no answer, nothing to linger for.
                return Next::Close;
            };
            // What is left is kept; an idle connection holds no buffer.
            if used != filled {
                self.partial = buf[used..filled].to_vec();
            }
            if self.send(ctx).is_err() {
                return Next::Close;
            }
            // A short read emptied the socket, and new bytes will bring a new edge-triggered
            // event. Not so the end of file, if the client has closed: read on until it shows;
            // nor requests held back, which nothing will announce.
            if let Some(n) = read {
                self.drained = n < buf.len() - kept;
            }
            if read.is_some() && self.drained && !self.peer_closed && !self.held_back {
                break;
            }
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }

    /// Answers every complete request at the start of `data`; returns how many bytes it used,
    /// or `None` when the connection must close without a word (a bad PROXY protocol header).
    /// What is left is the beginning of a request still arriving, or requests held back.
    fn answer_all(&mut self, data: &[u8], ctx: &mut Context) -> Option<usize> {
        let mut at = 0;
        if self.phase == Phase::ProxyHeader {
            match proxy_protocol::parse(data) {
                Ok(Status::Complete(header)) => {
                    at = header.len;
                    if let Some(addresses) = header.addresses {
                        self.client = addresses.source;
                    }
                    self.phase = Phase::Open;
                }
                Ok(Status::Partial) => return Some(0),
                Err(_) => {
                    ctx.counters().proxy_headers_refused.add(1);
                    return None;
                }
            }
        }
        while self.phase == Phase::Open && self.delayed.is_none() {
            if let Some((skipper, _)) = &mut self.body {
                match skipper.read(&data[at..]) {
                    Ok(Status::Complete(n)) => {
                        at += n;
                        let (_, owed) = self.body.take().expect("a body is being skipped");
                        self.answer(owed, ctx);
                        continue;
                    }
                    Ok(Status::Partial) => return Some(data.len()),
                    Err(reject) => {
                        self.reject(reject, ctx);
                        break;
                    }
                }
            }
            // All used: no need to ask the parser about nothing.
            if at == data.len() {
                return Some(at);
            }
            if ctx.batch.len() >= OUTPUT_LIMIT {
                self.held_back = true;
                return Some(at);
            }
            match request::parse(&data[at..]) {
                Ok(Status::Complete(request)) => {
                    let head = &data[at..at + request.head_len];
                    at += request.head_len;
                    self.any_request = true;
                    if ctx.is_plain_who(&request) {
                        ctx.write_who_answer();
                        self.answered = true;
                        continue;
                    }
                    let owed = self.decide(&request, head, ctx);
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
                        Some(skipper) => self.body = Some((skipper, owed)),
                    }
                }
                Ok(Status::Partial) => return Some(at),
                Err(reject) => {
                    self.reject(reject, ctx);
                    break;
                }
            }
        }
        if self.delayed.is_some() {
            // The requests behind a delayed answer wait for it (`release` serves them).
            return Some(at);
        }
        // Closing: whatever follows the last answer is dropped unread, and more may come.
        self.linger |= at < data.len();
        Some(data.len())
    }

    /// Writes the answer into the batch, or holds it if it asks for a delay (unless the stop
    /// has begun: then it goes at once, closing the connection).
    fn answer(&mut self, owed: Owed, ctx: &mut Context) {
        if !owed.delay.is_zero() && !ctx.stopping {
            self.timer = Timer::Delay;
            self.deadline = ctx.clock.now + owed.delay;
            ctx.delay_until(self.deadline);
            self.delayed = Some(owed);
            return;
        }
        ctx.write_answer(&owed);
        if owed.connection == Connection::Close {
            self.phase = Phase::Closing;
        }
        self.answered = true;
    }

    /// Sends the delayed answer now, then serves the requests held behind it.
    fn release(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        let Some(mut owed) = self.delayed.take() else {
            return Next::Wait;
        };
        ctx.counters().delayed_answers.sub(1);
        owed.delay = Duration::ZERO;
        if ctx.shutting_down {
            owed.connection = Connection::Close;
        }
        self.answer(owed, ctx);
        if self.send(ctx).is_err() {
            return Next::Close;
        }
        if self.phase == Phase::Open {
            // Held requests go first; then whatever arrived meanwhile, which no new event
            // will announce.
            self.held_back = !self.partial.is_empty();
            return self.on_readable(buf, ctx);
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }

    /// The stop has begun: a delayed answer goes now, with `Connection: close`.
    pub fn on_stop(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        self.release(buf, ctx)
    }

    /// The worker closes the connection: what it counted as in progress is no longer.
    pub fn close(self, ctx: &Context) {
        if self.delayed.is_some() {
            ctx.counters().delayed_answers.sub(1);
        }
    }

    /// Answers a bad request with its status and reason, and closes: nothing after a bad
    /// request is parsed, so nothing can be smuggled behind it.
    #[cold]
    fn reject(&mut self, reject: Reject, ctx: &mut Context) {
        let message = reject.message();
        if reject.status == REQUEST_TIMEOUT.status {
            ctx.counters().timeout(Timeout::Header);
        } else {
            ctx.counters().refused(reject.status);
        }
        if ctx.settings.access_log != AccessLog::Off {
            ctx.log(self.client, None, reject.status, message.len());
        }
        let response = Response {
            status: reject.status,
            content_type: TEXT,
            body: message.as_bytes(),
            head_only: false,
            allow: false,
            vary_accept: false,
            connection: Connection::Close,
        };
        response.write_to(&mut ctx.batch, &ctx.clock.date);
        self.body = None;
        self.phase = Phase::Closing;
        self.linger = true;
        self.answered = true;
    }

    /// Writes the answers assembled in `ctx.batch` after any still unsent; keeps what the
    /// socket does not take.
    fn send(&mut self, ctx: &mut Context) -> io::Result<()> {
        if ctx.batch.is_empty() {
            return Ok(());
        }
        let result = if self.unsent.is_empty() {
            self.before_write();
            write_some(&self.stream, &ctx.batch)
                .map(|written| self.unsent.extend_from_slice(&ctx.batch[written..]))
        } else {
            self.unsent.extend_from_slice(&ctx.batch);
            Ok(())
        };
        ctx.batch.clear();
        result
    }

    fn before_write(&mut self) {
        match self.nagle {
            Nagle::NothingWritten => self.nagle = Nagle::On,
            Nagle::On => {
                // Answers leave as soon as they are written, even when an earlier one is
                // unacknowledged. A failure leaves Nagle on: slower, not wrong.
                let _ = self.stream.set_nodelay(true);
                self.nagle = Nagle::Off;
            }
            Nagle::Off => {}
        }
    }

    /// The socket takes bytes again: send what is unsent, then resume reading.
    pub fn on_writable(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        if self.unsent.is_empty() {
            return Next::Wait;
        }
        self.before_write();
        match write_some(&self.stream, &self.unsent) {
            Ok(written) => drop(self.unsent.drain(..written)),
            Err(_) => return Next::Close,
        }
        if !self.unsent.is_empty() {
            return Next::WaitWritable;
        }
        self.unsent = Vec::new();
        if self.phase == Phase::Open {
            // Requests may be waiting, unread, that no new event will announce.
            return self.on_readable(buf, ctx);
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }

    /// Once all that is owed is sent, a closing connection closes at once when nothing the
    /// client sent can be left unread: its end of file was read, or (as nginx decides) its last
    /// request was read whole with nothing after it, by a read that emptied the socket, and was
    /// not refused. Otherwise it shuts its sending side and lingers: a client still sending
    /// (a body after a refusal, requests after the last one) would get a reset on a close, and
    /// a reset can destroy the answer before the client reads it.
    fn after_send(&mut self, buf: &mut [u8], ctx: &Context) -> Next {
        if !self.unsent.is_empty() {
            return Next::WaitWritable;
        }
        if self.phase != Phase::Closing {
            return Next::Wait;
        }
        let nothing_left = self.drained && !self.linger && self.partial.is_empty();
        if self.eof_read || nothing_left {
            return Next::Close;
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        self.phase = Phase::Lingering;
        self.timer = Timer::Linger;
        self.deadline = ctx.clock.now + LINGER;
        // After a read that emptied the socket, what the client sends next, its end of file
        // included, brings an event: no need to read now. A pending end of file does not.
        if self.drained && !self.peer_closed {
            Next::Wait
        } else {
            self.discard(buf)
        }
    }

    /// Reads and drops what the client still sends; its end of file ends the connection.
    fn discard(&mut self, buf: &mut [u8]) -> Next {
        for _ in 0..READS_PER_EVENT {
            match sys::read(&self.stream, buf) {
                Ok(0) => return Next::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(_) => return Next::Close,
            }
        }
        Next::Again
    }

    /// Sets the timer for what the connection waits for now. A timer keeps its deadline while
    /// it stays the same, so a trickled request cannot extend it; an answer starts it over.
    fn rearm(&mut self, ctx: &Context) {
        if matches!(self.phase, Phase::Lingering) || self.delayed.is_some() {
            return;
        }
        let (timer, timeout) = if !self.unsent.is_empty() {
            (Timer::Send, ctx.settings.idle_timeout)
        } else if !self.partial.is_empty() || self.body.is_some() {
            (Timer::Request, ctx.settings.header_timeout)
        } else if !self.any_request {
            (Timer::FirstRequest, ctx.settings.header_timeout)
        } else {
            (Timer::Idle, ctx.settings.idle_timeout)
        };
        if timer != self.timer || self.answered {
            self.timer = timer;
            self.deadline = ctx.clock.now + timeout;
        }
        self.answered = false;
    }

    /// The deadline has passed: a delayed answer goes; a request still arriving gets 408;
    /// anything else closes.
    pub fn on_timeout(&mut self, buf: &mut [u8], ctx: &mut Context) -> Next {
        match self.timer {
            Timer::Delay => return self.release(buf, ctx),
            // A PROXY protocol header never gets an HTTP answer.
            Timer::Request if self.phase == Phase::ProxyHeader => {
                ctx.counters().timeout(Timeout::Header);
                return Next::Close;
            }
            Timer::Request => {}
            Timer::FirstRequest => {
                ctx.counters().timeout(Timeout::Header);
                return Next::Close;
            }
            Timer::Idle | Timer::Send => {
                ctx.counters().timeout(Timeout::Idle);
                return Next::Close;
            }
            Timer::Linger => return Next::Close,
        }
        self.reject(REQUEST_TIMEOUT, ctx);
        self.partial = Vec::new();
        if self.send(ctx).is_err() {
            return Next::Close;
        }
        self.rearm(ctx);
        self.after_send(buf, ctx)
    }
}

mod dispatch;
#[cfg(test)]
mod tests;
