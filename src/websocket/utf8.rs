//! UTF-8 validation (RFC 3629) fed in pieces: a text message's payload arrives in frames, and
//! each frame in reads, cut anywhere, even inside a code point. RFC 6455 §8.1: "When an
//! endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in
//! fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_." The
//! validator says which byte first makes the text invalid, so the session fails on it (fail
//! fast), not at the end of the message. It accepts exactly what `std::str::from_utf8` does.

/// The state between pieces: how many continuation bytes the code point begun still needs,
/// and the range the next one must fall in.
///
/// ```text
/// UTF8-octets = *( UTF8-char )
/// UTF8-char   = UTF8-1 / UTF8-2 / UTF8-3 / UTF8-4
/// UTF8-1      = %x00-7F
/// UTF8-2      = %xC2-DF UTF8-tail
/// UTF8-3      = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
///               %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
/// UTF8-4      = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
///               %xF4 %x80-8F 2( UTF8-tail )
/// UTF8-tail   = %x80-BF
/// ```
///
/// The narrow second-byte ranges are what rule out overlong forms (after E0 and F0),
/// surrogates U+D800-DFFF (after ED) and code points past U+10FFFF (after F4); C0, C1 and
/// F5-FF never start a character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8 {
    need: u8,
    low: u8,
    high: u8,
}

impl Default for Utf8 {
    fn default() -> Utf8 {
        Utf8::new()
    }
}

/// The high bit of each byte of a word: a word of ASCII has none of them.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// A word of the 8 bytes of `chunk`.
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    u64::from_ne_bytes(word)
}

/// How many bytes at the start of `bytes` are ASCII. Most text is: 32 bytes a step while no
/// byte has its high bit, then 8, then one.
#[inline(always)]
fn ascii_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    for block in bytes.chunks_exact(32) {
        let (a, b) = block.split_at(16);
        let any = word(&a[..8]) | word(&a[8..]) | word(&b[..8]) | word(&b[8..]);
        if any & HIGH_BITS != 0 {
            break;
        }
        i += 32;
    }
    for chunk in bytes[i..].chunks_exact(8) {
        if word(chunk) & HIGH_BITS != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] < 0x80 {
        i += 1;
    }
    i
}

impl Utf8 {
    pub const fn new() -> Utf8 {
        Utf8 {
            need: 0,
            low: 0x80,
            high: 0xBF,
        }
    }

    /// No code point is left unfinished: the text so far could end here.
    pub const fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Reads the next piece of the text. `Err(i)`: `bytes[i]` is the first byte that no valid
    /// text can have where it is; the state is then of no use.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.need > 0 {
                // UTF8-tail, in the range the lead byte allows.
                if bytes[i] < self.low || bytes[i] > self.high {
                    return Err(i);
                }
                self.need -= 1;
                self.low = 0x80;
                self.high = 0xBF;
                i += 1;
                continue;
            }
            i += ascii_len(&bytes[i..]);
            let Some(&lead) = bytes.get(i) else {
                break;
            };
            (self.need, self.low, self.high) = match lead {
                0xC2..=0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                0xED => (2, 0x80, 0x9F),
                0xF0 => (3, 0x90, 0xBF),
                0xF1..=0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                // 80-BF (a tail with no lead), C0-C1 (overlong), F5-FF (past U+10FFFF).
                _ => return Err(i),
            };
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `std::str::from_utf8` says of `bytes`, in the validator's terms: `Ok(complete)`,
    /// or `Err(i)` with `bytes[i]` the first byte that cannot be there.
    fn std_says(bytes: &[u8]) -> Result<bool, usize> {
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(true),
            Err(e) => match e.error_len() {
                // The text ends inside a character that could still be finished.
                None => Ok(false),
                // After a good lead byte, the bad byte is the first the sequence could not
                // take; otherwise it is the lead byte itself.
                Some(len) => {
                    let at = e.valid_up_to();
                    Err(if (0xC2..=0xF4).contains(&bytes[at]) {
                        at + len
                    } else {
                        at
                    })
                }
            },
        }
    }

    fn validator_says(pieces: &[&[u8]]) -> Result<bool, usize> {
        let mut utf8 = Utf8::new();
        let mut offset = 0;
        for piece in pieces {
            utf8.feed(piece).map_err(|i| offset + i)?;
            offset += piece.len();
        }
        Ok(utf8.is_complete())
    }

    /// The validator agrees with std on `bytes` whole, cut once anywhere, and byte by byte.
    fn agrees(bytes: &[u8]) {
        let expected = std_says(bytes);
        let shown = format!("{bytes:02x?}");
        assert_eq!(validator_says(&[bytes]), expected, "{shown}");
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(validator_says(&[a, b]), expected, "{shown} cut at {at}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(validator_says(&bytewise), expected, "{shown} byte by byte");
    }

    /// Markus Kuhn's "UTF-8 decoder capability and stress test", the cases Autobahn's 6.x
    /// sends, each alone and between ASCII (so that the word-wise path meets them).
    #[test]
    fn kuhn_stress_test() {
        let cases: &[&[u8]] = &[
            // 1: "κόσμε"
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
            // 2.1 first possible sequence of each length (2.1.1 is U+0000)
            b"\x00",
            b"\xc2\x80",
            b"\xe0\xa0\x80",
            b"\xf0\x90\x80\x80",
            // 2.1.5, 2.1.6: five and six byte sequences, no longer UTF-8
            b"\xf8\x88\x80\x80\x80",
            b"\xfc\x84\x80\x80\x80\x80",
            // 2.2 last possible sequence of each length
            b"\x7f",
            b"\xdf\xbf",
            b"\xef\xbf\xbf",
            b"\xf4\x8f\xbf\xbf",
            b"\xf7\xbf\xbf\xbf",
            // 2.3 other boundary conditions
            b"\xed\x9f\xbf",
            b"\xee\x80\x80",
            b"\xef\xbf\xbd",
            b"\xf4\x90\x80\x80",
            // 3.1 unexpected continuation bytes
            b"\x80",
            b"\xbf",
            b"\x80\xbf",
            b"\x80\xbf\x80\xbf\x80\xbf\x80",
            // 3.2 lonely start characters, each followed by a space
            b"\xc0 \xc1 \xdf ",
            b"\xe0 \xef ",
            b"\xf0 \xf7 ",
            b"\xf8 \xfb ",
            b"\xfc \xfd ",
            // 3.3 sequences with the last continuation byte missing
            b"\xc0",
            b"\xe0\x80",
            b"\xf0\x80\x80",
            b"\xdf",
            b"\xef\xbf",
            b"\xf7\xbf\xbf",
            b"\xe1\x80",
            b"\xf1\x80\x80",
            b"\xf4\x8f\xbf",
            // 3.4 the same, concatenated
            b"\xc0\xe0\x80\xf0\x80\x80\xf8\x88\x80\x80\xdf\xef\xbf\xf7\xbf\xbf",
            // 3.5 impossible bytes
            b"\xfe",
            b"\xff",
            b"\xfe\xfe\xff\xff",
            // 4.1, 4.2, 4.3 overlong forms of "/", the largest overlongs, NUL
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xf0\x80\x80\xaf",
            b"\xc1\xbf",
            b"\xe0\x9f\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xc0\x80",
            b"\xe0\x80\x80",
            b"\xf0\x80\x80\x80",
            // 5.1, 5.2 single and paired UTF-16 surrogates
            b"\xed\xa0\x80",
            b"\xed\xad\xbf",
            b"\xed\xae\x80",
            b"\xed\xaf\xbf",
            b"\xed\xb0\x80",
            b"\xed\xbe\x80",
            b"\xed\xbf\xbf",
            b"\xed\xa0\x80\xed\xb0\x80",
            b"\xed\xaf\xbf\xed\xbf\xbf",
            // 5.3 noncharacters: valid UTF-8
            b"\xef\xbf\xbe",
            b"\xef\xbf\xbf",
            b"\xef\xb7\x90",
            b"\xf4\x8f\xbf\xbe",
            // Autobahn 6.4.x: valid text, then a code point past U+10FFFF, then more.
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
        ];
        for case in cases {
            agrees(case);
            let padded = [
                b"0123456789abcdefghijklmnopqrstuvwxyz01234567",
                *case,
                b"ABCDEFGHIJKL",
            ]
            .concat();
            agrees(&padded);
        }
    }

    /// Every sequence of one or two bytes, and of three bytes from a lead byte up; then four
    /// bytes from each lead with every second byte.
    #[test]
    fn every_short_sequence() {
        let mut three = [0u8; 3];
        for a in 0..=255u8 {
            assert_eq!(validator_says(&[&[a]]), std_says(&[a]));
            for b in 0..=255u8 {
                assert_eq!(validator_says(&[&[a, b]]), std_says(&[a, b]));
                if a < 0xC0 {
                    continue;
                }
                three[..2].copy_from_slice(&[a, b]);
                for c in 0..=255u8 {
                    three[2] = c;
                    assert_eq!(validator_says(&[&three]), std_says(&three), "{three:02x?}");
                }
                for d in [0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff] {
                    let four = [a, b, 0x80, d];
                    assert_eq!(validator_says(&[&four]), std_says(&four), "{four:02x?}");
                }
            }
        }
    }

    /// Bytes the word-wise path must not take for ASCII: two bad bytes at the same place of two
    /// words of a block (an XOR of the words would lose them), and words of 0x80 (every high
    /// bit and nothing else), in a block of 32 and in a word of 8.
    #[test]
    fn non_ascii_the_words_must_see() {
        for first in 0..4 {
            for second in 0..4 {
                for offset in [0, 3, 7] {
                    let mut block = [b'a'; 40];
                    block[first * 8 + offset] = 0xFF;
                    block[second * 8 + offset] = 0xFF;
                    agrees(&block);
                }
            }
        }
        for at in [0, 8, 16, 24, 32] {
            let mut bytes = [0u8; 48];
            bytes[at..at + 8].fill(0x80);
            agrees(&bytes);
            agrees(&bytes[..at + 8]);
        }
    }

    /// Long text, mostly ASCII with characters of every length around the word boundaries, cut
    /// everywhere; then with one byte broken at each position.
    #[test]
    fn long_mixed_text_against_std() {
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&"a".repeat(i % 37));
            text.push(['é', '€', '😀', 'κ', '\u{7f}', '\u{10ffff}'][i % 6]);
        }
        let bytes = text.into_bytes();
        agrees(&bytes);
        for at in (0..bytes.len()).step_by(7) {
            for bad in [0x80, 0xc0, 0xed, 0xf4, 0xff] {
                let mut broken = bytes.clone();
                broken[at] = bad;
                agrees(&broken);
            }
        }
    }
}
