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

pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// HEAD: the headers a GET would get, no body.
    pub head_only: bool,
    /// Send `Allow: GET, HEAD` (with 405).
    pub allow: bool,
    pub connection: Connection,
}

/// The status line's code and reason phrase (RFC 9110 §15).
fn status_line(status: u16) -> &'static [u8] {
    match status {
        200 => b"200 OK\r\n",
        400 => b"400 Bad Request\r\n",
        404 => b"404 Not Found\r\n",
        405 => b"405 Method Not Allowed\r\n",
        408 => b"408 Request Timeout\r\n",
        413 => b"413 Content Too Large\r\n",
        414 => b"414 URI Too Long\r\n",
        431 => b"431 Request Header Fields Too Large\r\n",
        501 => b"501 Not Implemented\r\n",
        503 => b"503 Service Unavailable\r\n",
        505 => b"505 HTTP Version Not Supported\r\n",
        _ => b"500 Internal Server Error\r\n",
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

impl Response<'_> {
    /// Appends the whole response to `out`. `date` is the current IMF-fixdate.
    pub fn write_to(&self, out: &mut Vec<u8>, date: &[u8; 29]) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status_line(self.status));
        // Every answer is plain text; nosniff keeps browsers from guessing otherwise.
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
        push_decimal(out, self.body.len());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date);
        // Each replica answers differently: no cache may pin one answer.
        out.extend_from_slice(
            b"\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        );
        if self.allow {
            out.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        match self.connection {
            Connection::Persistent => {}
            Connection::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            Connection::Close => out.extend_from_slice(b"Connection: close\r\n"),
        }
        out.extend_from_slice(b"\r\n");
        if !self.head_only {
            out.extend_from_slice(self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn text(response: Response) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out, DATE);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn get_and_head_share_headers() {
        let get = Response {
            status: 200,
            body: b"abc",
            head_only: false,
            allow: false,
            connection: Connection::Persistent,
        };
        assert_eq!(
            text(get),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\nabc"
        );
        let head = Response {
            status: 200,
            body: b"abc",
            head_only: true,
            allow: false,
            connection: Connection::Persistent,
        };
        assert!(text(head).ends_with("Content-Length: 3\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"));
    }

    #[test]
    fn allow_and_connection_headers() {
        let r = Response {
            status: 405,
            body: b"",
            head_only: false,
            allow: true,
            connection: Connection::Close,
        };
        let t = text(r);
        assert!(t.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(t.contains("\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"));
        let r = Response {
            status: 200,
            body: b"",
            head_only: false,
            allow: false,
            connection: Connection::KeepAlive,
        };
        assert!(text(r).contains("\r\nConnection: keep-alive\r\n"));
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
