//! The parser fed the same input in random pieces, as bytes arrive on a socket: the answer must
//! be the one the whole input gets. The first byte says how many split points follow (at most
//! 16), two bytes each; the rest is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::invariants::check_splits;

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 17);
    if rest.len() < 2 * count {
        return;
    }
    let (points, input) = rest.split_at(2 * count);
    let ends: Vec<usize> = points
        .chunks(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])))
        .collect();
    if let Err(error) = check_splits(input, &ends) {
        panic!("{error}");
    }
});
