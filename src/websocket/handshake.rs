//! The opening handshake, server side (RFC 6455 §4.2): whether a request parsed by
//! `http::request` asks for a WebSocket connection as §4.2.1 requires, and the 101 answer.
//!
//! No extension and no subprotocol is ever negotiated: `Sec-WebSocket-Extensions` and
//! `Sec-WebSocket-Protocol` are ignored, so the answer names none (§4.2.2: the server "MUST
//! NOT" answer with one the client did not offer, and need not pick any).

use super::{base64, sha1::Sha1};
use crate::http::head::Head;
use crate::http::request::{Framing, Request};

/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", the GUID of §1.3, appended to the key.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The field a 426 answer carries: the one version this server speaks (§4.2.2).
pub const VERSION_FIELD: &[u8] = b"Sec-WebSocket-Version: 13\r\n";

/// The `Sec-WebSocket-Accept` value: 28 characters of base64.
pub type Accept = [u8; 28];

/// Why an upgrade request is refused: the status to answer (400, or 426 with `VERSION_FIELD`
/// for a version other than 13), what was wrong, and the value the request gave (empty when
/// the field was missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal<'b> {
    pub status: u16,
    pub reason: &'static str,
    pub value: &'b [u8],
}

impl Refusal<'_> {
    /// The answer's body: the reason, then the value given, quoted, any byte other than
    /// printable ASCII written `\xHH` (`Sec-WebSocket-Version is not 13: "8"`).
    pub fn message(&self) -> String {
        let mut out = self.reason.as_bytes().to_vec();
        if !self.value.is_empty() {
            out.extend_from_slice(b": \"");
            crate::echo::push_escaped(&mut out, self.value, |b| {
                (0x20..0x7f).contains(&b) && b != b'"'
            });
            out.push(b'"');
        }
        // Only ASCII was written.
        String::from_utf8_lossy(&out).into_owned()
    }
}

const fn refuse<'b>(reason: &'static str, value: &'b [u8]) -> Result<Accept, Refusal<'b>> {
    Err(Refusal {
        status: 400,
        reason,
        value,
    })
}

/// Whether any of the list-valued fields `values` (`#token`, RFC 9110 §5.6.1) lists `token`,
/// compared without regard to ASCII case.
fn lists<'b>(mut values: impl Iterator<Item = &'b [u8]>, token: &[u8]) -> bool {
    values.any(|value| {
        value
            .split(|&b| b == b',')
            .any(|element| element.trim_ascii().eq_ignore_ascii_case(token))
    })
}

/// The field named `name` if it appears exactly once: `Ok(None)` if it does not appear,
/// `Err(second value)` if it appears more than once.
fn single<'b>(head: &Head<'b>, name: &[u8]) -> Result<Option<&'b [u8]>, &'b [u8]> {
    let mut values = head.values(name);
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        (_, Some(second)) => Err(second),
    }
}

/// Checks an upgrade request (its parsed `request` and the `head` read from the same bytes)
/// against RFC 6455 §4.2.1, in its order, and gives the answer's `Sec-WebSocket-Accept`.
///
/// ```text
/// 1.  An HTTP/1.1 or higher GET request
/// 3.  An |Upgrade| header field containing the value "websocket", treated as an ASCII
///     case-insensitive value.
/// 4.  A |Connection| header field that includes the token "Upgrade", treated as an ASCII
///     case-insensitive value.
/// 5.  A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is
///     16 bytes in length.
/// 6.  A |Sec-WebSocket-Version| header field, with a value of 13.
/// ```
///
/// (2, `Host`, the HTTP parser checked.) The version is checked before the key: a client of
/// another version learns which one to speak (426) even if its key differs.
pub fn accept<'b>(request: &Request<'b>, head: &Head<'b>) -> Result<Accept, Refusal<'b>> {
    if request.method != b"GET" {
        return refuse("a WebSocket upgrade must be a GET, not", request.method);
    }
    if request.minor_version == 0 {
        return refuse("a WebSocket upgrade needs HTTP/1.1, not", head.version);
    }
    // A GET has no body; one would be read as frames after the 101.
    match request.framing {
        Framing::None => {}
        Framing::Length(_) => {
            let length = head.values(b"content-length").next().unwrap_or_default();
            return refuse("a WebSocket upgrade has no body; Content-Length", length);
        }
        Framing::Chunked => {
            let coding = head.values(b"transfer-encoding").next().unwrap_or_default();
            return refuse("a WebSocket upgrade has no body; Transfer-Encoding", coding);
        }
    }
    if !lists(head.values(b"upgrade"), b"websocket") {
        let given = head.values(b"upgrade").next().unwrap_or_default();
        return refuse("Upgrade does not list websocket", given);
    }
    if !lists(head.values(b"connection"), b"upgrade") {
        let given = head.values(b"connection").next().unwrap_or_default();
        return refuse("Connection does not list Upgrade", given);
    }
    match single(head, b"sec-websocket-version") {
        Ok(Some(b"13")) => {}
        Ok(version) => {
            return Err(Refusal {
                status: 426,
                reason: "Sec-WebSocket-Version is not 13",
                value: version.unwrap_or_default(),
            });
        }
        Err(second) => return refuse("more than one Sec-WebSocket-Version", second),
    }
    let key = match single(head, b"sec-websocket-key") {
        Ok(Some(key)) => key,
        Ok(None) => return refuse("no Sec-WebSocket-Key", b""),
        Err(second) => return refuse("more than one Sec-WebSocket-Key", second),
    };
    // 16 bytes encode to 24 characters, the last two "=".
    let mut decoded = [0; 18];
    match key.len() {
        24 => match base64::decode(key, &mut decoded) {
            Ok(bytes) if bytes.len() == 16 => {}
            _ => return refuse("Sec-WebSocket-Key is not 16 bytes in base64", key),
        },
        _ => return refuse("Sec-WebSocket-Key is not 16 bytes in base64", key),
    }
    Ok(accept_key(key))
}

/// "the server has to take the value (as present in the header field, e.g., the base64-encoded
/// version minus any leading and trailing whitespace) and concatenate this with the Globally
/// Unique Identifier (GUID, [RFC4122]) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" ... A SHA-1 hash
/// (160 bits) [FIPS.180-3], base64-encoded (see Section 4 of [RFC4648]), of this concatenation
/// is then returned in the server's handshake." (§1.3)
pub fn accept_key(key: &[u8]) -> Accept {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut accept = [0; 28];
    base64::encode_into(&sha.finish(), &mut accept);
    accept
}

/// Appends the 101 answer's head: the status line, `Upgrade`, `Connection`,
/// `Sec-WebSocket-Accept`, then `extra` (whole field lines, each ending in CRLF, that the
/// server adds), then the empty line. What follows is frames.
pub fn write_switching(accept: &Accept, extra: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::http::head;
    use crate::http::request;

    /// RFC 6455 §1.3's example request (with the version it omits).
    const UPGRADE: &str = "GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

    /// What `accept` answers for `buf`, owned.
    fn answer(buf: &str) -> Result<String, (u16, String)> {
        let buf = buf.as_bytes();
        let Ok(Status::Complete(request)) = request::parse(buf) else {
            panic!("{buf:?} does not parse");
        };
        let head = head::read(&buf[..request.head_len]);
        accept(&request, &head)
            .map(|accept| String::from_utf8(accept.to_vec()).unwrap())
            .map_err(|refusal| (refusal.status, refusal.message()))
    }

    /// `UPGRADE` with the field line `from` replaced by `to` (removed if empty).
    fn with(from: &str, to: &str) -> String {
        assert!(UPGRADE.contains(from), "{from}");
        let to = if to.is_empty() {
            String::new()
        } else {
            format!("{to}\r\n")
        };
        UPGRADE.replace(&format!("{from}\r\n"), &to)
    }

    #[test]
    fn the_rfc_example() {
        assert_eq!(
            answer(UPGRADE),
            Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string())
        );
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn tokens_in_any_case_among_others() {
        for (from, to) in [
            ("Upgrade: websocket", "upgrade: WebSocket"),
            ("Upgrade: websocket", "Upgrade: h2c, websocket"),
            ("Upgrade: websocket", "Upgrade: h2c\r\nUpgrade: WEBSOCKET"),
            ("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
            ("Connection: Upgrade", "connection: upgrade"),
            (
                "Connection: Upgrade",
                "Connection: keep-alive\r\nConnection: upgrade",
            ),
            ("Connection: Upgrade", "Connection:keep-alive,\tUpgrade\t"),
            ("GET /chat HTTP/1.1", "GET /chat HTTP/1.2"),
            // Extensions and subprotocols are ignored, offered or not.
            (
                "Origin: http://example.com",
                "Sec-WebSocket-Extensions: permessage-deflate",
            ),
            ("Sec-WebSocket-Protocol: chat, superchat", ""),
            // Unused pad bits, as ws and websockets accept.
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==",
            ),
        ] {
            let request = with(from, to);
            assert!(
                answer(&request).is_ok(),
                "{request}: {:?}",
                answer(&request)
            );
        }
    }

    #[test]
    fn every_refusal_names_the_value() {
        for (from, to, status, message) in [
            (
                "GET /chat HTTP/1.1",
                "POST /chat HTTP/1.1",
                400,
                "a WebSocket upgrade must be a GET, not: \"POST\"",
            ),
            (
                "GET /chat HTTP/1.1",
                "get /chat HTTP/1.1",
                400,
                "a WebSocket upgrade must be a GET, not: \"get\"",
            ),
            (
                "GET /chat HTTP/1.1",
                "GET /chat HTTP/1.0",
                400,
                "a WebSocket upgrade needs HTTP/1.1, not: \"HTTP/1.0\"",
            ),
            (
                "Origin: http://example.com",
                "Content-Length: 5",
                400,
                "a WebSocket upgrade has no body; Content-Length: \"5\"",
            ),
            (
                "Origin: http://example.com",
                "Transfer-Encoding: chunked",
                400,
                "a WebSocket upgrade has no body; Transfer-Encoding: \"chunked\"",
            ),
            (
                "Upgrade: websocket",
                "",
                400,
                "Upgrade does not list websocket",
            ),
            (
                "Upgrade: websocket",
                "Upgrade: h2c",
                400,
                "Upgrade does not list websocket: \"h2c\"",
            ),
            (
                "Upgrade: websocket",
                "Upgrade: websocket/13",
                400,
                "Upgrade does not list websocket: \"websocket/13\"",
            ),
            (
                "Connection: Upgrade",
                "",
                400,
                "Connection does not list Upgrade",
            ),
            (
                "Connection: Upgrade",
                "Connection: keep-alive",
                400,
                "Connection does not list Upgrade: \"keep-alive\"",
            ),
            (
                "Connection: Upgrade",
                "Connection: Upgraded",
                400,
                "Connection does not list Upgrade: \"Upgraded\"",
            ),
            (
                "Sec-WebSocket-Version: 13",
                "",
                426,
                "Sec-WebSocket-Version is not 13",
            ),
            (
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 8",
                426,
                "Sec-WebSocket-Version is not 13: \"8\"",
            ),
            (
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 13, 8",
                426,
                "Sec-WebSocket-Version is not 13: \"13, 8\"",
            ),
            (
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13",
                400,
                "more than one Sec-WebSocket-Version: \"13\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "",
                400,
                "no Sec-WebSocket-Key",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
                400,
                "more than one Sec-WebSocket-Key: \"AAAAAAAAAAAAAAAAAAAAAA==\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSBub25jZQ\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSBub25jZQ=\"",
            ),
            // 24 characters, but 17 bytes, or not base64.
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQA=",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSBub25jZQA=\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-==",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSBub25jZ-==\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jé==",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSBub25j\\xC3\\xA9==\"",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSB\"b25jZQ==",
                400,
                "Sec-WebSocket-Key is not 16 bytes in base64: \"dGhlIHNhbXBsZSB\\x22b25jZQ==\"",
            ),
        ] {
            let request = with(from, to);
            assert_eq!(
                answer(&request),
                Err((status, message.to_string())),
                "{request}"
            );
        }
    }

    #[test]
    fn the_switching_protocols_head() {
        let mut out = b"x".to_vec();
        write_switching(
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            b"Server: whod\r\n",
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "xHTTP/1.1 101 Switching Protocols\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Server: whod\r\n\
             \r\n"
        );
        let mut out = Vec::new();
        write_switching(&accept_key(b"x"), b"", &mut out);
        assert!(out.ends_with(b"=\r\n\r\n"));
        assert_eq!(VERSION_FIELD, b"Sec-WebSocket-Version: 13\r\n");
    }
}
