//! The limits on what a request may send, in one place: the head parser (`request`) and the
//! body reader (`body`) both read them, and each refusal for passing one renders its constant,
//! so that a limit is said once.

use super::Reject;

/// Longest request line, without its line ending; past it: 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest header section (field lines and the empty line that ends them); past it: 431.
/// The trailer section of a chunked body has the same limit.
pub const MAX_HEADER_SECTION: usize = 16 * 1024;
/// Most field lines in a request's head (and in its trailer section); past it: 431.
pub const MAX_FIELDS: usize = 100;
/// Largest request body read (and discarded); past it: 413.
pub const MAX_BODY: u64 = 1024 * 1024;
/// The largest `--max-body`: a chunk size is checked against the limit digit by digit, and
/// this keeps it far from overflowing.
pub const MAX_MAX_BODY: u64 = 1 << 40;
/// Longest chunk-size line (the size and its extensions, without CRLF); nginx allows about
/// the same.
pub const MAX_CHUNK_LINE: usize = 4096;

pub(crate) const LINE_TOO_LONG: Reject = Reject::over(
    414,
    "request line longer than",
    MAX_REQUEST_LINE as u64,
    "bytes",
);
pub(crate) const HEADERS_TOO_LARGE: Reject = Reject::over(
    431,
    "header section larger than",
    MAX_HEADER_SECTION as u64,
    "bytes",
);
pub(crate) const TOO_MANY_FIELDS: Reject =
    Reject::over(431, "more than", MAX_FIELDS as u64, "header fields");
/// The refusal of a body over `MAX_BODY`, the default `--max-body` (the tests' name for it).
#[cfg(test)]
pub(crate) const BODY_TOO_LARGE: Reject = body_too_large(MAX_BODY);

/// The refusal of a body larger than `max` (`--max-body`; by default `MAX_BODY`), for a
/// Content-Length or a chunked body alike: the one refusal for both.
pub(crate) const fn body_too_large(max: u64) -> Reject {
    Reject::over(413, "request body larger than", max, "bytes")
}
pub(crate) const CHUNK_LINE_TOO_LONG: Reject = Reject::over(
    400,
    "chunked body: chunk size line longer than",
    MAX_CHUNK_LINE as u64,
    "bytes",
);
pub(crate) const TRAILER_TOO_LARGE: Reject = Reject::over(
    431,
    "chunked body: trailer section larger than",
    MAX_HEADER_SECTION as u64,
    "bytes",
);
pub(crate) const TOO_MANY_TRAILER_FIELDS: Reject = Reject::over(
    431,
    "chunked body: more than",
    MAX_FIELDS as u64,
    "trailer fields",
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits by their numbers, not only their constants: a changed constant shows here.
    #[test]
    fn each_refusal_says_its_limit() {
        for (reject, status, message) in [
            (LINE_TOO_LONG, 414, "request line longer than 8192 bytes"),
            (
                HEADERS_TOO_LARGE,
                431,
                "header section larger than 16384 bytes",
            ),
            (TOO_MANY_FIELDS, 431, "more than 100 header fields"),
            (
                BODY_TOO_LARGE,
                413,
                "request body larger than 1048576 bytes",
            ),
            (
                CHUNK_LINE_TOO_LONG,
                400,
                "chunked body: chunk size line longer than 4096 bytes",
            ),
            (
                TRAILER_TOO_LARGE,
                431,
                "chunked body: trailer section larger than 16384 bytes",
            ),
            (
                TOO_MANY_TRAILER_FIELDS,
                431,
                "chunked body: more than 100 trailer fields",
            ),
        ] {
            assert_eq!(
                (reject.status, reject.message().as_str()),
                (status, message)
            );
        }
    }
}
