//! The access log: one line per request, in the Common Log Format (`127.0.0.1 - - [date] "GET
//! /who HTTP/1.1" 200 12`) or the Combined one (the same, then `"Referer" "User-Agent"`).
//! Lines are gathered per turn of the worker's loop and written to stdout in one call.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::AccessLog as Format;
use crate::echo;
use crate::http::head;

pub(crate) struct AccessLog {
    format: Format,
    /// Lines not yet written out.
    pub lines: Vec<u8>,
}

impl AccessLog {
    pub fn new(format: Format) -> AccessLog {
        AccessLog {
            format,
            lines: Vec::new(),
        }
    }

    /// Off: no line is ever written.
    pub fn is_off(&self) -> bool {
        self.format == Format::Off
    }

    /// Appends one line. `head` is the request's head as received, or `None` for a request
    /// refused before it was understood (shown as `"-"`). Bytes that could break a quoted
    /// field (`"`, controls, bytes ≥ 0x80) are written `\xHH`, as nginx does, and a backslash
    /// `\\`. (Out of line: rare work, kept out of the code the request path inlines.)
    pub fn line(
        &mut self,
        date: &[u8; 26],
        client: SocketAddr,
        head: Option<&[u8]>,
        status: u16,
        bytes: usize,
    ) {
        self.line_lasting(date, client, head, status, bytes, None);
    }

    /// As `line`, for an upgraded connection, written at its close: `lasted` (its time open,
    /// in seconds to the millisecond) ends the line, after the format's own fields.
    #[inline(never)]
    pub fn line_lasting(
        &mut self,
        date: &[u8; 26],
        client: SocketAddr,
        head: Option<&[u8]>,
        status: u16,
        bytes: usize,
        lasted: Option<Duration>,
    ) {
        let out = &mut self.lines;
        let _ = write!(out, "{} - - [", client.ip());
        out.extend_from_slice(date);
        out.extend_from_slice(b"] \"");
        let head = head.map(head::read);
        match &head {
            Some(head) => escaped(out, head.request_line),
            None => out.push(b'-'),
        }
        let _ = write!(out, "\" {status} {bytes}");
        if self.format == Format::Combined {
            for name in [&b"referer"[..], b"user-agent"] {
                out.extend_from_slice(b" \"");
                match head.as_ref().and_then(|h| h.values(name).next()) {
                    Some(value) => escaped(out, value),
                    None => out.push(b'-'),
                }
                out.push(b'"');
            }
        }
        if let Some(lasted) = lasted {
            let _ = write!(out, " {}.{:03}", lasted.as_secs(), lasted.subsec_millis());
        }
        out.push(b'\n');
    }
}

/// Visible ASCII but `"` as itself; the rest escaped (see `AccessLog::line`).
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    echo::push_escaped(out, bytes, |b| {
        b.is_ascii_graphic() && b != b'"' || b == b' '
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; 26] = b"06/Nov/1994:08:49:37 +0000";

    #[test]
    fn common_and_combined_lines_escape_what_could_break_a_field() {
        let client: SocketAddr = "192.0.2.1:5555".parse().unwrap();
        let head = b"GET /who?q=\"x\\y HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8 \"quoted\" caf\xc3\xa9\r\n\r\n";
        let mut log = AccessLog::new(Format::Common);
        log.line(DATE, client, Some(head), 200, 12);
        log.line(DATE, client, None, 400, 5);
        let text = String::from_utf8(log.lines.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "192.0.2.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /who?q=\\x22x\\\\y HTTP/1.1\" 200 12"
        );
        assert!(lines[1].ends_with("] \"-\" 400 5"), "{}", lines[1]);

        let mut log = AccessLog::new(Format::Combined);
        log.line(DATE, client, Some(head), 200, 12);
        log.line(DATE, client, None, 400, 5);
        let text = String::from_utf8(log.lines.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(" 200 12 \"-\" \"curl/8 \\x22quoted\\x22 caf\\xC3\\xA9\""),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with("] \"-\" 400 5 \"-\" \"-\""),
            "{}",
            lines[1]
        );
        assert!(!log.is_off() && AccessLog::new(Format::Off).is_off());
        let mut log = AccessLog::new(Format::Common);
        let upgrade = b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n";
        let lasted = Some(Duration::from_millis(12_345));
        log.line_lasting(DATE, client, Some(upgrade), 101, 2048, lasted);
        assert!(
            log.lines
                .ends_with(b"] \"GET /ws HTTP/1.1\" 101 2048 12.345\n"),
            "{}",
            String::from_utf8_lossy(&log.lines)
        );
    }
}
