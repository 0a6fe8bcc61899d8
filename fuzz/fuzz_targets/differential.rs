//! whod's parser against the oracle (fuzz/oracle/, the parser as it was before it was made
//! fast): the same verdict on every prefix, head after head and body after body. The input is
//! laid out as parse_split's: the first byte says how many split points follow (at most 16),
//! two bytes each; the rest is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::testing::split_input;

fuzz_target!(|data: &[u8]| {
    let Some((input, ends)) = split_input(data) else {
        return;
    };
    if let Err(error) = who_oracle::compare(input, &ends) {
        panic!("{error}");
    }
});
