//! What echoing one WebSocket message costs the session, in instructions counted by callgrind
//! (exact and repeatable, unlike time on a shared machine):
//!
//! ```text
//! cargo run --release --example ws_cost            # the table, for every kind of message
//! ws_cost KIND COUNT                               # echo KIND's message COUNT times
//! ```
//!
//! Each message is one masked client frame, read in one call, as a read of the socket would
//! bring it; its echo goes into a buffer cleared for the next. Without arguments it runs
//! itself under `valgrind --tool=callgrind` twice per kind, for FEW and MANY messages, and
//! divides the difference by MANY - FEW: start-up cancels out.

use std::hint::black_box;
use std::process::ExitCode;

mod callgrind;

use callgrind::instructions;

use whod::websocket::frame::{BINARY, TEXT};
use whod::websocket::session::{Read, Session};
use whod::websocket::testing::client_frame;

/// The kinds: a name, the opcode, the payload's length.
const KINDS: [(&str, u8, usize); 4] = [
    ("text-16", TEXT, 16),
    ("binary-16", BINARY, 16),
    ("text-64k", TEXT, 65536),
    ("binary-64k", BINARY, 65536),
];

/// The message of a kind: ASCII text (the common case), masked with a key that is not all
/// one byte.
fn message(opcode: u8, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    client_frame(true, opcode, &payload, [0x37, 0xfa, 0x21, 0x3d])
}

fn table() -> ExitCode {
    println!("instructions per message echoed (callgrind)");
    for (kind, _, len) in KINDS {
        let (few, many) = if len > 1000 {
            (20, 220)
        } else {
            (1_000, 11_000)
        };
        match (instructions(kind, few), instructions(kind, many)) {
            (Ok(a), Ok(b)) => {
                let per_message = (b - a) as f64 / (many - few) as f64;
                let per_byte = per_message / len as f64;
                println!("{kind:>11}: {per_message:>9.1} ({per_byte:.2} a payload byte)");
            }
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("ws_cost: {error}");
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
    let kind = KINDS
        .iter()
        .find(|(name, _, _)| Some(*name) == args.get(1).map(String::as_str));
    let count = args.get(2).and_then(|c| c.parse::<u64>().ok());
    let (Some(&(_, opcode, len)), Some(count)) = (kind, count) else {
        eprintln!("usage: ws_cost text-16|binary-16|text-64k|binary-64k COUNT");
        return ExitCode::from(2);
    };
    let input = message(opcode, len);
    let mut session = Session::new(16 << 20);
    let mut out = Vec::with_capacity(len + 16);
    let mut echoed = 0;
    for _ in 0..count {
        out.clear();
        // black_box: the compiler must echo every time, not once.
        if session.read(black_box(&input), &mut out) != Read::Open {
            eprintln!("ws_cost: the session closed: {:?}", session.fault());
            return ExitCode::FAILURE;
        }
        echoed += black_box(&out).len();
    }
    // Printed so that the echoes have an effect the compiler must keep.
    println!("{count} messages, {echoed} bytes echoed");
    ExitCode::SUCCESS
}
