//! Request bodies: where one ends, and which of its bytes are data. Most routes have no use for
//! a body and discard it (`BodyReader::read`), but the server must find where it ends, so that
//! the next request on the connection is parsed from the right byte. A route that looks at a
//! body (`/upload`, a POST to `/echo`) takes its data from the same decoder
//! (`BodyReader::decode`), so both agree on every framing verdict.
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

pub use super::limits::MAX_CHUNK_LINE;
use super::limits::{
    CHUNK_LINE_TOO_LONG, MAX_BODY, MAX_FIELDS, MAX_HEADER_SECTION, TOO_MANY_TRAILER_FIELDS,
    TRAILER_TOO_LARGE, body_too_large,
};
use super::request::Framing;
use super::scan::{is_field_value, is_token};
use super::{Reject, Status};

const BAD_CHUNK_SIZE: Reject = Reject::new(400, "chunked body: the chunk size is not hexadecimal");
const BAD_CHUNK_EXTENSION: Reject = Reject::new(
    400,
    "chunked body: a chunk extension is not ;name or ;name=value with a token or quoted-string value",
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

/// What `BodyReader::decode` found at the start of the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The first `n` bytes are body data: what the client sent, its framing taken off.
    Data(usize),
    /// The first `n` bytes are framing: a chunk-size line, the CRLF after a chunk's data, the
    /// trailer section.
    Framing(usize),
    /// The body ended after the first `n` bytes: the end of a chunked body's trailer section,
    /// or none (a Content-Length body whose data was all taken before).
    End(usize),
}

/// Reads a request body of either framing: where it ends, and which of its bytes are data.
#[derive(Clone, Debug)]
pub struct BodyReader {
    remaining: Remaining,
}

/// The server's name for the reader: it reads bodies only to skip them.
pub type BodySkipper = BodyReader;

/// What remains of the body.
#[derive(Clone, Debug)]
enum Remaining {
    /// A Content-Length body: the bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
}

impl BodyReader {
    /// A reader for the body the head announced, or `None` when there is none.
    pub fn new(framing: Framing) -> Option<BodyReader> {
        BodyReader::within(framing, MAX_BODY)
    }

    /// A reader for a body that has already ended: there was none.
    pub fn empty() -> BodyReader {
        BodyReader {
            remaining: Remaining::Length(0),
        }
    }

    /// `new`, with a chunked body larger than `max_body` refused (`--max-body`). (A
    /// Content-Length over it was refused with the head.)
    pub fn within(framing: Framing, max_body: u64) -> Option<BodyReader> {
        let remaining = match framing {
            Framing::None => return None,
            Framing::Length(length) => Remaining::Length(length),
            Framing::Chunked => Remaining::Chunked(ChunkedDecoder::new(max_body)),
        };
        Some(BodyReader { remaining })
    }

    /// Decodes the bytes at the start of `buf` up to the next boundary between data and
    /// framing. Takes at least one byte of a non-empty `buf` until the body has ended; then
    /// every call answers `End(0)`. `Data(n)` is `buf[..n]`: a caller that keeps the body
    /// takes it from there, and nothing is copied.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Progress, Reject> {
        match &mut self.remaining {
            Remaining::Length(0) => Ok(Progress::End(0)),
            Remaining::Length(left) => {
                let n = (*left).min(buf.len() as u64);
                *left -= n;
                Ok(Progress::Data(n as usize))
            }
            Remaining::Chunked(decoder) => decoder.decode(buf),
        }
    }

    /// Takes body bytes from the start of `buf` and keeps none. `Complete(n)`: the body ended
    /// after `n` bytes. `Partial`: all of `buf` was body and more is to come.
    pub fn read(&mut self, buf: &[u8]) -> Result<Status<usize>, Reject> {
        self.read_with(buf, |_| {})
    }

    /// As `read`, handing each run of body data (the framing taken off) to `data`, in order:
    /// what a caller that looks at the body (a checksum, an upload) takes.
    pub fn read_with(
        &mut self,
        buf: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<Status<usize>, Reject> {
        let mut used = 0;
        while used < buf.len() {
            match self.decode(&buf[used..])? {
                Progress::End(n) => return Ok(Status::Complete(used + n)),
                Progress::Data(n) => {
                    // A step that took nothing would repeat forever: a bug, loud in tests.
                    debug_assert!(n > 0, "decode took none of {} bytes", buf.len() - used);
                    data(&buf[used..used + n]);
                    used += n;
                }
                Progress::Framing(n) => {
                    debug_assert!(n > 0, "decode took none of {} bytes", buf.len() - used);
                    used += n;
                }
            }
        }
        // Every byte was taken: a Content-Length body may end exactly at the end of `buf`.
        Ok(if self.ended() {
            Status::Complete(used)
        } else {
            Status::Partial
        })
    }

    fn ended(&self) -> bool {
        match &self.remaining {
            Remaining::Length(left) => *left == 0,
            Remaining::Chunked(decoder) => decoder.state == ChunkedState::Done,
        }
    }
}

/// A chunked body's decoder: where it stands in the grammar, and what it counts against the
/// limits. `step` takes one byte of framing; chunk data is taken a run at a time, never looked
/// at.
#[derive(Clone, Debug)]
struct ChunkedDecoder {
    state: ChunkedState,
    /// The size of the chunk being read; in `Data`, what is left of it.
    size: u64,
    /// Hex digits of the size so far.
    digits: usize,
    /// Bytes of the chunk-size line so far, without its CR.
    line: usize,
    /// Bytes and field lines of the trailer section so far.
    trailer: usize,
    trailer_fields: usize,
    /// Chunk data so far, the chunk being read included once its size line has ended.
    total: u64,
    /// The most chunk data the body may have (`--max-body`).
    max: u64,
}

/// Where the chunked decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkedState {
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
    /// The final CRLF was read: the body has ended.
    Done,
}

impl ChunkedState {
    /// The states of the chunk-size line, whose length is limited.
    fn in_size_line(self) -> bool {
        matches!(
            self,
            ChunkedState::Size
                | ChunkedState::ExtSpace
                | ChunkedState::ExtNameStart
                | ChunkedState::ExtName
                | ChunkedState::ExtNameSpace
                | ChunkedState::ExtValueStart
                | ChunkedState::ExtToken
                | ChunkedState::ExtQuoted
                | ChunkedState::ExtQuotedPair
                | ChunkedState::ExtQuotedEnd
        )
    }

    /// The states of the trailer section, whose size is limited.
    fn in_trailer(self) -> bool {
        matches!(
            self,
            ChunkedState::TrailerStart
                | ChunkedState::TrailerName
                | ChunkedState::TrailerValue
                | ChunkedState::TrailerLf
                | ChunkedState::FinalLf
        )
    }
}

impl ChunkedDecoder {
    fn new(max: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: ChunkedState::Size,
            size: 0,
            digits: 0,
            line: 0,
            trailer: 0,
            trailer_fields: 0,
            total: 0,
            max,
        }
    }

    /// As `BodyReader::decode`: the data of the chunk being read, as much of it as `buf`
    /// holds, or the framing up to the next chunk's data or the end of the body.
    fn decode(&mut self, buf: &[u8]) -> Result<Progress, Reject> {
        match self.state {
            ChunkedState::Data => {
                let n = self.size.min(buf.len() as u64);
                self.size -= n;
                if self.size == 0 {
                    self.state = ChunkedState::DataCr;
                }
                Ok(Progress::Data(n as usize))
            }
            ChunkedState::Done => Ok(Progress::End(0)),
            _ => {
                for (i, &b) in buf.iter().enumerate() {
                    self.step(b)?;
                    match self.state {
                        ChunkedState::Data => return Ok(Progress::Framing(i + 1)),
                        ChunkedState::Done => return Ok(Progress::End(i + 1)),
                        _ => {}
                    }
                }
                Ok(Progress::Framing(buf.len()))
            }
        }
    }

    /// Takes one byte of framing (any state but `Data` and `Done`): moves to the next state,
    /// or refuses the body at the byte that proves it bad.
    #[inline]
    fn step(&mut self, b: u8) -> Result<(), Reject> {
        use ChunkedState::*;
        // Limits first, by position, so that a split changes no verdict.
        if self.state.in_size_line() && b != b'\r' {
            self.line += 1;
            if self.line > MAX_CHUNK_LINE {
                return Err(CHUNK_LINE_TOO_LONG);
            }
        } else if self.state.in_trailer() {
            self.trailer += 1;
            if self.trailer > MAX_HEADER_SECTION {
                return Err(TRAILER_TOO_LARGE);
            }
        }
        self.state = match (self.state, b) {
            (Size, _) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                self.size = self.size * 16 + u64::from((b as char).to_digit(16).unwrap_or(0));
                // Checked per digit, so `size` can never overflow.
                if self.total + self.size > self.max {
                    return Err(body_too_large(self.max));
                }
                Size
            }
            (_, b'\n') if self.state.in_size_line() => return Err(BAD_CHUNK_END),
            (Size, _) if self.digits == 0 => return Err(BAD_CHUNK_SIZE),
            (Size, b' ' | b'\t' | b';' | b'\r') => extension(self.state, b)?,
            (Size, _) => return Err(BAD_CHUNK_SIZE),
            (state, _) if state.in_size_line() => extension(state, b)?,
            (SizeLf, b'\n') => {
                self.total += self.size;
                self.line = 0;
                self.digits = 0;
                if self.size == 0 { TrailerStart } else { Data }
            }
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size,
            // trailer-section = *( field-line CRLF ), with the head's field-line:
            // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5, §7.1.2)
            (TrailerStart, b'\r') => FinalLf,
            (TrailerStart, b' ' | b'\t') => return Err(TRAILER_FOLD),
            (TrailerStart, b'\n') => return Err(BAD_CHUNK_END),
            (TrailerStart, _) => {
                self.trailer_fields += 1;
                if self.trailer_fields > MAX_FIELDS {
                    return Err(TOO_MANY_TRAILER_FIELDS);
                }
                if !is_token(b) {
                    return Err(BAD_TRAILER_NAME);
                }
                TrailerName
            }
            (TrailerName, b':') => TrailerValue,
            (TrailerName, _) if is_token(b) => TrailerName,
            (TrailerName, _) => return Err(BAD_TRAILER_NAME),
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, b'\n') => return Err(BAD_CHUNK_END),
            (TrailerValue, _) if is_field_value(b) => TrailerValue,
            (TrailerValue, _) => return Err(BAD_TRAILER_VALUE),
            (TrailerLf, b'\n') => TrailerStart,
            (FinalLf, b'\n') => Done,
            _ => return Err(BAD_CHUNK_END),
        };
        Ok(())
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
fn extension(state: ChunkedState, b: u8) -> Result<ChunkedState, Reject> {
    use ChunkedState::*;
    let space = matches!(b, b' ' | b'\t');
    Ok(match state {
        Size | ExtToken | ExtQuotedEnd if b == b'\r' => SizeLf,
        ExtName if b == b'\r' => SizeLf,
        Size | ExtToken | ExtQuotedEnd if space => ExtSpace,
        ExtName if space => ExtNameSpace,
        ExtSpace | ExtNameStart | ExtNameSpace | ExtValueStart if space => state,
        Size | ExtSpace | ExtName | ExtNameSpace | ExtToken | ExtQuotedEnd if b == b';' => {
            ExtNameStart
        }
        ExtNameStart | ExtName if is_token(b) => ExtName,
        ExtName | ExtNameSpace if b == b'=' => ExtValueStart,
        ExtValueStart | ExtToken if is_token(b) => ExtToken,
        ExtValueStart if b == b'"' => ExtQuoted,
        ExtQuoted if b == b'"' => ExtQuotedEnd,
        ExtQuoted if b == b'\\' => ExtQuotedPair,
        ExtQuoted | ExtQuotedPair if is_field_value(b) => ExtQuoted,
        _ => return Err(BAD_CHUNK_EXTENSION),
    })
}

#[cfg(test)]
mod tests;
