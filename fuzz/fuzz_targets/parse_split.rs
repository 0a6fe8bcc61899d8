//! The parser fed the same input in random pieces, as bytes arrive on a socket: the answer must
//! be the one the whole input gets. The first byte says how many split points follow (at most
//! 16), two bytes each; the rest is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::testing::{check_splits, split_input};

fuzz_target!(|data: &[u8]| {
    let Some((input, ends)) = split_input(data) else {
        return;
    };
    if let Err(error) = check_splits(input, &ends) {
        panic!("{error}");
    }
});
