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
mod tests {
    use super::*;
    use crate::http::limits::BODY_TOO_LARGE;

    /// Feeds `input` in pieces of `step` bytes; returns where the body ended, or the rejection.
    fn read_in_steps(framing: Framing, input: &[u8], step: usize) -> Result<Option<usize>, Reject> {
        let mut reader = BodyReader::new(framing).expect("a body");
        let mut offset = 0;
        for piece in input.chunks(step) {
            match reader.read(piece)? {
                Status::Complete(n) => return Ok(Some(offset + n)),
                Status::Partial => offset += piece.len(),
            }
        }
        Ok(None)
    }

    fn read_every_way(framing: Framing, input: &[u8]) -> Result<Option<usize>, Reject> {
        let whole = read_in_steps(framing, input, input.len().max(1));
        for step in 1..input.len() {
            assert_eq!(
                read_in_steps(framing, input, step),
                whole,
                "step {step}: {:?}",
                String::from_utf8_lossy(input)
            );
        }
        whole
    }

    /// Decodes `input` fed in pieces of `step` bytes: the body's data, and where it ended.
    fn decode_in_steps(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, Option<usize>) {
        let mut reader = BodyReader::new(framing).expect("a body");
        let mut data = Vec::new();
        let mut offset = 0;
        for piece in input.chunks(step) {
            let mut at = 0;
            loop {
                match reader.decode(&piece[at..]).expect("a valid body") {
                    Progress::Data(0) | Progress::Framing(0) => break,
                    Progress::Data(n) => {
                        data.extend_from_slice(&piece[at..at + n]);
                        at += n;
                    }
                    Progress::Framing(n) => at += n,
                    Progress::End(n) => return (data, Some(offset + at + n)),
                }
            }
            offset += piece.len();
        }
        (data, None)
    }

    /// The data decoded, the same however the body is split; and where the body ended, the
    /// same as `read` finds.
    fn data_every_way(framing: Framing, input: &[u8]) -> (Vec<u8>, Option<usize>) {
        let whole = decode_in_steps(framing, input, input.len().max(1));
        for step in 1..input.len() {
            assert_eq!(decode_in_steps(framing, input, step), whole, "step {step}");
        }
        assert_eq!(read_every_way(framing, input), Ok(whole.1));
        whole
    }

    #[test]
    fn the_data_of_a_body_is_what_is_left_without_its_framing() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nGET /";
        assert_eq!(
            data_every_way(Framing::Chunked, body),
            (
                b"Wikipedia in\r\n\r\nchunks.".to_vec(),
                Some(body.len() - 5)
            )
        );
        let extended = b"5 ; a=\"b\"\r\nhello\r\n1;c\r\n!\r\n0;d\r\nT: v\r\n\r\n";
        assert_eq!(
            data_every_way(Framing::Chunked, extended),
            (b"hello!".to_vec(), Some(extended.len()))
        );
        assert_eq!(
            data_every_way(Framing::Chunked, b"a\r\n0123456789\r\n"),
            (b"0123456789".to_vec(), None)
        );
        assert_eq!(
            data_every_way(Framing::Length(5), b"helloGET /"),
            (b"hello".to_vec(), Some(5))
        );
        assert_eq!(
            data_every_way(Framing::Length(5), b"hel"),
            (b"hel".to_vec(), None)
        );
    }

    #[test]
    fn decode_stops_where_data_and_framing_meet() {
        let mut reader = BodyReader::new(Framing::Chunked).unwrap();
        let body = b"5\r\nhello\r\n0\r\n\r\nGET";
        let mut at = 0;
        let steps: Vec<Progress> = (0..3)
            .map(|_| {
                let step = reader.decode(&body[at..]).unwrap();
                let (Progress::Data(n) | Progress::Framing(n) | Progress::End(n)) = step;
                at += n;
                step
            })
            .collect();
        assert_eq!(at, body.len() - "GET".len());
        assert_eq!(
            steps,
            [Progress::Framing(3), Progress::Data(5), Progress::End(7)]
        );
        // Once ended, a body stays ended.
        assert_eq!(reader.decode(b"GET"), Ok(Progress::End(0)));
        assert_eq!(reader.read(b"GET"), Ok(Status::Complete(0)));
        assert_eq!(reader.read(b""), Ok(Status::Complete(0)));

        let mut reader = BodyReader::new(Framing::Length(2)).unwrap();
        assert_eq!(reader.decode(b""), Ok(Progress::Data(0)));
        assert_eq!(reader.decode(b"abc"), Ok(Progress::Data(2)));
        assert_eq!(reader.decode(b"c"), Ok(Progress::End(0)));
        assert_eq!(reader.read(b""), Ok(Status::Complete(0)));
        let mut empty = BodyReader::new(Framing::Length(0)).unwrap();
        assert_eq!(empty.read(b""), Ok(Status::Complete(0)));
    }

    #[test]
    fn content_length() {
        assert_eq!(read_every_way(Framing::Length(5), b"hello"), Ok(Some(5)));
        assert_eq!(
            read_every_way(Framing::Length(5), b"helloGET /"),
            Ok(Some(5))
        );
        assert_eq!(read_every_way(Framing::Length(5), b"hel"), Ok(None));
        assert!(BodyReader::new(Framing::None).is_none());
    }

    #[test]
    fn chunked_rfc_example_and_variants() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        assert_eq!(read_every_way(Framing::Chunked, body), Ok(Some(body.len())));
        let with_next = [&body[..], b"GET / HTTP/1.1\r\n"].concat();
        assert_eq!(
            read_every_way(Framing::Chunked, &with_next),
            Ok(Some(body.len()))
        );
        let extended = b"5 ; name=value;x\r\nhello\r\n000;last\r\nTrailer: t\r\nOther: u\r\n\r\n";
        assert_eq!(
            read_every_way(Framing::Chunked, extended),
            Ok(Some(extended.len()))
        );
        assert_eq!(
            read_every_way(Framing::Chunked, b"a\r\n0123456789\r\n"),
            Ok(None)
        );
    }

    #[test]
    fn chunk_extensions_by_their_grammar() {
        for extension in [
            &b";a"[..],
            b";a=b",
            b" ;a",
            b"\t; \ta",
            b";a =b",
            b";a= b",
            b";a \t=\t b",
            b";a=b;c;d=e",
            b";a=\"\"",
            b";a=\"q \\\"x\\\" \\\\ \t\xff\"",
            b";a=\"b\" ;c",
            b";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
        ] {
            let body = [b"5", extension, b"\r\nhello\r\n0", extension, b"\r\n\r\n"].concat();
            assert_eq!(
                read_every_way(Framing::Chunked, &body),
                Ok(Some(body.len())),
                "{:?}",
                String::from_utf8_lossy(extension)
            );
        }
    }

    #[test]
    fn trailer_fields_by_their_grammar() {
        for trailer in [
            &b"T: v\r\n"[..],
            b"T:\r\n",
            b"T:v\r\n",
            b"T: a b \t\r\n",
            b"T: \xff\x80\r\nU: w\r\n",
        ] {
            let body = [b"0\r\n", trailer, b"\r\n"].concat();
            assert_eq!(
                read_every_way(Framing::Chunked, &body),
                Ok(Some(body.len())),
                "{:?}",
                String::from_utf8_lossy(trailer)
            );
        }
    }

    #[test]
    fn chunked_rejections() {
        let cases: &[(&[u8], Reject)] = &[
            (b"\r\n", BAD_CHUNK_SIZE),
            (b"x\r\n", BAD_CHUNK_SIZE),
            (b"-1\r\n", BAD_CHUNK_SIZE),
            (b";a\r\n", BAD_CHUNK_SIZE),
            (b" 5\r\n", BAD_CHUNK_SIZE),
            (b"5x\r\n", BAD_CHUNK_SIZE),
            (b"\n", BAD_CHUNK_END),
            (b"5\nhello\r\n", BAD_CHUNK_END),
            (b"5;a\n", BAD_CHUNK_END),
            (b"5;a=\"b\n", BAD_CHUNK_END),
            (b"5 \n", BAD_CHUNK_END),
            // BWS only before ";" or "=": not at the end of the line.
            (b"5 \r\n", BAD_CHUNK_EXTENSION),
            (b"5;a \r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=b \r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"b\" \r\n", BAD_CHUNK_EXTENSION),
            (b"5 x\r\n", BAD_CHUNK_EXTENSION),
            (b"5;\r\n", BAD_CHUNK_EXTENSION),
            (b"5; \r\n", BAD_CHUNK_EXTENSION),
            (b"5;;a\r\n", BAD_CHUNK_EXTENSION),
            (b"5;=b\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a= \r\n", BAD_CHUNK_EXTENSION),
            (b"5;a==b\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a b\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=b c\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a@\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a\x00\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=b=c\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=b\"c\"\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"b\"c\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"b\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"\x01\"\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"\\\x01\"\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"\x7f\"\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a=\"b\"\"\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a\rX", BAD_CHUNK_END),
            (b"5\r\nhelloX", BAD_CHUNK_END),
            (b"5\r\nhello\rX", BAD_CHUNK_END),
            (b"5\r\nhello\n", BAD_CHUNK_END),
            (b"0\r\n\rX", BAD_CHUNK_END),
            (b"0\r\n\n", BAD_CHUNK_END),
            (b"0\r\n T: v\r\n\r\n", TRAILER_FOLD),
            (b"0\r\n\tT: v\r\n\r\n", TRAILER_FOLD),
            (b"0\r\nT: v\r\n w\r\n\r\n", TRAILER_FOLD),
            (b"0\r\nT : v\r\n\r\n", BAD_TRAILER_NAME),
            (b"0\r\nT\r\n\r\n", BAD_TRAILER_NAME),
            (b"0\r\nT\n", BAD_TRAILER_NAME),
            (b"0\r\n: v\r\n\r\n", BAD_TRAILER_NAME),
            (b"0\r\nT(: v\r\n\r\n", BAD_TRAILER_NAME),
            (b"0\r\n\xff: v\r\n\r\n", BAD_TRAILER_NAME),
            (b"0\r\nT: \x01\r\n\r\n", BAD_TRAILER_VALUE),
            (b"0\r\nT: a\x00b\r\n\r\n", BAD_TRAILER_VALUE),
            (b"0\r\nT: \x7f\r\n\r\n", BAD_TRAILER_VALUE),
            (b"0\r\nT: v\n\r\n", BAD_CHUNK_END),
            (b"0\r\nT: v\rX", BAD_CHUNK_END),
            (b"100001\r\n", BODY_TOO_LARGE),
            (b"ffffffffffffffffffffffff\r\n", BODY_TOO_LARGE),
        ];
        for (input, expected) in cases {
            assert_eq!(
                read_every_way(Framing::Chunked, input),
                Err(*expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// The limits by their numbers, not only their constants: a changed constant shows here.
    #[test]
    fn limits_by_number() {
        // The chunk-size line, without its CRLF: 4096 bytes pass, 4097 do not, even before
        // the line ends.
        let size_line = |len: usize| format!("5;{}", "a".repeat(len - 2));
        let body = format!("{}\r\nhello\r\n0\r\n\r\n", size_line(4096));
        assert_eq!(
            read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
            Ok(Some(body.len()))
        );
        assert_eq!(
            read_in_steps(Framing::Chunked, size_line(4097).as_bytes(), 1000),
            Err(CHUNK_LINE_TOO_LONG)
        );
        let zeros = format!("{}\r\n\r\n", "0".repeat(4096));
        assert_eq!(
            read_in_steps(Framing::Chunked, zeros.as_bytes(), 1000),
            Ok(Some(zeros.len()))
        );
        assert_eq!(
            read_in_steps(Framing::Chunked, "0".repeat(4097).as_bytes(), 1000),
            Err(CHUNK_LINE_TOO_LONG)
        );

        // The trailer section, with its final CRLF: 16384 bytes pass, 16385 do not.
        let trailer = |len: usize| format!("T: {}\r\n\r\n", "v".repeat(len - 7));
        let body = format!("0\r\n{}", trailer(16384));
        assert_eq!(
            read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
            Ok(Some(body.len()))
        );
        let body = format!("0\r\n{}", trailer(16385));
        assert_eq!(
            read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
            Err(TRAILER_TOO_LARGE)
        );
        // One byte over is refused at that byte, before the line ends.
        let unended = |len: usize| format!("0\r\nT: {}", "v".repeat(len - 3));
        assert_eq!(
            read_in_steps(Framing::Chunked, unended(16384).as_bytes(), 1000),
            Ok(None)
        );
        assert_eq!(
            read_in_steps(Framing::Chunked, unended(16385).as_bytes(), 1000),
            Err(TRAILER_TOO_LARGE)
        );

        // 100 trailer fields pass, 101 do not.
        let fields = |count: usize| format!("0\r\n{}\r\n", "T: v\r\n".repeat(count));
        let body = fields(100);
        assert_eq!(
            read_in_steps(Framing::Chunked, body.as_bytes(), 7),
            Ok(Some(body.len()))
        );
        assert_eq!(
            read_in_steps(Framing::Chunked, fields(101).as_bytes(), 7),
            Err(TOO_MANY_TRAILER_FIELDS)
        );
    }

    #[test]
    fn the_data_of_a_body_comes_in_order_however_it_is_cut() {
        let chunked =
            b"4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nGET";
        for (framing, input, body) in [
            (
                Framing::Chunked,
                &chunked[..],
                &b"Wikipedia in\r\n\r\nchunks."[..],
            ),
            (Framing::Length(5), b"helloGET", b"hello"),
        ] {
            for step in 1..=input.len() {
                let mut reader = BodyReader::new(framing).unwrap();
                let mut seen = Vec::new();
                let mut ended = None;
                let mut offset = 0;
                for piece in input.chunks(step) {
                    match reader
                        .read_with(piece, |d| seen.extend_from_slice(d))
                        .unwrap()
                    {
                        Status::Complete(n) => {
                            ended = Some(offset + n);
                            break;
                        }
                        Status::Partial => offset += piece.len(),
                    }
                }
                assert_eq!(seen, body, "step {step}");
                assert_eq!(ended, Some(input.len() - 3), "step {step}");
            }
        }
    }

    #[test]
    fn a_chunked_body_over_a_limit_set_is_refused_naming_it() {
        let mut reader = BodyReader::within(Framing::Chunked, 10).unwrap();
        assert_eq!(reader.read(b"a\r\n0123456789\r\n"), Ok(Status::Partial));
        let refusal = reader.read(b"1\r\n").unwrap_err();
        assert_eq!(
            (refusal.status, refusal.message()),
            (413, "request body larger than 10 bytes".to_string())
        );
        let mut large = BodyReader::within(Framing::Chunked, 1 << 40).unwrap();
        assert_eq!(
            large.read(b"10000000000\r\n"),
            Ok(Status::Partial),
            "2^40 bytes pass"
        );
        assert!(
            BodyReader::within(Framing::Chunked, 1 << 40)
                .unwrap()
                .read(b"10000000001\r\n")
                .is_err()
        );
    }

    #[test]
    fn chunked_total_is_capped_at_one_mebibyte() {
        // 1048576 bytes of data in one chunk pass; one more is refused at the size's last digit.
        let exactly = format!("100000\r\n{}\r\n0\r\n\r\n", "a".repeat(1048576));
        assert_eq!(
            read_in_steps(Framing::Chunked, exactly.as_bytes(), 65536),
            Ok(Some(exactly.len()))
        );
        assert_eq!(
            read_in_steps(Framing::Chunked, b"100001", 6),
            Err(BODY_TOO_LARGE)
        );
        let chunk = format!("{:x}\r\n{}\r\n", 512 * 1024, "a".repeat(512 * 1024));
        let exactly = format!("{chunk}{chunk}0\r\n\r\n");
        assert_eq!(
            read_in_steps(Framing::Chunked, exactly.as_bytes(), 4096),
            Ok(Some(exactly.len()))
        );
        let over = format!("{chunk}{chunk}1\r\n");
        assert_eq!(
            read_in_steps(Framing::Chunked, over.as_bytes(), 4096),
            Err(BODY_TOO_LARGE)
        );
    }
}
