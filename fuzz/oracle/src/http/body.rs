// The oracle's copy of whod's src/http/body.rs as it was from commit 6030513 (branch parser,
// before the parser was made fast) to commit 5871001: one loop over seven `&mut` fields. Frozen
// there: whod's reader was then rewritten as a chunked decoder with a step function (issue 17),
// and tests/differential.rs and the fuzz target `differential` hold the rewrite to this code.
// (Until then this file was whod's own body.rs but for its imports, so the body half of
// `make differential` compared the code with itself.) Change it only with a deliberate change
// of verdict in whod, in the same commit. Its unit tests stay in whod.

//! Request bodies, read and discarded. `who` has no use for a body, but it must find where one
//! ends, so that the next request on the connection is parsed from the right byte.
//!
//! ```text
//! chunked-body    = *chunk last-chunk trailer-section CRLF
//! chunk           = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size      = 1*HEXDIG
//! last-chunk      = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext       = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-name  = token
//! chunk-ext-val   = token / quoted-string
//! trailer-section = *( field-line CRLF )
//! ```
//! (RFC 9112 §7.1). Unlike the head, chunked framing demands CRLF: a bare LF here is where
//! request smuggling between a proxy and a server hides. Extensions and trailer fields are
//! checked against their grammar, not merely skipped: a front end that reads a malformed one
//! differently would disagree with us about where the body ends.

use super::request::{
    BODY_TOO_LARGE, Framing, MAX_BODY, MAX_FIELDS, MAX_HEADER_SECTION, is_field_value, is_token,
};
use super::{Reject, Status};

/// Longest chunk-size line (the size and its extensions, without CRLF); nginx allows about
/// the same.
pub const MAX_CHUNK_LINE: usize = 4096;

const BAD_CHUNK_SIZE: Reject = Reject::new(400, "chunked body: the chunk size is not hexadecimal");
const BAD_CHUNK_EXTENSION: Reject = Reject::new(
    400,
    "chunked body: a chunk extension is not ;name or ;name=value with a token or quoted-string value",
);
const CHUNK_LINE_TOO_LONG: Reject = Reject::over(
    400,
    "chunked body: chunk size line longer than",
    MAX_CHUNK_LINE as u64,
    "bytes",
);
const BAD_CHUNK_END: Reject = Reject::new(400, "chunked body: a line does not end with CRLF");
const TRAILER_FOLD: Reject = Reject::new(
    400,
    "chunked body: a trailer line starts with whitespace (obsolete line folding)",
);
const BAD_TRAILER_NAME: Reject = Reject::new(
    400,
    "chunked body: a trailer field name is not a token followed by a colon",
);
const BAD_TRAILER_VALUE: Reject = Reject::new(
    400,
    "chunked body: a trailer field value holds NUL or another control character",
);
const TRAILER_TOO_LARGE: Reject = Reject::over(
    431,
    "chunked body: trailer section larger than",
    MAX_HEADER_SECTION as u64,
    "bytes",
);
const TOO_MANY_TRAILER_FIELDS: Reject = Reject::over(
    431,
    "chunked body: more than",
    MAX_FIELDS as u64,
    "trailer fields",
);

/// Where the chunked decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex digits of a chunk size.
    Size,
    /// BWS after the size or after an extension's value: only `;` may follow.
    ExtSpace,
    /// After `;`: BWS, then an extension's name.
    ExtNameStart,
    ExtName,
    /// BWS after an extension's name: `=` or `;` may follow.
    ExtNameSpace,
    /// After `=`: BWS, then a token or a quoted-string.
    ExtValueStart,
    ExtToken,
    /// Inside a quoted-string; after its `\`; after its closing quote.
    ExtQuoted,
    ExtQuotedPair,
    ExtQuotedEnd,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Inside chunk data; `size` bytes to go.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
}

impl Chunk {
    /// The states of the chunk-size line, whose length is limited.
    fn in_size_line(self) -> bool {
        matches!(
            self,
            Chunk::Size
                | Chunk::ExtSpace
                | Chunk::ExtNameStart
                | Chunk::ExtName
                | Chunk::ExtNameSpace
                | Chunk::ExtValueStart
                | Chunk::ExtToken
                | Chunk::ExtQuoted
                | Chunk::ExtQuotedPair
                | Chunk::ExtQuotedEnd
        )
    }

    /// The states of the trailer section, whose size is limited.
    fn in_trailer(self) -> bool {
        matches!(
            self,
            Chunk::TrailerStart
                | Chunk::TrailerName
                | Chunk::TrailerValue
                | Chunk::TrailerLf
                | Chunk::FinalLf
        )
    }
}

/// The state after byte `b` of a chunk extension (`state` is one of the `Ext*` states, or
/// `Size` past its digits).
///
/// ```text
/// chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
/// qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
/// quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
/// ```
/// (RFC 9112 §7.1.1, RFC 9110 §5.6.4). BWS may only come before `;` or `=`, so whitespace at
/// the end of the line is refused.
fn extension(state: Chunk, b: u8) -> Result<Chunk, Reject> {
    let space = matches!(b, b' ' | b'\t');
    Ok(match state {
        Chunk::Size | Chunk::ExtToken | Chunk::ExtQuotedEnd if b == b'\r' => Chunk::SizeLf,
        Chunk::ExtName if b == b'\r' => Chunk::SizeLf,
        Chunk::Size | Chunk::ExtToken | Chunk::ExtQuotedEnd if space => Chunk::ExtSpace,
        Chunk::ExtName if space => Chunk::ExtNameSpace,
        Chunk::ExtSpace | Chunk::ExtNameStart | Chunk::ExtNameSpace | Chunk::ExtValueStart
            if space =>
        {
            state
        }
        Chunk::Size
        | Chunk::ExtSpace
        | Chunk::ExtName
        | Chunk::ExtNameSpace
        | Chunk::ExtToken
        | Chunk::ExtQuotedEnd
            if b == b';' =>
        {
            Chunk::ExtNameStart
        }
        Chunk::ExtNameStart | Chunk::ExtName if is_token(b) => Chunk::ExtName,
        Chunk::ExtName | Chunk::ExtNameSpace if b == b'=' => Chunk::ExtValueStart,
        Chunk::ExtValueStart | Chunk::ExtToken if is_token(b) => Chunk::ExtToken,
        Chunk::ExtValueStart if b == b'"' => Chunk::ExtQuoted,
        Chunk::ExtQuoted if b == b'"' => Chunk::ExtQuotedEnd,
        Chunk::ExtQuoted if b == b'\\' => Chunk::ExtQuotedPair,
        Chunk::ExtQuoted | Chunk::ExtQuotedPair if is_field_value(b) => Chunk::ExtQuoted,
        _ => return Err(BAD_CHUNK_EXTENSION),
    })
}

/// Skips a request body of either framing: finds where it ends and keeps none of it.
#[derive(Clone, Debug)]
pub struct BodySkipper {
    left: Left,
}

/// What is left of the body.
#[derive(Clone, Debug)]
enum Left {
    Length {
        remaining: u64,
    },
    Chunked {
        state: Chunk,
        /// The size of the chunk being read; in `Data`, what is left of it.
        size: u64,
        /// Hex digits of the size so far.
        digits: usize,
        /// Bytes of the chunk-size line so far, without its CR.
        line: usize,
        /// Bytes and field lines of the trailer section so far.
        trailer: usize,
        trailer_fields: usize,
        /// Chunk data so far.
        total: u64,
    },
}

impl BodySkipper {
    /// A skipper for the body the head announced, or `None` when there is none.
    pub fn new(framing: Framing) -> Option<BodySkipper> {
        let left = match framing {
            Framing::None => return None,
            Framing::Length(length) => Left::Length { remaining: length },
            Framing::Chunked => Left::Chunked {
                state: Chunk::Size,
                size: 0,
                digits: 0,
                line: 0,
                trailer: 0,
                trailer_fields: 0,
                total: 0,
            },
        };
        Some(BodySkipper { left })
    }

    /// Consumes body bytes from the start of `buf`. `Complete(n)`: the body ended after `n`
    /// bytes. `Partial`: all of `buf` was body and more is to come.
    pub fn read(&mut self, buf: &[u8]) -> Result<Status<usize>, Reject> {
        match &mut self.left {
            Left::Length { remaining } => {
                let used = (*remaining).min(buf.len() as u64);
                *remaining -= used;
                Ok(if *remaining == 0 {
                    Status::Complete(used as usize)
                } else {
                    Status::Partial
                })
            }
            Left::Chunked {
                state,
                size,
                digits,
                line,
                trailer,
                trailer_fields,
                total,
            } => {
                let mut i = 0;
                while i < buf.len() {
                    if *state == Chunk::Data {
                        // Skip the data in one step rather than byte by byte.
                        let skip = (*size).min((buf.len() - i) as u64);
                        *size -= skip;
                        i += skip as usize;
                        if *size == 0 {
                            *state = Chunk::DataCr;
                        }
                        continue;
                    }
                    let b = buf[i];
                    i += 1;
                    // Limits first, by position, so that a split changes no verdict.
                    if state.in_size_line() && b != b'\r' {
                        *line += 1;
                        if *line > MAX_CHUNK_LINE {
                            return Err(CHUNK_LINE_TOO_LONG);
                        }
                    } else if state.in_trailer() {
                        *trailer += 1;
                        if *trailer > MAX_HEADER_SECTION {
                            return Err(TRAILER_TOO_LARGE);
                        }
                    }
                    *state = match (*state, b) {
                        (Chunk::Size, _) if b.is_ascii_hexdigit() => {
                            *digits += 1;
                            *size = *size * 16 + u64::from((b as char).to_digit(16).unwrap_or(0));
                            // Checked per digit, so `size` can never overflow.
                            if *total + *size > MAX_BODY {
                                return Err(BODY_TOO_LARGE);
                            }
                            Chunk::Size
                        }
                        (_, b'\n') if state.in_size_line() => return Err(BAD_CHUNK_END),
                        (Chunk::Size, _) if *digits == 0 => return Err(BAD_CHUNK_SIZE),
                        (Chunk::Size, b' ' | b'\t' | b';' | b'\r') => extension(*state, b)?,
                        (Chunk::Size, _) => return Err(BAD_CHUNK_SIZE),
                        (_, _) if state.in_size_line() => extension(*state, b)?,
                        (Chunk::SizeLf, b'\n') => {
                            *total += *size;
                            *line = 0;
                            *digits = 0;
                            if *size == 0 {
                                Chunk::TrailerStart
                            } else {
                                Chunk::Data
                            }
                        }
                        (Chunk::DataCr, b'\r') => Chunk::DataLf,
                        (Chunk::DataLf, b'\n') => Chunk::Size,
                        // trailer-section = *( field-line CRLF ), with the head's field-line:
                        // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5, §7.1.2)
                        (Chunk::TrailerStart, b'\r') => Chunk::FinalLf,
                        (Chunk::TrailerStart, b' ' | b'\t') => return Err(TRAILER_FOLD),
                        (Chunk::TrailerStart, b'\n') => return Err(BAD_CHUNK_END),
                        (Chunk::TrailerStart, _) => {
                            *trailer_fields += 1;
                            if *trailer_fields > MAX_FIELDS {
                                return Err(TOO_MANY_TRAILER_FIELDS);
                            }
                            if !is_token(b) {
                                return Err(BAD_TRAILER_NAME);
                            }
                            Chunk::TrailerName
                        }
                        (Chunk::TrailerName, b':') => Chunk::TrailerValue,
                        (Chunk::TrailerName, _) if is_token(b) => Chunk::TrailerName,
                        (Chunk::TrailerName, _) => return Err(BAD_TRAILER_NAME),
                        (Chunk::TrailerValue, b'\r') => Chunk::TrailerLf,
                        (Chunk::TrailerValue, b'\n') => return Err(BAD_CHUNK_END),
                        (Chunk::TrailerValue, _) if is_field_value(b) => Chunk::TrailerValue,
                        (Chunk::TrailerValue, _) => return Err(BAD_TRAILER_VALUE),
                        (Chunk::TrailerLf, b'\n') => Chunk::TrailerStart,
                        (Chunk::FinalLf, b'\n') => return Ok(Status::Complete(i)),
                        _ => return Err(BAD_CHUNK_END),
                    };
                }
                Ok(Status::Partial)
            }
        }
    }
}
