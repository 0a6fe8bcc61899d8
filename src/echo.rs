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
mod tests;
