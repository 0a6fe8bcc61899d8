//! Base 64 (RFC 4648 §4), padded: encoding the handshake's `Sec-WebSocket-Accept`, and the
//! decoding that checks a `Sec-WebSocket-Key` is base64 at all.
//!
//! ```text
//! Value Encoding  Value Encoding  Value Encoding  Value Encoding
//!     0 A            17 R            34 i            51 z
//!     ...            ...             ...             ...
//!    16 Q            33 h            50 y            63 /        (pad) =
//! ```

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Not a value of the alphabet, in `VALUES`.
const NONE: u8 = 0xff;

/// Each byte's value in the alphabet, or `NONE`.
static VALUES: [u8; 256] = {
    let mut values = [NONE; 256];
    let mut i = 0;
    while i < 64 {
        values[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    values
};

/// The length of `n` bytes encoded: "each 24-bit input group is ... output as a string of
/// 4 encoded characters" and a final partial group is padded to 4 (§4).
pub const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Writes `input` encoded into `out`, which must be `encoded_len(input.len())` bytes long.
pub fn encode_into(input: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), encoded_len(input.len()), "base64 output size");
    for (group, chars) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let bits = match *group {
            [a, b, c] => u32::from_be_bytes([0, a, b, c]),
            [a, b] => u32::from_be_bytes([0, a, b, 0]),
            [a] => u32::from_be_bytes([0, a, 0, 0]),
            _ => unreachable!("chunks(3) gives 1 to 3 bytes"),
        };
        for (k, char) in chars.iter_mut().enumerate() {
            *char = ALPHABET[(bits >> (18 - 6 * k) & 63) as usize];
        }
        // (2) "The final quantum ... is exactly 8 bits; here, the final unit of encoded output
        // will be two characters followed by two "=" padding characters", (3) 16 bits: three
        // characters and one "=".
        for char in &mut chars[group.len() + 1..] {
            *char = b'=';
        }
    }
}

/// Appends `input` encoded to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(input.len()), 0);
    encode_into(input, &mut out[start..]);
}

/// What is wrong with an encoding: the reason and the offset of the byte that shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub reason: &'static str,
    pub at: usize,
}

const NOT_QUADS: &str = "length not a multiple of 4";
const OUTSIDE: &str = "a byte outside the base64 alphabet";
const BAD_PAD: &str = "padding \"=\" other than one or two at the end";

/// Decodes `input` into `out` (at least `input.len() / 4 * 3` bytes) and gives the bytes
/// decoded. Only the canonical form is read: padded to whole quanta, no whitespace, no line
/// breaks (§3.1, §3.3: "Implementations MUST reject the encoded data if it contains
/// characters outside the base alphabet"). The bits a pad leaves unused are not checked
/// (§3.5: decoders "MAY" reject them), as Node's `ws` and Python's `websockets` do not.
pub fn decode<'o>(input: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], Invalid> {
    if !input.len().is_multiple_of(4) {
        return Err(Invalid {
            reason: NOT_QUADS,
            at: input.len(),
        });
    }
    // One or two "=" may end the last quantum, nothing else may be "=".
    let pad = match input {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    let mut len = 0;
    for (q, quantum) in input.chunks_exact(4).enumerate() {
        let last = (q + 1) * 4 == input.len();
        let used = if last { 4 - pad } else { 4 };
        let mut bits = 0u32;
        for (k, &char) in quantum.iter().enumerate() {
            let value = if k < used {
                VALUES[usize::from(char)]
            } else {
                0
            };
            if value == NONE {
                let reason = if char == b'=' { BAD_PAD } else { OUTSIDE };
                return Err(Invalid {
                    reason,
                    at: q * 4 + k,
                });
            }
            bits = bits << 6 | u32::from(value);
        }
        let bytes = &bits.to_be_bytes()[1..used];
        out[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    }
    Ok(&out[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(input: &[u8]) -> String {
        let mut out = Vec::new();
        encode(input, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn decoded(input: impl AsRef<[u8]>) -> Result<Vec<u8>, Invalid> {
        let input = input.as_ref();
        let mut out = vec![0; input.len() / 4 * 3];
        decode(input, &mut out).map(<[u8]>::to_vec)
    }

    /// RFC 4648 §10, both ways.
    #[test]
    fn rfc_4648_test_vectors() {
        for (plain, encoding) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encoded(plain.as_bytes()), encoding);
            assert_eq!(encoded_len(plain.len()), encoding.len());
            assert_eq!(
                decoded(encoding),
                Ok(plain.as_bytes().to_vec()),
                "{encoding}"
            );
        }
    }

    #[test]
    fn every_byte_value_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let text = encoded(&all[len..]);
            assert_eq!(decoded(&text), Ok(all[len..].to_vec()));
        }
        let mut out = b"x".to_vec();
        encode(b"\xfb\xff", &mut out);
        assert_eq!(out, b"x+/8=", "the last two values, appended");
    }

    #[test]
    fn rejections_name_the_byte() {
        let invalid = |reason, at| Err(Invalid { reason, at });
        for (text, expected) in [
            ("Zg=", invalid(NOT_QUADS, 3)),
            ("Zm9vY", invalid(NOT_QUADS, 5)),
            ("Zm9v Yg==", invalid(NOT_QUADS, 9)),
            ("Zm9vYgo\n", invalid(OUTSIDE, 7)),
            ("Zm9-", invalid(OUTSIDE, 3)),
            ("Zm_v", invalid(OUTSIDE, 2)),
            ("Zm9\u{7f}", invalid(OUTSIDE, 3)),
            ("Zm\0v", invalid(OUTSIDE, 2)),
            ("Z===", invalid(BAD_PAD, 1)),
            ("====", invalid(BAD_PAD, 0)),
            ("Zg==Zg==", invalid(BAD_PAD, 2)),
            ("Z=9v", invalid(BAD_PAD, 1)),
            ("Zm=v", invalid(BAD_PAD, 2)),
        ] {
            assert_eq!(decoded(text), expected, "{text:?}");
        }
        assert_eq!(decoded(b"Zm9\xe9"), invalid(OUTSIDE, 3));
        // Unused pad bits need not be zero: "Zh==" is "f" too.
        assert_eq!(decoded("Zh=="), Ok(b"f".to_vec()));
        assert_eq!(decoded("Zm9="), Ok(b"fo".to_vec()));
    }
}
