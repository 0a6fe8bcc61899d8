//! CRC-32 by carry-less multiplication, where the CPU has it (x86_64: PCLMULQDQ and SSE4.1,
//! checked at run time): an upload's checksum at memory speed rather than a table's (about 13
//! GB/s against 0.7 GB/s for slicing by eight, measured side by side on the bench machine),
//! so that `/upload` is bound by the socket, not by its checksum. The method is Intel's
//! "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction" (Gopal et al.,
//! 2009), with the constants for the reflected IEEE polynomial that zlib and the `crc32fast`
//! crate use: four 128-bit lanes folded 64 bytes a step, folded into one, then reduced to 32
//! bits by Barrett's method. Not a libc call, but `unsafe` all the same (raw loads, and the
//! instructions exist only on CPUs that have them), so it lives here.

/// Folds the longest prefix of `data` that is a whole number of 16-byte blocks (at least 64
/// bytes) into the running CRC `state` (as `crc32::Crc32` keeps it: not yet inverted).
/// Returns the new state and the bytes used, or `None` where the CPU cannot (then `crc32`'s
/// tables do it all).
#[cfg(target_arch = "x86_64")]
pub fn crc32_fold(state: u32, data: &[u8]) -> Option<(u32, usize)> {
    if data.len() < 64
        || !std::arch::is_x86_feature_detected!("pclmulqdq")
        || !std::arch::is_x86_feature_detected!("sse4.1")
    {
        return None;
    }
    let used = data.len() & !15;
    // SAFETY: the CPU has PCLMULQDQ and SSE4.1 (checked above), the features `fold` is
    // compiled for; `fold` reads only within `data[..used]`, and `used` is at least 64.
    let state = unsafe { x86::fold(state, &data[..used]) };
    Some((state, used))
}

#[cfg(not(target_arch = "x86_64"))]
pub fn crc32_fold(_state: u32, _data: &[u8]) -> Option<(u32, usize)> {
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_clmulepi64_si128, _mm_cvtsi32_si128, _mm_extract_epi32,
        _mm_loadu_si128, _mm_set_epi32, _mm_set_epi64x, _mm_srli_si128, _mm_xor_si128,
    };

    // x^(k) mod P(x), bit-reflected, for the reflected IEEE polynomial (zlib's and
    // crc32fast's values): K1, K2 fold a lane 512 bits on, K3, K4 128 bits on, K5 64 bits on;
    // P_X is the polynomial, U_PRIME floor(x^64 / P(x)), for Barrett's reduction.
    const K1: i64 = 0x1_5444_2bd4;
    const K2: i64 = 0x1_c6e4_1596;
    const K3: i64 = 0x1_7519_97d0;
    const K4: i64 = 0x0_ccaa_009e;
    const K5: i64 = 0x1_63cd_6124;
    const P_X: i64 = 0x1_DB71_0641;
    const U_PRIME: i64 = 0x1_F701_1641;

    /// Takes the next 16 bytes of `data`.
    #[target_feature(enable = "pclmulqdq", enable = "sse4.1")]
    fn next(data: &mut &[u8]) -> __m128i {
        let (block, rest) = data.split_at(16);
        // SAFETY: `block` is 16 bytes; an unaligned load reads exactly those.
        let lane = unsafe { _mm_loadu_si128(block.as_ptr().cast::<__m128i>()) };
        *data = rest;
        lane
    }

    /// `lane` carried 128 or 512 bits on (by `keys`), added to `next`.
    #[target_feature(enable = "pclmulqdq", enable = "sse4.1")]
    fn fold_into(lane: __m128i, next: __m128i, keys: __m128i) -> __m128i {
        let low = _mm_clmulepi64_si128(lane, keys, 0x00);
        let high = _mm_clmulepi64_si128(lane, keys, 0x11);
        _mm_xor_si128(_mm_xor_si128(next, low), high)
    }

    /// The CRC state after `data`, a whole number of 16-byte blocks, at least 64 bytes.
    #[target_feature(enable = "pclmulqdq", enable = "sse4.1")]
    pub(super) fn fold(state: u32, mut data: &[u8]) -> u32 {
        debug_assert!(data.len() >= 64 && data.len().is_multiple_of(16));
        let mut x3 = next(&mut data);
        let mut x2 = next(&mut data);
        let mut x1 = next(&mut data);
        let mut x0 = next(&mut data);
        x3 = _mm_xor_si128(x3, _mm_cvtsi32_si128(state as i32));
        let k1k2 = _mm_set_epi64x(K2, K1);
        while data.len() >= 64 {
            x3 = fold_into(x3, next(&mut data), k1k2);
            x2 = fold_into(x2, next(&mut data), k1k2);
            x1 = fold_into(x1, next(&mut data), k1k2);
            x0 = fold_into(x0, next(&mut data), k1k2);
        }
        let k3k4 = _mm_set_epi64x(K4, K3);
        let mut x = fold_into(x3, x2, k3k4);
        x = fold_into(x, x1, k3k4);
        x = fold_into(x, x0, k3k4);
        while !data.is_empty() {
            x = fold_into(x, next(&mut data), k3k4);
        }
        // 128 bits to 64, then Barrett's reduction to 32.
        let low32 = _mm_set_epi32(0, 0, 0, !0);
        x = _mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x10), _mm_srli_si128(x, 8));
        x = _mm_xor_si128(
            _mm_clmulepi64_si128(_mm_and_si128(x, low32), _mm_set_epi64x(0, K5), 0x00),
            _mm_srli_si128(x, 4),
        );
        let pu = _mm_set_epi64x(U_PRIME, P_X);
        let t1 = _mm_clmulepi64_si128(_mm_and_si128(x, low32), pu, 0x10);
        let t2 = _mm_clmulepi64_si128(_mm_and_si128(t1, low32), pu, 0x00);
        _mm_extract_epi32(_mm_xor_si128(x, t2), 1) as u32
    }
}
