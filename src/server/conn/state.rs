//! A connection's states: what its read side is doing (`Reading`) and its write side
//! (`Writing`), as hyper's `Reading` and `Writing`; what is known of the bytes still in the
//! socket, the bytes read but not used yet, the timer's purpose, and Nagle's algorithm. A new
//! protocol on the connection is one more state here.

use super::streamed::{Download, EventStream};
use crate::routes::Answer;
use crate::server::request_body::RequestBody;
use crate::server::websocket::WebSocket;

/// What the read side is doing.
#[derive(Debug)]
pub(super) enum Reading {
    /// With `--proxy-protocol`: waiting for the PROXY protocol header.
    ProxyHeader,
    /// Reading request heads; `first` until one has arrived whole.
    Heads { first: bool },
    /// Reading a request's body (dropping it, or seeing what an answer about it needs); its
    /// answer is written once the body ends. (Boxed, as `Writing::Delayed`: rare, and large
    /// beside the other states, whose tags the request path checks several times a request.)
    Body(Box<RequestBody>),
    /// After a 101: WebSocket frames, echoed as they come (the write side stays `Answering`:
    /// frames go out as answers do).
    WebSocket(Box<WebSocket>),
    /// No more requests: the last answer is decided. `unread`: the client may still be sending
    /// (its request was refused, or bytes followed the last request answered).
    Done { unread: bool },
    /// The sending side is shut: reading and dropping until the client closes or `LINGER`
    /// passes.
    Lingering,
}

/// What the write side is doing. But in `Answering`, the requests behind the answer being
/// written wait unread, so that answers keep their order.
#[derive(Debug)]
pub(super) enum Writing {
    /// Answers are written as they are decided.
    Answering,
    /// An answer held by `?delay=` until the deadline.
    Delayed(Box<Answer>),
    /// `/stream`: its events, each written when its time comes.
    Events(Box<EventStream>),
    /// `/data`: its bytes, written as fast as the client takes them, straight from
    /// `stream::download_bytes` (no copy is kept: a slow reader costs no memory).
    Download(Box<Download>),
}

/// What is known of the bytes the client sent that are still in the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    /// Nothing read yet, or the last read filled the buffer: more may wait, unannounced.
    Unknown,
    /// The last read emptied the socket, and nothing was announced since: what the client
    /// sends next brings a new (edge-triggered) event.
    Drained,
    /// The client has shut its sending side (EPOLLRDHUP): its end of file waits to be read.
    PeerClosed,
    /// The end of file was read: nothing the client sent is left unread.
    Eof,
}

/// Bytes read but not used yet.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kept {
    Nothing,
    /// The start of a request (or of the PROXY header) whose end has not arrived.
    Start(Vec<u8>),
    /// Requests left unanswered because `OUTPUT_LIMIT` was reached or an answer was delayed:
    /// they are answered before anything more is read.
    HeldBack(Vec<u8>),
}

impl Kept {
    pub fn len(&self) -> usize {
        match self {
            Kept::Nothing => 0,
            Kept::Start(bytes) | Kept::HeldBack(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Kept::Nothing
    }
}

/// What the connection's deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// A new connection waits for its first request, within the header timeout: close
    /// silently.
    FirstRequest,
    /// A stream's next event is due.
    Event,
    /// A WebSocket client has been quiet half the idle timeout (a ping), or all of it (the
    /// close).
    Quiet,
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
pub(super) enum Nagle {
    NothingWritten,
    On,
    Off,
}
