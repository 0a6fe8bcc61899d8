//! HTTP/1.1 message handling: the request parser (`request`) and the limits it and the body
//! reader share (`limits`); request bodies (`body`); reading an accepted head again (`head`),
//! its query (`query`) and its `Accept` fields (`accept`); response writing (`response`) and
//! the Date header (`date`). `testing` is the tests' and the fuzz targets' scaffolding.

pub mod accept;
pub mod body;
pub mod date;
pub mod head;
pub mod limits;
pub mod query;
pub mod request;
pub mod response;
pub mod scan;
/// What every parse must satisfy, a seeded generator and the fuzz targets' input layout: used
/// by the unit tests, the fuzz targets and fuzz/oracle, not by the server.
#[doc(hidden)]
pub mod testing;

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
    /// What was wrong; for a limit passed, the words before the limit ("request line longer
    /// than").
    pub reason: &'static str,
    /// The limit that was passed, said once in its constant and rendered by `message`.
    pub limit: Option<Limit>,
}

/// A limit and its unit: `8192 bytes`, `100 header fields`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub value: u64,
    pub unit: &'static str,
}

impl Reject {
    pub const fn new(status: u16, reason: &'static str) -> Reject {
        Reject {
            status,
            reason,
            limit: None,
        }
    }

    /// A refusal for passing a limit; its message reads "`reason` `value` `unit`".
    pub const fn over(status: u16, reason: &'static str, value: u64, unit: &'static str) -> Reject {
        Reject {
            status,
            reason,
            limit: Some(Limit { value, unit }),
        }
    }

    /// The body of the answer: what was wrong ("request line longer than 8192 bytes").
    pub fn message(&self) -> String {
        match self.limit {
            None => self.reason.to_string(),
            Some(Limit { value, unit }) => format!("{} {value} {unit}", self.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_says_the_limit_once_with_its_unit() {
        assert_eq!(Reject::new(400, "bad").message(), "bad");
        assert_eq!(
            Reject::over(414, "request line longer than", 8192, "bytes").message(),
            "request line longer than 8192 bytes"
        );
    }
}
