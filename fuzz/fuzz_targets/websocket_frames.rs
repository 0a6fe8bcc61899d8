//! The WebSocket session fed a client's bytes in random pieces, as reads from a socket: no
//! panic; the same messages and control frames back, outcome, counters and fault as the bytes
//! fed whole; each read adds at most its bytes and a bounded overhead to the output; the
//! output reads as a server's frames; and it is what a model that reads whole frames and
//! checks whole messages with std expects (`whod::websocket::testing::check_splits`). As in
//! parse_split, the first byte says how many split points follow (its value modulo 17, at most
//! 16), two bytes each; the rest is the input. That byte divided by 17 picks the maximum
//! message size, so the limit is fuzzed too: 0 (the seeds) is 16 MiB, the server's default.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::testing::split_input;
use whod::websocket::testing::check_splits;

/// The maximum message sizes, by the first byte divided by 17 (0 to 15); past the list, 16 MiB.
const MAX_MESSAGE: [u64; 4] = [16 << 20, 0, 125, 1000];

fuzz_target!(|data: &[u8]| {
    let Some((input, ends)) = split_input(data) else {
        return;
    };
    let max_message = MAX_MESSAGE
        .get(usize::from(data[0] / 17))
        .copied()
        .unwrap_or(16 << 20);
    if let Err(error) = check_splits(input, &ends, max_message) {
        panic!("{error}");
    }
});
