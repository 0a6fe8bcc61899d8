//! `/ws`, the WebSocket echo, with the real binary over real sockets and a client written
//! here from RFC 6455 (not whod's own frame code): the handshake and its refusals, echoes of
//! every kind of message, the closes (the client's, a protocol error's, a message too long,
//! the server's stop, the idle timeout), the metrics and the access log line.
//! Autobahn's cases run against it in `tests/websocket.sh`.

mod common;

use common::{TIMEOUT, Whod, hostname};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// RFC 6455 §1.3's example key and the accept value it gives.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(target: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A frame as the client sends it: masked (§5.3), with a key that is not zero.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![(fin as u8) << 7 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// A frame as the server sent it.
#[derive(Debug)]
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// What the server sent, read whole.
#[derive(Debug, PartialEq)]
enum Received {
    /// A text or binary message, its fragments joined.
    Message(u8, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

struct Socket {
    stream: TcpStream,
    /// A message's opcode and fragments so far.
    partial: Option<(u8, Vec<u8>)>,
}

impl Socket {
    /// Connects and sends `request`; returns the answer's head, and the socket.
    fn open(whod: &Whod, request: &[u8]) -> (String, Socket) {
        let mut socket = Socket::send_request(whod, request);
        (socket.head(), socket)
    }

    /// Connects and sends `request`, reading nothing yet.
    fn send_request(whod: &Whod, request: &[u8]) -> Socket {
        let mut stream = TcpStream::connect(whod.addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(request).unwrap();
        Socket {
            stream,
            partial: None,
        }
    }

    /// The answer's head. A byte at a time: what follows it is frames, read apart.
    fn head(&mut self) -> String {
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") {
            self.stream
                .read_exact(&mut byte)
                .expect("the answer's head");
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// The handshake, checked: a 101 with the right accept value.
    fn upgrade(whod: &Whod, target: &str) -> Socket {
        let (head, socket) = Socket::open(whod, &upgrade_request(target, ""));
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nUpgrade: websocket\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: Upgrade\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nSec-WebSocket-Accept: {ACCEPT}\r\n")),
            "{head}"
        );
        // A 101 has no body: no framing fields (RFC 9110 §8.6, RFC 9112 §6.1).
        assert!(!head.contains("Content-Length"), "{head}");
        socket
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn frame(&mut self) -> Frame {
        let mut two = [0; 2];
        self.stream.read_exact(&mut two).expect("a frame header");
        assert_eq!(two[1] & 0x80, 0, "a server's frames are not masked");
        assert_eq!(two[0] & 0x70, 0, "no extension was agreed: RSV bits clear");
        let len = match two[1] & 0x7f {
            126 => {
                let mut n = [0; 2];
                self.stream.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0; 8];
                self.stream.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).unwrap();
        Frame {
            fin: two[0] & 0x80 != 0,
            opcode: two[0] & 0x0f,
            payload,
        }
    }

    /// The next message or control frame. A control frame may come between the fragments of
    /// a message (§5.4): it is returned first, the message's fragments so far kept.
    fn receive(&mut self) -> Received {
        loop {
            let frame = self.frame();
            match frame.opcode {
                PING => return Received::Ping(frame.payload),
                PONG => return Received::Pong(frame.payload),
                CLOSE => {
                    let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                    let reason = String::from_utf8(frame.payload[2..].to_vec()).unwrap();
                    return Received::Close(code, reason);
                }
                TEXT | BINARY => {
                    assert!(self.partial.is_none(), "messages do not interleave");
                    self.partial = Some((frame.opcode, frame.payload));
                }
                CONTINUATION => {
                    let partial = self.partial.as_mut().expect("a message to continue");
                    partial.1.extend_from_slice(&frame.payload);
                }
                other => panic!("opcode {other}"),
            }
            if frame.fin {
                let (opcode, payload) = self.partial.take().unwrap();
                return Received::Message(opcode, payload);
            }
        }
    }

    /// The server closed the TCP connection (after its close frame).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}

fn metric(whod: &Whod, name: &str) -> String {
    let mut client = whod.connect();
    let page = client.exchange(&common::get("/metrics")).text();
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        .to_string()
}

#[test]
fn echoes_text_binary_and_fragmented_messages_and_answers_a_ping() {
    let whod = Whod::start(&[]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    ws.send(&frame(true, TEXT, "héllo".as_bytes()));
    assert_eq!(ws.receive(), Received::Message(TEXT, "héllo".into()));
    let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    ws.send(&frame(true, BINARY, &binary));
    assert_eq!(ws.receive(), Received::Message(BINARY, binary));
    // A message in three fragments, a ping between two of them (§5.4: control frames may be
    // injected in the middle of a fragmented message).
    ws.send(&frame(false, TEXT, b"one "));
    ws.send(&frame(false, CONTINUATION, b"two "));
    ws.send(&frame(true, PING, b"are you there"));
    ws.send(&frame(true, CONTINUATION, b"three"));
    let mut pong = None;
    let mut message = None;
    while pong.is_none() || message.is_none() {
        match ws.receive() {
            Received::Pong(payload) => pong = Some(payload),
            Received::Message(opcode, payload) => message = Some((opcode, payload)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pong.unwrap(), b"are you there");
    assert_eq!(message.unwrap(), (TEXT, b"one two three".to_vec()));
    // An empty message is a message too.
    ws.send(&frame(true, BINARY, b""));
    assert_eq!(ws.receive(), Received::Message(BINARY, vec![]));
    // The client's close gets its code back, and the server closes the TCP connection.
    ws.send(&frame(true, CLOSE, &close_payload(1000, "bye")));
    assert_eq!(ws.receive(), Received::Close(1000, String::new()));
    assert!(ws.is_closed());
}

#[test]
fn frames_sent_with_the_upgrade_request_are_echoed() {
    let whod = Whod::start(&[]);
    let mut bytes = upgrade_request("/ws", "");
    bytes.extend(frame(true, TEXT, b"early"));
    let (head, mut ws) = Socket::open(&whod, &bytes);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(ws.receive(), Received::Message(TEXT, b"early".to_vec()));
}

#[test]
fn a_greeting_is_the_echo_of_the_upgrade_request() {
    let whod = Whod::start(&["--name", "blue"]);
    let mut ws = Socket::upgrade(&whod, "/ws?greeting=text");
    let Received::Message(TEXT, greeting) = ws.receive() else {
        panic!("a text message first");
    };
    let greeting = String::from_utf8(greeting).unwrap();
    assert!(
        greeting.contains("\nGET /ws?greeting=text HTTP/1.1\n"),
        "{greeting}"
    );
    assert!(
        greeting.contains(&format!("hostname: {}\n", hostname())),
        "{greeting}"
    );
    assert!(greeting.contains("Sec-WebSocket-Key: "), "{greeting}");
    let mut ws = Socket::upgrade(&whod, "/ws?greeting=json");
    let Received::Message(TEXT, greeting) = ws.receive() else {
        panic!("a text message first");
    };
    let greeting = String::from_utf8(greeting).unwrap();
    assert!(greeting.starts_with('{'), "{greeting}");
    assert!(greeting.contains("\"name\": \"blue\""), "{greeting}");
    // The echo goes on after it.
    ws.send(&frame(true, TEXT, b"then"));
    assert_eq!(ws.receive(), Received::Message(TEXT, b"then".to_vec()));
}

/// Each refusal: its status, its message naming what was wrong, and a close (no frames
/// may follow a refused upgrade as requests).
#[test]
fn a_handshake_that_is_wrong_is_refused_saying_why() {
    let whod = Whod::start(&[]);
    let valid = String::from_utf8(upgrade_request("/ws", "")).unwrap();
    let cases: Vec<(String, u16, &str)> = vec![
        (
            valid.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            426,
            "8",
        ),
        (
            valid.replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""),
            400,
            "Sec-WebSocket-Key",
        ),
        (valid.replace(KEY, "c2hvcnQ="), 400, "c2hvcnQ="),
        (
            valid.replace("Upgrade: websocket", "Upgrade: h2c"),
            400,
            "h2c",
        ),
        (
            valid.replace("Connection: Upgrade", "Connection: keep-alive"),
            400,
            "keep-alive",
        ),
        (valid.replacen("GET", "POST", 1), 400, "POST"),
        // An upgrade request has no body (RFC 6455 §4.1: a GET); one that has one is refused
        // rather than its body read as frames.
        (
            valid.replace("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\nhello"),
            400,
            "body",
        ),
        (valid.replace("/ws", "/ws?greeting=xml"), 400, "xml"),
    ];
    for (request, status, named) in cases {
        let (head, mut socket) = Socket::open(&whod, request.as_bytes());
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?} got {head}"
        );
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
        if status == 426 {
            assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{head}");
        }
        let length: usize = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        socket.stream.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains(named), "{request:?}: {body}");
        assert!(socket.is_closed(), "{request:?}");
    }
    // Still serving, and nothing was upgraded.
    assert_eq!(
        metric(
            &Whod::start(&["--metrics"]),
            "whod_websocket_connections_open"
        ),
        "0"
    );
}

#[test]
fn a_protocol_error_closes_with_its_code_and_reason() {
    let whod = Whod::start(&[]);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        // §5.1: "The server MUST close the connection upon receiving a frame that is not
        // masked"; §7.4.1: 1002, protocol error.
        (vec![0x81, 0x02, b'h', b'i'], 1002, "mask"),
        // §8.1: a text message that is not UTF-8 fails with 1007.
        (frame(true, TEXT, b"ok \xff"), 1007, "UTF-8"),
        (frame(true, CONTINUATION, b"x"), 1002, "continuation"),
        // A control frame longer than 125 bytes (§5.5).
        (frame(true, PING, &[0; 126]), 1002, "125"),
    ];
    for (bytes, code, said) in cases {
        let mut ws = Socket::upgrade(&whod, "/ws");
        ws.send(&bytes);
        let Received::Close(got, reason) = ws.receive() else {
            panic!("a close for {bytes:?}");
        };
        assert_eq!(got, code, "{reason}");
        assert!(reason.contains(said), "{reason:?} should say {said:?}");
        assert!(ws.is_closed());
    }
}

#[test]
fn a_message_longer_than_the_limit_closes_with_1009_before_its_payload_is_read() {
    let whod = Whod::start(&["--ws-max-message", "1KiB", "--metrics"]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    ws.send(&frame(true, BINARY, &[1; 1024]));
    assert_eq!(ws.receive(), Received::Message(BINARY, vec![1; 1024]));
    // Fragments count together.
    ws.send(&frame(false, TEXT, &[b'a'; 1000]));
    ws.send(&frame(true, CONTINUATION, &[b'b'; 25]));
    let mut received = ws.receive();
    if let Received::Message(..) = received {
        // The first fragment's echo may come before the close.
        received = ws.receive();
    }
    let Received::Close(1009, reason) = received else {
        panic!("{received:?}");
    };
    assert!(reason.contains("1024"), "{reason}");
    assert!(ws.is_closed());
    assert_eq!(
        metric(&whod, "whod_websocket_closes_total{code=\"1009\"}"),
        "1"
    );
}

#[test]
fn stopping_sends_1001_and_waits_for_the_clients_close() {
    let mut whod = Whod::start(&[]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    ws.send(&frame(true, TEXT, b"before"));
    assert_eq!(ws.receive(), Received::Message(TEXT, b"before".to_vec()));
    whod.signal("TERM");
    let Received::Close(1001, _) = ws.receive() else {
        panic!("a going-away close");
    };
    ws.send(&frame(true, CLOSE, &close_payload(1001, "")));
    assert!(ws.is_closed());
    assert!(whod.wait(TIMEOUT).success());
}

/// An upgrade answered after the stop began (here held by `--latency` until the stop released
/// it) is told at once, as the others were.
#[test]
fn an_upgrade_answered_during_the_stop_gets_1001_at_once() {
    let mut whod = Whod::start(&["--latency", "3s"]);
    let mut ws = Socket::send_request(&whod, &upgrade_request("/ws", ""));
    std::thread::sleep(Duration::from_millis(300));
    whod.signal("TERM");
    let head = ws.head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let Received::Close(1001, reason) = ws.receive() else {
        panic!("a going-away close");
    };
    assert_eq!(reason, "server stopping");
    assert!(ws.is_closed());
    assert!(whod.wait(TIMEOUT).success());
}

#[test]
fn a_quiet_client_is_pinged_then_closed_at_the_idle_timeout() {
    let whod = Whod::start(&["--idle-timeout", "2", "--metrics"]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    let opened = Instant::now();
    // Half the idle timeout: a ping. Its pong counts as hearing from the client.
    let Received::Ping(payload) = ws.receive() else {
        panic!("a ping");
    };
    let pinged = opened.elapsed();
    assert!(pinged >= Duration::from_millis(900), "{pinged:?}");
    ws.send(&frame(true, PONG, &payload));
    let Received::Ping(_) = ws.receive() else {
        panic!("a second ping, half the timeout after the pong");
    };
    // No answer this time: the close, at the end of the timeout.
    let Received::Close(1001, reason) = ws.receive() else {
        panic!("the idle close");
    };
    assert_eq!(reason, "idle timeout");
    assert!(opened.elapsed() >= Duration::from_millis(2900));
    assert!(ws.is_closed());
    assert_eq!(metric(&whod, "whod_timeouts_total{kind=\"idle\"}"), "1");
}

/// A client that sends a whole message before it reads the echo (a blocking send, as many
/// do) must not wait on the server, nor the server on it, past what it sent. 64 MiB: more than
/// loopback's socket buffers hold (they took a message of 8 MiB whole with whod reading none of
/// it), so that a server that stopped reading mid-message would leave the send waiting.
#[test]
fn a_client_that_sends_a_large_message_before_reading_gets_its_echo() {
    let whod = Whod::start(&["--ws-max-message", "64MiB"]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    ws.stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let message: Vec<u8> = (0..64 << 20).map(|i: u32| (i % 251) as u8).collect();
    let started = Instant::now();
    ws.send(&frame(true, BINARY, &message));
    assert_eq!(ws.receive(), Received::Message(BINARY, message));
    assert!(started.elapsed() < TIMEOUT);
}

/// A client that sends and never reads holds little of whod's memory: once the echoes it does
/// not take reach the output limit, whod reads no more from it, but inside a message, and then
/// not past one message's worth (`--ws-max-message`, 1 MiB here) and a read: the client's
/// writes wait. Its messages are small, and its writes cut them anywhere, so most of whod's
/// reads end inside one.
#[test]
fn a_client_that_does_not_read_is_not_read_past_the_output_limit() {
    let whod = Whod::start(&["--ws-max-message", "1MiB"]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    let before = common::rss_kib(whod.pid());
    ws.stream.set_nonblocking(true).unwrap();
    let batch: Vec<u8> = (0..64)
        .flat_map(|_| frame(true, BINARY, &[7; 1024]))
        .collect();
    // Far more than the socket buffers hold: a whod that read on would take it all.
    let most = 96 << 20;
    let (mut sent, mut offset) = (0, 0);
    let mut waiting_since: Option<Instant> = None;
    let deadline = Instant::now() + TIMEOUT;
    while sent < most && Instant::now() < deadline {
        match ws.stream.write(&batch[offset..]) {
            Ok(n) => {
                sent += n;
                offset = (offset + n) % batch.len();
                waiting_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The socket has taken nothing for half a second: whod is not reading.
                if waiting_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_millis(500)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("after {sent} bytes: {e}"),
        }
    }
    let during = common::rss_kib(whod.pid());
    assert!(
        sent < most,
        "whod read all {sent} bytes from a client that reads nothing"
    );
    // 1 MiB, 16 KiB and a read of 64 KiB wait at most; their vector may have been copied as
    // it grew.
    assert!(
        during < before + 4 * 1024,
        "RSS {before} KiB before, {during} KiB with {sent} bytes sent and no echo read"
    );
}

#[test]
fn the_metrics_count_connections_messages_and_closes_and_the_log_says_how_long() {
    let mut whod = Whod::start(&["--metrics", "--access-log"]);
    let mut ws = Socket::upgrade(&whod, "/ws");
    ws.send(&frame(true, TEXT, b"12345"));
    ws.receive();
    assert_eq!(metric(&whod, "whod_websocket_connections_open"), "1");
    assert_eq!(
        metric(&whod, "whod_requests_total{route=\"ws\",code=\"101\"}"),
        "1"
    );
    std::thread::sleep(Duration::from_millis(300));
    ws.send(&frame(true, CLOSE, &close_payload(1000, "")));
    assert_eq!(ws.receive(), Received::Close(1000, String::new()));
    assert!(ws.is_closed());
    // A connection lost without a close counts as 1006.
    let ws = Socket::upgrade(&whod, "/ws");
    drop(ws);
    let deadline = Instant::now() + TIMEOUT;
    while metric(&whod, "whod_websocket_connections_open") != "0" {
        assert!(Instant::now() < deadline, "the lost connection still open");
        std::thread::sleep(Duration::from_millis(10));
    }
    let count = |name: &str| metric(&whod, name);
    assert_eq!(count("whod_websocket_closes_total{code=\"1000\"}"), "1");
    assert_eq!(count("whod_websocket_closes_total{code=\"1006\"}"), "1");
    assert_eq!(
        count("whod_websocket_messages_total{direction=\"in\"}"),
        "1"
    );
    assert_eq!(count("whod_websocket_bytes_total{direction=\"out\"}"), "5");
    whod.signal("TERM");
    whod.wait(TIMEOUT);
    let log = whod.stdout();
    let line = log
        .lines()
        .find(|line| line.contains("\"GET /ws HTTP/1.1\" 101 5 "))
        .unwrap_or_else(|| panic!("{log}"));
    let seconds: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(seconds >= 0.3, "{line}");
}

#[test]
fn without_echo_there_is_no_websocket() {
    let whod = Whod::start(&["--echo", "off"]);
    let (head, _) = Socket::open(&whod, &upgrade_request("/ws", ""));
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
}
