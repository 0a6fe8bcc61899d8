//! Request bodies, read and discarded. `who` has no use for a body, but it must find where one
//! ends, so that the next request on the connection is parsed from the right byte.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! trailer-section = *( field-line CRLF )
//! ```
//! (RFC 9112 §7.1). Unlike the head, chunked framing demands CRLF: a bare LF here is where
//! request smuggling between a proxy and a server hides.

use super::request::{Framing, MAX_BODY, MAX_HEADER_SECTION, is_field_value};
use super::{Reject, Status};

/// Longest chunk-size line with its extensions; nginx allows about the same.
const MAX_CHUNK_LINE: usize = 4096;

const BAD_CHUNK_SIZE: Reject = Reject::new(400, "chunked body: the chunk size is not hexadecimal");
const BAD_CHUNK_EXTENSION: Reject = Reject::new(400, "chunked body: invalid chunk extension");
const CHUNK_LINE_TOO_LONG: Reject =
    Reject::new(400, "chunked body: chunk size line longer than 4 KiB");
const BAD_CHUNK_END: Reject = Reject::new(400, "chunked body: a line does not end with CRLF");
const BAD_TRAILER: Reject = Reject::new(
    400,
    "chunked body: a trailer field holds a control character",
);
const TRAILER_TOO_LARGE: Reject =
    Reject::new(431, "chunked body: trailer section larger than 16 KiB");
const BODY_TOO_LARGE: Reject = Reject::new(413, "request body larger than 1 MiB");

/// Where the chunked decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex digits of a chunk size.
    Size,
    /// Whitespace after the size, before `;` (BWS).
    SizeSpace,
    /// Inside chunk extensions, up to CR.
    Extension,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Inside chunk data; `remaining` bytes to go.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
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
        size: u64,
        digits: usize,
        line: usize,
        trailer: usize,
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
                total,
            } => {
                let mut i = 0;
                while i < buf.len() {
                    let b = buf[i];
                    *state = match *state {
                        Chunk::Data => {
                            // Skip the data in one step rather than byte by byte.
                            let skip = (*size).min((buf.len() - i) as u64);
                            *size -= skip;
                            i += skip as usize;
                            if *size == 0 {
                                Chunk::DataCr
                            } else {
                                Chunk::Data
                            }
                        }
                        _ => {
                            i += 1;
                            if matches!(*state, Chunk::Size | Chunk::SizeSpace | Chunk::Extension) {
                                *line += 1;
                                if *line > MAX_CHUNK_LINE {
                                    return Err(CHUNK_LINE_TOO_LONG);
                                }
                            }
                            match (*state, b) {
                                (Chunk::Size, _) if b.is_ascii_hexdigit() => {
                                    *digits += 1;
                                    *size = *size * 16
                                        + u64::from((b as char).to_digit(16).unwrap_or(0));
                                    // Checked per digit, so `size` can never overflow.
                                    if *total + *size > MAX_BODY {
                                        return Err(BODY_TOO_LARGE);
                                    }
                                    Chunk::Size
                                }
                                (Chunk::Size | Chunk::SizeSpace | Chunk::Extension, b'\n') => {
                                    return Err(BAD_CHUNK_END);
                                }
                                (Chunk::Size, _) if *digits == 0 => return Err(BAD_CHUNK_SIZE),
                                (Chunk::Size | Chunk::SizeSpace, b' ' | b'\t') => Chunk::SizeSpace,
                                (Chunk::Size | Chunk::SizeSpace, b';') => Chunk::Extension,
                                (Chunk::Size | Chunk::Extension, b'\r') => Chunk::SizeLf,
                                (Chunk::Size, _) => return Err(BAD_CHUNK_SIZE),
                                (Chunk::SizeSpace, _) => return Err(BAD_CHUNK_EXTENSION),
                                (Chunk::Extension, _) if is_field_value(b) => Chunk::Extension,
                                (Chunk::Extension, _) => return Err(BAD_CHUNK_EXTENSION),
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
                                (Chunk::TrailerStart, b'\r') => Chunk::FinalLf,
                                (Chunk::TrailerStart | Chunk::Trailer, _) => {
                                    *trailer += 1;
                                    if *trailer > MAX_HEADER_SECTION {
                                        return Err(TRAILER_TOO_LARGE);
                                    }
                                    match b {
                                        b'\r' => Chunk::TrailerLf,
                                        _ if is_field_value(b) => Chunk::Trailer,
                                        _ => return Err(BAD_TRAILER),
                                    }
                                }
                                (Chunk::TrailerLf, b'\n') => Chunk::TrailerStart,
                                (Chunk::FinalLf, b'\n') => return Ok(Status::Complete(i)),
                                _ => return Err(BAD_CHUNK_END),
                            }
                        }
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
    fn chunked_rejections() {
        let cases: &[(&[u8], Reject)] = &[
            (b"\r\n", BAD_CHUNK_SIZE),
            (b"x\r\n", BAD_CHUNK_SIZE),
            (b"-1\r\n", BAD_CHUNK_SIZE),
            (b"5 x\r\n", BAD_CHUNK_EXTENSION),
            (b"5;a\x00\r\n", BAD_CHUNK_EXTENSION),
            (b"5\nhello\r\n", BAD_CHUNK_END),
            (b"5\r\nhelloX", BAD_CHUNK_END),
            (b"5\r\nhello\rX", BAD_CHUNK_END),
            (b"0\r\n\rX", BAD_CHUNK_END),
            (b"0\r\nT: \x01\r\n\r\n", BAD_TRAILER),
            (b"0\r\nT: v\n\r\n", BAD_TRAILER),
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
        let many_zeros = "0".repeat(MAX_CHUNK_LINE + 1);
        assert_eq!(
            read_in_steps(Framing::Chunked, many_zeros.as_bytes(), 100),
            Err(CHUNK_LINE_TOO_LONG)
        );
        let trailer = format!("0\r\nT: {}\r\n\r\n", "v".repeat(MAX_HEADER_SECTION));
        assert_eq!(
            read_in_steps(Framing::Chunked, trailer.as_bytes(), 1000),
            Err(TRAILER_TOO_LARGE)
        );
    }

    #[test]
    fn chunked_total_is_capped_at_one_mebibyte() {
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
