//! A small, fast generator for the faults `whod` injects on purpose (`--fail-rate`,
//! `--latency`): xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift
//! generators", 2016). Not for secrets: nothing in `whod` needs one. Each worker seeds its own
//! from the wall clock's nanoseconds and its index, so two replicas started together still
//! draw differently. The tests that mutate inputs by the thousand seed it themselves (through
//! `http::testing`), so that a failure replays.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// Seeded from the clock, mixed with `salt` (a worker's index); never the all-zero state,
    /// which xorshift cannot leave.
    pub fn from_clock(salt: u64) -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos() as u64);
        Rng::mixed(nanos, salt)
    }

    /// `nanos` mixed with `salt`: SplitMix64's finalizer spreads close seeds (two workers, the
    /// same nanosecond) apart; never the all-zero state.
    fn mixed(nanos: u64, salt: u64) -> Rng {
        let mut z = nanos ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_spread_evenly_and_replay_from_a_seed() {
        let mut rng = Rng(42);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[rng.below(10)] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
        let (mut a, mut b) = (Rng(7), Rng(7));
        assert_eq!(a.next_u64(), b.next_u64());
        // Two workers seeded in the same nanosecond still differ.
        assert_ne!(Rng::from_clock(0).0, Rng::from_clock(1).0);
        assert_ne!(Rng::from_clock(0).0, 0);
    }

    /// Known answers: the generators are the published ones, not merely some that spread.
    #[test]
    fn the_mixer_is_splitmix64_and_the_generator_xorshift64_star() {
        // SplitMix64 seeded with 1234567 first outputs 6457827717110365317: the finalizer of
        // the seed plus the golden gamma, which is odd, so `| 1` keeps it.
        let gamma = 0x9e37_79b9_7f4a_7c15u64;
        assert_eq!(
            Rng::mixed(1_234_567u64.wrapping_add(gamma), 0).0,
            6_457_827_717_110_365_317
        );
        // Worker 1's salt cancels a clock that reads the gamma: the finalizer of 0 is 0,
        // which xorshift could never leave, and `| 1` makes it 1.
        assert_eq!(Rng::mixed(gamma, 1).0, 1);
        // xorshift64* (x ^= x >> 12; x ^= x << 25; x ^= x >> 27; x * 0x2545F4914F6CDD1D).
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let draws = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        assert_eq!(
            draws,
            [
                0x7c94_8247_2cb6_708c,
                0xd570_5692_bf1f_28de,
                0x88b7_1e3b_a5e0_05c0
            ]
        );
    }
}
