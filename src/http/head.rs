//! Reading a request head that `request::parse` has already accepted: its request line and its
//! field lines, exactly as received, in order, borrowed from the buffer (nothing is copied).
//!
//! `request::parse` keeps only the fields `who` acts on; this module gives back all of them,
//! for the routes that show the request (`/echo`) or look at one field (`Accept`).
//!
//! It relies on the head having been accepted, and so checks nothing again: a head is
//! `[ CRLF ] request-line CRLF *( field-line CRLF ) CRLF`, where each CRLF may be a bare LF,
//! `request-line = method SP request-target SP HTTP-version` with exactly one SP between the
//! parts, and `field-line = field-name ":" OWS field-value OWS` with no CR, LF or NUL inside.
//! On bytes the parser did not accept, `read` and the iterators never panic and always end,
//! but what they give is unspecified.
//!
//! ```
//! use whod::http::head;
//!
//! let buf = b"GET /echo?format=json HTTP/1.1\r\nHost: example.com\r\nX-A:  1 \r\nx-a: 2\r\n\r\n";
//! let head = head::read(buf);
//! assert_eq!(head.method, b"GET");
//! assert_eq!(head.target, b"/echo?format=json");
//! let fields: Vec<_> = head.fields().map(|f| (f.name, f.value)).collect();
//! assert_eq!(fields, [(&b"Host"[..], &b"example.com"[..]), (b"X-A", b"1"), (b"x-a", b"2")]);
//! assert_eq!(head.values(b"X-a").collect::<Vec<_>>(), [b"1", b"2"]);
//! ```

/// An accepted request head, as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'b> {
    /// The request line without its line ending: `method SP request-target SP HTTP-version`.
    pub request_line: &'b [u8],
    pub method: &'b [u8],
    /// The request target exactly as sent: origin-form `/echo?x=1`, absolute-form
    /// `http://host/echo`, authority-form `host:port` or `*`.
    pub target: &'b [u8],
    /// `HTTP/1.1`, `HTTP/1.0`, ... as sent.
    pub version: &'b [u8],
    /// The field lines and the empty line that ends them.
    field_lines: &'b [u8],
}

/// One field line: its name in the case it was sent, its value without the optional whitespace
/// around it (`OWS`, spaces and tabs), every other byte as received (obs-text ≥ 0x80 included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'b> {
    pub name: &'b [u8],
    pub value: &'b [u8],
}

/// The line at the start of `bytes` without its line ending (CRLF or a bare LF), and the bytes
/// after that ending. Without a LF, the line is all of `bytes`.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = &bytes[..lf];
            (line.strip_suffix(b"\r").unwrap_or(line), &bytes[lf + 1..])
        }
        None => (bytes, &[]),
    }
}

/// `OWS = *( SP / HTAB )` (RFC 9110 §5.6.3), removed from both ends.
fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Reads the head at the start of `head` (give it `&buf[..request.head_len]`; bytes after the
/// head's empty line are never looked at). The one empty line `request::parse` ignores before
/// the request line is skipped here too.
pub fn read(head: &[u8]) -> Head<'_> {
    // "a server ... SHOULD ignore at least one empty line (CRLF) received prior to the
    // request-line" (RFC 9112 §2.2): the parser ignores one, CRLF or LF.
    let head = match head {
        [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] => rest,
        _ => head,
    };
    let (request_line, field_lines) = split_line(head);
    // request-line = method SP request-target SP HTTP-version: exactly one SP each.
    let mut parts = request_line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    Head {
        request_line,
        method,
        target,
        version,
        field_lines,
    }
}

impl<'b> Head<'b> {
    /// Every field line, in the order received, repeated fields each on their own.
    pub fn fields(&self) -> Fields<'b> {
        Fields {
            rest: self.field_lines,
        }
    }

    /// The values of the fields named `name` (compared without regard to ASCII case, as field
    /// names are: RFC 9110 §5.1), in the order received.
    pub fn values<'n>(
        &self,
        name: &'n [u8],
    ) -> impl Iterator<Item = &'b [u8]> + Clone + use<'b, 'n> {
        self.fields()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value)
    }
}

/// The field lines of a head, in order; see [`Head::fields`].
#[derive(Clone, Debug)]
pub struct Fields<'b> {
    /// The field lines not yet given, and the empty line that ends them.
    rest: &'b [u8],
}

impl<'b> Iterator for Fields<'b> {
    type Item = Field<'b>;

    fn next(&mut self) -> Option<Field<'b>> {
        let (line, rest) = split_line(self.rest);
        // The empty line ends the header section (or the bytes ran out).
        if line.is_empty() {
            self.rest = &[];
            return None;
        }
        self.rest = rest;
        // field-line = field-name ":" OWS field-value OWS; a field-name (a token) has no colon.
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (line, &[][..]),
        };
        Some(Field {
            name,
            value: trim_ows(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::http::limits::{MAX_HEADER_SECTION, MAX_REQUEST_LINE};
    use crate::http::request;

    /// The head `request::parse` accepts at the start of `buf`, read.
    fn accepted(buf: &[u8]) -> Head<'_> {
        match request::parse(buf) {
            Ok(Status::Complete(request)) => {
                let head = read(&buf[..request.head_len]);
                // The request line agrees with the parser's.
                assert_eq!((head.method, head.target), (request.method, request.target));
                head
            }
            other => panic!(
                "{:?}: not accepted: {other:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    fn fields<'b>(head: &Head<'b>) -> Vec<(&'b [u8], &'b [u8])> {
        head.fields().map(|f| (f.name, f.value)).collect()
    }

    #[test]
    fn the_request_line_as_received() {
        let head = accepted(b"GET /who?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
        assert_eq!(head.request_line, b"GET /who?x=1 HTTP/1.1");
        assert_eq!(
            (head.method, head.target, head.version),
            (&b"GET"[..], &b"/who?x=1"[..], &b"HTTP/1.1"[..])
        );
        // RFC 9112 §3.2's four forms, and a version other than 1.1 as sent.
        for (line, target) in [
            (
                &b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1"[..],
                &b"http://www.example.org/pub/WWW/TheProject.html"[..],
            ),
            (
                b"CONNECT www.example.com:80 HTTP/1.1",
                b"www.example.com:80",
            ),
            (b"OPTIONS * HTTP/1.1", b"*"),
            (b"GET /where?q=now HTTP/1.9", b"/where?q=now"),
        ] {
            let buf = [line, b"\r\nHost: www.example.org\r\n\r\n"].concat();
            let head = accepted(&buf);
            assert_eq!((head.request_line, head.target), (line, target));
        }
        let head = accepted(b"HEAD / HTTP/1.0\r\n\r\n");
        assert_eq!(
            (head.method, head.version),
            (&b"HEAD"[..], &b"HTTP/1.0"[..])
        );
        assert_eq!(head.fields().count(), 0);
    }

    #[test]
    fn field_lines_in_order_with_their_case_and_repeats() {
        let head = accepted(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nACCEPT: */*\r\nx-forwarded-for: 10.0.0.2\r\n\r\n",
        );
        assert_eq!(
            fields(&head),
            [
                (&b"Host"[..], &b"a"[..]),
                (b"X-Forwarded-For", b"10.0.0.1"),
                (b"ACCEPT", b"*/*"),
                (b"x-forwarded-for", b"10.0.0.2"),
            ]
        );
        let forwarded: Vec<_> = head.values(b"X-FORWARDED-FOR").collect();
        assert_eq!(forwarded, [b"10.0.0.1", b"10.0.0.2"]);
        assert_eq!(head.values(b"cookie").count(), 0);
    }

    #[test]
    fn values_lose_only_the_whitespace_around_them() {
        let head = accepted(
            b"GET / HTTP/1.1\r\nHost:a\r\nX: \t a \t b \t\r\nEmpty:\r\nSpaces:   \r\nColons: a:b::\r\n\r\n",
        );
        assert_eq!(
            fields(&head),
            [
                (&b"Host"[..], &b"a"[..]),
                (b"X", b"a \t b"),
                (b"Empty", b""),
                (b"Spaces", b""),
                (b"Colons", b"a:b::"),
            ]
        );
        // obs-text (bytes >= 0x80), UTF-8 or not, and every visible byte pass through.
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\xfe \"q\" \\ ~\r\n\r\n";
        let head = accepted(buf);
        assert_eq!(
            head.values(b"x-name").next(),
            Some(&b"caf\xc3\xa9 \xff\xfe \"q\" \\ ~"[..])
        );
    }

    #[test]
    fn lf_and_crlf_endings_and_the_leading_empty_line() {
        let expected: &[(&[u8], &[u8])] = &[(b"Host", b"a"), (b"X", b"1")];
        for buf in [
            &b"GET /who HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"[..],
            b"GET /who HTTP/1.1\nHost: a\nX: 1\n\n",
            b"GET /who HTTP/1.1\nHost: a\r\nX: 1\n\r\n",
            b"\r\nGET /who HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n",
            b"\nGET /who HTTP/1.1\nHost: a\nX: 1\n\n",
        ] {
            let head = accepted(buf);
            assert_eq!(head.request_line, b"GET /who HTTP/1.1");
            assert_eq!(
                fields(&head),
                expected,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn bytes_after_the_head_are_not_fields() {
        // A body that looks like field lines, and the next pipelined request.
        let buf =
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nX: body\r\nGET / HTTP/1.1\r\n";
        assert_eq!(accepted(buf).fields().count(), 2);
        // Given the bytes past head_len by mistake, the iterator still stops at the empty line.
        assert_eq!(read(buf).fields().count(), 2);
    }

    #[test]
    fn the_largest_head_the_parser_accepts() {
        // An 8 KiB request line and a 16 KiB header section of 100 fields.
        let target = "/".repeat(MAX_REQUEST_LINE - "GET  HTTP/1.1".len());
        let mut section = String::from("Host: a\r\n");
        for i in 0..98 {
            section.push_str(&format!("X-{i:02}: {}\r\n", "v".repeat(150)));
        }
        let last = MAX_HEADER_SECTION - section.len() - "Y: \r\n\r\n".len();
        section.push_str(&format!("Y: {}\r\n\r\n", "w".repeat(last)));
        let buf = format!("GET {target} HTTP/1.1\r\n{section}");
        let head = accepted(buf.as_bytes());
        assert_eq!(head.request_line.len(), MAX_REQUEST_LINE);
        let all: Vec<_> = head.fields().collect();
        assert_eq!(all.len(), request::MAX_FIELDS);
        assert_eq!(all[99].value.len(), last);
    }

    #[test]
    fn bytes_never_accepted_do_not_panic() {
        for buf in [
            &b""[..],
            b"\r\n",
            b"\n\n\n",
            b"GET",
            b"GET /",
            b"GET / HTTP/1.1",
            b"GET / HTTP/1.1\r\nno colon\r\n: empty name\r\n",
            b"\r",
            b" \t:\t ",
        ] {
            let head = read(buf);
            assert!(head.fields().count() <= buf.len());
        }
        let head = read(b"GET / HTTP/1.1\r\nno colon\r\n\r\n");
        assert_eq!(fields(&head), [(&b"no colon"[..], &b""[..])]);
    }
}
