//! An oracle for whod's request parser. `http` is a frozen copy of the parser: request heads
//! as they were read before the parser was made fast, bodies as they were read before the
//! chunked decoder was rewritten as a step function; `compare` holds whod's parser to it: the
//! same verdict for every prefix of an input (complete with every field equal, partial, or
//! the same refusal), the same end for every body, however it is split, request after request.
//!
//! Test code, never built into whod. `tests/differential.rs` runs it on the committed seeds,
//! the fuzz corpus and a million mutated inputs; the fuzz target `differential` on whatever
//! libFuzzer finds.

pub mod http;

use http::{Reject, Status};
use whod::http as fast;

/// A verdict on a request head, in terms both parsers share.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'b> {
    Complete(Head<'b>),
    Partial,
    Refused(Refusal),
}

/// Every field of a complete head, and the path the server routes on.
#[derive(Debug, PartialEq, Eq)]
pub struct Head<'b> {
    pub method: &'b [u8],
    pub target: &'b [u8],
    pub minor_version: u8,
    pub keep_alive: bool,
    pub framing: Framing,
    pub expect_continue: bool,
    pub head_len: usize,
    pub path: Option<&'b [u8]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A refusal: its status, its reason and the limit it names.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
    pub limit: Option<(u64, &'static str)>,
}

impl From<Reject> for Refusal {
    fn from(reject: Reject) -> Refusal {
        Refusal {
            status: reject.status,
            reason: reject.reason,
            limit: reject.limit.map(|limit| (limit.value, limit.unit)),
        }
    }
}

impl From<fast::Reject> for Refusal {
    fn from(reject: fast::Reject) -> Refusal {
        Refusal {
            status: reject.status,
            reason: reject.reason,
            limit: reject.limit.map(|limit| (limit.value, limit.unit)),
        }
    }
}

/// The oracle's verdict on the head at the start of `buf`.
pub fn oracle_head(buf: &[u8]) -> Verdict<'_> {
    match http::request::parse(buf) {
        Ok(Status::Complete(r)) => Verdict::Complete(Head {
            method: r.method,
            target: r.target,
            minor_version: r.minor_version,
            keep_alive: r.keep_alive,
            framing: match r.framing {
                http::request::Framing::None => Framing::None,
                http::request::Framing::Length(n) => Framing::Length(n),
                http::request::Framing::Chunked => Framing::Chunked,
            },
            expect_continue: r.expect_continue,
            head_len: r.head_len,
            path: r.path(),
        }),
        Ok(Status::Partial) => Verdict::Partial,
        Err(reject) => Verdict::Refused(reject.into()),
    }
}

/// whod's verdict on the head at the start of `buf`.
pub fn whod_head(buf: &[u8]) -> Verdict<'_> {
    match fast::request::parse(buf) {
        Ok(fast::Status::Complete(r)) => Verdict::Complete(Head {
            method: r.method,
            target: r.target,
            minor_version: r.minor_version,
            keep_alive: r.keep_alive,
            framing: match r.framing {
                fast::request::Framing::None => Framing::None,
                fast::request::Framing::Length(n) => Framing::Length(n),
                fast::request::Framing::Chunked => Framing::Chunked,
            },
            expect_continue: r.expect_continue,
            head_len: r.head_len,
            path: r.path(),
        }),
        Ok(fast::Status::Partial) => Verdict::Partial,
        Err(reject) => Verdict::Refused(reject.into()),
    }
}

/// What one `read` of a body answered: `Ok(Some(n))` the body ended after `n` bytes of this
/// piece, `Ok(None)` more is needed.
pub type BodyStep = Result<Option<usize>, Refusal>;

/// The oracle's answers for a body fed in `pieces`, up to its end or refusal.
pub fn oracle_body(framing: Framing, pieces: &[&[u8]]) -> Vec<BodyStep> {
    let framing = match framing {
        Framing::None => http::request::Framing::None,
        Framing::Length(n) => http::request::Framing::Length(n),
        Framing::Chunked => http::request::Framing::Chunked,
    };
    let Some(mut skipper) = http::body::BodySkipper::new(framing) else {
        return Vec::new();
    };
    feed(pieces, |piece| match skipper.read(piece) {
        Ok(Status::Complete(n)) => Ok(Some(n)),
        Ok(Status::Partial) => Ok(None),
        Err(reject) => Err(reject.into()),
    })
}

/// whod's answers for a body fed in `pieces`, up to its end or refusal.
pub fn whod_body(framing: Framing, pieces: &[&[u8]]) -> Vec<BodyStep> {
    let framing = match framing {
        Framing::None => fast::request::Framing::None,
        Framing::Length(n) => fast::request::Framing::Length(n),
        Framing::Chunked => fast::request::Framing::Chunked,
    };
    let Some(mut reader) = fast::body::BodyReader::new(framing) else {
        return Vec::new();
    };
    feed(pieces, |piece| match reader.read(piece) {
        Ok(fast::Status::Complete(n)) => Ok(Some(n)),
        Ok(fast::Status::Partial) => Ok(None),
        Err(reject) => Err(reject.into()),
    })
}

fn feed(pieces: &[&[u8]], mut read: impl FnMut(&[u8]) -> BodyStep) -> Vec<BodyStep> {
    let mut steps = Vec::new();
    for piece in pieces {
        let step = read(piece);
        let done = !matches!(step, Ok(None));
        steps.push(step);
        if done {
            break;
        }
    }
    steps
}

/// `input` cut at `ends` (offsets into it, in order), without empty pieces.
fn pieces<'a>(input: &'a [u8], ends: &[usize]) -> Vec<&'a [u8]> {
    let mut start = 0;
    let mut pieces = Vec::new();
    for &end in ends.iter().chain([&input.len()]) {
        if end > start && end <= input.len() {
            pieces.push(&input[start..end]);
            start = end;
        }
    }
    pieces
}

/// Holds whod's parser to the oracle on `input` arriving in pieces that end at `ends`: every
/// prefix ending at a piece's end gets the same head verdict from both; then, request after
/// request as a connection reads them, each head and each body (fed in the same pieces) gets
/// the same answers.
pub fn compare(input: &[u8], ends: &[usize]) -> Result<(), String> {
    let mut ends: Vec<usize> = ends.iter().map(|&end| end.min(input.len())).collect();
    ends.push(input.len());
    ends.sort_unstable();
    ends.dedup();
    for &end in &ends {
        let (oracle, whod) = (oracle_head(&input[..end]), whod_head(&input[..end]));
        if oracle != whod {
            return Err(format!(
                "the first {end} bytes: the oracle says {oracle:?}, whod {whod:?}"
            ));
        }
    }
    let mut at = 0;
    while at < input.len() {
        let rest = &input[at..];
        let (oracle, whod) = (oracle_head(rest), whod_head(rest));
        if oracle != whod {
            return Err(format!(
                "the head at byte {at}: the oracle says {oracle:?}, whod {whod:?}"
            ));
        }
        let Verdict::Complete(head) = oracle else {
            return Ok(());
        };
        at += head.head_len;
        let body_ends: Vec<usize> = ends.iter().filter_map(|&end| end.checked_sub(at)).collect();
        let body = pieces(&input[at..], &body_ends);
        let (oracle, whod) = (
            oracle_body(head.framing, &body),
            whod_body(head.framing, &body),
        );
        if oracle != whod {
            return Err(format!(
                "the body at byte {at}: the oracle says {oracle:?}, whod {whod:?}"
            ));
        }
        match oracle.last() {
            // No body, or one that ended: the next request follows.
            None => {}
            Some(Ok(Some(n))) => {
                at += body[..oracle.len() - 1]
                    .iter()
                    .map(|p| p.len())
                    .sum::<usize>()
                    + n
            }
            Some(_) => return Ok(()),
        }
    }
    Ok(())
}
