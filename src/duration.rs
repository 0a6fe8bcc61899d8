//! Durations as `whod` reads and writes them: `?delay=250ms`, `--max-delay 2s`. Whole
//! milliseconds or seconds only, so that a value reads back exactly as it was shown.

use std::time::Duration;

/// A duration as `?delay=` and `--max-delay` take it: whole milliseconds (`250ms`) or seconds
/// (`2s`), at most 9 digits.
pub fn parse_duration(text: &[u8]) -> Option<Duration> {
    let (digits, unit) = if let Some(ms) = text.strip_suffix(b"ms") {
        (ms, Duration::from_millis(1))
    } else {
        (text.strip_suffix(b"s")?, Duration::from_secs(1))
    };
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    Some(unit * n)
}

/// `10s`, or `250ms` when not whole seconds: what `parse_duration` reads back.
pub fn show_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_shown() {
        for (text, duration) in [
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("0ms", Duration::ZERO),
            ("999999999ms", Duration::from_millis(999_999_999)),
        ] {
            assert_eq!(parse_duration(text.as_bytes()), Some(duration), "{text}");
        }
        for duration in [Duration::from_secs(10), Duration::from_millis(1500)] {
            assert_eq!(
                parse_duration(show_duration(duration).as_bytes()),
                Some(duration)
            );
        }
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "1.5s",
            "5",
            "ms",
            "s",
            "-1s",
            "1m",
            "",
            "1000000000ms",
            "2 s",
            "2S",
            "+2s",
        ] {
            assert_eq!(parse_duration(bad.as_bytes()), None, "{bad}");
        }
    }
}
