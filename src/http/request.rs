//! The request head parser (RFC 9112 §2-§7, field syntax from RFC 9110 §5).
//!
//! A push parser in the manner of `httparse`: `parse` looks at the bytes received so far and
//! answers `Complete` (with the request, borrowed from the buffer: nothing is copied),
//! `Partial` (every byte so far is valid, send more), or a `Reject` as soon as a byte proves
//! the request bad. Limits are checked by position, so a request split anywhere gives the
//! same answer as the request whole. Only the fields `who` acts on are kept.

use super::scan::{
    DIGIT, HOST, field_value_end, is_host_colon, is_named, run_end, target_end, token_end,
};
use super::{Reject, Status};

/// Longest request line, without its line ending; past it: 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest header section (field lines and the empty line that ends them); past it: 431.
/// The trailer section of a chunked body has the same limit.
pub const MAX_HEADER_SECTION: usize = 16 * 1024;
/// Most field lines in a request's head (and in its trailer section); past it: 431.
pub const MAX_FIELDS: usize = 100;
/// Largest request body read (and discarded); past it: 413.
pub const MAX_BODY: u64 = 1024 * 1024;

// The refusals for passing a limit: each message renders its constant.
const LINE_TOO_LONG: Reject = Reject::over(
    414,
    "request line longer than",
    MAX_REQUEST_LINE as u64,
    "bytes",
);
const HEADERS_TOO_LARGE: Reject = Reject::over(
    431,
    "header section larger than",
    MAX_HEADER_SECTION as u64,
    "bytes",
);
const TOO_MANY_FIELDS: Reject = Reject::over(431, "more than", MAX_FIELDS as u64, "header fields");
/// For a Content-Length or a chunked body too large: the one refusal for both.
pub(crate) const BODY_TOO_LARGE: Reject =
    Reject::over(413, "request body larger than", MAX_BODY, "bytes");

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'b> {
    pub method: &'b [u8],
    pub target: &'b [u8],
    /// 0 for HTTP/1.0; 1 for HTTP/1.1 and any later 1.x, which are answered as 1.1.
    pub minor_version: u8,
    /// The connection stays open after the answer (RFC 9112 §9.3).
    pub keep_alive: bool,
    pub framing: Framing,
    /// `Expect: 100-continue`: the client waits before sending its body.
    pub expect_continue: bool,
    /// Bytes of the buffer the head took, with an ignored leading empty line.
    pub head_len: usize,
}

/// The fields `who` acts on; the others are only checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    Other,
}

impl Name {
    /// The five names have five lengths: the length alone rules out most fields, and leaves at
    /// most one name to compare.
    fn of(name: &[u8]) -> Name {
        match name.len() {
            4 if is_named(name, b"host") => Name::Host,
            6 if is_named(name, b"expect") => Name::Expect,
            10 if is_named(name, b"connection") => Name::Connection,
            14 if is_named(name, b"content-length") => Name::ContentLength,
            17 if is_named(name, b"transfer-encoding") => Name::TransferEncoding,
            _ => Name::Other,
        }
    }
}

const BAD_METHOD: Reject = Reject::new(
    400,
    "request line: the method is not a token followed by one space",
);
const BAD_TARGET: Reject = Reject::new(
    400,
    "request line: the target is not visible ASCII followed by one space",
);
const BAD_TARGET_FORM: Reject = Reject::new(
    400,
    "request line: the target is not origin-form, absolute-form, authority-form or *",
);
const BAD_VERSION: Reject = Reject::new(400, "request line: the version is not HTTP/DIGIT.DIGIT");
const NO_VERSION: Reject = Reject::new(
    400,
    "request line: no HTTP version after the target (HTTP/0.9 is not supported)",
);
const SPACES_AFTER_METHOD: Reject =
    Reject::new(400, "request line: more than one space after the method");
const AFTER_VERSION: Reject = Reject::new(
    400,
    "request line: the version is followed by something other than the line end",
);
const BAD_LINE_END: Reject = Reject::new(400, "a line ends with something other than CRLF or LF");
const UNSUPPORTED_VERSION: Reject = Reject::new(505, "only HTTP/1.x is supported");
const OBS_FOLD: Reject = Reject::new(
    400,
    "a field line starts with whitespace (obsolete line folding)",
);
const SPACE_BEFORE_COLON: Reject =
    Reject::new(400, "whitespace between a field name and its colon");
const NO_COLON: Reject = Reject::new(400, "a field line has no colon");
const BAD_FIELD_NAME: Reject = Reject::new(400, "a field name is not a token");
const BAD_FIELD_VALUE: Reject = Reject::new(
    400,
    "a field value holds NUL, CR or another control character",
);
const MISSING_HOST: Reject = Reject::new(400, "HTTP/1.1 request without a Host field");
const REPEATED_HOST: Reject = Reject::new(400, "more than one Host field");
const BAD_HOST: Reject = Reject::new(400, "the Host field is not host[:port]");
const BAD_CONTENT_LENGTH: Reject = Reject::new(400, "Content-Length is not plain digits");
const CONFLICTING_CONTENT_LENGTH: Reject =
    Reject::new(400, "Content-Length fields with different values");
const LENGTH_AND_CHUNKED: Reject = Reject::new(400, "both Transfer-Encoding and Content-Length");
const TRANSFER_ENCODING_IN_HTTP10: Reject =
    Reject::new(400, "Transfer-Encoding in an HTTP/1.0 request");
const EMPTY_CODING: Reject = Reject::new(400, "Transfer-Encoding has an empty element");
const CHUNKED_NOT_LAST: Reject = Reject::new(400, "Transfer-Encoding does not end with chunked");
const CHUNKED_TWICE: Reject = Reject::new(400, "Transfer-Encoding lists chunked more than once");
const UNSUPPORTED_CODING: Reject = Reject::new(501, "a transfer coding other than chunked");

/// The scan reached the end of `view`. If `view` is the whole buffer, wait for more bytes;
/// if it was cut short at a limit, the limit is exceeded.
fn out_of_bytes<T>(view: &[u8], buf: &[u8], limit: Reject) -> Result<Status<T>, Reject> {
    if view.len() < buf.len() {
        Err(limit)
    } else {
        Ok(Status::Partial)
    }
}

/// The line ending at `buf[i]`: `CRLF`, or a bare `LF`, which RFC 9112 §2.2 lets a recipient
/// accept (as nginx and httparse do). Returns the index after it, or `None` if cut short.
#[inline(always)]
fn line_end(buf: &[u8], i: usize) -> Result<Option<usize>, Reject> {
    match (buf.get(i), buf.get(i + 1)) {
        (Some(b'\n'), _) => Ok(Some(i + 1)),
        (Some(b'\r'), Some(b'\n')) => Ok(Some(i + 2)),
        (Some(b'\r'), None) | (None, _) => Ok(None),
        _ => Err(BAD_LINE_END),
    }
}

/// What the parser remembers of the fields, as they go by.
#[derive(Default)]
struct Fields {
    count: usize,
    hosts: usize,
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// How many times `chunked` was listed, in all Transfer-Encoding lines together.
    chunked: usize,
    last_coding_is_chunked: bool,
    unknown_coding: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// Splits a list-valued field (`#element`, RFC 9110 §5.6.1) into its non-empty elements.
/// (The value holds no CR, LF or other control, so `trim_ascii` trims exactly OWS.)
fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|e| e.trim_ascii())
        .filter(|e| !e.is_empty())
}

impl Fields {
    /// Takes note of a field (the Host field's value already known valid or not).
    #[inline(always)]
    fn record(&mut self, name: Name, value: &[u8], valid_host: bool) -> Result<(), Reject> {
        match name {
            Name::Host => {
                self.hosts += 1;
                if !valid_host {
                    return Err(BAD_HOST);
                }
            }
            Name::ContentLength => self.content_length(value)?,
            Name::TransferEncoding => self.transfer_encoding(value)?,
            Name::Connection => {
                for option in elements(value) {
                    self.close |= is_named(option, b"close");
                    self.keep_alive |= is_named(option, b"keep-alive");
                }
            }
            Name::Expect => self.expect_continue |= is_named(value, b"100-continue"),
            Name::Other => {}
        }
        Ok(())
    }

    fn content_length(&mut self, value: &[u8]) -> Result<(), Reject> {
        // `Content-Length = 1*DIGIT` (RFC 9110 §8.6); a list such as "5, 5" is refused too.
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return Err(BAD_CONTENT_LENGTH);
        }
        // Saturating: any huge value is simply "too large".
        let length = value.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        if self
            .content_length
            .is_some_and(|previous| previous != length)
        {
            return Err(CONFLICTING_CONTENT_LENGTH);
        }
        self.content_length = Some(length);
        Ok(())
    }

    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Reject> {
        // `Transfer-Encoding = #transfer-coding` (RFC 9112 §6.1). Empty elements (an empty
        // value, ",chunked", "chunked,") are refused, as nginx and h11 do: a front end that
        // forwards them but does not read the list as chunked would disagree with us about
        // where the request ends.
        self.transfer_encoding = true;
        for coding in value.split(|&b| b == b',') {
            let coding = coding.trim_ascii();
            if coding.is_empty() {
                return Err(EMPTY_CODING);
            }
            let chunked = is_named(coding, b"chunked");
            self.chunked += usize::from(chunked);
            self.unknown_coding |= !chunked;
            self.last_coding_is_chunked = chunked;
        }
        Ok(())
    }

    /// The body framing, by RFC 9112 §6.1 and §6.3.
    fn framing(&self, minor_version: u8) -> Result<Framing, Reject> {
        if self.transfer_encoding {
            if self.content_length.is_some() {
                return Err(LENGTH_AND_CHUNKED);
            }
            if minor_version == 0 {
                return Err(TRANSFER_ENCODING_IN_HTTP10);
            }
            // "If a Transfer-Encoding header field is present in a request and the chunked
            // transfer coding is not the final encoding, ... the server MUST respond with the
            // 400 (Bad Request) status code and then close the connection" (RFC 9112 §6.3).
            if !self.last_coding_is_chunked {
                return Err(CHUNKED_NOT_LAST);
            }
            // "A sender MUST NOT apply the chunked transfer coding more than once" (§7.1).
            if self.chunked > 1 {
                return Err(CHUNKED_TWICE);
            }
            // "A server that receives a request message with a transfer coding it does not
            // understand SHOULD respond with 501 (Not Implemented)" (§6.1).
            if self.unknown_coding {
                return Err(UNSUPPORTED_CODING);
            }
            return Ok(Framing::Chunked);
        }
        match self.content_length {
            Some(length) if length > MAX_BODY => Err(BODY_TOO_LARGE),
            Some(0) | None => Ok(Framing::None),
            Some(length) => Ok(Framing::Length(length)),
        }
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), `uri-host = IP-literal / IPv4address /
/// reg-name`, `port = *DIGIT`. An empty value is allowed: RFC 9112 §3.2 has clients send one
/// when the target has no authority.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        // IP-literal = "[" ( IPv6address / IPvFuture ) "]"
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &rest[..end];
                if literal.is_empty()
                    || !literal
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return false;
                }
                (&b""[..], &rest[end + 1..])
            }
            None => return false,
        },
        None => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &b""[..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && host.iter().all(|&b| HOST[b as usize])
}

/// Where a Host value that is a plain reg-name or IPv4 address, with or without a port, ends
/// the line, or `None` for any other value. It finds the end of the value and checks it in one
/// pass; any other value is found, then checked by `valid_host`, which says the same of these.
fn plain_host_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut end = run_end(bytes, i, &HOST);
    if bytes.get(end) == Some(&b':') {
        end = run_end(bytes, end + 1, &DIGIT);
    }
    matches!(bytes.get(end), Some(b'\r' | b'\n')).then_some(end)
}

/// The field value that starts at `i`: where it ends, the value without its trailing OWS, and
/// for a Host field whether the value is valid.
#[inline(always)]
fn field_value(view: &[u8], i: usize, name: Name) -> (usize, &[u8], bool) {
    // A plain Host value is found and checked in one pass.
    if let Name::Host = name
        && let Some(end) = plain_host_end(view, i)
    {
        return (end, &view[i..end], true);
    }
    let end = field_value_end(view, i);
    let value = view[i..end].trim_ascii_end();
    (end, value, name == Name::Host && valid_host(value))
}

/// The four forms of `request-target` (RFC 9112 §3.2): origin-form `/path?query`,
/// absolute-form `http://host/path`, authority-form `host:port` (CONNECT only) and
/// asterisk-form `*` (OPTIONS only).
fn valid_target_form(method: &[u8], target: &[u8]) -> bool {
    match target {
        [b'/', ..] => true,
        b"*" => method == b"OPTIONS",
        _ if method == b"CONNECT" => !target.contains(&b'/'),
        _ => absolute_form_rest(target).is_some(),
    }
}

/// For an absolute-form target `scheme "://" authority path-abempty [ "?" query ]`, the part
/// after the scheme's `://`. `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn absolute_form_rest(target: &[u8]) -> Option<&[u8]> {
    let colon = target.iter().position(|&b| b == b':')?;
    let scheme = &target[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if scheme_ok {
        target[colon + 1..].strip_prefix(b"//")
    } else {
        None
    }
}

impl<'b> Request<'b> {
    /// The path of the target without its query: `/who?x=1` and `http://host/who` both give
    /// `/who`. `None` for authority-form and asterisk-form, which name no path.
    pub fn path(&self) -> Option<&'b [u8]> {
        let target = self.target;
        let path_and_query = if target.starts_with(b"/") {
            target
        } else {
            let rest = absolute_form_rest(target)?;
            let authority_end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            match &rest[authority_end..] {
                // path-abempty may be empty: "http://host" and "http://host?q" mean "/".
                [] | [b'?', ..] => return Some(b"/"),
                rest => rest,
            }
        };
        let end = path_and_query
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(path_and_query.len());
        Some(&path_and_query[..end])
    }
}

/// Parses the request head at the start of `buf`.
///
/// ```text
/// HTTP-message   = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
/// request-line   = method SP request-target SP HTTP-version
/// field-line     = field-name ":" OWS field-value OWS
/// ```
pub fn parse(buf: &[u8]) -> Result<Status<Request<'_>>, Reject> {
    // "a server that is expecting to receive and parse a request-line SHOULD ignore at least
    // one empty line (CRLF) received prior to the request-line" (RFC 9112 §2.2). One, here.
    let start = match buf {
        [b'\r'] => return Ok(Status::Partial),
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        _ => 0,
    };

    // request-line = method SP request-target SP HTTP-version
    let view = &buf[..buf.len().min(start + MAX_REQUEST_LINE)];
    // method = token
    // Most requests are GETs: four bytes compared settle the method and its space.
    let mut i = if view[start..].starts_with(b"GET ") {
        start + 3
    } else {
        token_end(view, start)
    };
    let method = &view[start..i];
    match view.get(i) {
        None => return out_of_bytes(view, buf, LINE_TOO_LONG),
        Some(b' ') if !method.is_empty() => i += 1,
        Some(_) => return Err(BAD_METHOD),
    }
    let target_start = i;
    i = target_end(view, i);
    let target = &view[target_start..i];
    match view.get(i) {
        None => return out_of_bytes(view, buf, LINE_TOO_LONG),
        Some(b' ') if !target.is_empty() => i += 1,
        Some(b' ') => return Err(SPACES_AFTER_METHOD),
        Some(b'\r' | b'\n') if !target.is_empty() => return Err(NO_VERSION),
        Some(_) => return Err(BAD_TARGET),
    }
    // HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP" (case-sensitive)
    // Nearly every request says HTTP/1.1: one compare of eight bytes (a word) settles it.
    let minor_version = if view[i..].starts_with(b"HTTP/1.1") {
        1
    } else {
        let version = &view[i..view.len().min(i + 8)];
        for (k, &b) in version.iter().enumerate() {
            let expected = match k {
                0..=4 => b == b"HTTP/"[k],
                6 => b == b'.',
                _ => b.is_ascii_digit(),
            };
            if !expected {
                return Err(BAD_VERSION);
            }
        }
        if version.len() < 8 {
            return out_of_bytes(view, buf, LINE_TOO_LONG);
        }
        if version[5] != b'1' {
            return Err(UNSUPPORTED_VERSION);
        }
        u8::from(version[7] != b'0')
    };
    i += 8;
    // The line ending may sit just past the limit: the limit counts the line without it.
    if !matches!(buf.get(i), None | Some(b'\r' | b'\n')) {
        return Err(AFTER_VERSION);
    }
    i = match line_end(buf, i)? {
        Some(next) => next,
        None => return Ok(Status::Partial),
    };
    if !valid_target_form(method, target) {
        return Err(BAD_TARGET_FORM);
    }

    // *( field-line CRLF ) CRLF
    let view = &buf[..buf.len().min(i + MAX_HEADER_SECTION)];
    let mut fields = Fields::default();
    let head_len = loop {
        match view.get(i) {
            None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            Some(b'\r' | b'\n') => match line_end(view, i)? {
                Some(end) => break end,
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            },
            // obs-fold = OWS CRLF RWS: "A server that receives an obs-fold in a request
            // message ... MUST either reject the message by sending a 400" (RFC 9112 §5.2).
            // The same bytes before the first field are refused too (§2.2).
            Some(b' ' | b'\t') => return Err(OBS_FOLD),
            Some(_) => {}
        }
        fields.count += 1;
        if fields.count > MAX_FIELDS {
            return Err(TOO_MANY_FIELDS);
        }
        // field-name = token
        let name = if is_host_colon(&view[i..]) {
            // Every HTTP/1.1 request has a Host field: its name and colon in one compare.
            i += "Host:".len();
            Name::Host
        } else {
            let name_start = i;
            i = token_end(view, i);
            let name = &view[name_start..i];
            match view.get(i) {
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
                Some(b':') if !name.is_empty() => i += 1,
                // "No whitespace is allowed between the field name and colon ... A server MUST
                // reject ... with a response status code of 400" (RFC 9112 §5.1).
                Some(b' ' | b'\t') => return Err(SPACE_BEFORE_COLON),
                Some(b'\r' | b'\n') => return Err(NO_COLON),
                Some(_) => return Err(BAD_FIELD_NAME),
            }
            Name::of(name)
        };
        // OWS field-value OWS
        while i < view.len() && matches!(view[i], b' ' | b'\t') {
            i += 1;
        }
        let value_start = i;
        let (value_end, value, valid_host) = field_value(view, value_start, name);
        i = value_end;
        i = match view.get(i) {
            None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            Some(b'\r' | b'\n') => match line_end(view, i)? {
                Some(next) => next,
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            },
            Some(_) => return Err(BAD_FIELD_VALUE),
        };
        fields.record(name, value, valid_host)?;
    };

    // "A server MUST respond with a 400 ... to any HTTP/1.1 request message that lacks a Host
    // header field and to any request message that contains more than one Host header field
    // line or a Host header field with an invalid field value" (RFC 9112 §3.2).
    if fields.hosts > 1 {
        return Err(REPEATED_HOST);
    }
    if minor_version == 1 && fields.hosts == 0 {
        return Err(MISSING_HOST);
    }
    let framing = fields.framing(minor_version)?;
    // HTTP/1.1 persists unless told "close"; HTTP/1.0 closes unless asked "keep-alive" (§9.3).
    let keep_alive = !fields.close && (minor_version == 1 || fields.keep_alive);
    Ok(Status::Complete(Request {
        method,
        target,
        minor_version,
        keep_alive,
        framing,
        expect_continue: fields.expect_continue,
        head_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{Rng, mutate};

    fn complete(input: &[u8]) -> Request<'_> {
        match parse(input) {
            Ok(Status::Complete(request)) => request,
            other => panic!(
                "{:?}: expected Complete, got {other:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    fn rejected(input: &[u8]) -> Reject {
        match parse(input) {
            Err(reject) => reject,
            other => panic!(
                "{:?}: expected a rejection, got {other:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    #[test]
    fn simple_get() {
        let input = b"GET /who HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
        let request = complete(input);
        assert_eq!(request.method, b"GET");
        assert_eq!(request.target, b"/who");
        assert_eq!(request.minor_version, 1);
        assert!(request.keep_alive);
        assert_eq!(request.framing, Framing::None);
        assert_eq!(request.head_len, input.len());
        assert_eq!(request.path(), Some(&b"/who"[..]));
    }

    #[test]
    fn rfc_9112_examples() {
        // §3.2.1 origin-form, §3.2.2 absolute-form, §3.2.3 authority-form, §3.2.4 asterisk-form.
        let r = complete(b"GET /where?q=now HTTP/1.1\r\nHost: www.example.org\r\n\r\n");
        assert_eq!(r.path(), Some(&b"/where"[..]));
        let r = complete(b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n");
        assert_eq!(r.path(), Some(&b"/pub/WWW/TheProject.html"[..]));
        let r = complete(b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
        assert_eq!(r.path(), None);
        let r = complete(b"OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n");
        assert_eq!(r.path(), None);
        // §3.2: an empty Host when the target has no authority.
        complete(b"GET /who HTTP/1.1\r\nHost:\r\n\r\n");
    }

    #[test]
    fn absolute_form_paths() {
        for (target, path) in [
            (&b"http://h/who"[..], &b"/who"[..]),
            (b"http://h:80/who?x", b"/who"),
            (b"HTTPS://h/who/", b"/who/"),
            (b"http://h", b"/"),
            (b"http://h?q", b"/"),
        ] {
            let input = [&b"GET "[..], target, b" HTTP/1.1\r\nHost: h\r\n\r\n"].concat();
            assert_eq!(
                complete(&input).path(),
                Some(path),
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }

    #[test]
    fn versions_and_persistence() {
        let r = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!((r.minor_version, r.keep_alive), (0, false));
        let r = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert_eq!((r.minor_version, r.keep_alive), (0, true));
        let r = complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n");
        assert!(!r.keep_alive);
        let r = complete(b"GET / HTTP/1.9\r\nHost: a\r\n\r\n");
        assert_eq!((r.minor_version, r.keep_alive), (1, true));
    }

    #[test]
    fn one_leading_empty_line_and_bare_lf() {
        let input = b"\r\nGET /who HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(complete(input).head_len, input.len());
        complete(b"\nGET /who HTTP/1.1\nHost: a\n\n");
        assert_eq!(
            rejected(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BAD_METHOD
        );
    }

    #[test]
    fn field_values_are_trimmed_and_names_case_insensitive() {
        let r = complete(b"POST / HTTP/1.1\r\nhOsT: \t a \t\r\ncontent-LENGTH:  12 \r\n\r\n");
        assert_eq!(r.framing, Framing::Length(12));
        let r = complete(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(r.framing, Framing::Length(5));
        let r = complete(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(r.framing, Framing::None);
        let r = complete(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!((r.framing, r.expect_continue), (Framing::Chunked, true));
        let r = complete(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t CHUNKED \t\r\n\r\n");
        assert_eq!(r.framing, Framing::Chunked);
        let r = complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection:\tfoo\t, \tclose\t\r\n\r\n");
        assert!(!r.keep_alive);
        // obs-text is allowed in values; UTF-8 passes through.
        complete("GET / HTTP/1.1\r\nHost: a\r\nX-Name: café\r\n\r\n".as_bytes());
    }

    #[test]
    fn hosts() {
        for host in [
            "a",
            "example.com:8080",
            "127.0.0.1",
            "[::1]",
            "[::1]:80",
            "[::ffff:127.0.0.1]",
            "xn--bcher-kva.example",
            "a:",
        ] {
            complete(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        }
        for host in [
            "a b", "a/b", "a@b", "[::1", "[]", "[::1]x", "a:b", "a:80:80", "ü",
        ] {
            assert_eq!(
                rejected(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()),
                BAD_HOST,
                "{host}"
            );
        }
    }

    #[test]
    fn every_rejection() {
        let cases: &[(&[u8], Reject)] = &[
            (b"G@T / HTTP/1.1\r\n", BAD_METHOD),
            (b" GET / HTTP/1.1\r\n", BAD_METHOD),
            (b"GET  / HTTP/1.1\r\n", SPACES_AFTER_METHOD),
            (b"GET /\x01 HTTP/1.1\r\n", BAD_TARGET),
            (b"GET /\xc3\xa9 HTTP/1.1\r\n", BAD_TARGET),
            (b"GET / HTTP/1.1 \r\n", AFTER_VERSION),
            (b"GET / HTTP/1.1x\r\n", AFTER_VERSION),
            (b"GET / HTTP/1.10\r\n", AFTER_VERSION),
            (b"GET / http/1.1\r\n", BAD_VERSION),
            (b"GET / HTTP/11\r\n", BAD_VERSION),
            (b"GET / HTTP/1.x\r\n", BAD_VERSION),
            (b"GET /\r\n", NO_VERSION),
            (b"GET /echo\nHost: a\n\n", NO_VERSION),
            (b"GET /echo \r\n", BAD_VERSION),
            (b"GET / HTTP/1.1\rX", BAD_LINE_END),
            (b"GET / HTTP/2.0\r\n", UNSUPPORTED_VERSION),
            (b"GET / HTTP/0.9\r\n", UNSUPPORTED_VERSION),
            (b"GET who HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET_FORM),
            (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET_FORM),
            (b"GET 1http://h/who HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET_FORM),
            (b"GET http:/h/who HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET_FORM),
            (b"GET ht@p://h/who HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET_FORM),
            (b"CONNECT h:80/x HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET_FORM),
            (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", OBS_FOLD),
            (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", OBS_FOLD),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", SPACE_BEFORE_COLON),
            (b"GET / HTTP/1.1\r\nHost\r\n\r\n", NO_COLON),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", BAD_FIELD_NAME),
            (b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", BAD_FIELD_NAME),
            (b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", BAD_FIELD_VALUE),
            (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BAD_LINE_END),
            (b"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", BAD_FIELD_VALUE),
            (b"GET / HTTP/1.1\r\n\r\n", MISSING_HOST),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", REPEATED_HOST),
            (b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", REPEATED_HOST),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", BAD_CONTENT_LENGTH),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", BAD_CONTENT_LENGTH),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", BAD_CONTENT_LENGTH),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", BAD_CONTENT_LENGTH),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", CONFLICTING_CONTENT_LENGTH),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", BODY_TOO_LARGE),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", BODY_TOO_LARGE),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", LENGTH_AND_CHUNKED),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TRANSFER_ENCODING_IN_HTTP10),
            // chunked last, after a coding we do not implement: 501.
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", UNSUPPORTED_CODING),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", UNSUPPORTED_CODING),
            // chunked not last: the body's length cannot be known, a MUST 400 (RFC 9112 §6.3).
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", CHUNKED_NOT_LAST),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", CHUNKED_NOT_LAST),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", CHUNKED_NOT_LAST),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", CHUNKED_NOT_LAST),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", CHUNKED_TWICE),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", CHUNKED_TWICE),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", CHUNKED_TWICE),
            // Empty list elements: refused, so that no front end reads the list otherwise.
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", EMPTY_CODING),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n", EMPTY_CODING),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", EMPTY_CODING),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n", EMPTY_CODING),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, \t ,chunked\r\n\r\n", EMPTY_CODING),
        ];
        for (input, expected) in cases {
            assert_eq!(
                rejected(input),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits() {
        // A request line of exactly 8 KiB passes; one byte more is 414, even before its end.
        let target = "/".repeat(MAX_REQUEST_LINE - "GET  HTTP/1.1".len());
        complete(format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let long = format!("GET /{target} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(rejected(long.as_bytes()), LINE_TOO_LONG);
        assert_eq!(
            rejected(&long.as_bytes()[..MAX_REQUEST_LINE + 1]),
            LINE_TOO_LONG
        );
        assert_eq!(
            parse(&long.as_bytes()[..MAX_REQUEST_LINE]),
            Ok(Status::Partial)
        );

        // 100 fields pass, 101 do not.
        let fields = "X: y\r\n".repeat(MAX_FIELDS - 1);
        complete(format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").as_bytes());
        assert_eq!(
            rejected(format!("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n{fields}\r\n").as_bytes()),
            TOO_MANY_FIELDS
        );

        // A header section of exactly 16 KiB (with its final CRLF) passes; one byte more is 431.
        let value = "v".repeat(MAX_HEADER_SECTION - "Host: a\r\nX: \r\n\r\n".len());
        complete(format!("GET / HTTP/1.1\r\nHost: a\r\nX: {value}\r\n\r\n").as_bytes());
        let big = format!("GET / HTTP/1.1\r\nHost: a\r\nX: v{value}\r\n\r\n");
        assert_eq!(rejected(big.as_bytes()), HEADERS_TOO_LARGE);
    }

    /// The limits by their numbers, not only their constants: a changed constant shows here.
    #[test]
    fn limits_by_number() {
        let line = |len: usize| {
            let target = "/".repeat(len - "GET  HTTP/1.1".len());
            format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n")
        };
        assert_eq!(complete(line(8192).as_bytes()).target.len(), 8179);
        assert_eq!(rejected(line(8193).as_bytes()).status, 414);

        // The header section counts from the first field line to the end of the empty line.
        let section = |len: usize| {
            let value = "v".repeat(len - "Host: a\r\nX: \r\n\r\n".len());
            format!("GET / HTTP/1.1\r\nHost: a\r\nX: {value}\r\n\r\n")
        };
        complete(section(16384).as_bytes());
        assert_eq!(rejected(section(16385).as_bytes()).status, 431);

        let fields = |count: usize| {
            let others = "X: y\r\n".repeat(count - 1);
            format!("GET / HTTP/1.1\r\nHost: a\r\n{others}\r\n")
        };
        complete(fields(100).as_bytes());
        assert_eq!(rejected(fields(101).as_bytes()).status, 431);

        let length = |n: u64| format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {n}\r\n\r\n");
        assert_eq!(
            complete(length(1048576).as_bytes()).framing,
            Framing::Length(1048576)
        );
        assert_eq!(rejected(length(1048577).as_bytes()).status, 413);

        for (reject, message) in [
            (LINE_TOO_LONG, "request line longer than 8192 bytes"),
            (HEADERS_TOO_LARGE, "header section larger than 16384 bytes"),
            (TOO_MANY_FIELDS, "more than 100 header fields"),
            (BODY_TOO_LARGE, "request body larger than 1048576 bytes"),
        ] {
            assert_eq!(reject.message(), message);
        }
    }

    #[test]
    fn partial_until_complete() {
        let input = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
        for end in 0..input.len() {
            assert_eq!(
                parse(&input[..end]),
                Ok(Status::Partial),
                "prefix of {end} bytes"
            );
        }
        // A request followed by the next one in the same buffer: only the first is taken.
        let first = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
        let two = [&first[..], b"GET /b HTTP/1.1\r\n"].concat();
        assert_eq!(complete(&two).head_len, first.len());
    }

    /// Every prefix of `input` is Partial or the same outcome as `input` whole.
    fn assert_split_invariant(input: &[u8]) {
        let every: Vec<usize> = (0..=input.len()).collect();
        if let Err(error) = crate::http::testing::check_splits(input, &every) {
            panic!("{:?}: {error}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn every_split_gives_the_same_result() {
        let inputs: &[&[u8]] = &[
            b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\r\nHEAD /healthz?x HTTP/1.0\nConnection: keep-alive\n\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a = \"b\\\"c\" ;d\r\nhello\r\n0;e=f\r\nT: v\r\n\r\nGET /",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT : v\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: \x01\r\n\r\n",
        ];
        for input in inputs {
            assert_split_invariant(input);
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_split_invariant(long.as_bytes());
    }

    /// The Host value's one pass says what `valid_host` says, for the values it takes.
    #[test]
    fn plain_hosts_in_one_pass() {
        for (line, end) in [
            (&b"127.0.0.1:8080\r\n"[..], Some(14)),
            (b"localhost:8080\n", Some(14)),
            (b"example.com\r\n", Some(11)),
            (b"a_b~c%41!$&'()*+,;=:\r\n", Some(20)),
            (b"a:\r\n", Some(2)),
            (b"\r\n", Some(0)),
            // For the general path: an IP literal, whitespace, a bad port, no line end yet.
            (b"[::1]:80\r\n", None),
            (b"a \r\n", None),
            (b"a:8x\r\n", None),
            (b"a:80:80\r\n", None),
            (b"a/b\r\n", None),
            (b"localhost:80", None),
            (b"localhost", None),
        ] {
            let shown = String::from_utf8_lossy(line);
            assert_eq!(plain_host_end(line, 0), end, "{shown:?}");
            if let Some(end) = end {
                assert!(valid_host(&line[..end]), "{shown:?}");
            }
        }
        assert_eq!(plain_host_end(b"Host: a:1\r\n", 6), Some(9));
    }

    /// The five names the parser acts on are told apart by length, then by one compare.
    #[test]
    fn the_names_acted_on() {
        for (name, expected) in [
            (Name::of(b"HOST"), Name::Host),
            (Name::of(b"expect"), Name::Expect),
            (Name::of(b"Connection"), Name::Connection),
            (Name::of(b"content-length"), Name::ContentLength),
            (Name::of(b"Transfer-Encoding"), Name::TransferEncoding),
            (Name::of(b"Hosts"), Name::Other),
            (Name::of(b"Transfer-Encodin"), Name::Other),
            // Other names of the same lengths.
            (Name::of(b"Date"), Name::Other),
            (Name::of(b"Accept"), Name::Other),
            (Name::of(b"User-Agent"), Name::Other),
            (Name::of(b"Content-Length"), Name::ContentLength),
            (Name::of(b"Content-Langth"), Name::Other),
            (Name::of(b"Transfer-Encodinx"), Name::Other),
        ] {
            assert!(name == expected);
        }
    }

    #[test]
    fn mutated_requests_never_panic_and_keep_the_split_invariant() {
        let seeds: &[&[u8]] = &[
            b"GET /who HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
            b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            b"GET http://h/who?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"PUT / HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n",
        ];
        let interesting = b"\r\n :\t\x00\x7f\xff/?*HTTP1.0chunked";
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for round in 0..5000 {
            let mut input = seeds[round % seeds.len()].to_vec();
            mutate(&mut rng, &mut input, interesting, 4);
            match parse(&input) {
                Ok(Status::Complete(r)) => {
                    assert!(r.head_len <= input.len());
                    assert!(!r.method.is_empty() && !r.target.is_empty());
                }
                Ok(Status::Partial) => {}
                Err(reject) => assert!(
                    [400, 413, 414, 431, 501, 505].contains(&reject.status)
                        && !reject.reason.is_empty(),
                    "{reject:?}"
                ),
            }
            assert_split_invariant(&input);
        }
    }
}
