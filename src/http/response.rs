//! Response writing. Every response is assembled in the worker's output buffer and leaves in
//! one write with the others of its batch; each carries a Content-Length, so the framing never
//! depends on closing the connection.

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

/// Everything of a response but its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_type: &'static str,
    /// Send `Allow: GET, HEAD` (with 405).
    pub allow: bool,
    /// The answer depends on the request's `Accept`: `Vary: Accept`.
    pub vary_accept: bool,
    pub connection: Connection,
    /// HEAD: the headers a GET would get, no body.
    pub head_only: bool,
}

impl Head {
    /// `status` and `content_type`; persistent, with a body, and nothing else.
    pub const fn new(status: u16, content_type: &'static str) -> Head {
        Head {
            status,
            content_type,
            allow: false,
            vary_accept: false,
            connection: Connection::Persistent,
            head_only: false,
        }
    }
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
    /// Appends the whole response, this head and `body`, to `out`. `date` is the current
    /// IMF-fixdate.
    pub fn write(&self, body: &[u8], date: &[u8; 29], out: &mut Vec<u8>) {
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
            out.extend_from_slice(b"\r\nContent-Length: ");
            push_decimal(out, body.len());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(date);
        // Each replica answers differently: no cache may pin one answer.
        out.extend_from_slice(
            b"\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        );
        if self.vary_accept {
            out.extend_from_slice(b"Vary: Accept\r\n");
        }
        if self.allow {
            out.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        match self.connection {
            Connection::Persistent => {}
            Connection::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            Connection::Close => out.extend_from_slice(b"Connection: close\r\n"),
        }
        out.extend_from_slice(b"\r\n");
        if has_body && !self.head_only {
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
        head.write(body, DATE, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn get_and_head_share_headers() {
        let get = Head {
            status: 200,
            content_type: TEXT,
            head_only: false,
            allow: false,
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
            allow: false,
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
            allow: true,
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
            allow: false,
            vary_accept: false,
            connection: Connection::KeepAlive,
        };
        assert!(text(r, b"").contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn no_content_and_not_modified_have_no_body_nor_its_headers() {
        for status in [204, 304] {
            let response = Head {
                status,
                content_type: TEXT,
                head_only: false,
                allow: false,
                vary_accept: false,
                connection: Connection::Persistent,
            };
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
            allow: false,
            vary_accept: true,
            connection: Connection::Persistent,
        };
        let t = text(response, b"{}");
        assert!(t.contains("Content-Type: application/json\r\nContent-Length: 2\r\n"));
        assert!(t.contains("nosniff\r\nVary: Accept\r\n\r\n{}"), "{t}");
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
            let r = Head {
                status,
                content_type: TEXT,
                head_only: false,
                allow: false,
                vary_accept: false,
                connection: Connection::Persistent,
            };
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
