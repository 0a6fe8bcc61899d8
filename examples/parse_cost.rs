//! What one request head costs the parser, in instructions counted by callgrind (exact and
//! repeatable, unlike time on a shared machine):
//!
//! ```text
//! cargo run --release --example parse_cost            # the table, for every kind of request
//! parse_cost KIND COUNT                                # parse KIND's head COUNT times
//! ```
//!
//! Without arguments it runs itself under `valgrind --tool=callgrind` twice per kind, for
//! 1,000 and 11,000 parses, and divides the difference by 10,000: start-up cancels out.

use std::hint::black_box;
use std::process::ExitCode;

mod callgrind;

use callgrind::instructions;

use whod::http::Status;
use whod::http::request::parse;

/// The request wrk sends (`make bench`).
const WRK: &[u8] = b"GET /who HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
/// The request `curl localhost:8080/who` sends.
const CURL: &[u8] =
    b"GET /who HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n";
/// A browser's request: ten fields, as Firefox sends them.
const BROWSER: &[u8] = b"GET /who HTTP/1.1\r\n\
Host: localhost:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: none\r\n\
Priority: u=0, i\r\n\
\r\n";

const KINDS: [&str; 3] = ["wrk", "curl", "browser"];
const FEW: u64 = 1_000;
const MANY: u64 = 11_000;

fn table() -> ExitCode {
    println!("instructions per parse (callgrind, {MANY} - {FEW} parses)");
    for kind in KINDS {
        match (instructions(kind, FEW), instructions(kind, MANY)) {
            (Ok(few), Ok(many)) => {
                let per_parse = (many - few) as f64 / (MANY - FEW) as f64;
                println!("{kind:>8}: {per_parse:.1}");
            }
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("parse_cost: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        return table();
    }
    let (Some(kind), Some(count)) = (args.get(1), args.get(2).and_then(|c| c.parse::<u64>().ok()))
    else {
        eprintln!("usage: parse_cost wrk|curl|browser COUNT");
        return ExitCode::from(2);
    };
    let input = match kind.as_str() {
        "wrk" => WRK,
        "curl" => CURL,
        "browser" => BROWSER,
        _ => {
            eprintln!("parse_cost: unknown kind {kind:?}: expected wrk, curl or browser");
            return ExitCode::from(2);
        }
    };
    let mut head_bytes = 0;
    for _ in 0..count {
        // black_box: the compiler must parse every time, not once.
        match parse(black_box(input)) {
            Ok(Status::Complete(request)) => head_bytes += black_box(request).head_len,
            other => {
                eprintln!("parse_cost: {kind} does not parse: {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Printed so that the parses have an effect the compiler must keep.
    println!("{kind}: {count} parses, {head_bytes} head bytes");
    ExitCode::SUCCESS
}
