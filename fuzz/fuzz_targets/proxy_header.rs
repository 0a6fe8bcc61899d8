//! The PROXY protocol parser fed the same input in random pieces, as bytes arrive on a socket:
//! every prefix is Partial until one gives the whole input's answer; a complete header is
//! within its version's bound, gives the same answer alone, and (version 1) means what std's
//! address parsers read in it. As in parse_split, the first byte says how many split points
//! follow (at most 16), two bytes each; the rest is the input. The seeds in fuzz/seeds-proxy/
//! start with a 0: no split points, the header whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::proxy_protocol::check_splits;

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
