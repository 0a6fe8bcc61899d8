use super::*;
use crate::http::testing::{Rng, mutate};
use crate::websocket::frame::{BINARY, PING, PONG};
use crate::websocket::testing::{Event, Run, check_splits, client_frame};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MAX: u64 = 16 * 1024 * 1024;

fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(fin, opcode, payload, KEY)
}

/// `input` fed whole to a new session: what it wrote and where it stands.
fn whole(input: &[u8]) -> (Vec<u8>, Read) {
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    let outcome = session.read(input, &mut out);
    (out, outcome)
}

/// `input`'s run, checked the same when cut once anywhere, and fed byte by byte.
fn every_split(input: &[u8], max_message: u64) -> Run {
    let every: Vec<usize> = (0..=input.len()).collect();
    let run = check_splits(input, &every, max_message).unwrap_or_else(|e| panic!("{e}"));
    for at in 0..=input.len() {
        let cut = check_splits(input, &[at], max_message).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cut, run);
    }
    run
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
}

fn closed_with(input: &[u8], code: u16, reason: &str) -> Run {
    let run = every_split(input, MAX);
    assert_eq!(run.outcome, Read::Closed { code }, "{run:?}");
    assert_eq!(
        run.events.last(),
        Some(&Event::Control(CLOSE, close_payload(code, reason))),
        "{run:?}"
    );
    run
}

#[test]
fn rfc_6455_examples_echoed() {
    // "A single-frame masked text message" comes back as "A single-frame unmasked text
    // message".
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        whole(&masked),
        (vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], Read::Open)
    );
    let run = every_split(&masked, MAX);
    assert_eq!(
        run.events,
        [
            Event::Start(TEXT),
            Event::Bytes(b"Hello".to_vec()),
            Event::End
        ]
    );

    // The fragmented text message, with a ping in between: the pong goes out in between too.
    let input = [
        frame(false, TEXT, b"Hel"),
        frame(true, PING, b"Hello"),
        frame(true, CONTINUATION, b"lo"),
    ]
    .concat();
    let (out, outcome) = whole(&input);
    assert_eq!(outcome, Read::Open);
    assert_eq!(
        out,
        [
            &[0x01, 0x03, 0x48, 0x65, 0x6c][..],
            &[0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            &[0x80, 0x02, 0x6c, 0x6f],
        ]
        .concat()
    );
    let run = every_split(&input, MAX);
    assert_eq!(
        run.events,
        [
            Event::Start(TEXT),
            Event::Bytes(b"Hel".to_vec()),
            Event::Control(PONG, b"Hello".to_vec()),
            Event::Bytes(b"lo".to_vec()),
            Event::End,
        ]
    );
    assert_eq!(
        (run.counters.messages_in, run.counters.bytes_in),
        (1, 5),
        "{run:?}"
    );
    assert_eq!((run.counters.messages_out, run.counters.bytes_out), (1, 5));

    // 256 bytes and 64 KiB of binary, each in one frame: the same frames back.
    for len in [256, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let (out, _) = whole(&frame(true, BINARY, &payload));
        let header: &[u8] = match len {
            256 => &[0x82, 0x7E, 0x01, 0x00],
            _ => &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00],
        };
        assert_eq!(out, [header, &payload].concat());
    }
}

#[test]
fn a_large_frame_streams_back_in_the_pieces_it_came_in() {
    let payload: Vec<u8> = (0..65536u32).map(|i| (i % 253) as u8).collect();
    let input = frame(true, BINARY, &payload);
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    let mut fragments = Vec::new();
    for piece in input.chunks(1000) {
        let before = out.len();
        assert_eq!(session.read(piece, &mut out), Read::Open);
        // Never more than the piece and one header: nothing is held back.
        assert!(out.len() - before <= piece.len() + 4);
        fragments.push(out[before..].to_vec());
    }
    // The first piece held the 14-byte header and 986 bytes: a binary frame, not final.
    assert_eq!(&fragments[0][..4], &[0x02, 0x7E, 0x03, 0xDA]);
    // Then continuations of 1000 bytes, the last one final.
    assert_eq!(&fragments[1][..4], &[0x00, 0x7E, 0x03, 0xE8]);
    let last = fragments.last().unwrap();
    assert_eq!(last[0], 0x80);
    let run = check_splits(&input, &[1000, 2000, 50000], MAX).unwrap();
    assert_eq!(
        run.events,
        [Event::Start(BINARY), Event::Bytes(payload), Event::End]
    );
    // The session's whole state, with room for a header and a control payload.
    assert!(std::mem::size_of::<Session>() <= 300);
}

/// A ping read but for its last byte, then that byte and a bad frame: a pong and a close for
/// two bytes.
#[test]
fn the_most_a_read_adds_beyond_its_bytes() {
    let ping = frame(true, PING, &[b'p'; 125]);
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    let last = ping.len() - 1;
    assert_eq!(session.read(&ping[..last], &mut out), Read::Open);
    assert!(out.is_empty());
    assert_eq!(
        session.read(&[ping[last], 0xC1], &mut out),
        Read::Closed {
            code: PROTOCOL_ERROR
        }
    );
    let close = 4 + "reserved bits set (no extension was negotiated): 4".len();
    assert_eq!(out.len(), 127 + close);
    assert!(out.len() - 2 <= MAX_OVERHEAD);
    assert_eq!(MAX_OVERHEAD, 254);
}

#[test]
fn control_frames_and_empty_messages() {
    let input = [
        frame(true, PING, b""),
        frame(true, PONG, b"ignored"),
        frame(true, TEXT, b""),
        frame(false, BINARY, b""),
        frame(false, CONTINUATION, b""),
        frame(true, CONTINUATION, b""),
        frame(true, PING, &[b'p'; 125]),
    ]
    .concat();
    let (out, _) = whole(&input);
    assert_eq!(&out[..6], &[0x8a, 0x00, 0x81, 0x00, 0x82, 0x00]);
    let run = every_split(&input, MAX);
    assert_eq!(
        run.events,
        [
            Event::Control(PONG, vec![]),
            Event::Start(TEXT),
            Event::End,
            Event::Start(BINARY),
            Event::End,
            Event::Control(PONG, vec![b'p'; 125]),
        ]
    );
    assert_eq!(run.counters.messages_in, 2);
}

#[test]
fn a_close_is_answered_and_ends_the_reading() {
    // No code: answered with 1000, recorded as 1005.
    let run = closed_with(&frame(true, CLOSE, b""), NORMAL, "");
    assert_eq!(run.counters.close_received, Some(NO_STATUS));
    assert_eq!(run.counters.close_sent, Some(NORMAL));

    // A code and a reason: the code echoed, without the reason. Then nothing more is read:
    // a second close, a ping, a message (Autobahn's 7.1.2-7.1.4).
    for after in [
        frame(true, CLOSE, &close_payload(1000, "")),
        frame(true, PING, b"x"),
        frame(true, TEXT, b"x"),
        vec![0xff, 0xff],
    ] {
        let input = [
            frame(true, TEXT, b"a"),
            frame(true, CLOSE, &close_payload(4000, "bye \u{e9}")),
            after,
        ]
        .concat();
        let run = closed_with(&input, 4000, "");
        assert_eq!(run.events.len(), 4, "{run:?}");
        assert_eq!(run.counters.close_received, Some(4000));
        assert_eq!(run.fault, None);
    }

    // Every code a close may carry is echoed; every other fails the connection.
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        closed_with(&frame(true, CLOSE, &close_payload(code, "")), code, "");
    }
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let run = closed_with(
            &frame(true, CLOSE, &close_payload(code, "")),
            PROTOCOL_ERROR,
            &format!("invalid close code {code}"),
        );
        assert_eq!(run.counters.close_received, None);
    }
    for code in 0..=u16::MAX {
        let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(valid_close_code(code), expected, "{code}");
    }

    closed_with(
        &frame(true, CLOSE, &[0x03]),
        PROTOCOL_ERROR,
        "close frame with a 1-byte payload",
    );
    // Autobahn's 7.5.1: a reason that is not UTF-8; and one cut inside a character.
    let reason = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited";
    closed_with(
        &frame(true, CLOSE, &[&[0x03, 0xe8][..], reason].concat()),
        INVALID_DATA,
        "invalid UTF-8 in a close reason at byte 12",
    );
    closed_with(
        &frame(true, CLOSE, &[0x03, 0xe8, b'a', 0xce]),
        INVALID_DATA,
        "invalid UTF-8 in a close reason at byte 2",
    );
}

#[test]
fn every_protocol_error_fails_with_its_code_and_says_why() {
    let text = frame(true, TEXT, b"a");
    let mut rsv = text.clone();
    rsv[0] |= 0x40;
    let mut unmasked = frame(true, BINARY, b"");
    unmasked[1] &= 0x7f;
    unmasked.truncate(2);
    let mut long_ping = frame(true, PING, &[0; 126]);
    long_ping.truncate(4);
    let cases: [(Vec<u8>, &str); 8] = [
        (rsv, "reserved bits set (no extension was negotiated): 4"),
        (frame(true, 3, b""), "reserved opcode 3"),
        (frame(true, 0xB, b""), "reserved opcode 11"),
        (
            frame(false, PING, b""),
            "fragmented control frame, opcode 9",
        ),
        (unmasked, "unmasked client frame"),
        (
            long_ping,
            "control frame payload longer than 125 bytes: 126",
        ),
        (
            frame(true, CONTINUATION, b"x"),
            "continuation frame without a message to continue",
        ),
        (
            [frame(false, TEXT, b"a"), frame(true, BINARY, b"b")].concat(),
            "new message inside a fragmented one, opcode 2",
        ),
    ];
    for (bad, reason) in cases {
        // After a message echoed, and with bytes after it that are never read.
        let input = [&text[..], &bad, &frame(true, TEXT, b"never")].concat();
        let run = closed_with(&input, PROTOCOL_ERROR, reason);
        assert_eq!(
            run.events[..3],
            [Event::Start(TEXT), Event::Bytes(b"a".to_vec()), Event::End]
        );
        let fault = run.fault.unwrap();
        assert_eq!((fault.code, run.counters.close_sent), (1002, Some(1002)));
        assert_eq!(run.counters.messages_in, 1);
    }
}

#[test]
fn invalid_utf8_fails_fast_after_echoing_what_came_before() {
    // Autobahn's 6.4.1: the bad byte (0x90 after 0xF4) is byte 12 of the message.
    let part1 = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    let input = [
        frame(false, TEXT, part1),
        frame(false, CONTINUATION, b"\xf4\x90\x80\x80"),
        frame(true, CONTINUATION, b"edited"),
    ]
    .concat();
    let run = closed_with(
        &input,
        INVALID_DATA,
        "invalid UTF-8 in a text message at byte 12",
    );
    let echoed = [&part1[..], b"\xf4"].concat();
    assert_eq!(run.events[..2], [Event::Start(TEXT), Event::Bytes(echoed)]);
    assert_eq!(run.events.len(), 3, "no end of the message: {run:?}");
    assert_eq!(run.counters.bytes_in, 12);
    assert_eq!(run.counters.messages_in, 0);
    // Fed whole: the valid bytes of the bad frame go back in a frame of their own, not final.
    let (out, _) = whole(&input);
    let at = 2 + part1.len();
    assert_eq!(&out[at..at + 3], &[0x00, 0x01, 0xf4]);

    // The bad byte first: nothing of its frame is echoed.
    let run = closed_with(
        &frame(true, TEXT, b"\xff"),
        INVALID_DATA,
        "invalid UTF-8 in a text message at byte 0",
    );
    assert_eq!(run.events.len(), 1);

    // A message that ends inside a character: all of it echoed, never ended.
    let input = [
        frame(false, TEXT, b"ab\xce"),
        frame(true, CONTINUATION, b""),
    ]
    .concat();
    let run = closed_with(
        &input,
        INVALID_DATA,
        "text message ends inside a UTF-8 sequence, at byte 3",
    );
    assert_eq!(
        run.events[..2],
        [Event::Start(TEXT), Event::Bytes(b"ab\xce".to_vec())]
    );
    let run = closed_with(
        &frame(true, TEXT, b"ab\xe2\x82"),
        INVALID_DATA,
        "text message ends inside a UTF-8 sequence, at byte 4",
    );
    assert_eq!(run.events[1], Event::Bytes(b"ab\xe2\x82".to_vec()));

    // Binary messages are not text: any bytes pass.
    let run = every_split(&frame(true, BINARY, b"\xff\xce"), MAX);
    assert_eq!(run.events[1], Event::Bytes(b"\xff\xce".to_vec()));
}

#[test]
fn a_message_past_the_limit_fails_with_1009_before_any_byte_of_it() {
    let limit = 10;
    // Exactly the limit, in one frame or two, passes.
    let run = every_split(&frame(true, BINARY, &[1; 10]), limit);
    assert_eq!(run.outcome, Read::Open);
    let two = [
        frame(false, TEXT, b"12345"),
        frame(true, CONTINUATION, b"67890"),
    ]
    .concat();
    assert_eq!(every_split(&two, limit).counters.messages_out, 1);
    // One byte more does not, however the message is cut.
    for input in [
        frame(true, BINARY, &[1; 11]),
        [
            frame(false, TEXT, b"12345"),
            frame(true, CONTINUATION, b"678901"),
        ]
        .concat(),
    ] {
        let run = every_split(&input, limit);
        assert_eq!(run.outcome, Read::Closed { code: TOO_BIG });
        let bytes_before = run.counters.bytes_out;
        assert!(bytes_before == 0 || bytes_before == 5, "{run:?}");
        assert_eq!(
            run.events.last(),
            Some(&Event::Control(
                CLOSE,
                close_payload(1009, "message longer than 10")
            ))
        );
    }
    // The limit counts messages, not the connection: many messages of the limit pass.
    let many = frame(true, BINARY, &[1; 10]).repeat(5);
    assert_eq!(every_split(&many, limit).counters.messages_in, 5);
}

#[test]
fn a_close_from_the_server() {
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    assert!(session.text(b"hello \xce\xba", &mut out));
    assert!(session.ping(b"keepalive", &mut out));
    session.close(GOING_AWAY, "server stopping", &mut out);
    assert_eq!(session.outcome(), Read::Closing);
    // Once the close is sent: nothing more.
    session.close(NORMAL, "again", &mut out);
    assert!(!session.ping(b"", &mut out));
    assert!(!session.text(b"", &mut out));
    let expected = [
        &[0x81, 0x08][..],
        b"hello \xce\xba",
        &[0x89, 0x09],
        b"keepalive",
        &[0x88, 0x11, 0x03, 0xe9],
        b"server stopping",
    ]
    .concat();
    assert_eq!(out, expected);

    // The peer's messages are read and dropped, its pings unanswered, until its close.
    let input = [
        frame(true, TEXT, b"dropped"),
        frame(false, BINARY, b"dropped"),
        frame(true, PING, b"unanswered"),
        frame(true, CONTINUATION, b"dropped"),
    ]
    .concat();
    let before = out.len();
    assert_eq!(session.read(&input, &mut out), Read::Closing);
    assert_eq!(out.len(), before);
    let close = frame(true, CLOSE, &close_payload(1001, ""));
    assert_eq!(session.read(&close, &mut out), Read::Closed { code: 1001 });
    assert_eq!(out.len(), before, "the close was sent already");
    let counters = session.counters();
    assert_eq!(
        (
            counters.messages_in,
            counters.messages_out,
            counters.bytes_out
        ),
        (2, 1, 8)
    );
    assert_eq!(
        (counters.close_sent, counters.close_received),
        (Some(1001), Some(1001))
    );

    // A protocol error while closing ends the reading, and sends nothing more.
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    session.close(NORMAL, "", &mut out);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(
        session.read(&frame(true, 3, b""), &mut out),
        Read::Closed { code: NORMAL }
    );
    assert_eq!(
        session.read(&frame(true, TEXT, b"\xff"), &mut out),
        Read::Closed { code: NORMAL }
    );
    assert_eq!(out.len(), 4);
    assert_eq!(session.fault().map(|f| f.reason), Some("reserved opcode"));
}

#[test]
fn bad_utf8_while_closing_is_dropped_too() {
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    session.close(NORMAL, "", &mut out);
    let input = [
        frame(false, TEXT, b"ab\xce"),
        frame(true, CONTINUATION, b""),
    ]
    .concat();
    assert_eq!(
        session.read(&input, &mut out),
        Read::Closed { code: NORMAL }
    );
    assert_eq!(out.len(), 4);
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    session.close(NORMAL, "", &mut out);
    assert_eq!(
        session.read(&frame(true, TEXT, b"ab\xff"), &mut out),
        Read::Closed { code: NORMAL }
    );
    assert_eq!(out.len(), 4);
    assert_eq!(session.counters().bytes_in, 2);
}

#[test]
fn what_the_server_sends_is_refused_when_it_cannot_be_sent() {
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    assert!(!session.ping(&[0; 126], &mut out));
    assert!(session.ping(&[0; 125], &mut out));
    assert!(!session.text(b"\xff", &mut out));
    // While an echoed message is half written, no other message may start.
    out.clear();
    session.read(&frame(false, TEXT, b"half"), &mut out);
    assert!(!session.text(b"greeting", &mut out));
    assert!(session.ping(b"", &mut out));
    session.read(&frame(true, CONTINUATION, b""), &mut out);
    assert!(session.text(b"greeting", &mut out));
    // A message begun but with nothing echoed yet does not stop a greeting.
    let mut session = Session::new(MAX);
    session.read(&frame(false, TEXT, b""), &mut out);
    assert!(session.text(b"greeting", &mut out));
    assert_eq!(session.counters().messages_out, 1);
    assert_eq!(session.counters().bytes_out, 8);

    // A reason too long for a close frame is cut at a character's boundary.
    let mut session = Session::new(MAX);
    let mut out = Vec::new();
    let reason = format!("{}\u{e9}", "a".repeat(122));
    session.close(NORMAL, &reason, &mut out);
    assert_eq!(out[1], 2 + 122);
    assert_eq!(&out[4..], "a".repeat(122).as_bytes());
    let mut out = Vec::new();
    Session::new(MAX).close(NORMAL, &"b".repeat(200), &mut out);
    assert_eq!(out.len(), 2 + 125);
}

#[test]
fn mutated_streams_never_panic_and_keep_the_split_invariant() {
    let text = "κόσμε hello, world".as_bytes();
    let seeds: Vec<Vec<u8>> = vec![
        [
            frame(false, TEXT, &text[..7]),
            frame(true, PING, b"p"),
            frame(true, CONTINUATION, &text[7..]),
        ]
        .concat(),
        [
            frame(true, BINARY, &[0xAA; 130]),
            frame(true, CLOSE, &close_payload(1000, "ok")),
        ]
        .concat(),
        [
            frame(true, TEXT, b""),
            frame(true, PONG, b"x"),
            frame(true, TEXT, b"\xe2\x82\xac"),
        ]
        .concat(),
    ];
    let interesting = [
        0x00, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0xff, 0xce,
    ];
    let mut rng = Rng(0x0005_eed0_f00d_0001);
    for round in 0..3000 {
        let mut input = seeds[round % seeds.len()].clone();
        mutate(&mut rng, &mut input, &interesting, 4);
        let ends: Vec<usize> = (0..rng.below(6))
            .map(|_| rng.below(input.len() + 1))
            .collect();
        let max = [MAX, 3, 130][round % 3];
        if let Err(error) = check_splits(&input, &ends, max) {
            panic!("{input:02x?} cut at {ends:?}: {error}");
        }
    }
}
