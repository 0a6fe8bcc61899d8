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

pub use super::limits::MAX_CHUNK_LINE;
use super::limits::{
    BODY_TOO_LARGE, CHUNK_LINE_TOO_LONG, MAX_BODY, MAX_FIELDS, MAX_HEADER_SECTION,
    TOO_MANY_TRAILER_FIELDS, TRAILER_TOO_LARGE,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns where the body ended, or the rejection.
    fn read_in_steps(framing: Framing, input: &[u8], step: usize) -> Result<Option<usize>, Reject> {
        let mut reader = BodySkipper::new(framing).expect("a body");
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

    #[test]
    fn content_length() {
        assert_eq!(read_every_way(Framing::Length(5), b"hello"), Ok(Some(5)));
        assert_eq!(
            read_every_way(Framing::Length(5), b"helloGET /"),
            Ok(Some(5))
        );
        assert_eq!(read_every_way(Framing::Length(5), b"hel"), Ok(None));
        assert!(BodySkipper::new(Framing::None).is_none());
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
