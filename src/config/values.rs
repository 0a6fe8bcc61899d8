//! The value grammars the flags' setters share: numbers in a range, whole seconds, switches,
//! shares (`--fail-rate`), and field lines (`--header`) with the names they may not set.

use std::time::Duration;

use crate::http::scan;

/// The names `--header` refuses: the framing and hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112
/// §6), and those `whod` writes itself. No request can choose a response header either.
pub const OWNED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "host",
    "date",
    "content-type",
    "x-content-type-options",
    "vary",
    "allow",
];

/// `Name: value`, as `--header` takes it: a token, a colon, a value of visible ASCII, spaces
/// and tabs (what RFC 9110 §5.5 allows but obs-text), trimmed; not a name `whod` owns.
pub fn field_line(line: &str) -> Result<(String, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("{line:?} is not NAME: VALUE"));
    };
    if name.is_empty() || !name.bytes().all(scan::is_token) {
        return Err(format!("{name:?} is not a field name"));
    }
    let value = value.trim_matches([' ', '\t']);
    if let Some(bad) = value
        .bytes()
        .find(|&b| !(b.is_ascii_graphic() || b == b' ' || b == b'\t'))
    {
        return Err(format!(
            "the value of {name} holds the byte {bad:#04x}: only visible ASCII, spaces and tabs"
        ));
    }
    if OWNED_HEADERS
        .iter()
        .any(|owned| name.eq_ignore_ascii_case(owned))
        || name.to_ascii_lowercase().starts_with("sec-websocket-")
    {
        return Err(format!(
            "{name} is a field whod writes itself, or one that frames the message"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A share as `--fail-rate` takes it: a decimal 0-1 with at most six decimals (`0.2`), or a
/// percentage (`20%`, `0.5%`); in millionths.
pub fn rate(value: &str) -> Result<u32, String> {
    let expected = || "expected a share such as 0.2 or 20%, from 0 to 1".to_string();
    let (text, scale) = match value.strip_suffix('%') {
        Some(percent) => (percent, 10_000u64),
        None => (value, 1_000_000u64),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || fraction.len() > 6
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        || whole.len() > 3
    {
        return Err(expected());
    }
    let decimals = fraction.len() as u32;
    let number: u64 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| expected())?;
    let millionths = number * scale / 10u64.pow(decimals);
    // A fraction that does not fall on a millionth would be rounded: refuse it.
    if millionths * 10u64.pow(decimals) != number * scale || millionths > 1_000_000 {
        return Err(expected());
    }
    Ok(millionths as u32)
}

/// Millionths as `rate` reads them back: `0.2`, `0.000001`, `1`.
pub fn show_rate(millionths: u32) -> String {
    match (millionths / 1_000_000, millionths % 1_000_000) {
        (whole, 0) => whole.to_string(),
        (whole, fraction) => format!("{whole}.{}", format!("{fraction:06}").trim_end_matches('0')),
    }
}

pub fn number(value: &str, min: u64, max: u64, expected: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("expected {expected}")),
    }
}

/// Whole seconds from `min` to a day.
pub fn seconds(value: &str, min: u64) -> Result<Duration, String> {
    number(value, min, 86_400, &format!("whole seconds {min}-86400")).map(Duration::from_secs)
}

/// A switch's value: 1/true/yes/on or 0/false/no/off (any case).
pub fn switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected 1/true/yes/on or 0/false/no/off".to_string()),
    }
}

pub fn on_off(on: bool) -> String {
    if on { "on" } else { "off" }.to_string()
}
