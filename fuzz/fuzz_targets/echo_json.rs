//! The echo writers held to their documented forms, with serde_json as the JSON oracle.
//!
//! For any bytes read as a head: the JSON parses, and the text has exactly one line per field
//! line plus the fixed lines. For a head `request::parse` accepts, more: the JSON gives back
//! exactly the request line and every field name and value received, in order (values through
//! their documented encoding: UTF-8 text, or ISO-8859-1 with `"latin1": true`), `headers`
//! groups the same values by lower-cased name in order of first appearance, and each text line
//! reads back to the bytes received. The lines of the head are split here, without whod's
//! help. The input is the request itself, so fuzz/seeds/ and fuzz/seeds-echo/ serve as they
//! are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use whod::echo::{Echo, Format};
use whod::http::{Status, head, request};
use whod::proxy_protocol::tlvs;

/// Host names, picked by the input's length: the kernel takes any bytes as one.
const HOSTNAMES: [&[u8]; 4] = [
    b"37f5c99f417f",
    "h\u{f4}te".as_bytes(),
    b"\xff\xfe",
    b"a\nb\"c\\",
];
/// The fields shown as [hidden], as `--echo-hide` gives them (lower-cased).
const HIDE: [&str; 2] = ["authorization", "x-secret"];

/// A field line's name and value.
type FieldLine<'b> = (&'b [u8], &'b [u8]);

/// The request line and the (name, value) of each field line of an accepted head, split as
/// RFC 9112 says: one optional leading empty line, lines ending in LF or CRLF, the name up to
/// the first colon, the value without the spaces and tabs around it.
fn lines(head: &[u8]) -> (&[u8], Vec<FieldLine<'_>>) {
    let head = head
        .strip_prefix(b"\r\n")
        .or_else(|| head.strip_prefix(b"\n"))
        .unwrap_or(head);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().unwrap();
    let fields = lines
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let colon = line.iter().position(|&b| b == b':').unwrap();
            let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
            let value = &line[colon + 1..];
            let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !is_ows(b))
                .map_or(start, |i| i + 1);
            (&line[..colon], &value[start..end])
        })
        .collect();
    (request_line, fields)
}

/// A string as the JSON form writes `bytes`: their text if UTF-8, else one character a byte.
fn as_written(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The bytes a JSON string stands for, by the documented rule.
fn bytes_of(text: &str, latin1: bool) -> Vec<u8> {
    if latin1 {
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character over U+00FF"))
            .collect()
    } else {
        text.as_bytes().to_vec()
    }
}

/// A text-form line read back: `\\` and `\xHH` undone; every other byte must be visible
/// ASCII or a tab.
fn unescape(line: &str) -> Vec<u8> {
    let line = line.as_bytes();
    let mut bytes = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' if line.get(i + 1) == Some(&b'\\') => {
                bytes.push(b'\\');
                i += 2;
            }
            b'\\' => {
                assert_eq!(line.get(i + 1), Some(&b'x'), "a lone backslash");
                let hex = std::str::from_utf8(&line[i + 2..i + 4]).unwrap();
                assert_eq!(hex, hex.to_uppercase());
                bytes.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            }
            b => {
                assert!(b == b'\t' || (0x20..0x7f).contains(&b), "raw byte {b:#x}");
                bytes.push(b);
                i += 1;
            }
        }
    }
    bytes
}

fn address(value: &Value, expected: SocketAddr) {
    assert_eq!(value["address"], expected.ip().to_string());
    assert_eq!(value["port"], expected.port());
    assert_eq!(value.as_object().unwrap().len(), 2);
}

fn hidden(name: &[u8]) -> bool {
    HIDE.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

fn written(echo: &Echo<'_>, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    echo.write(format, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let hide: Vec<String> = HIDE.iter().map(|h| h.to_string()).collect();
    let remote: SocketAddr = "[2001:db8::7]:51234".parse().unwrap();
    let local: SocketAddr = "172.17.0.2:8080".parse().unwrap();
    let proxy = (data.len().is_multiple_of(3)).then(|| "10.0.0.2:40122".parse().unwrap());
    let name = (data.len().is_multiple_of(2)).then_some("blue");
    let hostname = HOSTNAMES[data.len() % HOSTNAMES.len()];
    // The TLVs a PROXY v2 header may carry: read from the input itself, when it tiles as TLVs.
    let tlvs = proxy
        .and(tlvs::read(data))
        .filter(|_| data.len().is_multiple_of(5));
    let tlv_lines = tlvs.map_or(0, |t| {
        [
            t.alpn.is_some(),
            t.authority.is_some(),
            t.ssl.is_some(),
            t.unique_id.is_some(),
        ]
        .iter()
        .filter(|&&line| line)
        .count()
    });
    let fixed_lines = 4 + usize::from(name.is_some()) + usize::from(proxy.is_some()) + tlv_lines;

    // Any bytes, accepted or not: valid JSON, and no line but the documented ones.
    let any = Echo {
        hostname,
        name,
        version: "0.1.0",
        remote,
        proxy,
        local,
        tlvs,
        head: head::read(data),
        hide: &hide,
        body: None,
    };
    let json = written(&any, Format::Json);
    serde_json::from_slice::<Value>(&json).expect("the JSON form parses");
    let text = written(&any, Format::Text);
    assert!(text.is_ascii() && !text.contains(&b'\r'));
    let count = text.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(count, fixed_lines + 2 + any.head.fields().count());

    let Ok(Status::Complete(request)) = request::parse(data) else {
        return;
    };
    let head_bytes = &data[..request.head_len];
    let (request_line, fields) = lines(head_bytes);
    let echo = Echo {
        head: head::read(head_bytes),
        ..any
    };

    // JSON: the documented schema, lossless.
    let json: Map<String, Value> =
        serde_json::from_slice(&written(&echo, Format::Json)).expect("the JSON form parses");
    let keys: Vec<&str> = json.keys().map(String::as_str).collect();
    let expected_keys = [
        "hostname", "name", "version", "remote", "proxy", "tlvs", "local", "request", "fields",
        "headers", "body",
    ];
    assert_eq!(keys, expected_keys);
    match tlvs {
        None => assert_eq!(json["tlvs"], Value::Null),
        Some(tlvs) => {
            let shown = json["tlvs"].as_object().unwrap();
            let keys: Vec<&str> = shown.keys().map(String::as_str).collect();
            assert_eq!(keys, ["alpn", "authority", "unique_id", "ssl"]);
            assert_eq!(shown["alpn"].is_null(), tlvs.alpn.is_none());
            assert_eq!(shown["authority"].is_null(), tlvs.authority.is_none());
            if let Some(id) = tlvs.unique_id {
                let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(shown["unique_id"], hex);
            }
            match tlvs.ssl {
                None => assert_eq!(shown["ssl"], Value::Null),
                Some(ssl) => assert_eq!(shown["ssl"]["verify"], ssl.verify),
            }
        }
    }
    assert_eq!(json["hostname"], as_written(hostname));
    assert_eq!(json["name"], name.map_or(Value::Null, Value::from));
    assert_eq!(json["version"], "0.1.0");
    address(&json["remote"], remote);
    match proxy {
        Some(proxy) => address(&json["proxy"], proxy),
        None => assert_eq!(json["proxy"], Value::Null),
    }
    address(&json["local"], local);
    let parts: Vec<&[u8]> = request_line.splitn(3, |&b| b == b' ').collect();
    let request_json = json["request"].as_object().unwrap();
    assert_eq!(request_json.len(), 3);
    for (key, part) in ["method", "target", "version"].iter().zip(&parts) {
        let text = request_json[*key].as_str().unwrap();
        assert_eq!(bytes_of(text, false), *part, "request {key}");
    }
    let entries = json["fields"].as_array().unwrap();
    assert_eq!(entries.len(), fields.len());
    for (entry, &(name, value)) in entries.iter().zip(&fields) {
        let entry = entry.as_object().unwrap();
        assert_eq!(bytes_of(entry["name"].as_str().unwrap(), false), name);
        let latin1 = entry.get("latin1").is_some();
        if latin1 {
            assert_eq!(entry["latin1"], true);
        }
        assert_eq!(entry.len(), 2 + usize::from(latin1));
        let shown = bytes_of(entry["value"].as_str().unwrap(), latin1);
        if hidden(name) {
            assert_eq!((shown.as_slice(), latin1), (&b"[hidden]"[..], false));
        } else {
            assert_eq!(
                shown,
                value,
                "the value of {:?}",
                String::from_utf8_lossy(name)
            );
            assert_eq!(latin1, std::str::from_utf8(value).is_err());
        }
    }
    let headers = json["headers"].as_object().unwrap();
    let mut names: Vec<String> = Vec::new();
    for &(name, _) in &fields {
        let lower = String::from_utf8(name.to_ascii_lowercase()).unwrap();
        if !names.contains(&lower) {
            names.push(lower);
        }
    }
    assert_eq!(
        headers.keys().collect::<Vec<_>>(),
        names.iter().collect::<Vec<_>>()
    );
    for (key, values) in headers {
        let expected: Vec<Value> = fields
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(key.as_bytes()))
            .map(|&(name, value)| {
                if hidden(name) {
                    "[hidden]".into()
                } else {
                    as_written(value).into()
                }
            })
            .collect();
        assert_eq!(values.as_array().unwrap(), &expected, "headers[{key:?}]");
    }

    // Text: the fixed lines, an empty line, the request line, a line per field line, each
    // reading back to the bytes received.
    let text = String::from_utf8(written(&echo, Format::Text)).unwrap();
    assert!(text.ends_with('\n'));
    let text_lines: Vec<&str> = text.lines().collect();
    assert_eq!(text_lines.len(), fixed_lines + 2 + fields.len());
    assert_eq!(
        unescape(text_lines[0].strip_prefix("hostname: ").unwrap()),
        hostname
    );
    assert_eq!(
        text_lines.iter().position(|line| line.is_empty()),
        Some(fixed_lines)
    );
    assert_eq!(unescape(text_lines[fixed_lines + 1]), request_line);
    for (line, &(name, value)) in text_lines[fixed_lines + 2..].iter().zip(&fields) {
        let value = if hidden(name) {
            &b"[hidden]"[..]
        } else {
            value
        };
        assert_eq!(unescape(line), [name, b": ", value].concat());
    }
});
