//! The PROXY protocol parser fed the same input in random pieces, as bytes arrive on a socket:
//! every prefix is Partial until one gives the whole input's answer; a complete header is
//! within its version's bound, gives the same answer alone, and (version 1) means what std's
//! address parsers read in it. As in parse_split, the first byte says how many split points
//! follow (at most 16), two bytes each; the rest is the input. The seeds in fuzz/seeds-proxy/
//! start with a 0: no split points, the header whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::testing::split_input;
use whod::proxy_protocol::invariants::check_splits;

fuzz_target!(|data: &[u8]| {
    let Some((input, ends)) = split_input(data) else {
        return;
    };
    if let Err(error) = check_splits(input, &ends) {
        panic!("{error}");
    }
});
