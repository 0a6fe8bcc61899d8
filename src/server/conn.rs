//! One connection: it reads requests, answers them in order, keeps its timer, and closes. It
//! never touches epoll: the worker calls it when its socket is ready or its deadline passes, and
//! `Next` tells the worker what to do with it.
//!
//! Its read side and its write side each have one state (`state.rs`), as hyper's `Reading` and
//! `Writing`: the read side takes the PROXY header, request heads, a request's body, WebSocket
//! frames, and after the last answer it lingers; the write side answers at once, holds an
//! answer for its `?delay=`, or writes a stream's events or a download (`streamed.rs`). A new
//! protocol on the connection is one more state of each.
//!
//! A connection holds no buffer while idle. Bytes are read into the worker's buffer and answers
//! assembled in the worker's batch, which leaves in one write; only leftovers (a request cut
//! between two reads, an answer the socket did not take yet) are copied into the connection's
//! own vectors, and those are freed once empty.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod state;
mod streamed;

use self::state::{Inbound, Kept, Nagle, Reading, Timer, Writing};
use self::streamed::{Download, EventStream, Turn};
use super::dispatch::{self, Peers};
use super::request_body::{RequestBody, Seen};
use super::websocket::WebSocket;
use super::worker_state::WorkerState;
use crate::http::body::BodyReader;
use crate::http::request::{self, Request};
use crate::http::response::{self, Connection, Length};
use crate::http::{Reject, Status};
use crate::metrics::Timeout;
use crate::proxy_protocol;
use crate::routes::{AboutBody, Answer, Body, Upgrade};
use crate::sys;
use crate::websocket::session::{GOING_AWAY, Read};

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
/// The interim answer to `Expect: 100-continue`, when the answer needs the body (RFC 9110
/// §15.2.1): the client sends it then.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

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

/// What `read_behind_kept` put in the buffer.
enum Filled {
    /// `filled` bytes, kept ones first; `read`: a read was made (none is for requests held
    /// back).
    Bytes {
        filled: usize,
        read: bool,
    },
    /// Nothing to serve: the socket is empty.
    Nothing,
    /// The client's end of file came: it sends no more.
    End,
    Failed,
}

/// How far `serve` got in the bytes it was given.
enum Served {
    /// Used up to here; the rest is the start of a request still arriving.
    UpTo(usize),
    /// Used up to here; the rest are requests held back because `OUTPUT_LIMIT` was reached.
    HeldBack(usize),
    /// Not a PROXY protocol header: the connection closes without a word.
    Refused,
}

pub(crate) struct Conn {
    stream: TcpStream,
    /// The socket's peer.
    peer: SocketAddr,
    /// The client, as a PROXY protocol header gave it; else the peer.
    client: SocketAddr,
    /// The PROXY protocol v2 header's TLVs (what a TLS-terminating proxy says of the client's
    /// connection), for `/echo`; none without them.
    proxy_tlvs: Option<Box<[u8]>>,
    reading: Reading,
    writing: Writing,
    inbound: Inbound,
    kept: Kept,
    /// Answers the socket has not taken yet.
    unsent: Vec<u8>,
    timer: Timer,
    deadline: Instant,
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
    pub fn new(stream: TcpStream, peer: SocketAddr, worker: &WorkerState) -> Conn {
        Conn {
            stream,
            peer,
            client: peer,
            proxy_tlvs: None,
            reading: if worker.settings.proxy_protocol {
                Reading::ProxyHeader
            } else {
                Reading::Heads { first: true }
            },
            writing: Writing::Answering,
            inbound: Inbound::Unknown,
            kept: Kept::Nothing,
            unsent: Vec::new(),
            timer: Timer::FirstRequest,
            deadline: worker.clock.now + worker.settings.header_timeout,
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
        matches!(self.reading, Reading::Heads { .. })
            && matches!(self.writing, Writing::Answering)
            && self.kept.is_empty()
            && self.unsent.is_empty()
    }

    /// Reading requests: the PROXY protocol header, heads, bodies.
    fn is_reading(&self) -> bool {
        matches!(
            self.reading,
            Reading::ProxyHeader
                | Reading::Heads { .. }
                | Reading::Body(..)
                | Reading::WebSocket(_)
        )
    }

    /// More should be read now. Not while answers wait for the client (so that one that does
    /// not read holds at most `OUTPUT_LIMIT`), nor while an answer holds the connection; but a
    /// WebSocket message's echo may wait whole, as many clients send a whole message before
    /// they read (`WebSocket::wants_input`).
    fn wants_input(&self) -> bool {
        if self.unsent.is_empty() && matches!(self.writing, Writing::Answering) {
            return self.is_reading();
        }
        matches!(&self.reading, Reading::WebSocket(ws) if ws.wants_input(self.unsent.len(), OUTPUT_LIMIT))
    }

    /// The client shut its sending side: its end of file will be read after what it sent.
    pub fn on_peer_closed(&mut self) {
        if self.inbound != Inbound::Eof {
            self.inbound = Inbound::PeerClosed;
        }
    }

    /// Reads what the socket has and answers every complete request in it.
    pub fn on_readable(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        if matches!(self.reading, Reading::Lingering) {
            return self.discard(buf);
        }
        let mut answered = false;
        let mut reads = 0;
        // While answers are waiting for the client to read them, or one is held by a delay,
        // read no more requests.
        while self.wants_input() {
            if reads == READS_PER_EVENT {
                self.set_timer(worker, answered);
                return Next::Again;
            }
            reads += 1;
            let (filled, read) = match self.read_behind_kept(buf) {
                Filled::Bytes { filled, read } => (filled, read),
                Filled::Nothing => break,
                Filled::End => {
                    // The client sends no more: answer nothing further, send what is owed,
                    // close. (A WebSocket ends without a close frame: 1006.)
                    self.end_websocket(worker);
                    self.reading = Reading::Done { unread: false };
                    break;
                }
                Filled::Failed => return Next::Close,
            };
            let data = &buf[..filled];
            let (used, held_back) = match self.serve(data, worker) {
                Served::UpTo(used) => (used, false),
                Served::HeldBack(used) => (used, true),
                // Not a PROXY protocol header: no answer, nothing to linger for.
                Served::Refused => return Next::Close,
            };
            // What is left is kept; an idle connection holds no buffer.
            let rest = &data[used..];
            if !rest.is_empty() {
                self.kept = if held_back {
                    Kept::HeldBack(rest.to_vec())
                } else {
                    Kept::Start(rest.to_vec())
                };
            }
            answered |= !worker.batch.is_empty();
            if self.send(worker).is_err() {
                return Next::Close;
            }
            // A read that emptied the socket: new bytes will bring a new edge-triggered event.
            // Not so the end of file of a client that has closed, nor requests held back, nor
            // bytes that came while reading waited (no read was made this time round).
            if read && self.inbound == Inbound::Drained && !held_back {
                break;
            }
        }
        self.set_timer(worker, answered);
        self.after_send(buf, worker)
    }

    /// Puts the kept bytes at the start of `buf` and reads after them, unless they are
    /// requests held back, which are answered before anything more is read.
    fn read_behind_kept(&mut self, buf: &mut [u8]) -> Filled {
        let kept = self.kept.len();
        let held_back = matches!(self.kept, Kept::HeldBack(_));
        let read = if held_back {
            0
        } else {
            match sys::read(&self.stream, &mut buf[kept..]) {
                Ok(0) => {
                    self.kept = Kept::Nothing;
                    self.inbound = Inbound::Eof;
                    return Filled::End;
                }
                Ok(n) => {
                    if self.inbound != Inbound::PeerClosed {
                        self.inbound = if n < buf.len() - kept {
                            Inbound::Drained
                        } else {
                            Inbound::Unknown
                        };
                    }
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.inbound = Inbound::Drained;
                    return Filled::Nothing;
                }
                Err(_) => return Filled::Failed,
            }
        };
        // Moved into the buffer only now, so that a read that found nothing leaves it kept.
        if let Kept::Start(bytes) | Kept::HeldBack(bytes) =
            std::mem::replace(&mut self.kept, Kept::Nothing)
        {
            buf[..kept].copy_from_slice(&bytes);
        }
        Filled::Bytes {
            filled: kept + read,
            read: !held_back,
        }
    }

    /// Answers every complete request at the start of `data`, and says how far it got: the
    /// rest is the beginning of a request still arriving, or requests held back.
    fn serve(&mut self, data: &[u8], worker: &mut WorkerState) -> Served {
        let mut at = 0;
        if let Reading::ProxyHeader = self.reading {
            match self.read_proxy_header(data, worker) {
                Some(Status::Complete(len)) => at = len,
                Some(Status::Partial) => return Served::UpTo(0),
                None => return Served::Refused,
            }
        }
        loop {
            match &mut self.reading {
                Reading::Body(body) => match body.read(&data[at..]) {
                    Ok(Status::Complete(n)) => {
                        at += n;
                        let done =
                            std::mem::replace(&mut self.reading, Reading::Heads { first: false });
                        if let Reading::Body(body) = done {
                            self.on_body_read(*body, worker);
                        }
                    }
                    Ok(Status::Partial) => return Served::UpTo(data.len()),
                    Err(reject) => {
                        self.reject(reject, worker);
                        break;
                    }
                },
                Reading::Heads { first } => {
                    if !matches!(self.writing, Writing::Answering) {
                        // The requests behind a delayed answer wait for it (`send_delayed`
                        // serves them).
                        return Served::UpTo(at);
                    }
                    // All used: no need to ask the parser about nothing.
                    if at == data.len() {
                        return Served::UpTo(at);
                    }
                    if worker.batch.len() >= OUTPUT_LIMIT {
                        return Served::HeldBack(at);
                    }
                    match request::parse_within(&data[at..], worker.settings.max_body) {
                        Ok(Status::Complete(request)) => {
                            let head = &data[at..at + request.head_len];
                            at += request.head_len;
                            *first = false;
                            // The request nearly every load balancer sends, answered here;
                            // any other goes through the routes.
                            if worker.is_plain_who(&request) {
                                worker.write_who_answer(request.keep_alive);
                                if !request.keep_alive {
                                    self.reading = Reading::Done { unread: false };
                                }
                            } else {
                                self.on_request(&request, head, worker);
                            }
                        }
                        Ok(Status::Partial) => return Served::UpTo(at),
                        Err(reject) => {
                            self.reject(reject, worker);
                            break;
                        }
                    }
                }
                Reading::WebSocket(_) => {
                    self.read_frames(&data[at..], worker);
                    return Served::UpTo(data.len());
                }
                // (The PROXY header was read above, and a lingering connection serves nothing.)
                Reading::Done { .. } | Reading::ProxyHeader | Reading::Lingering => break,
            }
        }
        // Closing: whatever follows the last answer is dropped unread, and more may come.
        if at < data.len()
            && let Reading::Done { unread } = &mut self.reading
        {
            *unread = true;
        }
        Served::UpTo(data.len())
    }

    /// The PROXY protocol header at the start of `data`: its length once whole; `None` when it
    /// is not one.
    fn read_proxy_header(
        &mut self,
        data: &[u8],
        worker: &mut WorkerState,
    ) -> Option<Status<usize>> {
        match proxy_protocol::parse(data) {
            Ok(Status::Complete(header)) => {
                if let Some(addresses) = header.addresses {
                    self.client = addresses.source;
                }
                if !header.tlvs.is_empty() {
                    self.proxy_tlvs = Some(header.tlvs.into());
                }
                self.reading = Reading::Heads { first: true };
                Some(Status::Complete(header.len))
            }
            Ok(Status::Partial) => Some(Status::Partial),
            Err(_) => {
                worker.counters().proxy_headers_refused.add(1);
                None
            }
        }
    }

    /// A request whose head has arrived: answered now, or after its body. (Out of line, so
    /// that the loop that serves a plain `GET /who` stays small enough to inline the parser.)
    #[inline(never)]
    fn on_request(&mut self, request: &Request, head: &[u8], worker: &mut WorkerState) {
        let answer = dispatch::answer(request, head, &self.peers(), worker);
        let about_body = match answer.body {
            Body::AboutBody(about) => Some(about),
            _ => None,
        };
        // "A server that receives a 100-continue expectation in an HTTP/1.0 request MUST
        // ignore that expectation" (RFC 9110 §10.1.1).
        let continues = request.expect_continue && request.minor_version == 1;
        match BodyReader::within(request.framing, worker.settings.max_body) {
            // An answer about a body that is not there: the body was empty.
            None if about_body.is_some() => {
                let seen = self.seen(about_body, head, worker);
                self.on_body_read(RequestBody::new(BodyReader::empty(), answer, seen), worker);
            }
            None => self.answer(answer, worker),
            // The client waits for "100 Continue" before it sends the body, and the answer
            // does not need it (or the expectation failed): answer now and close, rather than
            // wait for a body that may never come and would be read as the next request.
            Some(_) if about_body.is_none() && (continues || answer.head.status == 417) => {
                let mut answer = answer;
                answer.head.connection = Connection::Close;
                self.answer(answer, worker);
            }
            Some(reader) => {
                if continues {
                    worker.batch.extend_from_slice(CONTINUE);
                }
                let seen = self.seen(about_body, head, worker);
                self.reading = Reading::Body(Box::new(RequestBody::new(reader, answer, seen)));
            }
        }
    }

    /// What an answer about the body (`about`) needs to see of it.
    fn seen(&self, about: Option<AboutBody>, head: &[u8], worker: &WorkerState) -> Option<Seen> {
        let max_shown = worker.settings.max_echo_body as usize;
        about.map(|about| Seen::new(about, head, max_shown, worker.clock.now))
    }

    /// The request's body has been read: its answer, finished if it is about the body.
    fn on_body_read(&mut self, body: RequestBody, worker: &mut WorkerState) {
        let RequestBody {
            mut answer, seen, ..
        } = body;
        if let Some(seen) = seen {
            dispatch::finish(&mut answer, &seen, &self.peers(), worker);
        }
        self.answer(answer, worker);
    }

    /// Who is at the other end, for the routes.
    fn peers(&self) -> Peers<'_> {
        Peers {
            client: self.client,
            peer: self.peer,
            socket: &self.stream,
            tlvs: self.proxy_tlvs.as_deref().unwrap_or_default(),
        }
    }

    /// Writes the answer into the batch, or holds it if it asks for a delay (unless the stop
    /// has begun: then it goes at once, closing the connection). A stream or a download writes
    /// its head, and goes on as its own state.
    #[inline(always)]
    fn answer(&mut self, answer: Answer, worker: &mut WorkerState) {
        if !answer.delay.is_zero() && !worker.stopping {
            self.timer = Timer::Delay;
            // Not the turn's reading: the request may have been read later in the turn (after
            // a delayed answer released it), and the delay must not end early.
            self.deadline = worker.clock.now_fresh() + answer.delay;
            worker.wake_at(self.deadline);
            worker.counters().delayed_answers.add(1);
            self.writing = Writing::Delayed(Box::new(answer));
            return;
        }
        if let Body::Upgrade(upgrade) = answer.body {
            return self.upgrade(*upgrade, worker);
        }
        worker.write_answer(&answer);
        let closes = answer.head.connection == Connection::Close;
        match answer.body {
            _ if answer.head.head_only => {}
            Body::Events(events) => {
                let chunked = answer.head.length == Length::Chunked;
                let stream = EventStream::new(events, worker.clock.now, chunked, closes);
                self.writing = Writing::Events(Box::new(stream));
                // The first event goes with the head.
                self.continue_events(worker);
                return;
            }
            Body::Download(size) if size > 0 => {
                self.writing = Writing::Download(Box::new(Download::new(size, closes)));
                return;
            }
            _ => {}
        }
        if closes {
            self.reading = Reading::Done { unread: false };
        }
    }

    /// The handshake was accepted: the 101, the greeting if one was asked for, and from now on
    /// WebSocket frames.
    #[inline(never)]
    fn upgrade(&mut self, upgrade: Upgrade, worker: &mut WorkerState) {
        self.reading = Reading::WebSocket(Box::new(WebSocket::open(upgrade, worker)));
        if worker.stopping {
            // Upgraded after the stop began (its request came late, or was held by a delay):
            // told at once, as the others were.
            self.close_websocket(worker);
        }
    }

    /// Writes the events of the stream that are due; after the last one, the connection goes
    /// on answering.
    fn continue_events(&mut self, worker: &mut WorkerState) {
        let Writing::Events(stream) = &mut self.writing else {
            return;
        };
        let room = OUTPUT_LIMIT.saturating_sub(self.unsent.len());
        if let Some(closes) = stream.write_due(room, worker) {
            self.writing = Writing::Answering;
            self.after_streamed_answer(closes, worker);
        }
    }

    /// A stream or a download is over: the connection closes if its head said so, or if
    /// shutdown has begun since (every answer then closes its connection).
    fn after_streamed_answer(&mut self, closes: bool, worker: &WorkerState) {
        if closes || worker.shutting_down {
            self.reading = Reading::Done { unread: false };
        }
    }

    /// Writes a turn of the download; after its last byte, the connection goes on answering.
    fn continue_download(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        let Writing::Download(download) = &mut self.writing else {
            self.set_timer(worker, false);
            return Next::Again;
        };
        match download.write_turn(&self.stream) {
            Turn::Done => {
                let closes = download.closes;
                self.writing = Writing::Answering;
                self.after_streamed_answer(closes, worker);
                self.resume(buf, worker)
            }
            Turn::Blocked { progress } => {
                self.set_timer(worker, progress);
                Next::WaitWritable
            }
            Turn::More => {
                self.set_timer(worker, true);
                Next::Again
            }
            Turn::Failed => Next::Close,
        }
    }

    /// Sends the delayed answer now, then serves the requests held behind it.
    fn send_delayed(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        let Writing::Delayed(mut answer) = std::mem::replace(&mut self.writing, Writing::Answering)
        else {
            return Next::Wait;
        };
        worker.counters().delayed_answers.sub(1);
        answer.delay = Duration::ZERO;
        if worker.shutting_down {
            answer.head.connection = Connection::Close;
        }
        self.answer(*answer, worker);
        if self.send(worker).is_err() {
            return Next::Close;
        }
        self.resume(buf, worker)
    }

    /// An answer that held the connection (a delay, a stream, a download) is written: serve
    /// the requests kept behind it, then whatever arrived meanwhile, which no new event will
    /// announce.
    fn resume(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        if self.is_reading() && matches!(self.writing, Writing::Answering) {
            if let Kept::Start(bytes) = std::mem::replace(&mut self.kept, Kept::Nothing) {
                self.kept = Kept::HeldBack(bytes);
            }
            return self.on_readable(buf, worker);
        }
        self.set_timer(worker, true);
        self.after_send(buf, worker)
    }

    /// The stop has begun: a delayed answer goes now, with `Connection: close`; a stream ends
    /// at once, saying so. (A download goes on, within the stop's grace.)
    pub fn on_stop(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        match &self.writing {
            Writing::Delayed(_) => self.send_delayed(buf, worker),
            Writing::Events(stream) => {
                worker.write_stream_end(stream.events.format, stream.chunked);
                self.writing = Writing::Answering;
                self.reading = Reading::Done { unread: false };
                if self.send(worker).is_err() {
                    return Next::Close;
                }
                self.set_timer(worker, true);
                self.after_send(buf, worker)
            }
            // An open WebSocket is told the server is going away (1001), and lingers for the
            // client's close.
            Writing::Answering if matches!(self.reading, Reading::WebSocket(_)) => {
                self.close_websocket(worker);
                if self.send(worker).is_err() {
                    return Next::Close;
                }
                self.set_timer(worker, true);
                self.after_send(buf, worker)
            }
            Writing::Answering | Writing::Download(_) => Next::Wait,
        }
    }

    /// Feeds a WebSocket's frames to its session; the echoes go to the batch. (Out of line, as
    /// `answer_with_body`: the loop that serves a plain `GET /who` stays small.)
    #[inline(never)]
    fn read_frames(&mut self, data: &[u8], worker: &mut WorkerState) {
        let Reading::WebSocket(ws) = &mut self.reading else {
            return;
        };
        let outcome = ws.read(data, &mut worker.batch, worker.clock.now);
        ws.account(worker.counters());
        if let Read::Closed { .. } = outcome {
            self.end_websocket(worker);
            // The closing handshake is over: the server closes first, lingering over what the
            // client may still send.
            self.reading = Reading::Done { unread: true };
        }
    }

    /// The server stops: the WebSocket is told so (1001), and its connection ends as every
    /// last answer's does.
    fn close_websocket(&mut self, worker: &mut WorkerState) {
        if let Reading::WebSocket(ws) = &mut self.reading {
            ws.session
                .close(GOING_AWAY, "server stopping", &mut worker.batch);
        }
        self.end_websocket(worker);
        self.reading = Reading::Done { unread: true };
    }

    /// The WebSocket is over: counted and logged (`WebSocket::end`). Leaves the reading state
    /// as it is.
    fn end_websocket(&mut self, worker: &mut WorkerState) {
        if let Reading::WebSocket(ws) = &mut self.reading {
            ws.end(self.client, worker);
        }
    }

    /// The worker closes the connection: what it counted as in progress is no longer.
    pub fn close(&mut self, worker: &mut WorkerState) {
        if let Writing::Delayed(_) = self.writing {
            worker.counters().delayed_answers.sub(1);
        }
        self.end_websocket(worker);
    }

    /// Answers a bad request with its status and reason, and closes: nothing after a bad
    /// request is parsed, so nothing can be smuggled behind it.
    #[cold]
    fn reject(&mut self, reject: Reject, worker: &mut WorkerState) {
        let message = reject.message();
        if reject.status == REQUEST_TIMEOUT.status {
            worker.counters().timeout(Timeout::Header);
        } else {
            worker.counters().refused(reject.status);
        }
        if !worker.log.is_off() {
            let date = worker.clock.log_date;
            worker
                .log
                .line(&date, self.client, None, reject.status, message.len());
        }
        let head = response::Head {
            connection: Connection::Close,
            ..response::Head::new(reject.status, response::TEXT)
        };
        head.write(
            message.as_bytes(),
            &worker.clock.date,
            &worker.settings.extra,
            &mut worker.batch,
        );
        self.reading = Reading::Done { unread: true };
    }

    /// Writes the answers assembled in the worker's batch after any still unsent; keeps what
    /// the socket does not take.
    fn send(&mut self, worker: &mut WorkerState) -> io::Result<()> {
        if worker.batch.is_empty() {
            return Ok(());
        }
        let result = if self.unsent.is_empty() {
            self.before_write();
            write_some(&self.stream, &worker.batch)
                .map(|written| self.unsent.extend_from_slice(&worker.batch[written..]))
        } else {
            self.unsent.extend_from_slice(&worker.batch);
            Ok(())
        };
        worker.batch.clear();
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

    /// The socket takes bytes again: send what is unsent, then go on: a stream's late events,
    /// a download's next bytes, requests waiting unread.
    pub fn on_writable(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        if !self.unsent.is_empty() {
            self.before_write();
            match write_some(&self.stream, &self.unsent) {
                Ok(written) => drop(self.unsent.drain(..written)),
                Err(_) => return Next::Close,
            }
            if !self.unsent.is_empty() {
                return Next::WaitWritable;
            }
            self.unsent = Vec::new();
        } else if matches!(self.writing, Writing::Answering | Writing::Delayed(_)) {
            return Next::Wait;
        }
        if let Writing::Events(_) = self.writing {
            self.continue_events(worker);
            if self.send(worker).is_err() {
                return Next::Close;
            }
            if let Writing::Answering = self.writing {
                return self.resume(buf, worker);
            }
        }
        if self.is_reading() && matches!(self.writing, Writing::Answering) {
            // Requests may be waiting, unread, that no new event will announce.
            return self.on_readable(buf, worker);
        }
        self.set_timer(worker, false);
        self.after_send(buf, worker)
    }

    /// Once all that is owed is sent, a closing connection closes at once when nothing the
    /// client sent can be left unread: its end of file was read, or (as nginx decides) its last
    /// request was read whole with nothing after it, by a read that emptied the socket, and was
    /// not refused. Otherwise it shuts its sending side and lingers: a client still sending
    /// (a body after a refusal, requests after the last one) would get a reset on a close, and
    /// a reset can destroy the answer before the client reads it.
    fn after_send(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        if !self.unsent.is_empty() {
            return Next::WaitWritable;
        }
        if let Writing::Download(_) = self.writing {
            return self.continue_download(buf, worker);
        }
        let Reading::Done { unread } = self.reading else {
            return Next::Wait;
        };
        let nothing_left = self.inbound == Inbound::Drained && !unread && self.kept.is_empty();
        if self.inbound == Inbound::Eof || nothing_left {
            return Next::Close;
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        self.reading = Reading::Lingering;
        self.timer = Timer::Linger;
        self.deadline = worker.clock.now + LINGER;
        // After a read that emptied the socket, what the client sends next, its end of file
        // included, brings an event: no need to read now. A pending end of file does not.
        if self.inbound == Inbound::Drained {
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
    /// it stays the same, so a trickled request cannot extend it; an answer (`answered`: one
    /// was written since the timer was last set) starts it over.
    fn set_timer(&mut self, worker: &WorkerState, answered: bool) {
        let settings = &worker.settings;
        let (timer, timeout) = match &self.writing {
            Writing::Answering => match &self.reading {
                Reading::Lingering => return,
                _ if !self.unsent.is_empty() => (Timer::Send, settings.idle_timeout),
                Reading::Body(..) => (Timer::Request, settings.header_timeout),
                _ if !self.kept.is_empty() => (Timer::Request, settings.header_timeout),
                Reading::ProxyHeader | Reading::Heads { first: true } => {
                    (Timer::FirstRequest, settings.header_timeout)
                }
                // Its own deadline, from when the client was last heard.
                Reading::WebSocket(ws) => {
                    self.timer = Timer::Quiet;
                    self.deadline = ws.deadline(settings.idle_timeout);
                    return;
                }
                _ => (Timer::Idle, settings.idle_timeout),
            },
            // Its own deadline, set when it began.
            Writing::Delayed(_) => return,
            // The next event, unless the client does not take what was sent: then, as for a
            // download, the timeout of any answer that waits for the client.
            Writing::Events(stream) if self.unsent.len() < OUTPUT_LIMIT => {
                self.timer = Timer::Event;
                self.deadline = stream.next_at;
                return;
            }
            Writing::Events(_) | Writing::Download(_) => (Timer::Send, settings.idle_timeout),
        };
        if timer != self.timer || answered {
            self.timer = timer;
            self.deadline = worker.clock.now + timeout;
        }
    }

    /// The deadline has passed: a delayed answer goes; a request still arriving gets 408;
    /// anything else closes.
    pub fn on_timeout(&mut self, buf: &mut [u8], worker: &mut WorkerState) -> Next {
        match self.timer {
            Timer::Delay => return self.send_delayed(buf, worker),
            Timer::Event => {
                self.continue_events(worker);
                if self.send(worker).is_err() {
                    return Next::Close;
                }
                return self.resume(buf, worker);
            }
            Timer::Quiet => {
                if let Reading::WebSocket(ws) = &mut self.reading
                    && ws.on_quiet(&mut worker.batch)
                {
                    worker.counters().timeout(Timeout::Idle);
                    self.end_websocket(worker);
                    self.reading = Reading::Done { unread: true };
                }
                if self.send(worker).is_err() {
                    return Next::Close;
                }
                self.set_timer(worker, true);
                return self.after_send(buf, worker);
            }
            // A PROXY protocol header never gets an HTTP answer.
            Timer::Request if matches!(self.reading, Reading::ProxyHeader) => {
                worker.counters().timeout(Timeout::Header);
                return Next::Close;
            }
            Timer::Request => {}
            Timer::FirstRequest => {
                worker.counters().timeout(Timeout::Header);
                return Next::Close;
            }
            Timer::Idle | Timer::Send => {
                worker.counters().timeout(Timeout::Idle);
                return Next::Close;
            }
            Timer::Linger => return Next::Close,
        }
        self.reject(REQUEST_TIMEOUT, worker);
        self.kept = Kept::Nothing;
        if self.send(worker).is_err() {
            return Next::Close;
        }
        self.set_timer(worker, true);
        self.after_send(buf, worker)
    }
}

#[cfg(test)]
mod tests;
