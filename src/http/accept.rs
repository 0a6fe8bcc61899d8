//! Content negotiation for `/echo`: whether a request's `Accept` fields prefer
//! `application/json` to `text/plain` (RFC 9110 §12.5.1), read from the values as received.

/// The pieces of `bytes` between the separators `sep` that are not inside a quoted-string
/// (`DQUOTE *( qdtext / quoted-pair ) DQUOTE`, RFC 9110 §5.6.4), so that a `,` or `;` inside
/// a parameter's quoted value does not split it.
fn split_unquoted(bytes: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut escaped = false;
    bytes.split(move |&b| {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if !quoted && b == sep {
            return true;
        }
        false
    })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2), in
/// thousandths: `0.5` is 500. `None` for anything else.
fn qvalue(bytes: &[u8]) -> Option<u16> {
    let (units, decimals) = match bytes {
        [units] => (units, &[][..]),
        [units, b'.', decimals @ ..] if decimals.len() <= 3 => (units, decimals),
        _ => return None,
    };
    let mut thousandths = match units {
        b'0' => 0,
        b'1' if decimals.iter().all(|&d| d == b'0') => 1000,
        _ => return None,
    };
    for (scale, &digit) in [100, 10, 1].iter().zip(decimals) {
        if !digit.is_ascii_digit() {
            return None;
        }
        thousandths += scale * u16::from(digit - b'0');
    }
    Some(thousandths)
}

/// A `parameter-value` (`token / quoted-string`) equals `expected` (ASCII case aside), once
/// its quotes and quoted-pairs are undone.
fn parameter_value_is(value: &[u8], expected: &[u8]) -> bool {
    let Some(inner) = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
    else {
        return value.eq_ignore_ascii_case(expected);
    };
    let mut chars = inner.iter();
    let mut expected = expected.iter();
    while let Some(&c) = chars.next() {
        let c = if c == b'\\' {
            chars.next().copied().unwrap_or(c)
        } else {
            c
        };
        if !expected.next().is_some_and(|e| e.eq_ignore_ascii_case(&c)) {
            return false;
        }
    }
    expected.next().is_none()
}

/// One of the two representations `/echo` has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offer {
    /// `application/json`, which takes no parameter (RFC 8259 §11).
    Json,
    /// `text/plain; charset=utf-8`.
    Text,
}

impl Offer {
    const fn media_type(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Offer::Json => (b"application", b"json"),
            Offer::Text => (b"text", b"plain"),
        }
    }
}

/// How well one media range fits an offer; the larger, the better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Fit {
    /// The quality, in thousandths.
    quality: u16,
    /// How specific the range that gave the quality is: `*/*` 0, `type/*` 1, `type/subtype` 2,
    /// plus one per parameter it names.
    specificity: usize,
    /// `usize::MAX` minus the range's position in the field: at equal quality and
    /// specificity, the range named first wins.
    earliness: usize,
}

/// How the media range `range` (`media-range [ weight ]`) fits `offer`: `None` if it is
/// malformed or does not apply to the offer.
///
/// ```text
/// media-range = ( "*/*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters
/// parameters  = *( OWS ";" OWS [ parameter ] )
/// parameter   = parameter-name "=" parameter-value
/// weight      = OWS ";" OWS "q=" qvalue
/// ```
fn fit(range: &[u8], position: usize, offer: Offer) -> Option<Fit> {
    let mut parts = split_unquoted(range, b';');
    let media_range = parts.next()?.trim_ascii();
    let slash = media_range.iter().position(|&b| b == b'/')?;
    // type, subtype and parameter names are tokens; one that is not cannot equal the names
    // compared below (`*`, the offer's type and subtype, `q`, `charset`), so such a range never
    // applies, as a malformed one must not: no separate check is needed.
    let (kind, subtype) = (&media_range[..slash], &media_range[slash + 1..]);
    let (offer_kind, offer_subtype) = offer.media_type();
    let mut specificity = if kind == b"*" && subtype == b"*" {
        0
    } else if !kind.eq_ignore_ascii_case(offer_kind) {
        return None;
    } else if subtype == b"*" {
        1
    } else if subtype.eq_ignore_ascii_case(offer_subtype) {
        2
    } else {
        return None;
    };
    let mut applies = true;
    let mut quality = 1000;
    for parameter in parts {
        let parameter = parameter.trim_ascii();
        if parameter.is_empty() {
            continue;
        }
        let equals = parameter.iter().position(|&b| b == b'=')?;
        let (name, value) = (&parameter[..equals], &parameter[equals + 1..]);
        // "Recipients SHOULD process any parameter named "q" as weight, regardless of
        // parameter ordering" (RFC 9110 §12.4.2); the name is case-insensitive.
        if name.eq_ignore_ascii_case(b"q") {
            quality = qvalue(value)?;
        } else if offer == Offer::Text
            && name.eq_ignore_ascii_case(b"charset")
            && parameter_value_is(value, b"utf-8")
        {
            specificity += 1;
        } else {
            // A parameter the offer does not have: `text/plain;format=flowed` names another
            // representation than whod's, and application/json has no parameter at all.
            applies = false;
        }
    }
    applies.then_some(Fit {
        quality,
        specificity,
        earliness: usize::MAX - position,
    })
}

/// How well the `Accept` ranges fit `offer`: the most specific range that applies gives the
/// quality ("the most specific reference has precedence", RFC 9110 §12.5.1). `None` if no
/// range applies.
fn best_fit<'a>(accept: impl IntoIterator<Item = &'a [u8]>, offer: Offer) -> Option<Fit> {
    let ranges = accept
        .into_iter()
        .flat_map(|value| split_unquoted(value, b','))
        .map(<[u8]>::trim_ascii)
        // `#rule` lists may hold empty elements (RFC 9110 §5.6.1).
        .filter(|range| !range.is_empty());
    let mut best: Option<Fit> = None;
    for (position, range) in ranges.enumerate() {
        if let Some(fit) = fit(range, position, offer) {
            // Precedence is by specificity alone; at equal specificity the first range counts.
            if best.is_none_or(|b| fit.specificity > b.specificity) {
                best = Some(fit);
            }
        }
    }
    best
}

/// Whether the values of a request's `Accept` fields (all of them, in order: repeated field
/// lines form one list, RFC 9110 §5.3) prefer `application/json` to `text/plain`
/// (RFC 9110 §12.5.1).
///
/// Each type's quality comes from the most specific media range that applies to it. JSON is
/// preferred when its quality is above zero and higher than text's; at equal quality, when the
/// range that gave it is more specific than text's, or as specific and named first. So no
/// `Accept`, `*/*`, `text/*` or `text/plain, application/json` mean text;
/// `application/json`, `application/*`, `application/json, */*;q=0.9` and
/// `application/json, text/plain` mean JSON; `application/json;q=0` never does.
///
/// Parameters other than `q` must match the representation: `charset=utf-8` fits text (and
/// makes a range more specific), any other parameter makes a range not apply to it, and JSON
/// takes none. Malformed ranges (no `/`, a bad token, a `q` that is not a `qvalue`) are
/// ignored, as RFC 9110 §12.5.1 allows.
pub fn prefers_json<'a>(accept: impl IntoIterator<Item = &'a [u8]> + Clone) -> bool {
    let Some(json) = best_fit(accept.clone(), Offer::Json) else {
        return false;
    };
    json.quality > 0 && best_fit(accept, Offer::Text).is_none_or(|text| json > text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues() {
        for (text, thousandths) in [
            (&b"0"[..], Some(0)),
            (b"0.", Some(0)),
            (b"0.5", Some(500)),
            (b"0.05", Some(50)),
            (b"0.001", Some(1)),
            (b"0.999", Some(999)),
            (b"1", Some(1000)),
            (b"1.", Some(1000)),
            (b"1.000", Some(1000)),
            (b"1.001", None),
            (b"0.0001", None),
            (b"2", None),
            (b".5", None),
            (b"", None),
            (b"0.5 ", None),
            (b"-0", None),
            (b"0,5", None),
            (b"0.a", None),
        ] {
            assert_eq!(
                qvalue(text),
                thousandths,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    fn json(accept: &str) -> bool {
        prefers_json([accept.as_bytes()])
    }

    #[test]
    fn what_prefers_json() {
        for accept in [
            "application/json",
            "Application/JSON",
            "application/*",
            "application/json, */*;q=0.9",
            "application/json, text/plain",
            "application/json, text/plain, */*",
            "*/*, application/json",
            "text/*, application/json",
            "text/plain;q=0.5, application/json",
            "text/plain; q=0.4, application/json; q=0.5",
            "application/json;Q=1, text/plain;q=1.0",
            "text/plain;q=0, */*",
            "text/*;q=0, */*;q=0.1",
            "text/plain;format=flowed, application/json;q=0.1",
            "application/json;q=0.5, text/plain;q=0.5",
            ",, application/json ,",
            "text/plain;q=2, application/json",
            "text/plain;q=0.1;x=\"a,b;c\", application/json",
        ] {
            assert!(json(accept), "{accept}");
        }
    }

    #[test]
    fn what_does_not() {
        for accept in [
            "",
            "*/*",
            "text/*",
            "text/plain",
            "text/plain, application/json",
            "text/plain;charset=UTF-8, application/json",
            "text/plain;charset=\"utf-8\", application/json",
            "application/json;q=0",
            "application/json;q=0, */*",
            "application/json;q=0.000, text/plain;q=0",
            "application/json;q=0.5, text/plain",
            "application/json;q=0.5, */*",
            "application/*;q=0.5, text/*",
            "application/json;charset=utf-8",
            "application/json;v=2",
            "application/json;q=x",
            "application/json;q",
            "application/json;q=1.5",
            "application",
            "application/",
            "/json",
            "application/js on",
            "*/json",
            "image/png, application/xml",
            "application/json;q=0.5, text/plain;q=0.5;charset=utf-8",
            "application/json;Q=1, text/plain;q=1.0;charset=utf-8",
            "*/*;charset=utf-8, application/json;q=0.1",
            "application/json;x=\"a, application/json\";q=0",
        ] {
            assert!(!json(accept), "{accept}");
        }
        assert!(!prefers_json([]));
    }

    #[test]
    fn repeated_accept_fields_are_one_list() {
        assert!(prefers_json([
            &b"text/plain;q=0.5"[..],
            b"application/json"
        ]));
        assert!(!prefers_json([&b"text/plain"[..], b"application/json"]));
        assert!(prefers_json([&b"application/json"[..], b"text/plain"]));
        // Equally specific ranges for one type: the first counts.
        assert!(prefers_json([
            &b"application/json"[..],
            b"application/json;q=0"
        ]));
        assert!(!prefers_json([
            &b"application/json;q=0"[..],
            b"application/json"
        ]));
    }

    #[test]
    fn rfc_9110_precedence_example() {
        // RFC 9110 §12.5.1: "Accept: text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed,
        // text/plain;format=fixed;q=0.4, */*;q=0.5" gives text/plain 0.7 and image/jpeg 0.5;
        // application/json, like image/jpeg, gets */*'s 0.5.
        let accept = b"text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, text/plain;format=fixed;q=0.4, */*;q=0.5";
        let text = best_fit([&accept[..]], Offer::Text).unwrap();
        let json = best_fit([&accept[..]], Offer::Json).unwrap();
        assert_eq!((text.quality, json.quality), (700, 500));
        assert!(!prefers_json([&accept[..]]));
        // The most specific range wins, wherever it stands.
        let accept = b"text/plain;charset=utf-8;q=0.2, text/plain;q=0.9, text/*";
        assert_eq!(best_fit([&accept[..]], Offer::Text).unwrap().quality, 200);
    }

    #[test]
    fn quoted_parameter_values() {
        assert!(parameter_value_is(b"utf-8", b"utf-8"));
        assert!(parameter_value_is(b"UTF-8", b"utf-8"));
        assert!(parameter_value_is(b"\"utf-8\"", b"utf-8"));
        assert!(parameter_value_is(b"\"utf\\-8\"", b"utf-8"));
        assert!(!parameter_value_is(b"\"utf-8", b"utf-8"));
        assert!(!parameter_value_is(b"\"utf-\"", b"utf-8"));
        assert!(!parameter_value_is(b"\"utf-88\"", b"utf-8"));
        assert!(!parameter_value_is(b"\"\"", b"utf-8"));
        let pieces: Vec<_> = split_unquoted(b"a;b=\"x;\\\"y\";c", b';').collect();
        assert_eq!(pieces, [&b"a"[..], b"b=\"x;\\\"y\"", b"c"]);
    }
}
