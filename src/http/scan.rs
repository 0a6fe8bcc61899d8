//! Where a run of allowed bytes ends, as fast as plain Rust allows: a byte table per grammar
//! rule, four lookups per step for the short runs (methods, names, hosts), and eight bytes at a
//! time in one `u64` for the long ones (targets, field values). The parser (`request.rs`) says
//! what each run is; this file only finds where it ends.

/// A table of the bytes allowed somewhere: ALPHA, DIGIT and `extra`.
const fn byte_table(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
///        / "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2); `token = 1*tchar`.
pub(crate) static TOKEN: [bool; 256] = byte_table(b"!#$%&'*+-.^_`|~");

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2), with the
/// characters of an IP address; `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`,
/// `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`.
pub(crate) static HOST: [bool; 256] = byte_table(b"-._~%!$&'()*+,;=");

/// `DIGIT`, for the port.
pub(crate) static DIGIT: [bool; 256] = {
    let mut table = [false; 256];
    let mut digit = b'0';
    while digit <= b'9' {
        table[digit as usize] = true;
        digit += 1;
    }
    table
};

pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// The request target is kept to `VCHAR` (%x21-7E): no spaces, no controls, no raw UTF-8.
pub(crate) fn is_target(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// `field-value = *field-content`; `field-vchar = VCHAR / obs-text`, with SP and HTAB inside.
/// NUL, CR, LF and the other controls are refused (RFC 9110 §5.5).
pub(crate) fn is_field_value(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

// Word-at-a-time scanning (SWAR): the request target and field values, the long runs of a
// head, are tested eight bytes per step, as one u64, where a byte-at-a-time loop spends a load,
// a compare and a branch on each byte. A test sets the high bit of each byte of the word that it finds,
// exactly per byte (no carry crosses into the next byte), so the lowest set bit marks the first
// such byte: the word is read little-endian, first byte lowest, whatever the machine.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGH_BITS: u64 = ONES * 0x80;

/// For `low7`, a word whose bytes are below 0x80: the high bit of each byte that is at least
/// `n` (the other bits are noise). Adding 0x80 - n to a byte of seven bits reaches its high
/// bit exactly when the byte is at least n, and never carries out of it.
const fn at_least(low7: u64, n: u8) -> u64 {
    low7 + ONES * (0x80 - n as u64)
}

/// For `low7` as above: the high bit of each byte outside `low..=high` (noise elsewhere).
const fn outside(low7: u64, low: u8, high: u8) -> u64 {
    !at_least(low7, low) | at_least(low7, high + 1)
}

/// The bytes of `word` that are not VCHAR (%x21-7E), which ends a request target.
const fn not_vchar(word: u64) -> u64 {
    (word | outside(word & !HIGH_BITS, 0x21, 0x7e)) & HIGH_BITS
}

/// The bytes of `word` that are a control or DEL: where a field value ends, or its HTAB.
const fn control(word: u64) -> u64 {
    outside(word & !HIGH_BITS, 0x20, 0x7e) & !word & HIGH_BITS
}

/// The index of the first byte of `bytes` from `i` on that `stops` (or the length): eight at a
/// time, found by `stops_word`, while eight remain, then one at a time.
#[inline(always)]
fn scan(
    bytes: &[u8],
    mut i: usize,
    stops_word: impl Fn(u64) -> u64,
    stops: impl Fn(u8) -> bool,
) -> usize {
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let found = stops_word(u64::from_le_bytes(*word));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !stops(bytes[i]) {
        i += 1;
    }
    i
}

/// The index of the first byte of `bytes` from `i` on that `table` does not allow (or the
/// length). Four bytes per step, then one at a time: the four lookups of a step do not wait on
/// one another, and the loop's compare and branch are paid once for four bytes. (The runs this
/// scans, methods, field names and hosts, are too short for a word at a time to pay.)
#[inline(always)]
pub(crate) fn run_end(bytes: &[u8], mut i: usize, table: &[bool; 256]) -> usize {
    while let Some(&[a, b, c, d]) = bytes.get(i..).and_then(<[u8]>::first_chunk::<4>) {
        if !(table[a as usize] & table[b as usize] & table[c as usize] & table[d as usize]) {
            break;
        }
        i += 4;
    }
    while i < bytes.len() && table[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// The index of the first byte of `bytes` from `i` on that is not a `tchar` (or the length).
pub(crate) fn token_end(bytes: &[u8], i: usize) -> usize {
    run_end(bytes, i, &TOKEN)
}

/// The end of the request target that starts at `i`: the first byte that is not VCHAR.
pub(crate) fn target_end(bytes: &[u8], i: usize) -> usize {
    scan(bytes, i, not_vchar, |b| !is_target(b))
}

/// The end of the field value that starts at `i`: the first control other than HTAB, or DEL
/// (CR and LF among them).
pub(crate) fn field_value_end(bytes: &[u8], mut i: usize) -> usize {
    loop {
        // HTAB, rare inside a value, stops the scan, which then goes on after it.
        i = scan(bytes, i, control, |b| b < 0x20 || b == 0x7f);
        if bytes.get(i) != Some(&b'\t') {
            return i;
        }
        i += 1;
    }
}

/// `bytes` is `lower` (lowercase letters, digits and `-`), ignoring ASCII case. OR-ing 0x20
/// into a byte lowercases a letter and keeps a digit or `-`; the only other bytes it maps onto
/// those are controls other than HTAB (0x09 becomes `)`), which neither a token nor a field
/// value holds. So for a field name or value this is `eq_ignore_ascii_case`, without its
/// per-byte case conversion.
pub(crate) fn is_named(bytes: &[u8], lower: &[u8]) -> bool {
    // Differences OR-ed together rather than an early exit: the compiler compares whole words.
    bytes.len() == lower.len()
        && bytes
            .iter()
            .zip(lower)
            .fold(0, |differ, (&b, &l)| differ | ((b | 0x20) ^ l))
            == 0
}

/// `bytes` starts with "Host:", the name in any case. Eight bytes are read as one word, the
/// four of the name lowercased by OR-ing 0x20 (exact: only 'H' and 'h' become 'h', and so on).
pub(crate) fn is_host_colon(bytes: &[u8]) -> bool {
    const NAME_AND_COLON: u64 = 0xff_ffff_ffff;
    const LOWERCASE: u64 = 0x2020_2020;
    bytes.first_chunk::<8>().is_some_and(|word| {
        (u64::from_le_bytes(*word) & NAME_AND_COLON) | LOWERCASE
            == u64::from_le_bytes(*b"host:\0\0\0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::Rng;

    /// The word-at-a-time tests say what the byte tests say, for every byte at every position
    /// of a word, whatever its neighbours: a carry from one byte into the next would show here.
    #[test]
    fn word_tests_agree_with_byte_tests() {
        let mut rng = Rng(0x0bad_c0de_1234_5678);
        for _ in 0..64 {
            let mut bytes = rng.next_u64().to_le_bytes();
            for position in 0..8 {
                for b in 0..=255 {
                    bytes[position] = b;
                    let word = u64::from_le_bytes(bytes);
                    for (k, &byte) in bytes.iter().enumerate() {
                        let marked = |found: u64| (found >> (8 * k)) & 0xff == 0x80;
                        let unmarked = |found: u64| (found >> (8 * k)) & 0xff == 0;
                        let (target, control_or_del) = (not_vchar(word), control(word));
                        assert!(marked(target) != is_target(byte), "{byte:#x} in {word:#x}");
                        assert!(marked(target) || unmarked(target));
                        let expected = byte < 0x20 || byte == 0x7f;
                        assert!(marked(control_or_del) == expected, "{byte:#x} in {word:#x}");
                        assert!(marked(control_or_del) || unmarked(control_or_del));
                    }
                }
            }
        }
    }

    #[test]
    fn scans_find_the_first_byte_that_stops_them() {
        let value = b"a\tb c\xff\t\td e f g h i\r\n";
        for start in 0..value.len() {
            let expected = (start..value.len())
                .find(|&i| !is_field_value(value[i]))
                .unwrap_or(value.len());
            assert_eq!(field_value_end(value, start), expected, "from {start}");
            // Cut short, the value ends where the bytes do (or at the CR).
            assert_eq!(
                field_value_end(&value[..start], 0),
                start.min(value.len() - 2)
            );
        }
        let target = b"/a/very/long/path?with=query&and=more HTTP/1.1";
        for start in 0..target.len() {
            let expected = (start..target.len())
                .find(|&i| !is_target(target[i]))
                .unwrap_or(target.len());
            assert_eq!(target_end(target, start), expected, "from {start}");
        }
        let name = b"X-Forwarded-For_Or~That: v";
        for start in 0..name.len() {
            let expected = (start..name.len())
                .find(|&i| !is_token(name[i]))
                .unwrap_or(name.len());
            assert_eq!(token_end(name, start), expected, "from {start}");
            assert_eq!(token_end(&name[..start], 0), start.min(23));
        }
    }

    /// A run scanned four bytes per step stops at its first byte that is not allowed,
    /// wherever that byte falls in a step.
    #[test]
    fn runs_stop_at_their_first_byte_not_allowed() {
        for len in 0..12 {
            for stop in [b':', b' ', b'(', b'\r', 0x80] {
                let mut name = vec![b'a'; len];
                name.push(stop);
                name.extend_from_slice(b"bcdefgh");
                assert_eq!(token_end(&name, 0), len, "{name:?}");
                name[..len].fill(b'9');
                assert_eq!(run_end(&name, 0, &DIGIT), len, "{name:?}");
            }
        }
        assert_eq!(run_end(b"0123456789", 0, &DIGIT), 10);
        assert_eq!(run_end(b"/:", 0, &DIGIT), 0);
        assert_eq!(run_end(b"12345", 1, &DIGIT), 5);
    }

    /// Case-folding by OR-ing 0x20 is `eq_ignore_ascii_case` for every byte a name or a value
    /// may hold, against every byte the five names and their values are made of.
    #[test]
    fn names_compare_as_eq_ignore_ascii_case() {
        for b in (0..=255u8).filter(|&b| is_field_value(b)) {
            for &l in b"abcdefghijklmnopqrstuvwxyz0123456789-" {
                assert_eq!(
                    is_named(&[b], &[l]),
                    [b].eq_ignore_ascii_case(&[l]),
                    "{b:#x} {l:#x}"
                );
            }
        }
        assert!(is_named(b"Content-LENGTH", b"content-length"));
        assert!(!is_named(b"Content-Lengt", b"content-length"));
        // Two differences that would cancel if they were XOR-ed rather than OR-ed together.
        assert!(!is_named(b"hots", b"host"));
        let mut line = *b"Host: a\r\n";
        assert!(is_host_colon(&line));
        assert!(
            !is_host_colon(&line[..7]),
            "fewer than eight bytes: the general path"
        );
        for position in 0..5 {
            for b in 0..=255 {
                line[position] = b;
                let expected = line[..4].eq_ignore_ascii_case(b"host") && line[4] == b':';
                assert_eq!(is_host_colon(&line), expected, "{line:?}");
            }
            line[position] = b"Host:"[position];
        }
    }
}
