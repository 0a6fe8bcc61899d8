// The oracle's copy of whod's src/http/request.rs as it was before the parser was made fast
// (branch parser, after commit 6030513): the reference that tests/differential.rs and the fuzz
// target `differential` hold whod's parser to. Change it only with a deliberate change of
// verdict in whod, in the same commit. Its unit tests stay in whod.

//! The request head parser (RFC 9112 §2-§7, field syntax from RFC 9110 §5).
//!
//! A push parser in the manner of `httparse`: `parse` looks at the bytes received so far and
//! answers `Complete` (with the request, borrowed from the buffer: nothing is copied),
//! `Partial` (every byte so far is valid, send more), or a `Reject` as soon as a byte proves
//! the request bad. Limits are checked by position, so a request split anywhere gives the
//! same answer as the request whole. Only the fields `who` acts on are kept.

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

/// A table of the bytes allowed somewhere: ALPHA, DIGIT and `extra`.
const fn byte_table(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
///        / "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2); `token = 1*tchar`.
static TOKEN: [bool; 256] = byte_table(b"!#$%&'*+-.^_`|~");

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2), with the
/// characters of an IP address; `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`,
/// `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`.
static HOST: [bool; 256] = byte_table(b"-._~%!$&'()*+,;=");

pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// The request target is kept to `VCHAR` (%x21-7E): no spaces, no controls, no raw UTF-8.
fn is_target(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// `field-value = *field-content`; `field-vchar = VCHAR / obs-text`, with SP and HTAB inside.
/// NUL, CR, LF and the other controls are refused (RFC 9110 §5.5).
pub(crate) fn is_field_value(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
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
    fn record(&mut self, name: &[u8], value: &[u8]) -> Result<(), Reject> {
        if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
            if !valid_host(value) {
                return Err(BAD_HOST);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
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
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
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
                let chunked = coding.eq_ignore_ascii_case(b"chunked");
                self.chunked += usize::from(chunked);
                self.unknown_coding |= !chunked;
                self.last_coding_is_chunked = chunked;
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in elements(value) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            // Changed with whod (not frozen): `Expect` is a list, each member counts, empty
            // elements are ignored (RFC 9110 §5.6.1.2), so `Expect: , 100-continue` expects it.
            for expectation in elements(value) {
                self.expect_continue |= expectation.eq_ignore_ascii_case(b"100-continue");
            }
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
    let mut i = start;
    // method = token
    while i < view.len() && is_token(view[i]) {
        i += 1;
    }
    let method = &view[start..i];
    match view.get(i) {
        None => return out_of_bytes(view, buf, LINE_TOO_LONG),
        Some(b' ') if !method.is_empty() => i += 1,
        Some(_) => return Err(BAD_METHOD),
    }
    let target_start = i;
    while i < view.len() && is_target(view[i]) {
        i += 1;
    }
    let target = &view[target_start..i];
    match view.get(i) {
        None => return out_of_bytes(view, buf, LINE_TOO_LONG),
        Some(b' ') if !target.is_empty() => i += 1,
        Some(b' ') => return Err(SPACES_AFTER_METHOD),
        Some(b'\r' | b'\n') if !target.is_empty() => return Err(NO_VERSION),
        Some(_) => return Err(BAD_TARGET),
    }
    // HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP" (case-sensitive)
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
    let minor_version = u8::from(version[7] != b'0');
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
        let name_start = i;
        while i < view.len() && is_token(view[i]) {
            i += 1;
        }
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
        // OWS field-value OWS
        while i < view.len() && matches!(view[i], b' ' | b'\t') {
            i += 1;
        }
        let value_start = i;
        while i < view.len() && is_field_value(view[i]) {
            i += 1;
        }
        let value = view[value_start..i].trim_ascii_end();
        i = match view.get(i) {
            None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            Some(b'\r' | b'\n') => match line_end(view, i)? {
                Some(next) => next,
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            },
            Some(_) => return Err(BAD_FIELD_VALUE),
        };
        fields.record(name, value)?;
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
