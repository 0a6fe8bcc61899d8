//! whod's parser against the oracle: the committed seeds and the fuzz corpus (when a fuzz run
//! left one) at every split, then a million mutated inputs. Deterministic: the mutations come
//! from a seeded generator, so a failure replays. Run it in release mode:
//!   cargo test --release --manifest-path fuzz/oracle/Cargo.toml

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use who_oracle::{Verdict, compare, oracle_body, oracle_head};
use whod::http::testing::{Rng, check_splits};

/// Every file of `dir`, or none if it does not exist.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|path| path.is_file())
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

fn fuzz_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn seeds() -> Vec<Vec<u8>> {
    let seeds = files(&fuzz_dir().join("seeds"));
    assert!(seeds.len() >= 10, "the seeds are missing from fuzz/seeds/");
    seeds
}

/// Pieces a mutation inserts: the bytes the grammar turns on.
const DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b";",
    b"=",
    b"\"",
    b"\\",
    b",",
    b"/",
    b"?",
    b"*",
    b"[",
    b"]",
    b".",
    b"@",
    b"\x00",
    b"\x01",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"0",
    b"1",
    b"9",
    b"a",
    b"f",
    b"A",
    b"Z",
    b"-",
    b"chunked",
    b"gzip",
    b"close",
    b"keep-alive",
    b"100-continue",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"\r\nHost: a",
    b"\r\nHost: [::1]:80",
    b"\r\nTransfer-Encoding: chunked",
    b"\r\nTransfer-Encoding: ",
    b"\r\nContent-Length: 5",
    b"\r\nContent-Length: ",
    b"\r\nConnection: close",
    b"\r\nConnection: keep-alive",
    b"\r\nExpect: 100-continue",
    b"\r\n\r\n",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n",
    b";a=\"b\"",
    b"http://",
    b"GET ",
    b"POST ",
    b"CONNECT ",
    b"OPTIONS ",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    match rng.below(8) {
        0 if at < input.len() => input[at] = DICTIONARY[rng.below(DICTIONARY.len())][0],
        1 if at < input.len() => {
            let end = (at + 1 + rng.below(8)).min(input.len());
            input.drain(at..end);
        }
        2 => input.insert(at, rng.next_u64() as u8),
        3 if at < input.len() => input[at] = rng.next_u64() as u8,
        4 if at < input.len() => {
            // Repeat a piece: more fields, longer lines.
            let end = (at + 1 + rng.below(64)).min(input.len());
            let piece = input[at..end].to_vec();
            for _ in 0..1 + rng.below(3) {
                input.splice(at..at, piece.iter().copied());
            }
        }
        5 if rng.below(200) == 0 => {
            // A run long enough to meet the limits (8 KiB, 16 KiB, 4 KiB, 100 fields).
            let runs: [&[u8]; 4] = [b"a", b"X: y\r\n", b"0", b" "];
            let run = runs[rng.below(runs.len())];
            let count = 1 + rng.below(17_000 / run.len());
            let bytes: Vec<u8> = run
                .iter()
                .copied()
                .cycle()
                .take(count * run.len())
                .collect();
            input.splice(at..at, bytes);
        }
        _ => {
            let piece = DICTIONARY[rng.below(DICTIONARY.len())];
            input.splice(at..at, piece.iter().copied());
        }
    }
}

#[test]
fn the_seeds_agree_at_every_split_and_keep_the_split_invariant() {
    for seed in seeds() {
        let every: Vec<usize> = (0..=seed.len()).collect();
        let shown = String::from_utf8_lossy(&seed).into_owned();
        compare(&seed, &every).unwrap_or_else(|error| panic!("{shown:?}: {error}"));
        check_splits(&seed, &every).unwrap_or_else(|error| panic!("{shown:?}: {error}"));
    }
}

#[test]
fn the_fuzz_corpus_agrees() {
    let mut rng = Rng(0xc0de_5eed_0000_0001);
    let mut count = 0;
    let Ok(targets) = std::fs::read_dir(fuzz_dir().join("corpus")) else {
        eprintln!("no fuzz/corpus/: nothing to compare (make fuzz leaves one)");
        return;
    };
    for target in targets {
        for input in files(&target.unwrap().path()) {
            let ends: Vec<usize> = (0..8).map(|_| rng.below(input.len() + 1)).collect();
            let shown = String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
            compare(&input, &ends).unwrap_or_else(|error| panic!("{shown:?}: {error}"));
            count += 1;
        }
    }
    eprintln!("{count} corpus inputs agree");
}

#[test]
fn a_million_mutated_inputs_agree() {
    const INPUTS: usize = 1_000_000;
    let seeds = seeds();
    let mut rng = Rng(0x5eed_f00d_ba11_0001);
    let started = Instant::now();
    let mut input = Vec::new();
    // How often each verdict came, to show that the inputs reach every corner.
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..INPUTS {
        input.clear();
        input.extend_from_slice(&seeds[rng.below(seeds.len())]);
        for _ in 0..1 + rng.below(6) {
            mutate(&mut rng, &mut input);
        }
        let ends: Vec<usize> = (0..rng.below(4))
            .map(|_| rng.below(input.len() + 1))
            .collect();
        if let Err(error) = compare(&input, &ends) {
            panic!(
                "input {round} ({:?}, split at {ends:?}): {error}",
                String::from_utf8_lossy(&input)
            );
        }
        let verdict = match oracle_head(&input) {
            Verdict::Complete(head) => {
                let body = &input[head.head_len..];
                match oracle_body(head.framing, &[body]).last() {
                    None => format!("complete, {:?}, no body", head.framing),
                    Some(Ok(Some(_))) => format!("complete, {:?}, body ended", head.framing),
                    Some(Ok(None)) => format!("complete, {:?}, body partial", head.framing),
                    Some(Err(refusal)) => format!("body: {} {}", refusal.status, refusal.reason),
                }
                .replace(|c: char| c.is_ascii_digit(), "")
            }
            Verdict::Partial => "partial".to_string(),
            Verdict::Refused(refusal) => format!("{} {}", refusal.status, refusal.reason),
        };
        *verdicts.entry(verdict).or_default() += 1;
    }
    eprintln!(
        "{INPUTS} mutated inputs agree, in {:.1?}:",
        started.elapsed()
    );
    for (verdict, count) in &verdicts {
        eprintln!("{count:>8}  {verdict}");
    }
    // Every refusal of the head and every framing: a generator that stopped reaching some
    // would let this test pass without testing them.
    assert!(
        verdicts.len() >= 30,
        "only {} kinds of verdict",
        verdicts.len()
    );
}
