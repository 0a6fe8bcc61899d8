//! What a request asks for beyond its path: the parameters of its query (`?format=json`,
//! `?delay=250ms`), read as received: nothing is decoded or copied. Whether its `Accept`
//! fields prefer JSON is `accept::prefers_json`, re-exported here.

/// The query of a request target: the bytes after its first `?` and before any `#`. `None`
/// without a `?` before the first `#`.
///
/// `?` cannot appear in a scheme, an authority or a path (RFC 3986 §3), so the first `?`
/// starts the query in every form of target: origin-form `/echo?x=1` and absolute-form
/// `http://h/echo?x=1` alike. A fragment is never sent in a request (RFC 9112 §3.2 has none),
/// but the parser lets a `#` through, as nginx does: everything from the first `#` on is
/// ignored, by `Request::path` and here alike, so `/who#?delay=2s` is a plain `/who`.
pub fn query(target: &[u8]) -> Option<&[u8]> {
    let end = target
        .iter()
        .position(|&b| b == b'#')
        .unwrap_or(target.len());
    let before_fragment = &target[..end];
    let start = before_fragment.iter().position(|&b| b == b'?')? + 1;
    Some(&before_fragment[start..])
}

/// The query's parameters in order, as `(name, value)`: the query split at each `&`, each
/// piece at its first `=`. A piece without `=` has an empty value (`?json` gives `(json, "")`);
/// empty pieces (`a=1&&b=2`) are skipped. Names and values are raw bytes: no percent-decoding
/// and no `+` for space, which the values `who` looks for (`json`, `250ms`) never need.
pub fn params(target: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query(target)
        .unwrap_or_default()
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(equals) => (&piece[..equals], &piece[equals + 1..]),
            None => (piece, &[][..]),
        })
}

/// The value of the first parameter named exactly `name` (bytes compared as they are, case
/// included): `param(b"/echo?delay=250ms&delay=1s", b"delay")` is `Some(b"250ms")`. Later
/// repeats are ignored, so that one request has one meaning.
pub fn param<'t>(target: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    params(target)
        .find(|&(key, _)| key == name)
        .map(|(_, value)| value)
}

pub use super::accept::prefers_json;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_of_every_target_form() {
        for (target, expected) in [
            (&b"/echo?format=json"[..], Some(&b"format=json"[..])),
            (b"http://h:8080/echo?format=json", Some(b"format=json")),
            (b"http://h?format=json", Some(b"format=json")),
            (b"/echo?a=1?b=2", Some(b"a=1?b=2")),
            (b"/echo?x#frag", Some(b"x")),
            (b"/echo?", Some(b"")),
            (b"/echo", None),
            (b"/echo#?x", None),
            (b"/echo#a?x", None),
            (b"/echo?a#b?x", Some(b"a")),
            (b"http://h/echo", None),
            (b"h:443", None),
            (b"*", None),
        ] {
            assert_eq!(
                query(target),
                expected,
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }

    #[test]
    fn params_in_order() {
        let all: Vec<_> = params(b"/e?a=1&&b=&c&d=x=y&=v&a=2").collect();
        assert_eq!(
            all,
            [
                (&b"a"[..], &b"1"[..]),
                (b"b", b""),
                (b"c", b""),
                (b"d", b"x=y"),
                (b"", b"v"),
                (b"a", b"2"),
            ]
        );
        assert_eq!(params(b"/e").count(), 0);
        assert_eq!(params(b"/e?").count(), 0);
    }

    #[test]
    fn the_first_parameter_of_a_name_wins() {
        let target = b"http://h/echo?format=json&delay=250ms&delay=1s&flag";
        assert_eq!(param(target, b"format"), Some(&b"json"[..]));
        assert_eq!(param(target, b"delay"), Some(&b"250ms"[..]));
        assert_eq!(param(target, b"flag"), Some(&b""[..]));
        assert_eq!(param(target, b"FORMAT"), None);
        assert_eq!(param(target, b"for"), None);
        assert_eq!(param(b"/echo", b"format"), None);
        // No percent-decoding: the bytes as sent.
        assert_eq!(param(b"/e?format=%6Ason", b"format"), Some(&b"%6Ason"[..]));
        assert_eq!(param(b"/e?f%6Frmat=json", b"format"), None);
    }
}
