//! What `/stream` and `/data` send, written into the caller's buffer. Pure, as `echo`: the
//! caller gives every fact (host name, sequence number, time); nothing here reads the clock.
//!
//! A stream's event is one logfmt line (`seq=2 count=10 hostname=web-1 time=...`): as plain
//! text, one line per event; as Server-Sent Events (`text/event-stream`, what browsers'
//! `EventSource` reads), the same line as the event's `data:`, with its number as `id:`. A
//! download is the 64-byte `LINE` over and over, so that a client can check every byte it got.

use crate::echo::push_logfmt_value as push_value;
use crate::http::response;

/// How a stream's events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per event.
    Lines,
    /// Server-Sent Events: `id: N`, `data: LINE`, an empty line.
    Sse,
}

impl Format {
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Lines => response::TEXT,
            Format::Sse => response::EVENT_STREAM,
        }
    }
}

/// One event of a stream.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// From 1.
    pub seq: u64,
    /// How many the stream sends.
    pub count: u64,
    pub hostname: &'a [u8],
    /// `--name`, if set.
    pub name: Option<&'a str>,
    /// `2026-12-05T17:11:39.123Z`
    pub time: &'a [u8; 24],
}

/// Appends `event` in `format`.
pub fn write_event(format: Format, event: &Event<'_>, out: &mut Vec<u8>) {
    if format == Format::Sse {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(event.seq.to_string().as_bytes());
        out.extend_from_slice(b"\ndata: ");
    }
    out.extend_from_slice(b"seq=");
    out.extend_from_slice(event.seq.to_string().as_bytes());
    out.extend_from_slice(b" count=");
    out.extend_from_slice(event.count.to_string().as_bytes());
    out.extend_from_slice(b" hostname=");
    push_value(out, event.hostname);
    if let Some(name) = event.name {
        out.extend_from_slice(b" name=");
        push_value(out, name.as_bytes());
    }
    out.extend_from_slice(b" time=");
    out.extend_from_slice(event.time);
    out.push(b'\n');
    if format == Format::Sse {
        out.push(b'\n');
    }
}

/// Appends the event that says a stream was cut short because `whod` is stopping: an
/// `end=stopping` line, or an SSE event of type `end`.
pub fn write_end(format: Format, out: &mut Vec<u8>) {
    out.extend_from_slice(match format {
        Format::Lines => b"end=stopping\n",
        Format::Sse => b"event: end\ndata: end=stopping\n\n",
    });
}

/// A download's bytes: this line over and over. Byte `i` of every download is `LINE[i % 64]`.
pub const LINE: &[u8; 64] = b"who/data 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOP\n";

/// How many bytes one write of a download may take: large writes, few system calls.
pub const WRITE: usize = 256 * 1024;

/// `LINE` repeated over `WRITE + 64` bytes, built on first use: a download writes
/// `&download_bytes()[offset % 64..][..n]` for any `n` up to `WRITE`. (Built at run time: as a
/// constant it would weigh 256 KiB in the binary.)
pub fn download_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        LINE.iter()
            .copied()
            .cycle()
            .take(WRITE + LINE.len())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(name: Option<&'a str>, hostname: &'a [u8]) -> Event<'a> {
        Event {
            seq: 2,
            count: 10,
            hostname,
            name,
            time: b"2026-12-05T17:11:39.123Z",
        }
    }

    fn written(format: Format, event: &Event<'_>) -> String {
        let mut out = Vec::new();
        write_event(format, event, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_event_is_one_logfmt_line_as_text_or_as_sse_data() {
        let plain = event(None, b"web-1");
        assert_eq!(
            written(Format::Lines, &plain),
            "seq=2 count=10 hostname=web-1 time=2026-12-05T17:11:39.123Z\n"
        );
        assert_eq!(
            written(Format::Sse, &plain),
            "id: 2\ndata: seq=2 count=10 hostname=web-1 time=2026-12-05T17:11:39.123Z\n\n"
        );
        let named = event(Some("blue replica"), b"web-1");
        assert_eq!(
            written(Format::Lines, &named),
            "seq=2 count=10 hostname=web-1 name=\"blue replica\" time=2026-12-05T17:11:39.123Z\n"
        );
    }

    #[test]
    fn no_byte_of_a_value_can_end_the_line_or_the_value() {
        let odd = event(Some("a\"b=c\\d"), b"h\n\r\xffx");
        let line = written(Format::Sse, &odd);
        assert_eq!(
            line,
            "id: 2\ndata: seq=2 count=10 hostname=\"h\\x0A\\x0D\\xFFx\" name=\"a\\x22b=c\\\\d\" time=2026-12-05T17:11:39.123Z\n\n"
        );
        assert_eq!(
            written(Format::Lines, &event(Some(""), b"h"))
                .matches("name=\"\"")
                .count(),
            1
        );
    }

    #[test]
    fn the_end_of_a_stream_cut_short() {
        let mut out = Vec::new();
        write_end(Format::Lines, &mut out);
        write_end(Format::Sse, &mut out);
        assert_eq!(out, b"end=stopping\nevent: end\ndata: end=stopping\n\n");
        assert_eq!(Format::Sse.content_type(), "text/event-stream");
    }

    #[test]
    fn a_download_is_the_line_over_and_over_from_any_offset() {
        let bytes = download_bytes();
        assert_eq!(bytes.len(), WRITE + 64);
        for offset in [0, 1, 63, 64, 1000] {
            let piece = &bytes[offset % 64..][..WRITE];
            for (i, &b) in piece.iter().enumerate().step_by(997) {
                assert_eq!(b, LINE[(offset + i) % 64]);
            }
        }
        assert!(
            LINE.iter()
                .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\n')
        );
    }
}
