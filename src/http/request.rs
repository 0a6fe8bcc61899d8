//! The request head parser (RFC 9112 §2-§7, field syntax from RFC 9110 §5).
//!
//! A push parser in the manner of `httparse`: `parse` looks at the bytes received so far and
//! answers `Complete` (with the request, borrowed from the buffer: nothing is copied),
//! `Partial` (every byte so far is valid, send more), or a `Reject` as soon as a byte proves
//! the request bad. Limits are checked by position, so a request split anywhere gives the
//! same answer as the request whole. Only the fields `who` acts on are kept.
//!
//! `parse` reads the request line (`request_line`), then the field lines (`field_lines`), each
//! beside its grammar; `fields` says what the fields `who` acts on mean.

mod fields;
#[cfg(test)]
mod tests;

pub use self::fields::Framing;
use self::fields::{Fields, Name, field_value, refuse};
use super::limits::{HEADERS_TOO_LARGE, LINE_TOO_LONG, TOO_MANY_FIELDS};
pub use super::limits::{MAX_BODY, MAX_FIELDS, MAX_HEADER_SECTION, MAX_REQUEST_LINE};
use super::scan::{is_host_colon, target_end, token_end};
use super::{Reject, Status};

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
    /// An `Expect` other than `100-continue`, which `whod` cannot meet: 417.
    pub unmet_expectation: bool,
    /// Bytes of the buffer the head took, with an ignored leading empty line.
    pub head_len: usize,
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
/// start-line     = request-line
/// ```
/// (RFC 9112 §2.1.)
pub fn parse(buf: &[u8]) -> Result<Status<Request<'_>>, Reject> {
    parse_within(buf, MAX_BODY)
}

/// `parse`, with a body larger than `max_body` refused (`--max-body`; `parse` takes
/// `MAX_BODY`).
#[inline(always)]
pub fn parse_within(buf: &[u8], max_body: u64) -> Result<Status<Request<'_>>, Reject> {
    // "a server that is expecting to receive and parse a request-line SHOULD ignore at least
    // one empty line (CRLF) received prior to the request-line" (RFC 9112 §2.2). One, here.
    let start = match buf {
        [b'\r'] => return Ok(Status::Partial),
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        _ => 0,
    };
    let Status::Complete(line) = request_line(buf, start)? else {
        return Ok(Status::Partial);
    };
    let mut fields = Fields::default();
    let Status::Complete(head_len) = field_lines(buf, line.end, &mut fields)? else {
        return Ok(Status::Partial);
    };
    fields.check_host(line.minor_version)?;
    let framing = fields.framing(line.minor_version, max_body)?;
    Ok(Status::Complete(Request {
        method: line.method,
        target: line.target,
        minor_version: line.minor_version,
        keep_alive: fields.keep_alive(line.minor_version),
        framing,
        expect_continue: fields.expect_continue,
        unmet_expectation: fields.unmet_expectation,
        head_len,
    }))
}

/// A request line, read: its three parts, and where the line after it starts.
struct RequestLine<'b> {
    method: &'b [u8],
    target: &'b [u8],
    minor_version: u8,
    /// The index after the line ending.
    end: usize,
}

/// Reads the request line that starts at `buf[start]`.
///
/// ```text
/// request-line   = method SP request-target SP HTTP-version
/// method         = token
/// request-target = origin-form / absolute-form / authority-form / asterisk-form
/// HTTP-version   = HTTP-name "/" DIGIT "." DIGIT
/// HTTP-name      = %s"HTTP"
/// ```
/// (RFC 9112 §3, §2.3.) Inlined: `parse` is most of the server's work on a request.
#[inline(always)]
fn request_line(buf: &[u8], start: usize) -> Result<Status<RequestLine<'_>>, Reject> {
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
        Some(_) => return refuse(BAD_METHOD),
    }
    let target_start = i;
    i = target_end(view, i);
    let target = &view[target_start..i];
    match view.get(i) {
        None => return out_of_bytes(view, buf, LINE_TOO_LONG),
        Some(b' ') if !target.is_empty() => i += 1,
        Some(b' ') => return refuse(SPACES_AFTER_METHOD),
        Some(b'\r' | b'\n') if !target.is_empty() => return refuse(NO_VERSION),
        Some(_) => return refuse(BAD_TARGET),
    }
    // HTTP-name is case-sensitive. Nearly every request says HTTP/1.1: one compare of eight
    // bytes (a word) settles it.
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
                return refuse(BAD_VERSION);
            }
        }
        if version.len() < 8 {
            return out_of_bytes(view, buf, LINE_TOO_LONG);
        }
        if version[5] != b'1' {
            return refuse(UNSUPPORTED_VERSION);
        }
        u8::from(version[7] != b'0')
    };
    i += 8;
    // The line ending may sit just past the limit: the limit counts the line without it.
    if !matches!(buf.get(i), None | Some(b'\r' | b'\n')) {
        return refuse(AFTER_VERSION);
    }
    let Some(end) = line_end(buf, i)? else {
        return Ok(Status::Partial);
    };
    if !valid_target_form(method, target) {
        return refuse(BAD_TARGET_FORM);
    }
    Ok(Status::Complete(RequestLine {
        method,
        target,
        minor_version,
        end,
    }))
}

/// Reads the field lines that start at `buf[start]` and the empty line that ends them: what
/// the fields say, and where the head ends.
///
/// ```text
/// *( field-line CRLF ) CRLF
/// field-line   = field-name ":" OWS field-value OWS
/// field-name   = token
/// field-value  = *field-content
/// ```
/// (RFC 9112 §2.1, §5; RFC 9110 §5.1, §5.5.) Inlined, as `request_line`.
#[inline(always)]
fn field_lines(buf: &[u8], start: usize, fields: &mut Fields) -> Result<Status<usize>, Reject> {
    let view = &buf[..buf.len().min(start + MAX_HEADER_SECTION)];
    let mut i = start;
    loop {
        match view.get(i) {
            None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            Some(b'\r' | b'\n') => match line_end(view, i)? {
                Some(end) => return Ok(Status::Complete(end)),
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            },
            // obs-fold = OWS CRLF RWS: "A server that receives an obs-fold in a request
            // message ... MUST either reject the message by sending a 400" (RFC 9112 §5.2).
            // The same bytes before the first field are refused too (§2.2).
            Some(b' ' | b'\t') => return refuse(OBS_FOLD),
            Some(_) => {}
        }
        fields.count += 1;
        if fields.count > MAX_FIELDS {
            return refuse(TOO_MANY_FIELDS);
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
                Some(b' ' | b'\t') => return refuse(SPACE_BEFORE_COLON),
                Some(b'\r' | b'\n') => return refuse(NO_COLON),
                Some(_) => return refuse(BAD_FIELD_NAME),
            }
            Name::of(name)
        };
        // OWS field-value OWS
        while i < view.len() && matches!(view[i], b' ' | b'\t') {
            i += 1;
        }
        let (value_end, value, valid_host) = field_value(view, i, name);
        i = match view.get(value_end) {
            None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            Some(b'\r' | b'\n') => match line_end(view, value_end)? {
                Some(next) => next,
                None => return out_of_bytes(view, buf, HEADERS_TOO_LARGE),
            },
            Some(_) => return refuse(BAD_FIELD_VALUE),
        };
        fields.record(name, value, valid_host)?;
    }
}
