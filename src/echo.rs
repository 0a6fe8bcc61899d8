//! `/echo`: the request as `whod` received it, in plain text or in JSON, written into the
//! caller's buffer. Pure: the caller gives every fact (host name, addresses, the accepted
//! head); nothing here reads the environment, the file system or the clock.
//!
//! The two formats are specified in docs/echo.md (a test holds that page's example to what
//! `write_json` writes). Safe by construction: every byte that comes from outside (the request,
//! the host name) goes through one escaping function per format, `push_text` or `push_json`,
//! so no request byte can start a line of the text or leave a string of the JSON. An echo of
//! the largest head the parser accepts is under 96 KiB (escaping at most quadruples a value's
//! bytes in the text, and doubles them twice over in the JSON).

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;

use crate::http::head::{Field, Head};
use crate::http::query;
use crate::http::response;
use crate::proxy_protocol::tlvs::{Ssl, Tlvs};

/// What a hidden field's value shows instead.
pub const HIDDEN: &[u8] = b"[hidden]";

/// The two forms of the echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// The form a request asks for: `?format=json` or `?format=text` (ASCII case aside; the
    /// first `format` parameter counts), else JSON when the `Accept` fields prefer
    /// `application/json` to `text/plain` ([`query::prefers_json`]), else text. Another
    /// `format` value is not an error: the `Accept` fields decide.
    pub fn requested(head: &Head<'_>) -> Format {
        match query::param(head.target, b"format") {
            Some(value) if value.eq_ignore_ascii_case(b"json") => Format::Json,
            Some(value) if value.eq_ignore_ascii_case(b"text") => Format::Text,
            _ if query::prefers_json(head.values(b"accept")) => Format::Json,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of an echo in this form. The answer depends on `Accept`, so it
    /// should also carry `Vary: Accept`.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => response::TEXT,
            Format::Json => response::JSON,
        }
    }
}

/// Everything an echo shows. The server fills it per request; the writers only read it.
#[derive(Clone, Copy, Debug)]
pub struct Echo<'a> {
    /// The host name, as `/who` answers it (any bytes: they are escaped).
    pub hostname: &'a [u8],
    /// `--name`, if set.
    pub name: Option<&'a str>,
    /// `whod`'s version.
    pub version: &'a str,
    /// The client: the peer of the connection, or the source the PROXY protocol gave.
    pub remote: SocketAddr,
    /// The peer of the connection when the PROXY protocol gave `remote`: the proxy itself.
    pub proxy: Option<SocketAddr>,
    /// The connection's address on `whod`'s side.
    pub local: SocketAddr,
    /// What the PROXY protocol v2 header's TLVs said of the client's connection to the proxy
    /// (ALPN, SNI, TLS), when there were any.
    pub tlvs: Option<Tlvs<'a>>,
    /// The head as received: `http::head::read(&buf[..request.head_len])`.
    pub head: Head<'a>,
    /// Names of the fields whose values are shown as `[hidden]` (`--echo-hide`); compared
    /// without regard to ASCII case.
    pub hide: &'a [String],
    /// The request's body, when it had one (a POST or PUT to `/echo`).
    pub body: Option<EchoBody<'a>>,
}

/// What `/echo` shows of a request's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoBody<'a> {
    pub size: u64,
    pub crc32: u32,
    /// With `?body=1`: its first bytes, at most `--max-echo-body` of them.
    pub shown: Option<&'a [u8]>,
}

impl EchoBody<'_> {
    /// The bytes shown are fewer than the body's.
    fn truncated(&self) -> bool {
        self.shown
            .is_some_and(|shown| (shown.len() as u64) < self.size)
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `value` as `Display` writes it: numbers and addresses, which are ASCII.
fn push_display(out: &mut Vec<u8>, value: impl Display) {
    // Writing into a Vec<u8> cannot fail.
    let _ = write!(out, "{value}");
}

/// Appends `bytes` for the text form: HTAB and visible ASCII but `\` as themselves, `\` as
/// `\\`, every other byte as `\xHH`. No byte can end a line.
fn push_text(out: &mut Vec<u8>, bytes: &[u8]) {
    push_escaped(out, bytes, |b| b == b'\t' || (0x20..0x7f).contains(&b));
}

/// Appends `bytes` with the bytes `keep` says stand for themselves as they are, `\` as `\\`,
/// and every other byte as `\xHH` (upper-case hex), as nginx writes its logs. The access log
/// uses it too, keeping `"` out of its quoted fields.
pub(crate) fn push_escaped(out: &mut Vec<u8>, bytes: &[u8], keep: fn(u8) -> bool) {
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if keep(b) && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..i]);
        if b == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        }
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
}

/// Appends a logfmt value: bare when it is visible ASCII without `"`, `=` or `\`; else quoted,
/// with `"` and any byte but printable ASCII written `\xHH` and `\` as `\\` (as the text echo
/// does), so no byte can end the line. (`/stream`'s events use it too.)
pub(crate) fn push_logfmt_value(out: &mut Vec<u8>, value: &[u8]) {
    let bare = !value.is_empty()
        && value
            .iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'=' | b'\\'));
    if bare {
        out.extend_from_slice(value);
    } else {
        out.push(b'"');
        push_escaped(out, value, |b| (0x20..0x7f).contains(&b) && b != b'"');
        out.push(b'"');
    }
}

/// Appends `bytes` as a JSON string, read as UTF-8 when they are, else as ISO-8859-1 (see
/// docs/echo.md).
pub(crate) fn push_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    push_json(out, bytes, Charset::of(bytes));
}

/// Appends bytes as lower-case hex: an opaque id.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.extend_from_slice(&[
            HEX[usize::from(b >> 4)].to_ascii_lowercase(),
            HEX[usize::from(b & 15)].to_ascii_lowercase(),
        ]);
    }
}

/// The character set `push_json` reads the bytes it writes in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Valid UTF-8: bytes ≥ 0x80 are copied.
    Utf8,
    /// Not UTF-8: each byte is the character of the same number (ISO-8859-1).
    Latin1,
    /// Like `Utf8`, with ASCII letters lower-cased: the keys of `headers`.
    Utf8Lowercase,
}

impl Charset {
    /// `Utf8` when `bytes` is valid UTF-8, else `Latin1`.
    fn of(bytes: &[u8]) -> Charset {
        if std::str::from_utf8(bytes).is_ok() {
            Charset::Utf8
        } else {
            Charset::Latin1
        }
    }
}

/// Appends `bytes` as a JSON string (RFC 8259 §7), in one pass: `"` and `\` escaped, control
/// characters and DEL as `\t`, `\n`, `\r` or `\u00XX`.
fn push_json(out: &mut Vec<u8>, bytes: &[u8], charset: Charset) {
    out.push(b'"');
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let plain = match b {
            b'"' | b'\\' | 0x00..0x20 | 0x7f => false,
            b'A'..=b'Z' => charset != Charset::Utf8Lowercase,
            0x80.. => charset != Charset::Latin1,
            _ => true,
        };
        if plain {
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'A'..=b'Z' => out.push(b.to_ascii_lowercase()),
            // U+0080..U+00FF in UTF-8: two bytes.
            0x80.. => out.extend_from_slice(&[0xc0 | (b >> 6), 0x80 | (b & 0x3f)]),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)].to_ascii_lowercase(),
                HEX[usize::from(b & 15)].to_ascii_lowercase(),
            ]),
        }
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Appends `{"address": "...", "port": N}`.
fn push_json_address(out: &mut Vec<u8>, address: SocketAddr) {
    out.extend_from_slice(b"{\"address\": \"");
    push_display(out, address.ip());
    out.extend_from_slice(b"\", \"port\": ");
    push_display(out, address.port());
    out.push(b'}');
}

/// The TLVs as text lines, each there only when its TLV was: `alpn:`, `authority:` (the SNI),
/// `ssl:` (logfmt: version, cipher, algorithms, the client certificate), `unique-id:` (hex).
fn write_tlvs_text(tlvs: &Tlvs<'_>, out: &mut Vec<u8>) {
    for (label, value) in [(&b"alpn"[..], tlvs.alpn), (b"authority", tlvs.authority)] {
        if let Some(value) = value {
            out.push(b'\n');
            out.extend_from_slice(label);
            out.extend_from_slice(b": ");
            push_text(out, value);
        }
    }
    if let Some(ssl) = &tlvs.ssl {
        out.extend_from_slice(b"\nssl:");
        let fields = [
            (&b"version"[..], ssl.version),
            (b"cipher", ssl.cipher),
            (b"sig-alg", ssl.sig_alg),
            (b"key-alg", ssl.key_alg),
            (b"cn", ssl.cn),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                out.push(b' ');
                out.extend_from_slice(key);
                out.push(b'=');
                push_logfmt_value(out, value);
            }
        }
        out.extend_from_slice(b" client-cert=");
        out.extend_from_slice(client_certificate(ssl).as_bytes());
        if ssl.client_certificate() && !ssl.verified() {
            out.extend_from_slice(b" verify=");
            push_display(out, ssl.verify);
        }
    }
    if let Some(id) = tlvs.unique_id {
        out.extend_from_slice(b"\nunique-id: ");
        push_hex(out, id);
    }
}

/// `none`, `verified` or `unverified`.
fn client_certificate(ssl: &Ssl<'_>) -> &'static str {
    match (ssl.client_certificate(), ssl.verified()) {
        (false, _) => "none",
        (true, true) => "verified",
        (true, false) => "unverified",
    }
}

/// The TLVs as one JSON object, every key present: `alpn`, `authority`, `unique_id` (hex),
/// `ssl` (or `null`).
fn write_tlvs_json(tlvs: &Tlvs<'_>, out: &mut Vec<u8>) {
    let string = |out: &mut Vec<u8>, value: Option<&[u8]>| match value {
        Some(value) => push_json(out, value, Charset::of(value)),
        None => out.extend_from_slice(b"null"),
    };
    out.extend_from_slice(b"{\"alpn\": ");
    string(out, tlvs.alpn);
    out.extend_from_slice(b", \"authority\": ");
    string(out, tlvs.authority);
    out.extend_from_slice(b", \"unique_id\": ");
    match tlvs.unique_id {
        Some(id) => {
            out.push(b'"');
            push_hex(out, id);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b", \"ssl\": ");
    match &tlvs.ssl {
        Some(ssl) => {
            for (key, value) in [
                (&b"{\"version\": "[..], ssl.version),
                (b", \"cipher\": ", ssl.cipher),
                (b", \"sig_alg\": ", ssl.sig_alg),
                (b", \"key_alg\": ", ssl.key_alg),
                (b", \"cn\": ", ssl.cn),
            ] {
                out.extend_from_slice(key);
                string(out, value);
            }
            out.extend_from_slice(b", \"client_certificate\": \"");
            out.extend_from_slice(client_certificate(ssl).as_bytes());
            out.extend_from_slice(b"\", \"verify\": ");
            push_display(out, ssl.verify);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

impl Echo<'_> {
    /// The value to show for `field`: its own, or `[hidden]`.
    fn shown_value<'b>(&self, field: &Field<'b>) -> &'b [u8] {
        if self
            .hide
            .iter()
            .any(|name| name.as_bytes().eq_ignore_ascii_case(field.name))
        {
            HIDDEN
        } else {
            field.value
        }
    }

    /// Appends the echo in `format`.
    pub fn write(&self, format: Format, out: &mut Vec<u8>) {
        match format {
            Format::Text => self.write_text(out),
            Format::Json => self.write_json(out),
        }
    }

    /// Appends the text form (see docs/echo.md).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"hostname: ");
        push_text(out, self.hostname);
        if let Some(name) = self.name {
            out.extend_from_slice(b"\nname: ");
            push_text(out, name.as_bytes());
        }
        out.extend_from_slice(b"\nversion: ");
        push_text(out, self.version.as_bytes());
        out.extend_from_slice(b"\nremote: ");
        push_display(out, self.remote);
        if let Some(proxy) = self.proxy {
            out.extend_from_slice(b"\nproxy: ");
            push_display(out, proxy);
        }
        if let Some(tlvs) = &self.tlvs {
            write_tlvs_text(tlvs, out);
        }
        out.extend_from_slice(b"\nlocal: ");
        push_display(out, self.local);
        out.extend_from_slice(b"\n\n");
        push_text(out, self.head.request_line);
        out.push(b'\n');
        for field in self.head.fields() {
            push_text(out, field.name);
            out.extend_from_slice(b": ");
            push_text(out, self.shown_value(&field));
            out.push(b'\n');
        }
        if let Some(body) = &self.body {
            out.extend_from_slice(
                format!("\nbody: {} bytes, crc32 {:08x}\n", body.size, body.crc32).as_bytes(),
            );
            if let Some(shown) = body.shown {
                push_text(out, shown);
                out.push(b'\n');
                if body.truncated() {
                    out.extend_from_slice(
                        format!(
                            "(the first {} of {} bytes: --max-echo-body)\n",
                            shown.len(),
                            body.size
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    }

    /// Appends the JSON form (see docs/echo.md), with a line per key and per
    /// field so that it reads well without `jq`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\n  \"hostname\": ");
        push_json(out, self.hostname, Charset::of(self.hostname));
        out.extend_from_slice(b",\n  \"name\": ");
        match self.name {
            Some(name) => push_json(out, name.as_bytes(), Charset::Utf8),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\n  \"version\": ");
        push_json(out, self.version.as_bytes(), Charset::Utf8);
        out.extend_from_slice(b",\n  \"remote\": ");
        push_json_address(out, self.remote);
        out.extend_from_slice(b",\n  \"proxy\": ");
        match self.proxy {
            Some(proxy) => push_json_address(out, proxy),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\n  \"tlvs\": ");
        match &self.tlvs {
            Some(tlvs) => write_tlvs_json(tlvs, out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\n  \"local\": ");
        push_json_address(out, self.local);

        let head = &self.head;
        out.extend_from_slice(b",\n  \"request\": {\"method\": ");
        push_json(out, head.method, Charset::of(head.method));
        out.extend_from_slice(b", \"target\": ");
        push_json(out, head.target, Charset::of(head.target));
        out.extend_from_slice(b", \"version\": ");
        push_json(out, head.version, Charset::of(head.version));
        out.extend_from_slice(b"},\n  \"fields\": [");

        let fields: Vec<Field<'_>> = head.fields().collect();
        for (i, field) in fields.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
            out.extend_from_slice(b"{\"name\": ");
            push_json(out, field.name, Charset::of(field.name));
            out.extend_from_slice(b", \"value\": ");
            let value = self.shown_value(field);
            let charset = Charset::of(value);
            push_json(out, value, charset);
            if charset == Charset::Latin1 {
                out.extend_from_slice(b", \"latin1\": true");
            }
            out.push(b'}');
        }
        out.extend_from_slice(if fields.is_empty() {
            b"],\n  \"headers\": {"
        } else {
            b"\n  ],\n  \"headers\": {"
        });

        // One key per name (ASCII case aside), at the place of its first field line, with the
        // values of all its lines in order. At most 100 fields: the quadratic scan is cheap,
        // and needs nothing but the list.
        let mut keys = 0usize;
        for (i, field) in fields.iter().enumerate() {
            let same_name = |other: &&Field<'_>| other.name.eq_ignore_ascii_case(field.name);
            if fields[..i].iter().any(|other| same_name(&other)) {
                continue;
            }
            out.extend_from_slice(if keys == 0 { b"\n    " } else { b",\n    " });
            keys += 1;
            let lowercase = match Charset::of(field.name) {
                Charset::Utf8 => Charset::Utf8Lowercase,
                other => other,
            };
            push_json(out, field.name, lowercase);
            out.extend_from_slice(b": [");
            for (k, same) in fields[i..].iter().filter(same_name).enumerate() {
                if k > 0 {
                    out.extend_from_slice(b", ");
                }
                let value = self.shown_value(same);
                push_json(out, value, Charset::of(value));
            }
            out.push(b']');
        }
        out.extend_from_slice(if keys == 0 { b"}" } else { b"\n  }" });
        out.extend_from_slice(b",\n  \"body\": ");
        match &self.body {
            None => out.extend_from_slice(b"null"),
            Some(body) => {
                out.extend_from_slice(
                    format!(
                        "{{\"size\": {}, \"crc32\": \"{:08x}\", \"value\": ",
                        body.size, body.crc32
                    )
                    .as_bytes(),
                );
                match body.shown {
                    None => out.extend_from_slice(b"null"),
                    Some(shown) => {
                        let charset = Charset::of(shown);
                        push_json(out, shown, charset);
                        if charset == Charset::Latin1 {
                            out.extend_from_slice(b", \"latin1\": true");
                        }
                    }
                }
                out.extend_from_slice(b", \"truncated\": ");
                out.extend_from_slice(if body.truncated() { b"true" } else { b"false" });
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"\n}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::http::head;
    use crate::http::request::{self, MAX_FIELDS, MAX_HEADER_SECTION, MAX_REQUEST_LINE};
    use crate::http::testing::Rng;

    /// The head `request::parse` accepts at the start of `buf`.
    fn accepted(buf: &[u8]) -> Head<'_> {
        match request::parse(buf) {
            Ok(Status::Complete(request)) => head::read(&buf[..request.head_len]),
            other => panic!(
                "{:?}: not accepted: {other:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    fn echo<'a>(head: Head<'a>, hide: &'a [String]) -> Echo<'a> {
        Echo {
            hostname: b"37f5c99f417f",
            name: None,
            version: "0.1.0",
            remote: "203.0.113.7:51234".parse().unwrap(),
            proxy: None,
            local: "172.17.0.2:8080".parse().unwrap(),
            tlvs: None,
            head,
            hide,
            body: None,
        }
    }

    /// The fenced block of `lang` after `heading` in docs/echo.md.
    fn documented(heading: &str, lang: &str) -> String {
        let page = include_str!("../docs/echo.md");
        let section = &page[page.find(heading).expect(heading)..];
        let fence = format!("```{lang}\n");
        let start = section.find(&fence).expect("a block") + fence.len();
        let end = start + section[start..].find("```").expect("its end");
        section[start..end].to_string()
    }

    /// docs/echo.md shows what the writers write: its examples are those of the request and
    /// connection it describes, byte for byte.
    #[test]
    fn the_documented_examples_are_what_the_writers_write() {
        let hide = ["authorization".to_string()];
        let page_echo = |buf| Echo {
            name: Some("blue"),
            proxy: Some("10.0.0.2:40122".parse().unwrap()),
            ..echo(accepted(buf), &hide)
        };
        let text_request =
            b"GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\n\
            Accept: */*\r\nX-Forwarded-For: 198.51.100.1\r\nx-forwarded-for: 198.51.100.2\r\n\
            Authorization: Basic czNjcmV0\r\n\r\n";
        assert_eq!(
            text(&page_echo(text_request)),
            documented("## Text", "text")
        );
        let json_request = b"GET /echo?format=json HTTP/1.1\r\nHost: localhost:8080\r\n\
            X-Forwarded-For: 198.51.100.1\r\nx-forwarded-for: 198.51.100.2\r\n\
            X-Legacy: caf\xe9\r\nAuthorization: Basic czNjcmV0\r\n\r\n";
        let mut json = Vec::new();
        page_echo(json_request).write_json(&mut json);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            documented("## JSON", "json")
        );
    }

    fn text(echo: &Echo<'_>) -> String {
        let mut out = Vec::new();
        echo.write_text(&mut out);
        String::from_utf8(out).expect("the text form is ASCII")
    }

    fn json(echo: &Echo<'_>) -> String {
        let mut out = Vec::new();
        echo.write_json(&mut out);
        String::from_utf8(out).expect("the JSON form is UTF-8")
    }

    const CURL: &[u8] = b"GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nX-Forwarded-For: 198.51.100.1\r\nx-forwarded-for: 198.51.100.2\r\nX-Legacy: caf\xe9\r\nAuthorization: Basic dTpw\r\n\r\n";

    #[test]
    fn text_of_a_curl_request() {
        let hide = ["authorization".to_string()];
        let mut echo = echo(accepted(CURL), &hide);
        echo.name = Some("blue");
        echo.proxy = Some("10.0.0.2:40122".parse().unwrap());
        assert_eq!(
            text(&echo),
            "hostname: 37f5c99f417f
name: blue
version: 0.1.0
remote: 203.0.113.7:51234
proxy: 10.0.0.2:40122
local: 172.17.0.2:8080

GET /echo HTTP/1.1
Host: localhost:8080
User-Agent: curl/8.5.0
Accept: */*
X-Forwarded-For: 198.51.100.1
x-forwarded-for: 198.51.100.2
X-Legacy: caf\\xE9
Authorization: [hidden]
"
        );
    }

    #[test]
    fn json_of_a_curl_request() {
        let hide = ["authorization".to_string()];
        let buf = [&b"GET /echo?format=json"[..], &CURL[b"GET /echo".len()..]].concat();
        let mut echo = echo(accepted(&buf), &hide);
        echo.name = Some("blue");
        echo.proxy = Some("10.0.0.2:40122".parse().unwrap());
        assert_eq!(
            json(&echo),
            r#"{
  "hostname": "37f5c99f417f",
  "name": "blue",
  "version": "0.1.0",
  "remote": {"address": "203.0.113.7", "port": 51234},
  "proxy": {"address": "10.0.0.2", "port": 40122},
  "tlvs": null,
  "local": {"address": "172.17.0.2", "port": 8080},
  "request": {"method": "GET", "target": "/echo?format=json", "version": "HTTP/1.1"},
  "fields": [
    {"name": "Host", "value": "localhost:8080"},
    {"name": "User-Agent", "value": "curl/8.5.0"},
    {"name": "Accept", "value": "*/*"},
    {"name": "X-Forwarded-For", "value": "198.51.100.1"},
    {"name": "x-forwarded-for", "value": "198.51.100.2"},
    {"name": "X-Legacy", "value": "café", "latin1": true},
    {"name": "Authorization", "value": "[hidden]"}
  ],
  "headers": {
    "host": ["localhost:8080"],
    "user-agent": ["curl/8.5.0"],
    "accept": ["*/*"],
    "x-forwarded-for": ["198.51.100.1", "198.51.100.2"],
    "x-legacy": ["café"],
    "authorization": ["[hidden]"]
  },
  "body": null
}
"#
        );
    }

    #[test]
    fn what_a_tls_terminating_proxy_said_in_both_forms() {
        let tlvs = Tlvs {
            alpn: Some(b"h2"),
            authority: Some(b"who.example"),
            unique_id: Some(b"\x01\x02\xa0\xff"),
            ssl: Some(Ssl {
                client: 0x07,
                verify: 0,
                version: Some(b"TLSv1.3"),
                cn: Some(b"client one"),
                cipher: Some(b"TLS_AES_256_GCM_SHA384"),
                sig_alg: Some(b"RSA-SHA256"),
                key_alg: Some(b"RSA2048"),
            }),
        };
        let mut echo = echo(accepted(b"GET / HTTP/1.0\r\n\r\n"), &[]);
        echo.proxy = Some("10.0.0.2:40122".parse().unwrap());
        echo.tlvs = Some(tlvs);
        let shown = text(&echo);
        assert!(
            shown.contains(
                "\nproxy: 10.0.0.2:40122\nalpn: h2\nauthority: who.example\nssl: version=TLSv1.3 \
                 cipher=TLS_AES_256_GCM_SHA384 sig-alg=RSA-SHA256 key-alg=RSA2048 cn=\"client one\" \
                 client-cert=verified\nunique-id: 0102a0ff\nlocal: "
            ),
            "{shown}"
        );
        assert!(json(&echo).contains(
            "\n  \"tlvs\": {\"alpn\": \"h2\", \"authority\": \"who.example\", \"unique_id\": \"0102a0ff\", \
             \"ssl\": {\"version\": \"TLSv1.3\", \"cipher\": \"TLS_AES_256_GCM_SHA384\", \"sig_alg\": \"RSA-SHA256\", \
             \"key_alg\": \"RSA2048\", \"cn\": \"client one\", \"client_certificate\": \"verified\", \"verify\": 0}},\n"
        ));
        // What was not sent shows as nothing, or null; an unverified certificate, its result.
        echo.tlvs = Some(Tlvs {
            authority: Some(b"a\nb"),
            ssl: Some(Ssl {
                client: 0x03,
                verify: 21,
                ..Ssl::default()
            }),
            ..Tlvs::default()
        });
        let shown = text(&echo);
        assert!(
            shown.contains("\nauthority: a\\x0Ab\nssl: client-cert=unverified verify=21\nlocal: "),
            "{shown}"
        );
        assert!(json(&echo).contains(
            "{\"alpn\": null, \"authority\": \"a\\nb\", \"unique_id\": null, \"ssl\": {\"version\": null, \
             \"cipher\": null, \"sig_alg\": null, \"key_alg\": null, \"cn\": null, \
             \"client_certificate\": \"unverified\", \"verify\": 21}}"
        ));
        echo.tlvs = Some(Tlvs::default());
        assert!(json(&echo).contains(
            "\"tlvs\": {\"alpn\": null, \"authority\": null, \"unique_id\": null, \"ssl\": null},"
        ));
    }

    #[test]
    fn no_field_no_name_no_proxy_ipv6() {
        let mut echo = echo(accepted(b"\r\nOPTIONS * HTTP/1.0\r\n\r\n"), &[]);
        echo.remote = "[2001:db8::7]:51234".parse().unwrap();
        echo.local = "[::1]:8080".parse().unwrap();
        assert_eq!(
            text(&echo),
            "hostname: 37f5c99f417f\nversion: 0.1.0\nremote: [2001:db8::7]:51234\nlocal: [::1]:8080\n\nOPTIONS * HTTP/1.0\n"
        );
        assert_eq!(
            json(&echo),
            r#"{
  "hostname": "37f5c99f417f",
  "name": null,
  "version": "0.1.0",
  "remote": {"address": "2001:db8::7", "port": 51234},
  "proxy": null,
  "tlvs": null,
  "local": {"address": "::1", "port": 8080},
  "request": {"method": "OPTIONS", "target": "*", "version": "HTTP/1.0"},
  "fields": [],
  "headers": {},
  "body": null
}
"#
        );
    }

    /// Reads a text-form line back into bytes: `\\` and `\xHH` undone. `None` if anything
    /// else follows a backslash or a byte that should have been escaped is there.
    fn text_bytes(line: &[u8]) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut i = 0;
        while i < line.len() {
            match line[i..] {
                [b'\\', b'\\', ..] => (bytes.push(b'\\'), i += 2).1,
                [b'\\', b'x', high, low, ..] => {
                    let hex = std::str::from_utf8(&[high, low]).ok()?.to_string();
                    if hex.to_uppercase() != hex {
                        return None;
                    }
                    bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                    i += 4;
                }
                [b, ..] if b == b'\t' || (0x20..0x7f).contains(&b) && b != b'\\' => {
                    bytes.push(b);
                    i += 1;
                }
                _ => return None,
            }
        }
        Some(bytes)
    }

    /// Reads a JSON string as `push_json` writes it back into bytes: `latin1` says whether
    /// each character is one byte. `None` on a raw control character, an unescaped quote, an
    /// escape `push_json` does not write, or a character over U+00FF in Latin-1.
    fn json_bytes(string: &str, latin1: bool) -> Option<Vec<u8>> {
        let inner = string.strip_prefix('"')?.strip_suffix('"')?;
        let mut bytes = Vec::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            let c = match c {
                '\\' => match chars.next()? {
                    '"' => '"',
                    '\\' => '\\',
                    't' => '\t',
                    'n' => '\n',
                    'r' => '\r',
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                },
                '"' => return None,
                c if (c as u32) < 0x20 || c == '\u{7f}' => return None,
                c => c,
            };
            if latin1 {
                bytes.push(u8::try_from(u32::from(c)).ok()?);
            } else {
                bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        Some(bytes)
    }

    #[test]
    fn every_byte_escapes_and_reads_back() {
        for b in 0..=255u8 {
            let mut out = Vec::new();
            push_text(&mut out, &[b]);
            assert!(!out.contains(&b'\n') && !out.contains(&b'\r'), "{b:#x}");
            assert_eq!(text_bytes(&out), Some(vec![b]), "{b:#x}: {out:?}");

            let mut out = Vec::new();
            let charset = Charset::of(&[b]);
            push_json(&mut out, &[b], charset);
            let string = String::from_utf8(out).unwrap();
            assert_eq!(
                json_bytes(&string, charset == Charset::Latin1),
                Some(vec![b]),
                "{b:#x}: {string}"
            );
        }
        let mut out = Vec::new();
        push_json(&mut out, b"\"\\\t\n\r\x7f\x00\x1f", Charset::Utf8);
        assert_eq!(out, br#""\"\\\t\n\r\u007f\u0000\u001f""#);
    }

    #[test]
    fn mutated_bytes_read_back_in_both_forms() {
        // Short strings of the bytes that matter, mixed (a seeded generator, so it replays).
        let alphabet = b"\"\\\t \x00\x7f\x80\xbf\xc2\x85\xe2\xa8\xc3\xa9\xff\xfea/:";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = rng.below(9);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let mut out = Vec::new();
            push_text(&mut out, &bytes);
            assert_eq!(text_bytes(&out).as_ref(), Some(&bytes), "{bytes:?}");
            let mut out = Vec::new();
            let charset = Charset::of(&bytes);
            push_json(&mut out, &bytes, charset);
            let string = String::from_utf8(out).unwrap();
            assert_eq!(
                json_bytes(&string, charset == Charset::Latin1).as_ref(),
                Some(&bytes),
                "{string}"
            );
        }
    }

    #[test]
    fn tricky_values_in_both_forms() {
        // DEL and NUL are refused by the parser; the writers are held to them anyway.
        let buf = b"GET /a\"b\\c HTTP/1.1\r\nQ: say \"hi\"\r\nB: a\\b\r\nT: a\tb\r\nDel: \x7f\x00\r\nUtf8: caf\xc3\xa9 \xe2\x80\xa8 \xc2\x85\r\nBin: \xff\xfe\x80\r\n\r\n";
        let echo = echo(head::read(buf), &[]);
        let text = text(&echo);
        let lines: Vec<&str> = text.lines().skip(5).collect();
        assert_eq!(
            lines,
            [
                r#"GET /a"b\\c HTTP/1.1"#,
                r#"Q: say "hi""#,
                r#"B: a\\b"#,
                "T: a\tb",
                r#"Del: \x7F\x00"#,
                r#"Utf8: caf\xC3\xA9 \xE2\x80\xA8 \xC2\x85"#,
                r#"Bin: \xFF\xFE\x80"#,
            ]
        );
        let json = json(&echo);
        for expected in [
            r#""request": {"method": "GET", "target": "/a\"b\\c", "version": "HTTP/1.1"}"#,
            r#"{"name": "Q", "value": "say \"hi\""}"#,
            r#"{"name": "B", "value": "a\\b"}"#,
            r#"{"name": "T", "value": "a\tb"}"#,
            r#"{"name": "Del", "value": "\u007f\u0000"}"#,
            "{\"name\": \"Utf8\", \"value\": \"caf\u{e9} \u{2028} \u{85}\"}",
            "{\"name\": \"Bin\", \"value\": \"\u{ff}\u{fe}\u{80}\", \"latin1\": true}",
            "\"bin\": [\"\u{ff}\u{fe}\u{80}\"]",
        ] {
            assert!(json.contains(expected), "{expected} not in {json}");
        }
    }

    #[test]
    fn the_host_name_is_escaped_too() {
        let mut echo = echo(accepted(b"GET / HTTP/1.0\r\n\r\n"), &[]);
        echo.hostname = b"evil\nremote: 1.2.3.4:5\"\xff";
        assert!(text(&echo).starts_with("hostname: evil\\x0Aremote: 1.2.3.4:5\"\\xFF\nversion: "));
        assert!(
            json(&echo).starts_with("{\n  \"hostname\": \"evil\\nremote: 1.2.3.4:5\\\"\u{ff}\",\n")
        );
    }

    #[test]
    fn hidden_fields_by_name_in_any_case() {
        let hide = ["cookie".to_string(), "X-API-KEY".to_string()];
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCOOKIE: b=2\r\nX-Cookie: shown\r\nx-api-key: \xffsecret\r\n\r\n";
        let echo = echo(accepted(buf), &hide);
        let text = text(&echo);
        assert!(text.ends_with("Host: a\nCookie: [hidden]\nCOOKIE: [hidden]\nX-Cookie: shown\nx-api-key: [hidden]\n"), "{text}");
        let json = json(&echo);
        assert!(
            json.contains(r#""cookie": ["[hidden]", "[hidden]"]"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"name": "x-api-key", "value": "[hidden]"}"#),
            "{json}"
        );
        assert!(json.contains(r#""x-cookie": ["shown"]"#), "{json}");
        assert!(!json.contains("secret") && !text.contains("secret"));
    }

    /// The largest head the parser accepts: an 8 KiB request line and a 16 KiB header
    /// section of 100 fields, made of the bytes that grow most when escaped.
    fn largest_head() -> Vec<u8> {
        let target = format!(
            "/{}",
            "\"\\".repeat((MAX_REQUEST_LINE - "GET / HTTP/1.1".len()) / 2)
        );
        let mut buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n").into_bytes();
        let section_start = buf.len() - "Host: a\r\n".len();
        for i in 0..MAX_FIELDS - 2 {
            buf.extend_from_slice(format!("X-{i:02}: ").as_bytes());
            buf.extend_from_slice(&[0xff; 150]);
            buf.extend_from_slice(b"\r\n");
        }
        let used = buf.len() - section_start;
        let last = MAX_HEADER_SECTION - used - "Y: \r\n\r\n".len();
        buf.extend_from_slice(b"Y: ");
        buf.extend_from_slice(&b"\"".repeat(last));
        buf.extend_from_slice(b"\r\n\r\n");
        buf
    }

    #[test]
    fn the_largest_head_is_echoed_whole() {
        let buf = largest_head();
        let head = accepted(&buf);
        assert_eq!(head.request_line.len(), MAX_REQUEST_LINE);
        assert_eq!(head.fields().count(), MAX_FIELDS);
        let echo = echo(head, &[]);

        let text = text(&echo);
        let lines: Vec<&str> = text.lines().collect();
        // hostname, version, remote, local, the empty line, the request line, the fields.
        assert_eq!(lines.len(), 4 + 1 + 1 + MAX_FIELDS);
        assert_eq!(text_bytes(lines[5].as_bytes()).unwrap(), head.request_line);
        for (line, field) in lines[6..].iter().zip(head.fields()) {
            assert_eq!(
                text_bytes(line.as_bytes()).unwrap(),
                [field.name, b": ", field.value].concat()
            );
        }

        let json = json(&echo);
        let target = r#""target": ""#.to_string() + &json_escaped_target(head.target) + "\"";
        assert!(json.contains(&target));
        assert_eq!(json.matches(r#", "latin1": true}"#).count(), MAX_FIELDS - 2);
        assert_eq!(
            json.matches(&"\u{ff}".repeat(150)).count(),
            2 * (MAX_FIELDS - 2)
        );
        // What the server must be ready to send for one echo.
        assert!(
            text.len() < 80 * 1024 && json.len() < 96 * 1024,
            "{} {}",
            text.len(),
            json.len()
        );
    }

    fn json_escaped_target(target: &[u8]) -> String {
        String::from_utf8_lossy(target)
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    }

    #[test]
    fn one_text_line_per_field_line() {
        for (buf, fields) in [
            (&b"GET / HTTP/1.0\r\n\r\n"[..], 0),
            (b"GET / HTTP/1.1\nHost: a\n\n", 1),
            (
                b"\nGET / HTTP/1.1\r\nHost: a\r\nA: \r\nB:\t\r\nA: 1\r\n\r\nbody\r\n",
                4,
            ),
        ] {
            for (name, proxy, fixed) in [
                (None, None, 4),
                (Some("n"), None, 5),
                (Some("n"), Some("10.0.0.1:1".parse().unwrap()), 6),
            ] {
                let mut echo = echo(accepted(buf), &[]);
                (echo.name, echo.proxy) = (name, proxy);
                let text = text(&echo);
                assert_eq!(text.lines().count(), fixed + 2 + fields, "{text}");
                assert_eq!(text.lines().position(str::is_empty), Some(fixed));
            }
        }
    }

    #[test]
    fn the_format_asked_for() {
        for (buf, format) in [
            (&b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"[..], Format::Text),
            (b"GET /echo?format=json HTTP/1.1\r\nHost: a\r\n\r\n", Format::Json),
            (b"GET /echo?x=1&format=JSON HTTP/1.1\r\nHost: a\r\n\r\n", Format::Json),
            (b"GET http://h/echo?format=json HTTP/1.1\r\nHost: h\r\n\r\n", Format::Json),
            (b"GET /echo?format=json&format=text HTTP/1.1\r\nHost: a\r\n\r\n", Format::Json),
            (b"GET /echo HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n", Format::Json),
            (b"GET /echo HTTP/1.1\r\nHost: a\r\nAccept: text/plain;q=0.5\r\nAccept: application/json\r\n\r\n", Format::Json),
            (b"GET /echo?format=text HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n", Format::Text),
            (b"GET /echo?format=yaml HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n", Format::Json),
            (b"GET /echo?format=yaml HTTP/1.1\r\nHost: a\r\n\r\n", Format::Text),
            (b"GET /echo HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", Format::Text),
            (b"GET /echo HTTP/1.1\r\nHost: a\r\nAccept: application/json;q=0\r\n\r\n", Format::Text),
        ] {
            assert_eq!(Format::requested(&accepted(buf)), format, "{}", String::from_utf8_lossy(buf));
        }
        assert_eq!(Format::Text.content_type(), "text/plain; charset=utf-8");
        assert_eq!(Format::Json.content_type(), "application/json");
        let echo = echo(accepted(b"GET / HTTP/1.0\r\n\r\n"), &[]);
        let (mut text, mut json) = (Vec::new(), Vec::new());
        echo.write(Format::Text, &mut text);
        echo.write(Format::Json, &mut json);
        assert!(text.starts_with(b"hostname: ") && json.starts_with(b"{\n"));
    }

    /// A body shown whole is not said to be cut, in either form; one a byte short is.
    #[test]
    fn a_body_is_said_cut_only_when_bytes_are_missing() {
        let shown = &b"abcdef"[..];
        for (size, cut) in [(6, false), (7, true)] {
            let mut echo = echo(accepted(b"POST /echo HTTP/1.1\r\nHost: a\r\n\r\n"), &[]);
            echo.body = Some(EchoBody {
                size,
                crc32: 0,
                shown: Some(shown),
            });
            let (mut text, mut json) = (Vec::new(), Vec::new());
            echo.write(Format::Text, &mut text);
            echo.write(Format::Json, &mut json);
            let text = String::from_utf8(text).unwrap();
            let json = String::from_utf8(json).unwrap();
            assert_eq!(
                text.contains("(the first 6 of 7 bytes: --max-echo-body)"),
                cut,
                "{text}"
            );
            assert!(
                json.contains(&format!("\"value\": \"abcdef\", \"truncated\": {cut}}}")),
                "{json}"
            );
        }
        // Without ?body=1 nothing is shown, and nothing is said cut.
        let mut echo = echo(accepted(b"POST /echo HTTP/1.1\r\nHost: a\r\n\r\n"), &[]);
        echo.body = Some(EchoBody {
            size: 7,
            crc32: 0,
            shown: None,
        });
        let mut text = Vec::new();
        echo.write(Format::Text, &mut text);
        assert!(!String::from_utf8(text).unwrap().contains("the first"));
    }
}
