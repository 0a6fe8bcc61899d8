//! The parser's unit tests: every refusal, every limit by its number, every split.

use super::fields::*;
use super::*;
use crate::http::limits::BODY_TOO_LARGE;
use crate::http::testing::{Rng, check_splits, mutate};

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
    let r =
        complete(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(r.framing, Framing::Length(5));
    let r = complete(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.framing, Framing::None);
    let r = complete(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n",
    );
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
        // No target: the line ends where the target should start.
        (b"GET \r\n", BAD_TARGET),
        (b"GET \n", BAD_TARGET),
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
    if let Err(error) = check_splits(input, &every) {
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

#[test]
fn the_body_limit_may_be_set_and_a_refusal_names_it() {
    let head = |length: u64| {
        format!("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n")
    };
    fn within(input: &str, max: u64) -> Result<Status<Request<'_>>, Reject> {
        parse_within(input.as_bytes(), max)
    }
    assert!(matches!(
        within(&head(1 << 30), 1 << 30),
        Ok(Status::Complete(Request {
            framing: Framing::Length(1_073_741_824),
            ..
        }))
    ));
    let refusal = within(&head((1 << 30) + 1), 1 << 30).unwrap_err();
    assert_eq!(
        (refusal.status, refusal.message()),
        (413, "request body larger than 1073741824 bytes".to_string())
    );
    // parse is parse_within MAX_BODY: the default verdicts are the same.
    assert_eq!(rejected(head(MAX_BODY + 1).as_bytes()).status, 413);
    complete(head(MAX_BODY).as_bytes());
}

#[test]
fn an_expectation_other_than_100_continue_is_one_whod_cannot_meet() {
    for (value, continues, unmet) in [
        ("100-continue", true, false),
        ("100-Continue", true, false),
        ("something-else", false, true),
        // Each member counts: one that cannot be met is enough for a 417.
        ("100-continue, foo", true, true),
        // Empty list elements are ignored (RFC 9110 §5.6.1.2): nothing expected.
        ("", false, false),
        (" , ", false, false),
        ("100-continue,", true, false),
    ] {
        let input = format!("POST / HTTP/1.1\r\nHost: a\r\nExpect: {value}\r\n\r\n");
        let request = complete(input.as_bytes());
        assert_eq!(
            (request.expect_continue, request.unmet_expectation),
            (continues, unmet),
            "{value}"
        );
    }
    let plain = complete(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(!plain.expect_continue && !plain.unmet_expectation);
}
