//! Response writing. Every response is assembled in the worker's output buffer and leaves in
//! one write with the others of its batch. Each says where its body ends: a Content-Length, or
//! for a stream the chunked coding (HTTP/1.0: the close), so the framing never depends on a
//! guess.

/// What the `Connection` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// HTTP/1.1 default: no header.
    Persistent,
    /// An HTTP/1.0 client asked to keep the connection: `Connection: keep-alive`.
    KeepAlive,
    /// This is the last response on the connection: `Connection: close`.
    Close,
}

/// Plain text: every answer but an echo in JSON and the metrics page.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `/echo` in JSON.
pub const JSON: &str = "application/json";
/// The metrics page: the Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `/stream` as Server-Sent Events.
pub const EVENT_STREAM: &str = "text/event-stream";
/// `/data`.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// How the end of the body is shown (RFC 9112 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// `Content-Length`: the length of the body given to `Head::write`, which follows.
    Body,
    /// `Content-Length: n`; the caller writes the `n` bytes after the head (a download).
    Declared(u64),
    /// `Transfer-Encoding: chunked`; the caller writes the chunks, then `LAST_CHUNK`.
    Chunked,
    /// Neither: the body ends when the connection closes (a stream to an HTTP/1.0 client,
    /// which cannot read chunks; the answer must say `Connection: close`).
    UntilClose,
}

/// Everything of a response but its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_type: &'static str,
    /// With 405: the methods that work, for `Allow` (`GET, HEAD`).
    pub allow: Option<&'static str>,
    /// The answer depends on the request's `Accept`: `Vary: Accept`.
    pub vary_accept: bool,
    pub connection: Connection,
    /// HEAD: the headers a GET would get, no body.
    pub head_only: bool,
    pub length: Length,
    /// One more field line the answer needs, with its CRLF: a 426's `Sec-WebSocket-Version`.
    pub field: Option<&'static [u8]>,
}

impl Head {
    /// `status` and `content_type`; persistent, with its body, and nothing else.
    pub const fn new(status: u16, content_type: &'static str) -> Head {
        Head {
            status,
            content_type,
            allow: None,
            vary_accept: false,
            connection: Connection::Persistent,
            head_only: false,
            length: Length::Body,
            field: None,
        }
    }
}

/// The field lines the operator adds to every answer (`--header`), rendered once, each with its
/// CRLF. A `Cache-Control` among them replaces `whod`'s own `no-store`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    pub lines: Vec<u8>,
    pub cache_control: bool,
}

/// The last chunk of a chunked body, with no trailer (RFC 9112 §7.1).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends one chunk of a chunked body: `chunk-size CRLF chunk-data CRLF` (RFC 9112 §7.1), the
/// size in hex. An empty chunk would be the last one: nothing is written for it.
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let _ = std::io::Write::write_fmt(out, format_args!("{:x}\r\n", data.len()));
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// 204 and 304 never have a body (RFC 9110 §15.3.5, §15.4.5), nor a Content-Length or
/// Content-Type for it.
fn has_body(status: u16) -> bool {
    !matches!(status, 204 | 304)
}

/// The reason phrase of a status code, as RFC 9110 §15 registers it. A code without one
/// gets an empty phrase, which RFC 9112 §4 allows (`status-line = HTTP-version SP
/// status-code SP [ reason-phrase ]`): a client must not rely on the phrase anyway.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        // RFC 6585
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        // RFC 7725
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

impl Head {
    /// Appends the response to `out`: this head, the operator's `extra` field lines, then
    /// `body` (with `Length::Body`; other lengths write the head only, and the caller the body
    /// after it). `date` is the current IMF-fixdate.
    pub fn write(&self, body: &[u8], date: &[u8; 29], extra: &Extra, out: &mut Vec<u8>) {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]; a code is 3 digits.
        debug_assert!((100..=999).contains(&self.status), "status {}", self.status);
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, usize::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        let has_body = has_body(self.status);
        if has_body {
            // A fixed type per answer; nosniff keeps browsers from guessing otherwise.
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(self.content_type.as_bytes());
            match self.length {
                Length::Body | Length::Declared(_) => {
                    out.extend_from_slice(b"\r\nContent-Length: ");
                    let length = match self.length {
                        Length::Declared(n) => n as usize,
                        _ => body.len(),
                    };
                    push_decimal(out, length);
                }
                Length::Chunked => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked"),
                Length::UntilClose => {}
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(date);
        // Each replica answers differently: no cache may pin one answer (unless the operator
        // says otherwise, to test a cache).
        out.extend_from_slice(if extra.cache_control {
            b"\r\nX-Content-Type-Options: nosniff\r\n"
        } else {
            b"\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
        });
        if self.vary_accept {
            out.extend_from_slice(b"Vary: Accept\r\n");
        }
        if let Some(methods) = self.allow {
            out.extend_from_slice(b"Allow: ");
            out.extend_from_slice(methods.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match self.connection {
            Connection::Persistent => {}
            Connection::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            Connection::Close => out.extend_from_slice(b"Connection: close\r\n"),
        }
        if let Some(field) = self.field {
            out.extend_from_slice(field);
        }
        if !extra.lines.is_empty() {
            out.extend_from_slice(&extra.lines);
        }
        out.extend_from_slice(b"\r\n");
        if has_body && !self.head_only && self.length == Length::Body {
            out.extend_from_slice(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn text(head: Head, body: &[u8]) -> String {
        let mut out = Vec::new();
        head.write(body, DATE, &Extra::default(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn get_and_head_share_headers() {
        let get = Head {
            status: 200,
            content_type: TEXT,
            head_only: false,
            length: Length::Body,
            field: None,
            allow: None,
            vary_accept: false,
            connection: Connection::Persistent,
        };
        assert_eq!(
            text(get, b"abc"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\nabc"
        );
        let head = Head {
            status: 200,
            content_type: TEXT,
            head_only: true,
            length: Length::Body,
            field: None,
            allow: None,
            vary_accept: false,
            connection: Connection::Persistent,
        };
        assert!(text(head, b"abc").ends_with("Content-Length: 3\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"));
    }

    #[test]
    fn allow_and_connection_headers() {
        let r = Head {
            status: 405,
            content_type: TEXT,
            head_only: false,
            length: Length::Body,
            field: None,
            allow: Some("GET, HEAD"),
            vary_accept: false,
            connection: Connection::Close,
        };
        let t = text(r, b"");
        assert!(t.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(t.contains("\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"));
        let r = Head {
            status: 200,
            content_type: TEXT,
            head_only: false,
            length: Length::Body,
            field: None,
            allow: None,
            vary_accept: false,
            connection: Connection::KeepAlive,
        };
        assert!(text(r, b"").contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn no_content_and_not_modified_have_no_body_nor_its_headers() {
        for status in [204, 304] {
            let response = Head::new(status, TEXT);
            let t = text(response, b"ignored");
            assert!(!t.contains("\r\nContent-Length:"), "{t}");
            assert!(!t.contains("\r\nContent-Type:"), "{t}");
            assert!(t.ends_with("nosniff\r\n\r\n"), "{t}");
        }
    }

    #[test]
    fn json_with_vary() {
        let response = Head {
            status: 200,
            content_type: "application/json",
            head_only: false,
            length: Length::Body,
            field: None,
            allow: None,
            vary_accept: true,
            connection: Connection::Persistent,
        };
        let t = text(response, b"{}");
        assert!(t.contains("Content-Type: application/json\r\nContent-Length: 2\r\n"));
        assert!(t.contains("nosniff\r\nVary: Accept\r\n\r\n{}"), "{t}");
    }

    #[test]
    fn a_streamed_body_is_framed_by_its_declared_length_by_chunks_or_by_the_close() {
        let head = |length| Head {
            length,
            ..Head::new(200, TEXT)
        };
        let declared = text(head(Length::Declared(10 << 20)), b"not written");
        assert!(
            declared.contains("\r\nContent-Length: 10485760\r\n"),
            "{declared}"
        );
        assert!(
            declared.ends_with("nosniff\r\n\r\n"),
            "the head only: {declared}"
        );
        let chunked = text(head(Length::Chunked), b"not written");
        assert!(
            chunked.contains(
                "Content-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\nDate:"
            ),
            "{chunked}"
        );
        assert!(!chunked.contains("Content-Length") && chunked.ends_with("\r\n\r\n"));
        let until_close = text(
            Head {
                connection: Connection::Close,
                ..head(Length::UntilClose)
            },
            b"not written",
        );
        assert!(
            !until_close.contains("Content-Length") && !until_close.contains("Transfer-Encoding")
        );
        assert!(until_close.ends_with("Connection: close\r\n\r\n"));
        let mut chunks = Vec::new();
        write_chunk(b"hello, world", &mut chunks);
        write_chunk(b"", &mut chunks);
        write_chunk(&[b'x'; 300], &mut chunks);
        chunks.extend_from_slice(LAST_CHUNK);
        assert_eq!(
            chunks,
            [
                &b"c\r\nhello, world\r\n12c\r\n"[..],
                &[b'x'; 300],
                b"\r\n0\r\n\r\n"
            ]
            .concat()
        );
    }

    #[test]
    fn the_operators_lines_come_last_and_may_replace_cache_control() {
        let mut out = Vec::new();
        let extra = Extra {
            lines: b"Access-Control-Allow-Origin: *\r\nX-Test: 1\r\n".to_vec(),
            cache_control: false,
        };
        Head::new(200, TEXT).write(b"ok", DATE, &extra, &mut out);
        let t = String::from_utf8(out).unwrap();
        assert!(t.ends_with("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nAccess-Control-Allow-Origin: *\r\nX-Test: 1\r\n\r\nok"), "{t}");
        let mut out = Vec::new();
        let extra = Extra {
            lines: b"Cache-Control: max-age=60\r\n".to_vec(),
            cache_control: true,
        };
        Head::new(200, TEXT).write(b"ok", DATE, &extra, &mut out);
        let t = String::from_utf8(out).unwrap();
        assert_eq!(t.matches("Cache-Control").count(), 1, "{t}");
        assert!(
            t.contains("nosniff\r\nCache-Control: max-age=60\r\n\r\nok"),
            "{t}"
        );
    }

    /// The registry as RFC 9110 §15, RFC 6585 and RFC 7725 list it, written out once more, so
    /// that a phrase lost or changed in the table above shows here.
    const REGISTERED: &str = "100 Continue
101 Switching Protocols
200 OK
201 Created
202 Accepted
203 Non-Authoritative Information
204 No Content
205 Reset Content
206 Partial Content
300 Multiple Choices
301 Moved Permanently
302 Found
303 See Other
304 Not Modified
305 Use Proxy
307 Temporary Redirect
308 Permanent Redirect
400 Bad Request
401 Unauthorized
402 Payment Required
403 Forbidden
404 Not Found
405 Method Not Allowed
406 Not Acceptable
407 Proxy Authentication Required
408 Request Timeout
409 Conflict
410 Gone
411 Length Required
412 Precondition Failed
413 Content Too Large
414 URI Too Long
415 Unsupported Media Type
416 Range Not Satisfiable
417 Expectation Failed
421 Misdirected Request
422 Unprocessable Content
426 Upgrade Required
428 Precondition Required
429 Too Many Requests
431 Request Header Fields Too Large
451 Unavailable For Legal Reasons
500 Internal Server Error
501 Not Implemented
502 Bad Gateway
503 Service Unavailable
504 Gateway Timeout
505 HTTP Version Not Supported";

    #[test]
    fn every_registered_status_has_its_phrase_and_no_other_one_has() {
        let mut registered = 0;
        for line in REGISTERED.lines() {
            let (code, phrase) = line.split_once(' ').unwrap();
            assert_eq!(reason_phrase(code.parse().unwrap()), phrase, "{code}");
            registered += 1;
        }
        let phrases = (100..=599).filter(|&code| !reason_phrase(code).is_empty());
        assert_eq!(phrases.count(), registered);
    }

    #[test]
    fn every_status_has_its_line_and_an_unregistered_one_an_empty_phrase() {
        let line = |status| {
            let r = Head::new(status, TEXT);
            text(r, b"").lines().next().unwrap().to_string()
        };
        assert_eq!(line(200), "HTTP/1.1 200 OK");
        assert_eq!(line(408), "HTTP/1.1 408 Request Timeout");
        assert_eq!(line(413), "HTTP/1.1 413 Content Too Large");
        assert_eq!(line(431), "HTTP/1.1 431 Request Header Fields Too Large");
        assert_eq!(line(505), "HTTP/1.1 505 HTTP Version Not Supported");
        assert_eq!(line(599), "HTTP/1.1 599 ");
        assert_eq!(line(299), "HTTP/1.1 299 ");
    }

    #[test]
    fn decimal() {
        for n in [0usize, 7, 10, 99, 100, 12345, usize::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
