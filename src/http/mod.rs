//! HTTP/1.1 message handling: the request parser (`request`), request bodies that are read
//! and discarded (`body`), response writing (`response`) and the Date header (`date`); the
//! invariants that tests and fuzzing hold them to (`invariants`).

pub mod body;
pub mod date;
pub mod head;
pub mod invariants;
pub mod query;
pub mod request;
pub mod response;

/// The result of parsing a buffer that may hold only the beginning of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The message is all there.
    Complete(T),
    /// Every byte so far is valid; more are needed.
    Partial,
}

/// Why a request was refused: the status to answer and what was wrong with it. The
/// connection is closed after the answer, so nothing after a bad request is ever parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub reason: &'static str,
}

impl Reject {
    pub const fn new(status: u16, reason: &'static str) -> Reject {
        Reject { status, reason }
    }

    /// The body of the answer: what was wrong.
    pub fn message(&self) -> String {
        self.reason.to_string()
    }
}
