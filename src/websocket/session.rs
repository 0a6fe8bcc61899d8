//! The echo session: an open WebSocket connection's protocol, sans I/O. The caller feeds the
//! bytes it reads (`read`) and sends what the session appends to its output buffer; nothing
//! here touches a socket or a clock.
//!
//! Every text and binary message comes back as it was sent, the same bytes and type; a ping
//! gets a pong with its payload; pongs are ignored; a close gets a close. The echo streams:
//! payload bytes are unmasked straight into the output as they arrive, so the session never
//! holds a message, whatever its size. RFC 6455 §5.4 allows it: "an intermediary MAY change the
//! fragmentation of a message", and the echo may send a large frame back as several
//! fragments (the first with the message's opcode, then continuations, the last final). Only
//! a header cut by a read (≤ 14 bytes) and a control frame's payload (≤ 125) wait between
//! reads, in the session itself: every byte given to `read` is used.
//!
//! Feeding a byte stream in any pieces gives the same messages and control frames back, the
//! same outcome and the same counters as feeding it whole; only where the echoed messages are
//! cut into fragments differs (see `testing::check_splits`).
//!
//! Bounds: each call to `read` appends at most `data.len() + MAX_OVERHEAD` bytes to `out`;
//! `close`, `ping` and `text` append one frame each. The session holds nothing else, so the
//! caller's buffers are the connection's only memory. One thing the caller must allow: many
//! clients send a whole message before they read any of its echo (a blocking `sendall`;
//! Autobahn's 9.x cases through kosoku), so a message's echo may have to wait whole in the
//! output: stop reading the socket only once more than `max_message` (and a few bytes of
//! frame header a read) waits, or such a client and the server wait on each other until a
//! timeout. An echo that collects each message before sending it back (Node's `ws`, Python's
//! `websockets`) holds the same bytes, as input.

use super::frame::{
    self, CLOSE, CONTINUATION, Fault, Header, INVALID_DATA, MAX_CONTROL, MAX_HEADER, PING, PONG,
    PROTOCOL_ERROR, TEXT, TOO_BIG,
};
use super::utf8::Utf8;
use crate::http::Status;

/// "1000 indicates a normal closure": the answer to a close without a code.
pub const NORMAL: u16 = 1000;
/// "1001 indicates that an endpoint is "going away", such as a server going down."
pub const GOING_AWAY: u16 = 1001;
/// "1005 is a reserved value ... designated for use in applications expecting a status code
/// to indicate that no status code was actually present": recorded for a close without one.
pub const NO_STATUS: u16 = 1005;

/// The most `read` appends to `out` beyond the bytes it was given: two control frames of
/// 2 + 125 bytes for as little as a byte each, the pong for a ping whose last byte comes in
/// this read and the close that fails the connection. Everything else takes no more than it
/// was given, but for the header of a data frame's echo when the frame's own header came in an
/// earlier read (10 bytes), which, being the read's first item, leaves no room for the pong.
pub const MAX_OVERHEAD: usize = 2 * (2 + MAX_CONTROL);

/// Where the connection stands after a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Go on: feed the next bytes when they come.
    Open,
    /// The server's close went out (`close`) and the peer's is awaited: go on feeding (its
    /// messages are read and dropped) until `Closed`, or close the connection after a timeout.
    Closing,
    /// The closing handshake is over on this side: the close frame carrying `code` is in `out`
    /// (or was sent earlier, by `close`). Send `out`, then close the TCP connection ("the
    /// underlying TCP connection, in most normal cases, SHOULD be closed first by the server",
    /// §7.1.1). Bytes after this point are never read: feeding more does nothing.
    Closed { code: u16 },
}

/// What the session counted, for metrics and the access log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Text and binary messages received whole (valid to their last byte).
    pub messages_in: u64,
    /// Payload bytes of text and binary frames received, up to the byte that failed a message.
    pub bytes_in: u64,
    /// Text and binary messages sent whole: echoes and `text`.
    pub messages_out: u64,
    /// Payload bytes of text and binary frames sent.
    pub bytes_out: u64,
    /// The code of the close frame sent.
    pub close_sent: Option<u16>,
    /// The code of a valid close frame received (`NO_STATUS` for one without a code).
    pub close_received: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Closing { code: u16 },
    Closed { code: u16 },
}

/// What is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A frame header; `have` of its bytes are kept in `header`.
    Header,
    /// A text or binary frame's payload, `left` bytes of it still to come.
    Data { left: u64, fin: bool },
    /// A control frame's payload, gathered in `control`, `left` bytes still to come.
    Control { opcode: u8, left: usize },
}

/// The text or binary message being read (and echoed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Message {
    opcode: u8,
    /// Payload bytes read so far.
    len: u64,
    /// Its first frame has been written: the next are continuations.
    started: bool,
}

const NOTHING_TO_CONTINUE: &str = "continuation frame without a message to continue";
const NEW_MESSAGE_INSIDE: &str = "new message inside a fragmented one, opcode";
const TOO_LONG: &str = "message longer than";
const BAD_UTF8: &str = "invalid UTF-8 in a text message at byte";
const UNFINISHED_UTF8: &str = "text message ends inside a UTF-8 sequence, at byte";
const ONE_BYTE_CLOSE: &str = "close frame with a 1-byte payload";
const BAD_CLOSE_CODE: &str = "invalid close code";
const BAD_CLOSE_REASON: &str = "invalid UTF-8 in a close reason at byte";

/// Whether a close frame may carry `code` (RFC 6455 §7.4 and the IANA registry): 1000-1003,
/// 1007-1011 (§7.4.1), 1012-1014 (registered since: service restart, try again later, bad
/// gateway; Autobahn's 7.9.x no longer refuses them), 3000-3999 (registered libraries and
/// frameworks) and 4000-4999 (private use). 0-999 are unused, 1004 reserved; 1005, 1006 and
/// 1015 "MUST NOT be set as a status code in a Close control frame"; 1016-2999 are for future
/// revisions of the protocol.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// One WebSocket connection's protocol state: under 300 bytes, nothing on the heap.
pub struct Session {
    max_message: u64,
    state: State,
    phase: Phase,
    header: [u8; MAX_HEADER],
    have: usize,
    /// The masking key of the frame being read, and how far into its payload the read is.
    mask: [u8; 4],
    offset: u64,
    message: Option<Message>,
    utf8: Utf8,
    control: [u8; MAX_CONTROL],
    control_len: usize,
    fault: Option<Fault>,
    counters: Counters,
}

impl Session {
    /// A session just past the handshake. A message longer than `max_message` bytes fails the
    /// connection with 1009 as soon as its frame header announces the excess.
    pub fn new(max_message: u64) -> Session {
        Session {
            max_message,
            state: State::Open,
            phase: Phase::Header,
            header: [0; MAX_HEADER],
            have: 0,
            mask: [0; 4],
            offset: 0,
            message: None,
            utf8: Utf8::new(),
            control: [0; MAX_CONTROL],
            control_len: 0,
            fault: None,
            counters: Counters::default(),
        }
    }

    /// Reads the next bytes from the client and appends the answers (echoes, pongs, a close)
    /// to `out`. All of `data` is used, unless the connection closes on the way: the bytes
    /// after the close (or the fault) are ignored.
    pub fn read(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Read {
        while !data.is_empty() && !matches!(self.state, State::Closed { .. }) {
            let used = match self.phase {
                Phase::Header => self.read_header(data, out),
                Phase::Data { left, fin } => {
                    let n = left.min(data.len() as u64) as usize;
                    self.data(&data[..n], left, fin, out);
                    n
                }
                Phase::Control { opcode, left } => {
                    let n = left.min(data.len());
                    let at = self.control_len;
                    let payload = &mut self.control[at..at + n];
                    payload.copy_from_slice(&data[..n]);
                    frame::unmask(payload, self.mask, at as u64);
                    self.control_len += n;
                    if n == left {
                        self.control_frame(opcode, out);
                    } else {
                        self.phase = Phase::Control {
                            opcode,
                            left: left - n,
                        };
                    }
                    n
                }
            };
            data = &data[used..];
        }
        self.outcome()
    }

    /// Where the connection stands, as the last call left it.
    pub fn outcome(&self) -> Read {
        match self.state {
            State::Open => Read::Open,
            State::Closing { .. } => Read::Closing,
            State::Closed { code } => Read::Closed { code },
        }
    }

    /// A text or binary message has begun and not ended: its echo may have to wait whole
    /// (see the module's docs on what the caller must allow).
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// The longest message echoed: what `new` was given.
    pub fn max_message(&self) -> u64 {
        self.max_message
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Why the connection was failed, if it was: the close code sent and what was wrong.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// Starts the closing handshake (1001 when the server stops, 1000, 1008 ...): appends a
    /// close frame with `code` and `reason` (cut to the 123 bytes a close frame holds, at a
    /// character's boundary). Then `read` drops the peer's messages until its close comes
    /// (`Closed`). Does nothing once a close was sent.
    pub fn close(&mut self, code: u16, reason: &str, out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        let mut end = reason.len().min(MAX_CONTROL - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        write_close(out, code, &reason.as_bytes()[..end]);
        self.counters.close_sent = Some(code);
        self.state = State::Closing { code };
    }

    /// Appends a ping (the keepalive before an idle timeout). Returns false, writing nothing,
    /// for a payload over 125 bytes or once a close was sent.
    pub fn ping(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        if self.state != State::Open || payload.len() > MAX_CONTROL {
            return false;
        }
        frame::write_frame(out, true, PING, payload);
        true
    }

    /// Appends `message` as one whole text message (the greeting). Returns false, writing
    /// nothing, if it is not UTF-8, once a close was sent, or while an echoed message is half
    /// written (messages cannot interleave: §5.4).
    pub fn text(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
        let echoing = self.message.is_some_and(|m| m.started);
        if self.state != State::Open || echoing || std::str::from_utf8(message).is_err() {
            return false;
        }
        frame::write_frame(out, true, TEXT, message);
        self.counters.messages_out += 1;
        self.counters.bytes_out += message.len() as u64;
        true
    }

    /// Reads (the rest of) a frame header; returns the bytes of `data` used.
    fn read_header(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let had = self.have;
        let take = data.len().min(MAX_HEADER - had);
        let parsed = if had == 0 {
            // Most headers arrive whole: read them where they are.
            frame::parse(data, true)
        } else {
            self.header[had..had + take].copy_from_slice(&data[..take]);
            frame::parse(&self.header[..had + take], true)
        };
        match parsed {
            Ok(Status::Complete(header)) => {
                self.have = 0;
                self.begin(header, out);
                header.header_len - had
            }
            Ok(Status::Partial) => {
                // All of `data` (a whole header is never Partial): kept for the next read.
                if had == 0 {
                    self.header[..take].copy_from_slice(&data[..take]);
                }
                self.have += take;
                take
            }
            Err(fault) => {
                self.fail(fault, out);
                data.len()
            }
        }
    }

    /// Acts on a complete header: checks it against the message in progress and the size
    /// limit, and reads its payload next.
    fn begin(&mut self, header: Header, out: &mut Vec<u8>) {
        self.mask = header.mask.unwrap_or_default();
        self.offset = 0;
        if header.opcode >= CLOSE {
            // Control frames "MAY be injected in the middle of a fragmented message" (§5.4).
            self.control_len = 0;
            let left = header.len as usize;
            self.phase = Phase::Control {
                opcode: header.opcode,
                left,
            };
            if left == 0 {
                self.control_frame(header.opcode, out);
            }
            return;
        }
        let message = match (header.opcode, self.message) {
            // "EXAMPLE: For a text message sent as three fragments, the first fragment would
            // have an opcode of 0x1 and a FIN bit clear, the second fragment would have an
            // opcode of 0x0 and a FIN bit clear, and the third fragment would have an opcode
            // of 0x0 and a FIN bit that is set." (§5.4) A continuation needs a message to
            // continue; a new message cannot start inside one.
            (CONTINUATION, Some(message)) => message,
            (CONTINUATION, None) => {
                return self.fail(Fault::new(PROTOCOL_ERROR, NOTHING_TO_CONTINUE, None), out);
            }
            (opcode, Some(_)) => {
                let fault = Fault::new(PROTOCOL_ERROR, NEW_MESSAGE_INSIDE, Some(opcode.into()));
                return self.fail(fault, out);
            }
            (opcode, None) => {
                self.utf8 = Utf8::new();
                Message {
                    opcode,
                    len: 0,
                    started: false,
                }
            }
        };
        // Checked against the header: no byte of a message too long is echoed.
        if header.len > self.max_message - message.len {
            let fault = Fault::new(TOO_BIG, TOO_LONG, Some(self.max_message));
            return self.fail(fault, out);
        }
        self.message = Some(message);
        self.phase = Phase::Data {
            left: header.len,
            fin: header.fin,
        };
        if header.len == 0 {
            self.data(&[], 0, header.fin, out);
        }
    }

    /// Echoes the next `chunk` of a data frame's payload, `left` bytes of which were still to
    /// come, as one frame of the echoed message.
    fn data(&mut self, chunk: &[u8], left: u64, fin: bool, out: &mut Vec<u8>) {
        let Some(mut message) = self.message else {
            unreachable!("a data frame's payload is read within a message");
        };
        let n = chunk.len() as u64;
        let ends_message = fin && n == left;
        let at = out.len();
        // An empty chunk is written only to end the message.
        if n > 0 || ends_message {
            let opcode = if message.started {
                CONTINUATION
            } else {
                message.opcode
            };
            frame::write_header(out, ends_message, opcode, n);
            let start = out.len();
            out.extend_from_slice(chunk);
            frame::unmask(&mut out[start..], self.mask, self.offset);
            if message.opcode == TEXT {
                if let Err(bad) = self.utf8.feed(&out[start..]) {
                    // The bytes before the bad one go out as a fragment, as they would have
                    // had the read stopped just before it: the echo does not depend on how
                    // the bytes were cut.
                    if bad == 0 {
                        out.truncate(at);
                    } else {
                        let (header, size) = frame::encode_header(false, opcode, bad as u64);
                        out[at..at + size].copy_from_slice(&header[..size]);
                        out.copy_within(start..start + bad, at + size);
                        out.truncate(at + size + bad);
                    }
                    self.sent(at, out, bad as u64);
                    self.counters.bytes_in += bad as u64;
                    let fault = Fault::new(INVALID_DATA, BAD_UTF8, Some(message.len + bad as u64));
                    return self.fail(fault, out);
                }
                if ends_message && !self.utf8.is_complete() {
                    // Every byte was a valid beginning, but the last character is cut short.
                    if n == 0 {
                        out.truncate(at);
                    } else {
                        out[at] &= 0x7F;
                    }
                    self.sent(at, out, n);
                    self.counters.bytes_in += n;
                    let end = message.len + n;
                    return self.fail(Fault::new(INVALID_DATA, UNFINISHED_UTF8, Some(end)), out);
                }
            }
            self.sent(at, out, n);
            message.started = true;
        }
        self.counters.bytes_in += n;
        self.offset += n;
        message.len += n;
        self.phase = if n == left {
            Phase::Header
        } else {
            Phase::Data {
                left: left - n,
                fin,
            }
        };
        self.message = if ends_message {
            self.counters.messages_in += 1;
            if self.state == State::Open {
                self.counters.messages_out += 1;
            }
            None
        } else {
            Some(message)
        };
    }

    /// Counts the frame written at `out[at..]` with `n` payload bytes, or takes it back once
    /// a close was sent ("the endpoint MUST NOT send any more data frames", §5.5.1).
    fn sent(&mut self, at: usize, out: &mut Vec<u8>, n: u64) {
        if self.state == State::Open {
            self.counters.bytes_out += n;
        } else {
            out.truncate(at);
        }
    }

    /// Acts on a control frame whose payload is all in `control`.
    fn control_frame(&mut self, opcode: u8, out: &mut Vec<u8>) {
        self.phase = Phase::Header;
        let payload = &self.control[..self.control_len];
        match opcode {
            // "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response
            // ... The Pong frame sent in response to a Ping frame must have identical
            // "Application data" as found in the message body of the Ping frame being replied
            // to." (§5.5.2, §5.5.3) Not once a close was sent.
            PING if self.state == State::Open => frame::write_frame(out, true, PONG, payload),
            // "A response to an unsolicited Pong frame is not expected."
            PING | PONG => {}
            _ => self.peer_closed(out),
        }
    }

    /// The peer's close frame, in `control`: "If there is a body, the first two bytes of the
    /// body MUST be a 2-byte unsigned integer (in network byte order) representing a status
    /// code ... Following the 2-byte integer, the body MAY contain UTF-8-encoded data"
    /// (§5.5.1).
    fn peer_closed(&mut self, out: &mut Vec<u8>) {
        let code = match self.control[..self.control_len] {
            [] => None,
            [_] => return self.fail(Fault::new(PROTOCOL_ERROR, ONE_BYTE_CLOSE, None), out),
            [high, low, ref reason @ ..] => {
                let code = u16::from_be_bytes([high, low]);
                if !valid_close_code(code) {
                    let fault = Fault::new(PROTOCOL_ERROR, BAD_CLOSE_CODE, Some(code.into()));
                    return self.fail(fault, out);
                }
                let mut utf8 = Utf8::new();
                let checked = utf8.feed(reason).map_err(|bad| bad as u64);
                let checked = checked.and_then(|()| match utf8.is_complete() {
                    true => Ok(()),
                    false => Err(reason.len() as u64),
                });
                if let Err(bad) = checked {
                    let fault = Fault::new(INVALID_DATA, BAD_CLOSE_REASON, Some(bad));
                    return self.fail(fault, out);
                }
                Some(code)
            }
        };
        self.counters.close_received = Some(code.unwrap_or(NO_STATUS));
        // "If an endpoint receives a Close frame and did not previously send a Close frame,
        // the endpoint MUST send a Close frame in response. (When sending a Close frame in
        // response, the endpoint typically echos the status code it received.)" (§5.5.1)
        let code = match self.state {
            State::Open => {
                let answer = code.unwrap_or(NORMAL);
                write_close(out, answer, b"");
                self.counters.close_sent = Some(answer);
                answer
            }
            State::Closing { code } | State::Closed { code } => code,
        };
        self.state = State::Closed { code };
    }

    /// Fails the connection (§7.1.7): a close frame with the fault's code and what was wrong
    /// as its reason, unless a close was sent already; then nothing more is read.
    fn fail(&mut self, fault: Fault, out: &mut Vec<u8>) {
        self.fault = Some(fault);
        let code = match self.state {
            State::Open => {
                // The header's length is set once the reason is written: every reason is
                // short (under 60 bytes and a number), far from the 123 bytes a close holds.
                let at = out.len();
                let (header, _) = frame::encode_header(true, CLOSE, 0);
                out.extend_from_slice(&header[..2]);
                out.extend_from_slice(&fault.code.to_be_bytes());
                fault.write_message(out);
                let len = out.len() - at - 2;
                debug_assert!(len <= MAX_CONTROL, "a close reason of {len} bytes");
                out[at + 1] = len as u8;
                self.counters.close_sent = Some(fault.code);
                fault.code
            }
            State::Closing { code } | State::Closed { code } => code,
        };
        self.state = State::Closed { code };
    }
}

/// Appends a close frame: the code, big-endian, then the reason (≤ 123 bytes).
fn write_close(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    frame::write_header(out, true, CLOSE, 2 + reason.len() as u64);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

#[cfg(test)]
mod tests;
