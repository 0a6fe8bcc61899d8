//! What the fields `who` acts on mean: the body's framing (Content-Length, Transfer-Encoding),
//! whether the connection persists (Connection), `Expect: 100-continue`, and the one valid
//! Host. The field lines' syntax is `request::field_lines`; this file takes each field as it
//! goes by and, at the end of the head, says what they add up to.

use crate::http::Reject;
use crate::http::limits::body_too_large;
use crate::http::scan::{DIGIT, HOST, field_value_end, is_named, run_end};

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// `Err(reject)`, on a path marked cold: the compiler then lays the refusals out of the way of
/// an accepted head's path instead of staging their values in it (parse_cost: 8% fewer
/// instructions for wrk's head, and splitting `parse` in two costs nothing).
#[cold]
pub(super) fn refuse<T>(reject: Reject) -> Result<T, Reject> {
    Err(reject)
}

/// The fields `who` acts on; the others are only checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
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
    pub(super) fn of(name: &[u8]) -> Name {
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

pub(super) const MISSING_HOST: Reject = Reject::new(400, "HTTP/1.1 request without a Host field");
pub(super) const REPEATED_HOST: Reject = Reject::new(400, "more than one Host field");
pub(super) const BAD_HOST: Reject = Reject::new(400, "the Host field is not host[:port]");
pub(super) const BAD_CONTENT_LENGTH: Reject =
    Reject::new(400, "Content-Length is not plain digits");
pub(super) const CONFLICTING_CONTENT_LENGTH: Reject =
    Reject::new(400, "Content-Length fields with different values");
pub(super) const LENGTH_AND_CHUNKED: Reject =
    Reject::new(400, "both Transfer-Encoding and Content-Length");
pub(super) const TRANSFER_ENCODING_IN_HTTP10: Reject =
    Reject::new(400, "Transfer-Encoding in an HTTP/1.0 request");
pub(super) const EMPTY_CODING: Reject = Reject::new(400, "Transfer-Encoding has an empty element");
pub(super) const CHUNKED_NOT_LAST: Reject =
    Reject::new(400, "Transfer-Encoding does not end with chunked");
pub(super) const CHUNKED_TWICE: Reject =
    Reject::new(400, "Transfer-Encoding lists chunked more than once");
pub(super) const UNSUPPORTED_CODING: Reject =
    Reject::new(501, "a transfer coding other than chunked");

/// What the parser remembers of the fields, as they go by.
#[derive(Default)]
pub(super) struct Fields {
    /// Field lines so far.
    pub(super) count: usize,
    hosts: usize,
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// How many times `chunked` was listed, in all Transfer-Encoding lines together.
    chunked: usize,
    last_coding_is_chunked: bool,
    unknown_coding: bool,
    close: bool,
    keep_alive: bool,
    pub(super) expect_continue: bool,
    pub(super) unmet_expectation: bool,
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
    pub(super) fn record(
        &mut self,
        name: Name,
        value: &[u8],
        valid_host: bool,
    ) -> Result<(), Reject> {
        match name {
            Name::Host => {
                self.hosts += 1;
                if !valid_host {
                    return refuse(BAD_HOST);
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
            // `Expect = #expectation` (RFC 9110 §10.1.1), a list whose empty elements a
            // recipient ignores (§5.6.1.2): an empty field expects nothing. "The only
            // expectation defined by this specification is "100-continue"": any other is one
            // `whod` cannot meet.
            Name::Expect => {
                for expectation in elements(value) {
                    let continues = is_named(expectation, b"100-continue");
                    self.expect_continue |= continues;
                    self.unmet_expectation |= !continues;
                }
            }
            Name::Other => {}
        }
        Ok(())
    }

    fn content_length(&mut self, value: &[u8]) -> Result<(), Reject> {
        // `Content-Length = 1*DIGIT` (RFC 9110 §8.6); a list such as "5, 5" is refused too.
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return refuse(BAD_CONTENT_LENGTH);
        }
        // Saturating: any huge value is simply "too large".
        let length = value.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        if self
            .content_length
            .is_some_and(|previous| previous != length)
        {
            return refuse(CONFLICTING_CONTENT_LENGTH);
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
                return refuse(EMPTY_CODING);
            }
            let chunked = is_named(coding, b"chunked");
            self.chunked += usize::from(chunked);
            self.unknown_coding |= !chunked;
            self.last_coding_is_chunked = chunked;
        }
        Ok(())
    }

    /// "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
    /// message that lacks a Host header field and to any request message that contains more
    /// than one Host header field line or a Host header field with an invalid field value"
    /// (RFC 9112 §3.2); an invalid value was refused as it went by.
    #[inline(always)]
    pub(super) fn check_host(&self, minor_version: u8) -> Result<(), Reject> {
        if self.hosts > 1 {
            return refuse(REPEATED_HOST);
        }
        if minor_version == 1 && self.hosts == 0 {
            return refuse(MISSING_HOST);
        }
        Ok(())
    }

    /// HTTP/1.1 persists unless told "close"; HTTP/1.0 closes unless asked "keep-alive"
    /// (RFC 9112 §9.3).
    #[inline(always)]
    pub(super) fn keep_alive(&self, minor_version: u8) -> bool {
        !self.close && (minor_version == 1 || self.keep_alive)
    }

    /// The body framing, by RFC 9112 §6.1 and §6.3.
    pub(super) fn framing(&self, minor_version: u8, max_body: u64) -> Result<Framing, Reject> {
        if self.transfer_encoding {
            if self.content_length.is_some() {
                return refuse(LENGTH_AND_CHUNKED);
            }
            if minor_version == 0 {
                return refuse(TRANSFER_ENCODING_IN_HTTP10);
            }
            // "If a Transfer-Encoding header field is present in a request and the chunked
            // transfer coding is not the final encoding, ... the server MUST respond with the
            // 400 (Bad Request) status code and then close the connection" (RFC 9112 §6.3).
            if !self.last_coding_is_chunked {
                return refuse(CHUNKED_NOT_LAST);
            }
            // "A sender MUST NOT apply the chunked transfer coding more than once" (§7.1).
            if self.chunked > 1 {
                return refuse(CHUNKED_TWICE);
            }
            // "A server that receives a request message with a transfer coding it does not
            // understand SHOULD respond with 501 (Not Implemented)" (§6.1).
            if self.unknown_coding {
                return refuse(UNSUPPORTED_CODING);
            }
            return Ok(Framing::Chunked);
        }
        match self.content_length {
            Some(length) if length > max_body => refuse(body_too_large(max_body)),
            Some(0) | None => Ok(Framing::None),
            Some(length) => Ok(Framing::Length(length)),
        }
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), `uri-host = IP-literal / IPv4address /
/// reg-name`, `port = *DIGIT`. An empty value is allowed: RFC 9112 §3.2 has clients send one
/// when the target has no authority.
pub(super) fn valid_host(value: &[u8]) -> bool {
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
pub(super) fn plain_host_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut end = run_end(bytes, i, &HOST);
    if bytes.get(end) == Some(&b':') {
        end = run_end(bytes, end + 1, &DIGIT);
    }
    matches!(bytes.get(end), Some(b'\r' | b'\n')).then_some(end)
}

/// The field value that starts at `i`: where it ends, the value without its trailing OWS, and
/// for a Host field whether the value is valid.
#[inline(always)]
pub(super) fn field_value(view: &[u8], i: usize, name: Name) -> (usize, &[u8], bool) {
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
