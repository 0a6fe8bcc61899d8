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
    let page = include_str!("../../docs/echo.md");
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
    let text_request = b"GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\n\
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
    assert!(
        text.ends_with(
            "Host: a\nCookie: [hidden]\nCOOKIE: [hidden]\nX-Cookie: shown\nx-api-key: [hidden]\n"
        ),
        "{text}"
    );
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
