//! SHA-1 (RFC 3174, FIPS 180-1), for one use only: the handshake's `Sec-WebSocket-Accept`,
//! which RFC 6455 §4.2.2 defines as the SHA-1 of the client's key and a fixed GUID. SHA-1 is
//! broken for signatures; here it proves nothing but that the server read the key.

/// The initial hash value H0..H4 (RFC 3174 §6.1).
const H: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// A running SHA-1: `update` with the bytes in order, in pieces of any size, then `finish`.
#[derive(Clone)]
pub struct Sha1 {
    h: [u32; 5],
    /// The block being filled; `len % 64` of its bytes are the message's.
    block: [u8; 64],
    /// Bytes given so far.
    len: u64,
}

impl Default for Sha1 {
    fn default() -> Sha1 {
        Sha1::new()
    }
}

impl Sha1 {
    pub const fn new() -> Sha1 {
        Sha1 {
            h: H,
            block: [0; 64],
            len: 0,
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let filled = (self.len % 64) as usize;
            let take = bytes.len().min(64 - filled);
            self.block[filled..filled + take].copy_from_slice(&bytes[..take]);
            self.len += take as u64;
            bytes = &bytes[take..];
            if filled + take == 64 {
                compress(&mut self.h, &self.block);
            }
        }
    }

    /// The digest of every byte given.
    ///
    /// RFC 3174 §4: "append the bit 1 ... then append zeros ... the last 64 bits of the last
    /// 512-bit block are reserved for the length l of the original message" (in bits).
    pub fn finish(mut self) -> [u8; 20] {
        let bits = self.len.wrapping_mul(8);
        self.update(&[0x80]);
        while self.len % 64 != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut digest = [0; 20];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.h) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

/// The SHA-1 of `bytes`.
pub fn sha1(bytes: &[u8]) -> [u8; 20] {
    let mut sha = Sha1::new();
    sha.update(bytes);
    sha.finish()
}

/// One 512-bit block (RFC 3174 §6.1, method 1).
fn compress(h: &mut [u32; 5], block: &[u8; 64]) {
    // a. W(0)..W(15) are the block's words, big-endian.
    let mut w = [0u32; 80];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    // b. W(t) = S^1(W(t-3) XOR W(t-8) XOR W(t-14) XOR W(t-16)).
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }
    // c. A = H0, B = H1, C = H2, D = H3, E = H4.
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    // d. TEMP = S^5(A) + f(t;B,C,D) + E + W(t) + K(t); E = D; D = C; C = S^30(B); B = A;
    //    A = TEMP, with f and K from §5:
    for (t, &word) in w.iter().enumerate() {
        let (f, k) = match t {
            // f(t;B,C,D) = (B AND C) OR ((NOT B) AND D)
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            // f(t;B,C,D) = B XOR C XOR D
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            // f(t;B,C,D) = (B AND C) OR (B AND D) OR (C AND D)
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(word)
            .wrapping_add(k);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    // e. H0 = H0 + A, ..., H4 = H4 + E.
    for (word, add) in h.iter_mut().zip([a, b, c, d, e]) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: [u8; 20]) -> String {
        digest.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// RFC 3174 §7.3's four tests, each repeated as its `repeatcount` says.
    #[test]
    fn rfc_3174_test_vectors() {
        let cases: [(&[u8], usize, &str); 4] = [
            (b"abc", 1, "A9993E364706816ABA3E25717850C26C9CD0D89D"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                1,
                "84983E441C3BD26EBAAE4AA1F95129E5E54670F1",
            ),
            (b"a", 1_000_000, "34AA973CD4C4DAA4F61EEB2BDBAD27316534016F"),
            (
                b"0123456701234567012345670123456701234567012345670123456701234567",
                10,
                "DEA356A2CDDD90C7A7ECEDC5EBB563934F460452",
            ),
        ];
        for (text, repeat, expected) in cases {
            let mut sha = Sha1::new();
            for _ in 0..repeat {
                sha.update(text);
            }
            assert_eq!(
                hex(sha.finish()),
                expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(hex(sha1(&text.repeat(repeat))), expected);
        }
    }

    /// Lengths around the padding's edges: 55 bytes leave room for the length in the same
    /// block, 56 do not; 64 fill a block exactly. Values from `sha1sum`.
    #[test]
    fn padding_edges() {
        for (len, expected) in [
            (0, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
            (55, "C1C8BBDC22796E28C0E15163D20899B65621D65A"),
            (56, "C2DB330F6083854C99D4B5BFB6E8F29F201BE699"),
            (63, "03F09F5B158A7A8CDAD920BDDC29B81C18A551F5"),
            (64, "0098BA824B5C16427BD7A1122A5A442A25EC644D"),
            (65, "11655326C708D70319BE2610E8A57D9A5B959D3B"),
        ] {
            assert_eq!(hex(sha1(&vec![b'a'; len])), expected, "{len} bytes");
        }
    }

    /// Any split of the input gives the same digest as the input whole.
    #[test]
    fn any_split_gives_the_same_digest() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 5) as u8).collect();
        let whole = sha1(&bytes);
        for step in [1, 3, 55, 56, 63, 64, 65, 129] {
            let mut sha = Sha1::default();
            for piece in bytes.chunks(step) {
                sha.update(piece);
            }
            assert_eq!(sha.finish(), whole, "pieces of {step}");
        }
        for at in 0..=bytes.len() {
            let mut sha = Sha1::new();
            sha.update(&bytes[..at]);
            sha.update(&bytes[at..]);
            assert_eq!(sha.finish(), whole, "split at {at}");
        }
    }
}
