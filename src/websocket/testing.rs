//! What every run of a session must satisfy, whatever the bytes: checked by the unit tests on
//! chosen frames and by the fuzz target `websocket_frames` on whatever libFuzzer finds (as
//! `http::testing` is for requests).

use super::frame::{
    self, CLOSE, CONTINUATION, Fault, INVALID_DATA, PING, PONG, PROTOCOL_ERROR, TEXT, TOO_BIG,
};
use super::session::{Counters, MAX_OVERHEAD, NO_STATUS, NORMAL, Read, Session, valid_close_code};
use super::utf8::Utf8;
use crate::http::Status;

/// A client's frame: its payload masked with `key`.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_header(&mut out, fin, opcode, payload.len() as u64);
    out[1] |= 0x80;
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    frame::unmask(&mut out[start..], key, 0);
    out
}

/// What a client reads in a session's output, where a message's fragments start and end left
/// out (the echo may cut a message otherwise than it came: RFC 6455 §5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A text or binary message begins: its opcode.
    Start(u8),
    /// Payload bytes of the message in progress, consecutive fragments' joined.
    Bytes(Vec<u8>),
    /// The message in progress ends.
    End,
    /// A ping, pong or close frame, and its payload.
    Control(u8, Vec<u8>),
}

/// Reads a session's output as a client must (RFC 6455 §5-§7): every frame a server's
/// (unmasked, no reserved bit or opcode), control frames final and ≤ 125 bytes, continuations
/// only inside a message and no message inside another, text valid UTF-8 (a text message left
/// unfinished by the close: valid so far), the close's code one that may be sent and its
/// reason UTF-8, nothing after the close, no frame cut short. Gives what the client read.
pub fn read_output(mut output: &[u8]) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    let mut message: Option<(u8, Utf8)> = None;
    let mut closed = false;
    while !output.is_empty() {
        if closed {
            return Err(format!("{} bytes after the close frame", output.len()));
        }
        let header = match frame::parse(output, false) {
            Ok(Status::Complete(header)) => header,
            Ok(Status::Partial) => return Err(format!("a frame cut short: {output:02x?}")),
            Err(fault) => return Err(format!("not a server frame: {fault:?}")),
        };
        let payload = usize::try_from(header.len)
            .ok()
            .and_then(|len| output.get(header.header_len..header.header_len.checked_add(len)?))
            .ok_or_else(|| format!("a payload cut short: {header:?}"))?;
        output = &output[header.header_len + payload.len()..];
        match header.opcode {
            CLOSE => {
                closed = true;
                if let [high, low, reason @ ..] = payload {
                    let code = u16::from_be_bytes([*high, *low]);
                    if !valid_close_code(code) || std::str::from_utf8(reason).is_err() {
                        return Err(format!("a bad close frame {payload:02x?}"));
                    }
                } else if !payload.is_empty() {
                    return Err("a close frame with a 1-byte payload".to_string());
                }
                events.push(Event::Control(CLOSE, payload.to_vec()));
            }
            PING | PONG => events.push(Event::Control(header.opcode, payload.to_vec())),
            opcode => {
                match (opcode, &message) {
                    (CONTINUATION, Some(_)) => {}
                    (CONTINUATION, None) => return Err("a continuation of nothing".to_string()),
                    (_, Some(_)) => return Err(format!("opcode {opcode} inside a message")),
                    (_, None) => {
                        message = Some((opcode, Utf8::new()));
                        events.push(Event::Start(opcode));
                    }
                }
                let Some((opcode, utf8)) = &mut message else {
                    unreachable!("set above");
                };
                if *opcode == TEXT {
                    utf8.feed(payload)
                        .map_err(|bad| format!("invalid UTF-8 at byte {bad} of {payload:02x?}"))?;
                }
                if !payload.is_empty() {
                    match events.last_mut() {
                        Some(Event::Bytes(bytes)) => bytes.extend_from_slice(payload),
                        _ => events.push(Event::Bytes(payload.to_vec())),
                    }
                }
                if header.fin {
                    if !utf8.is_complete() {
                        return Err("a text message ends inside a character".to_string());
                    }
                    events.push(Event::End);
                    message = None;
                }
            }
        }
    }
    Ok(events)
}

/// What a session did with an input: what it wrote, read back, and where it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<Event>,
    pub outcome: Read,
    pub counters: Counters,
    pub fault: Option<Fault>,
}

/// What `run` drives: a `Session`, or in the tests below, one made wrong on purpose.
trait Endpoint {
    fn read(&mut self, data: &[u8], out: &mut Vec<u8>) -> Read;
    fn outcome(&self) -> Read;
    fn counters(&self) -> Counters;
    fn fault(&self) -> Option<Fault>;
}

impl Endpoint for Session {
    fn read(&mut self, data: &[u8], out: &mut Vec<u8>) -> Read {
        Session::read(self, data, out)
    }
    fn outcome(&self) -> Read {
        Session::outcome(self)
    }
    fn counters(&self) -> Counters {
        *Session::counters(self)
    }
    fn fault(&self) -> Option<Fault> {
        Session::fault(self)
    }
}

/// Feeds `input` to a new session in pieces ending at `ends` (offsets into `input`, in any
/// order), as reads from a socket would. Each call must add at most its piece and
/// `MAX_OVERHEAD` to the output, answer what `outcome` then says, and, once `Closed`, take
/// nothing more and write nothing more; the output must read as a server's.
pub fn run(input: &[u8], ends: &[usize], max_message: u64) -> Result<Run, String> {
    run_of(Session::new(max_message), input, ends)
}

fn run_of(mut session: impl Endpoint, input: &[u8], ends: &[usize]) -> Result<Run, String> {
    let mut ends: Vec<usize> = ends.iter().map(|&end| end.min(input.len())).collect();
    ends.push(input.len());
    ends.sort_unstable();
    ends.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    let mut closed = None;
    for end in ends {
        let piece = &input[start..end];
        start = end;
        let before = out.len();
        let outcome = session.read(piece, &mut out);
        let grown = out.len() - before;
        if grown > piece.len() + MAX_OVERHEAD {
            return Err(format!("{} bytes read, {grown} written", piece.len()));
        }
        if outcome != session.outcome() {
            return Err(format!(
                "read {outcome:?}, then outcome {:?}",
                session.outcome()
            ));
        }
        if let Some(earlier) = closed
            && (outcome != earlier || grown > 0)
        {
            return Err(format!("{outcome:?} and {grown} bytes after {earlier:?}"));
        }
        if let Read::Closed { code } = outcome {
            if session.counters().close_sent != Some(code) {
                return Err(format!("{outcome:?}, {:?}", session.counters()));
            }
            closed = Some(outcome);
        }
    }
    let events = read_output(&out)?;
    Ok(Run {
        events,
        outcome: session.outcome(),
        counters: session.counters(),
        fault: session.fault(),
    })
}

/// The split invariant: `input` fed whole and fed in pieces ending at `ends` gives the same
/// run (the same messages and control frames back, outcome, counters and fault), and the run
/// is the one `model` expects. Returns it.
pub fn check_splits(input: &[u8], ends: &[usize], max_message: u64) -> Result<Run, String> {
    let whole = run(input, &[], max_message)?;
    let pieces = run(input, ends, max_message)?;
    if whole != pieces {
        return Err(format!(
            "whole: {whole:?}\nin pieces ending at {ends:?}: {pieces:?}"
        ));
    }
    let expected = model(input, max_message);
    // The model knows the close codes, not the words of the reasons.
    let mut events = whole.events.clone();
    if let Some(Event::Control(CLOSE, payload)) = events.last_mut() {
        payload.truncate(2);
    }
    let seen = (&events, whole.outcome, whole.counters);
    if seen != (&expected.events, expected.outcome, expected.counters) {
        return Err(format!("run: {whole:?}\nmodel: {expected:?}"));
    }
    Ok(whole)
}

/// What the echo must do with `input`, worked out another way: frame by frame, each payload
/// whole (or as much of it as `input` holds), each text message checked whole by
/// `std::str::from_utf8`. Its close events carry only the code.
pub fn model(input: &[u8], max_message: u64) -> Run {
    let mut model = Model {
        events: Vec::new(),
        counters: Counters::default(),
    };
    let outcome = model.read(input, max_message);
    Run {
        events: model.events,
        outcome,
        counters: model.counters,
        fault: None,
    }
}

struct Model {
    events: Vec<Event>,
    counters: Counters,
}

impl Model {
    fn read(&mut self, mut input: &[u8], max_message: u64) -> Read {
        // The message in progress: its opcode, payload so far, and whether it was begun in
        // the output.
        let mut message: Option<(u8, Vec<u8>, bool)> = None;
        loop {
            let header = match frame::parse(input, true) {
                Ok(Status::Complete(header)) => header,
                Ok(Status::Partial) => return Read::Open,
                Err(fault) => return self.fail(fault.code),
            };
            let key = header.mask.unwrap_or_default();
            let available = (input.len() - header.header_len) as u64;
            let whole = available >= header.len;
            let payload: Vec<u8> = input[header.header_len..]
                .iter()
                .take(header.len.min(available) as usize)
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            input = &input[header.header_len + payload.len()..];
            if header.opcode >= CLOSE {
                if !whole {
                    return Read::Open;
                }
                match header.opcode {
                    PING => self.events.push(Event::Control(PONG, payload)),
                    PONG => {}
                    _ => return self.closed(&payload),
                }
                continue;
            }
            let (opcode, mut bytes, begun) = match (header.opcode, message.take()) {
                (CONTINUATION, Some(message)) => message,
                (CONTINUATION, None) | (_, Some(_)) => return self.fail(PROTOCOL_ERROR),
                (opcode, None) => (opcode, Vec::new(), false),
            };
            if bytes.len() as u64 + header.len > max_message {
                return self.fail(TOO_BIG);
            }
            let before = bytes.len();
            bytes.extend_from_slice(&payload);
            let ends = whole && header.fin;
            // The first byte no text can have there, or the end if it ends inside a character.
            let bad = match std::str::from_utf8(&bytes) {
                Err(e) if opcode == TEXT => match e.error_len() {
                    Some(len) if (0xC2..=0xF4).contains(&bytes[e.valid_up_to()]) => {
                        Some(e.valid_up_to() + len)
                    }
                    Some(_) => Some(e.valid_up_to()),
                    None if ends => Some(bytes.len()),
                    None => None,
                },
                _ => None,
            };
            let echoed = &bytes[before..bad.unwrap_or(bytes.len())];
            self.counters.bytes_in += echoed.len() as u64;
            self.counters.bytes_out += echoed.len() as u64;
            if !begun && (!echoed.is_empty() || (ends && bad.is_none())) {
                self.events.push(Event::Start(opcode));
            }
            let begun = begun || !echoed.is_empty() || ends;
            if !echoed.is_empty() {
                match self.events.last_mut() {
                    Some(Event::Bytes(echo)) => echo.extend_from_slice(echoed),
                    _ => self.events.push(Event::Bytes(echoed.to_vec())),
                }
            }
            if bad.is_some() {
                return self.fail(INVALID_DATA);
            }
            if !whole {
                return Read::Open;
            }
            if header.fin {
                self.events.push(Event::End);
                self.counters.messages_in += 1;
                self.counters.messages_out += 1;
            } else {
                message = Some((opcode, bytes, begun));
            }
        }
    }

    /// The peer's close, with this payload.
    fn closed(&mut self, payload: &[u8]) -> Read {
        let code = match payload {
            [] => NO_STATUS,
            [_] => return self.fail(PROTOCOL_ERROR),
            [high, low, reason @ ..] => {
                let code = u16::from_be_bytes([*high, *low]);
                if !valid_close_code(code) {
                    return self.fail(PROTOCOL_ERROR);
                }
                if std::str::from_utf8(reason).is_err() {
                    return self.fail(INVALID_DATA);
                }
                code
            }
        };
        self.counters.close_received = Some(code);
        let answer = if code == NO_STATUS { NORMAL } else { code };
        self.fail(answer)
    }

    /// A close frame with `code` sent: the end.
    fn fail(&mut self, code: u16) -> Read {
        self.events
            .push(Event::Control(CLOSE, code.to_be_bytes().to_vec()));
        self.counters.close_sent = Some(code);
        Read::Closed { code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::frame::BINARY;

    fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write_frame(&mut out, fin, opcode, payload);
        out
    }

    fn close(code: u16, reason: &[u8]) -> Vec<u8> {
        server_frame(true, CLOSE, &[&code.to_be_bytes()[..], reason].concat())
    }

    #[test]
    fn output_read_back_with_fragments_joined() {
        let output = [
            server_frame(false, TEXT, b"\xce"),
            server_frame(true, PING, b"p"),
            server_frame(false, CONTINUATION, b""),
            server_frame(true, CONTINUATION, b"\xbaa"),
            server_frame(true, BINARY, b""),
            server_frame(true, PONG, b""),
            close(1000, b"bye"),
        ]
        .concat();
        assert_eq!(
            read_output(&output),
            Ok(vec![
                Event::Start(TEXT),
                Event::Bytes(b"\xce".to_vec()),
                Event::Control(PING, b"p".to_vec()),
                Event::Bytes(b"\xbaa".to_vec()),
                Event::End,
                Event::Start(BINARY),
                Event::End,
                Event::Control(PONG, vec![]),
                Event::Control(CLOSE, [&[0x03, 0xe8][..], b"bye"].concat()),
            ])
        );
        let joined = [
            server_frame(false, BINARY, b"a"),
            server_frame(true, CONTINUATION, b"b"),
        ];
        assert_eq!(
            read_output(&joined.concat()),
            Ok(vec![
                Event::Start(BINARY),
                Event::Bytes(b"ab".to_vec()),
                Event::End
            ])
        );
        // An unfinished message may end the output, and an empty close.
        let unfinished = [
            server_frame(false, TEXT, b"a\xce"),
            server_frame(true, CLOSE, b""),
        ];
        assert_eq!(read_output(&unfinished.concat()).map(|e| e.len()), Ok(3));
        assert_eq!(read_output(b""), Ok(vec![]));
    }

    #[test]
    fn output_no_client_may_accept() {
        let masked = client_frame(true, TEXT, b"a", [1, 2, 3, 4]);
        let cases: [(Vec<u8>, &str); 13] = [
            (
                [close(1000, b""), server_frame(true, PING, b"")].concat(),
                "2 bytes after the close frame",
            ),
            (vec![0x81], "a frame cut short: [81]"),
            (vec![0x81, 0x02, b'a'], "a payload cut short"),
            (
                vec![0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                "a payload cut short",
            ),
            (masked, "not a server frame"),
            (
                server_frame(true, CLOSE, b"\x03"),
                "a close frame with a 1-byte payload",
            ),
            (close(1005, b""), "a bad close frame"),
            (close(1000, b"\xff"), "a bad close frame"),
            (
                server_frame(true, CONTINUATION, b""),
                "a continuation of nothing",
            ),
            (
                [
                    server_frame(false, TEXT, b""),
                    server_frame(true, BINARY, b""),
                ]
                .concat(),
                "opcode 2 inside a message",
            ),
            (
                server_frame(true, TEXT, b"a\xff"),
                "invalid UTF-8 at byte 1",
            ),
            (
                server_frame(true, TEXT, b"a\xce"),
                "a text message ends inside a character",
            ),
            (
                [
                    server_frame(false, TEXT, b"\xce"),
                    server_frame(true, CONTINUATION, b""),
                ]
                .concat(),
                "a text message ends inside a character",
            ),
        ];
        for (output, error) in cases {
            match read_output(&output) {
                Err(e) if e.starts_with(error) => {}
                other => panic!("{output:02x?}: {other:?}, not {error:?}"),
            }
        }
        // Binary is not text.
        assert!(read_output(&server_frame(true, BINARY, b"a\xff")).is_ok());
    }

    /// What a session made wrong does after a read: given the read's number (from 0), what
    /// the session answered and its output, it gives its own answer.
    type Twist = fn(usize, Read, &mut Vec<u8>) -> Read;

    /// A session that answers as `Session` does, but made wrong by `twist`; its `outcome` is
    /// what its last read said if `consistent`, else the session's.
    struct Wrong {
        session: Session,
        twist: Twist,
        consistent: bool,
        reads: usize,
        last: Option<Read>,
    }

    impl Endpoint for Wrong {
        fn read(&mut self, data: &[u8], out: &mut Vec<u8>) -> Read {
            let read = self.session.read(data, out);
            let read = (self.twist)(self.reads, read, out);
            self.reads += 1;
            self.last = Some(read);
            read
        }
        fn outcome(&self) -> Read {
            match self.last {
                Some(read) if self.consistent => read,
                _ => self.session.outcome(),
            }
        }
        fn counters(&self) -> Counters {
            *self.session.counters()
        }
        fn fault(&self) -> Option<Fault> {
            self.session.fault()
        }
    }

    /// A text message, a close, a text message: in three reads, the session closes at the
    /// second.
    fn run_wrong(twist: Twist, consistent: bool, whole: bool) -> Result<Run, String> {
        let hello = client_frame(true, TEXT, b"hello", [1, 2, 3, 4]);
        let bye = client_frame(true, CLOSE, &1000u16.to_be_bytes(), [1, 2, 3, 4]);
        let input = [&hello[..], &bye, &hello].concat();
        let ends = [hello.len(), hello.len() + bye.len()];
        let wrong = Wrong {
            session: Session::new(1 << 20),
            twist,
            consistent,
            reads: 0,
            last: None,
        };
        run_of(wrong, &input, if whole { &[] } else { &ends })
    }

    #[test]
    fn each_check_of_a_run_catches_a_session_made_wrong() {
        let right: Twist = |_, read, _| read;
        for (consistent, whole) in [(true, true), (true, false), (false, true), (false, false)] {
            let run = run_wrong(right, consistent, whole).unwrap();
            assert_eq!(run.outcome, Read::Closed { code: 1000 });
            assert_eq!(run.counters.messages_in, 1);
        }

        // Writes more than a read allows: the 11 bytes of the first read, and MAX_OVERHEAD
        // (254) more: the echo (7), and a binary frame of 4 + 254 bytes, or one byte more.
        let most: Twist = |reads, read, out| {
            if reads == 0 {
                out.extend_from_slice(&[0x82, 0x7e, 0x00, 0xfe]);
                out.resize(out.len() + 254, 0);
            }
            read
        };
        assert!(run_wrong(most, false, false).is_ok());
        let verbose: Twist = |reads, read, out| {
            if reads == 0 {
                out.extend_from_slice(&[0x82, 0x7e, 0x00, 0xff]);
                out.resize(out.len() + 255, 0);
            }
            read
        };
        let error = run_wrong(verbose, false, false).unwrap_err();
        assert_eq!(error, "11 bytes read, 266 written");
        // Says one thing, then another.
        let fickle: Twist = |_, _, _| Read::Closing;
        let error = run_wrong(fickle, false, false).unwrap_err();
        assert_eq!(error, "read Closing, then outcome Open");
        // Goes on writing once closed: in a read after the one that closed, or in that one (the
        // input whole).
        let chatty: Twist = |reads, read, out| {
            if reads == 2 || (reads == 0 && read != Read::Open) {
                out.extend_from_slice(&[0x8a, 0x00]);
            }
            read
        };
        let error = run_wrong(chatty, false, false).unwrap_err();
        assert_eq!(
            error,
            "Closed { code: 1000 } and 2 bytes after Closed { code: 1000 }"
        );
        // What was written must read as a server's frames, whatever the pieces.
        let error = run_wrong(chatty, false, true).unwrap_err();
        assert_eq!(error, "2 bytes after the close frame");
        // Opens again once closed.
        let reopened: Twist = |reads, read, _| if reads == 2 { Read::Open } else { read };
        let error = run_wrong(reopened, true, false).unwrap_err();
        assert_eq!(error, "Open and 0 bytes after Closed { code: 1000 }");
        // Closed with a code other than the one sent.
        let miscounted: Twist = |_, read, _| match read {
            Read::Closed { .. } => Read::Closed { code: 1001 },
            read => read,
        };
        let error = run_wrong(miscounted, true, true).unwrap_err();
        assert!(
            error.starts_with("Closed { code: 1001 }, Counters"),
            "{error}"
        );
    }
}
