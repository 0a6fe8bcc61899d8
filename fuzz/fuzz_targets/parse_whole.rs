//! The parser fed whole inputs: a head either completes, asks for more, or is refused with a
//! status; the body after it ends where it ends; a pipeline of requests always makes progress.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whod::http::testing::{check_splits, check_stream};

fuzz_target!(|data: &[u8]| {
    if let Err(error) = check_splits(data, &[]) {
        panic!("{error}");
    }
    if let Err(error) = check_stream(data) {
        panic!("{error}");
    }
});
