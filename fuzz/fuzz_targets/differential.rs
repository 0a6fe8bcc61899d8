//! whod's parser against the oracle (fuzz/oracle/, the parser as it was before it was made
//! fast): the same verdict on every prefix, head after head and body after body. The input is
//! laid out as parse_split's: the first byte says how many split points follow (at most 16),
//! two bytes each; the rest is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

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
    if let Err(error) = who_oracle::compare(input, &ends) {
        panic!("{error}");
    }
});
