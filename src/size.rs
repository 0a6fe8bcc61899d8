//! Sizes as `whod` reads and writes them: `?size=10MiB`, `--max-body 1GiB`. A number of bytes,
//! with an optional unit: `KB`, `MB`, `GB`, `TB` are powers of 1000, `KiB`, `MiB`, `GiB`, `TiB`
//! powers of 1024 (IEC 80000-13), `B` or none are bytes. Units take any case, but `b` alone is
//! not a unit (bits would be a surprise).

/// The units, longest first so that `KiB` is not read as `K` + `iB`.
const UNITS: [(&str, u64); 9] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

/// A size in bytes: digits (at most 15), then an optional unit. `None` for anything else, or
/// past `u64::MAX`.
pub fn parse_size(text: &[u8]) -> Option<u64> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let (number, unit) = text.split_at(digits);
    let n = number
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    let scale = if unit.is_empty() {
        1
    } else if unit == b"b" {
        return None;
    } else {
        UNITS
            .iter()
            .find(|(name, _)| unit.eq_ignore_ascii_case(name.as_bytes()))?
            .1
    };
    n.checked_mul(scale)
}

/// `100MiB`, `1500B`: the largest IEC unit that divides the size; what `parse_size` reads back.
pub fn show_size(bytes: u64) -> String {
    for (name, scale) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{}{name}", bytes / scale);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        for (text, bytes) in [
            ("0", 0),
            ("1", 1),
            ("512B", 512),
            ("1KB", 1_000),
            ("1kib", 1_024),
            ("10MiB", 10 << 20),
            ("10MB", 10_000_000),
            ("2GiB", 2 << 30),
            ("1TB", 1_000_000_000_000),
            ("1tib", 1 << 40),
            ("999999999999999", 999_999_999_999_999),
        ] {
            assert_eq!(parse_size(text.as_bytes()), Some(bytes), "{text}");
        }
        for bad in [
            "",
            "B",
            "1b",
            "1 KiB",
            "-1",
            "+1",
            "1.5MiB",
            "1KiBB",
            "0x10",
            "1e6",
            "1M",
            "1000000000000000",
            "999999999999999TiB",
        ] {
            assert_eq!(parse_size(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn sizes_read_back_as_shown() {
        for bytes in [0, 1, 1000, 1024, 1536, 100 << 20, 3 << 30, 5 << 40] {
            assert_eq!(parse_size(show_size(bytes).as_bytes()), Some(bytes));
        }
        assert_eq!(show_size(100 << 20), "100MiB");
        assert_eq!(show_size(1536), "1536B");
        assert_eq!(show_size(0), "0B");
    }
}
