//! `Conn` on its own, over connected loopback socket pairs. The test plays the worker: it calls
//! the handlers the worker would call after an event, and sets the context's clock by hand, so
//! that timers are checked exactly, without sleeping.

use super::*;
use crate::config::Config;
use crate::routes;
use crate::server::state::ServerState;
use crate::server::worker::READ_BUFFER;
use crate::stream;
use crate::sys;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

mod held;

const WHO: &[u8] = b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n";
const LIMIT: Duration = Duration::from_secs(5);
/// More than one `/who` answer: about 170 bytes of head and a host name of at most 64.
const ONE_ANSWER: usize = 512;

struct Harness {
    client: TcpStream,
    conn: Conn,
    worker: WorkerState,
    buf: Vec<u8>,
    /// What the client has read so far and not yet taken as responses.
    received: Vec<u8>,
}

fn harness() -> Harness {
    harness_with(&Config::default())
}

fn harness_with(config: &Config) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let (stream, peer) = sys::accept(&listener).unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    let worker = WorkerState::new(config, Arc::new(ServerState::new(1)), 0);
    let conn = Conn::new(stream, peer, &worker);
    Harness {
        client,
        conn,
        worker,
        buf: vec![0; READ_BUFFER],
        received: Vec::new(),
    }
}

/// A small send buffer for the server, so that a client that does not read blocks its writes
/// sooner. (A small receive buffer for the client too would close its TCP window, and then
/// the kernel's slow zero-window probes would pace the test.)
fn small_buffers(h: &Harness) {
    sys::set_send_buffer(&h.conn.stream, 4096).unwrap();
}

/// Enough pipelined requests that their answers (about 160 bytes each) overflow the client's
/// default receive buffer and the server's small send buffer, while the requests themselves
/// (31 bytes each) fit in the server's default receive buffer.
const MANY: usize = 2000;

impl Harness {
    /// The client sends `bytes`; returns once all of them wait in the server's socket.
    fn send(&mut self, bytes: &[u8]) {
        let before = self.unread_by_server();
        self.client.write_all(bytes).unwrap();
        self.arrived(before + bytes.len());
    }

    /// Waits until the server's socket holds at least `bytes` unread bytes.
    fn arrived(&self, bytes: usize) {
        let start = Instant::now();
        while self.unread_by_server() < bytes {
            assert!(start.elapsed() < LIMIT, "the bytes did not arrive");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// How many bytes wait unread in the server's socket.
    fn unread_by_server(&self) -> usize {
        let mut peeked = vec![0; 4 * READ_BUFFER];
        self.conn.stream.peek(&mut peeked).unwrap_or(0)
    }

    /// Something waits to be read in the server's socket: bytes, or the end of file.
    fn readable_now(&self) -> bool {
        !matches!(self.conn.stream.peek(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn readable(&mut self) -> Next {
        self.conn.on_readable(&mut self.buf, &mut self.worker)
    }

    fn writable(&mut self) -> Next {
        self.conn.on_writable(&mut self.buf, &mut self.worker)
    }

    fn timeout(&mut self) -> Next {
        self.conn.on_timeout(&mut self.buf, &mut self.worker)
    }

    /// Reads what the client can read now, without waiting.
    fn client_reads_what_is_there(&mut self) -> bool {
        self.client.set_nonblocking(true).unwrap();
        let mut chunk = [0u8; 16 * 1024];
        let mut got = false;
        loop {
            match self.client.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    self.received.extend_from_slice(&chunk[..n]);
                    got = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("client read: {e}"),
            }
        }
        self.client.set_nonblocking(false).unwrap();
        got
    }

    /// Takes the complete responses received so far: (status, head, body).
    fn take_responses(&mut self) -> Vec<(u16, String, Vec<u8>)> {
        let mut responses = Vec::new();
        while let Some(end) = self.received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(self.received[..end + 4].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            let total = end + 4 + length;
            if self.received.len() < total {
                break;
            }
            let body = self.received[end + 4..total].to_vec();
            responses.push((head[9..12].parse().unwrap(), head, body));
            self.received.drain(..total);
        }
        responses
    }

    /// Reads until `count` responses are complete (blocking, within `LIMIT`).
    fn responses(&mut self, count: usize) -> Vec<(u16, String, Vec<u8>)> {
        let mut all = self.take_responses();
        let mut chunk = [0u8; 16 * 1024];
        while all.len() < count {
            let n = self.client.read(&mut chunk).expect("a response in time");
            assert!(n > 0, "closed after {} of {count} responses", all.len());
            self.received.extend_from_slice(&chunk[..n]);
            all.extend(self.take_responses());
        }
        all
    }

    /// The client sees the end of file: the server closed or shut its sending side.
    fn client_sees_eof(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.client.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => panic!("waiting for the end of file: {e}"),
        }
    }

    /// The worker closes the connection: its socket is dropped.
    fn close(self) -> TcpStream {
        drop(self.conn);
        self.client
    }

    /// Plays the worker for a client that reads everything it is sent: the writable events
    /// its reading brings, readable ones when `with_reads` and the server's socket has
    /// something, and the turns a connection asks for again. Returns `Close`, or `Wait` once
    /// nothing is unsent, held back or (`with_reads`) unread.
    fn pump(&mut self, with_reads: bool) -> Next {
        let start = Instant::now();
        let mut again = false;
        loop {
            assert!(start.elapsed() < LIMIT, "pumping did not finish");
            self.client_reads_what_is_there();
            // As the worker does: writable first, then readable if the connection waits.
            let mut next = self.writable();
            if next == Next::Wait && (again || with_reads && self.readable_now()) {
                next = self.readable();
            }
            again = next == Next::Again;
            if matches!(next, Next::Wait | Next::WaitWritable) {
                // The worker watches writability exactly when answers wait for the socket:
                // kept ones, or a download's, which are never kept.
                let downloading = matches!(self.conn.writing, Writing::Download(_));
                assert_eq!(
                    next == Next::WaitWritable,
                    !self.conn.unsent.is_empty() || downloading
                );
            }
            match next {
                Next::Close => return Next::Close,
                Next::Wait
                    if !(matches!(self.conn.kept, Kept::HeldBack(_))
                        || with_reads && self.readable_now()) =>
                {
                    return Next::Wait;
                }
                Next::Wait | Next::WaitWritable => std::thread::sleep(Duration::from_millis(1)),
                Next::Again => {}
            }
        }
    }
}

/// The end of file, once the server has closed.
fn eof(mut client: TcpStream) -> bool {
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("the end of file") == 0
}

#[test]
fn a_new_connection_gets_the_header_timeout_then_the_idle_timeout_restarts_per_answer() {
    let config = Config {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(75),
        ..Config::default()
    };
    let mut h = harness_with(&config);
    let start = h.worker.clock.now;
    assert_eq!(h.conn.timer, Timer::FirstRequest);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(10));

    // The first bytes of a request: the header timeout, from now.
    h.worker.clock.now = start + Duration::from_secs(1);
    h.send(b"GET /who HTTP/1.1\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.timer, Timer::Request);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(11));

    // More bytes of the same request do not move the deadline.
    h.worker.clock.now = start + Duration::from_secs(3);
    h.send(b"Host: t\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(11));

    // Answered: idle, with the idle timeout from the answer.
    h.worker.clock.now = start + Duration::from_secs(4);
    h.send(b"\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.responses(1)[0].0, 200);
    assert_eq!(h.conn.timer, Timer::Idle);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(79));
    assert!(h.conn.is_idle());
    assert!(
        h.conn.kept == Kept::Nothing,
        "an idle connection holds no buffer"
    );

    // The next answer starts the idle timer over.
    h.worker.clock.now = start + Duration::from_secs(30);
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.responses(1)[0].0, 200);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(105));

    // Idle past its deadline: closed silently.
    h.worker.clock.now = h.conn.deadline();
    assert_eq!(h.timeout(), Next::Close);
    assert!(h.received.is_empty());
}

#[test]
fn a_request_not_received_in_time_gets_408_then_the_connection_lingers_and_closes() {
    let mut h = harness();
    h.send(b"GET /who HTTP/1.1\r\nHost");
    assert_eq!(h.readable(), Next::Wait);
    h.worker.clock.now = h.conn.deadline();
    // The socket was emptied by the last read: no read is needed to linger.
    assert_eq!(h.timeout(), Next::Wait);
    let response = &h.responses(1)[0];
    assert_eq!(response.0, 408);
    assert!(response.1.contains("\r\nConnection: close\r\n"));
    assert_eq!(
        response.2,
        b"request not received within the header timeout"
    );
    let page = page(&h);
    assert!(
        page.contains("\nwhod_timeouts_total{kind=\"header\"} 1\n"),
        "{page}"
    );
    assert!(
        !page.contains("whod_requests_refused_total{"),
        "a timeout is no refusal"
    );
    assert!(
        h.client_sees_eof(),
        "the sending side is shut after the answer"
    );
    assert!(matches!(h.conn.reading, Reading::Lingering));
    assert_eq!(h.conn.timer, Timer::Linger);
    assert_eq!(h.conn.deadline(), h.worker.clock.now + LINGER);
    // The client never closes: the linger ends at its deadline.
    h.worker.clock.now = h.conn.deadline();
    assert_eq!(h.timeout(), Next::Close);
}

#[test]
fn a_last_request_read_whole_with_nothing_after_it_closes_at_once() {
    let mut h = harness();
    h.send(b"GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    // As nginx: the socket was emptied by the read and nothing followed the request, so
    // closing cannot lose the answer to a reset; no shutdown, no linger.
    assert_eq!(h.readable(), Next::Close);
    assert!(
        matches!(h.conn.reading, Reading::Done { .. }),
        "never shut or lingered"
    );
    let response = &h.responses(1)[0];
    assert!(response.1.contains("\r\nConnection: close\r\n"));
    assert!(eof(h.close()));
}

#[test]
fn a_closing_connection_with_bytes_after_its_last_request_lingers() {
    let mut h = harness();
    // A pipelined request after the last one: the client may still be sending.
    h.send(
        &[
            &b"GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"[..],
            WHO,
        ]
        .concat(),
    );
    assert_eq!(h.readable(), Next::Wait);
    assert!(matches!(h.conn.reading, Reading::Lingering));
    let response = &h.responses(1)[0];
    assert!(response.1.contains("\r\nConnection: close\r\n"));
    assert!(h.client_sees_eof(), "the sending side is shut");
    // What comes after the last answer is read and dropped, never answered.
    h.send(&WHO.repeat(10));
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.unread_by_server(), 0, "read and dropped");
    h.client.shutdown(Shutdown::Write).unwrap();
    while !h.readable_now() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        h.readable(),
        Next::Close,
        "the client's end of file ends the linger"
    );
}

#[test]
fn a_refused_request_with_more_bytes_behind_it_reads_them_at_once_when_closing() {
    let mut h = harness();
    // More than one read's worth after a bad request: the socket is not emptied by the read
    // that found the bad request, so the connection must drain it now, not wait for an event.
    let mut bytes = b"GET /who HTTP/9.9\r\n\r\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 2 * READ_BUFFER));
    let writer = {
        let mut client = h.client.try_clone().unwrap();
        std::thread::spawn(move || client.write_all(&bytes).unwrap())
    };
    h.arrived(READ_BUFFER + 1);
    let next = h.readable();
    assert!(matches!(h.conn.reading, Reading::Lingering));
    assert!(matches!(next, Next::Wait | Next::Again), "{next:?}");
    assert_eq!(h.responses(1)[0].0, 505);
    // Lingering: the rest is read and dropped, so the writer can finish.
    let start = Instant::now();
    while !writer.is_finished() {
        assert!(start.elapsed() < LIMIT, "the rest was not read");
        if h.readable_now() {
            h.readable();
        }
    }
    writer.join().unwrap();
}

#[test]
fn a_client_whose_end_of_file_was_read_is_answered_then_closed_at_once() {
    let mut h = harness();
    h.send(&[WHO, WHO].concat());
    h.client.shutdown(Shutdown::Write).unwrap();
    // The event says the peer closed; the connection reads on to the end of file.
    h.conn.on_peer_closed();
    assert_eq!(
        h.readable(),
        Next::Close,
        "no linger: nothing can be left unread"
    );
    assert!(
        matches!(h.conn.reading, Reading::Done { .. }),
        "never shut or lingered"
    );
    let responses = h.responses(2);
    assert!(responses.iter().all(|r| r.0 == 200));
    assert!(eof(h.close()));
}

#[test]
fn answers_past_the_output_limit_hold_back_the_requests_behind_them() {
    let mut h = harness();
    small_buffers(&h);
    let count = MANY;
    h.send(&WHO.repeat(count));
    assert_eq!(h.readable(), Next::WaitWritable);
    // The client reads nothing: answers wait, and so do the requests behind them.
    assert!(!h.conn.unsent.is_empty());
    assert!(matches!(h.conn.kept, Kept::HeldBack(ref bytes) if !bytes.is_empty()));
    assert!(
        h.conn.unsent.len() < OUTPUT_LIMIT + ONE_ANSWER,
        "{} bytes unsent: the limit is {OUTPUT_LIMIT} and one answer",
        h.conn.unsent.len()
    );
    assert_eq!(h.conn.timer, Timer::Send);
    // While answers wait, nothing more is read, however much the client sends.
    let held = h.conn.kept.len();
    h.send(&WHO.repeat(10));
    assert_eq!(h.readable(), Next::WaitWritable);
    assert_eq!(h.conn.kept.len(), held);
    assert_eq!(h.unread_by_server(), 10 * WHO.len());
    // The client reads: every answer arrives, in order, and then the same connection serves
    // new requests.
    assert_eq!(h.pump(true), Next::Wait);
    let responses = h.responses(count + 10);
    assert_eq!(responses.len(), count + 10);
    let hostname = routes::hostname();
    assert!(responses.iter().all(|r| r.0 == 200 && r.2 == hostname));
    assert!(h.conn.is_idle());
    h.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.responses(1)[0].2, b"ok");
}

#[test]
fn a_half_close_seen_while_a_write_is_blocked_is_remembered() {
    let mut h = harness();
    small_buffers(&h);
    let count = MANY;
    h.send(&WHO.repeat(count));
    assert_eq!(h.readable(), Next::WaitWritable);
    assert!(!h.conn.unsent.is_empty(), "the write blocked");
    // While the write is blocked, a last request and the half-close arrive. Their one event
    // comes now, when the connection does not read; no other will come.
    h.send(WHO);
    h.client.shutdown(Shutdown::Write).unwrap();
    h.conn.on_peer_closed();
    assert_eq!(h.readable(), Next::WaitWritable);
    // Only writable events from here: the last request is read in a short read, and only
    // the remembered half-close says to read on to the end of file.
    assert_eq!(
        h.pump(false),
        Next::Close,
        "closed once every answer is sent"
    );
    assert_eq!(h.responses(count + 1).len(), count + 1);
    assert!(eof(h.close()));
}

#[test]
fn a_client_that_resets_while_answers_wait_is_closed() {
    let mut h = harness();
    small_buffers(&h);
    h.send(&WHO.repeat(MANY));
    assert_eq!(h.readable(), Next::WaitWritable);
    assert!(!h.conn.unsent.is_empty());
    // Closing with unread answers in its buffer makes the client's kernel send a reset.
    let Harness {
        client,
        mut conn,
        mut worker,
        mut buf,
        ..
    } = h;
    drop(client);
    let start = Instant::now();
    while conn.on_writable(&mut buf, &mut worker) != Next::Close {
        assert!(start.elapsed() < LIMIT, "a reset peer is never closed");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn shutting_down_closes_each_connection_after_its_next_answer() {
    let mut h = harness();
    assert!(h.conn.is_idle());
    h.send(b"GET /who HTTP/1.1\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert!(!h.conn.is_idle(), "a request is arriving");
    h.worker.begin_shutdown();
    h.send(b"Host: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Close, "answered, then closed");
    let response = &h.responses(1)[0];
    assert_eq!(response.0, 200);
    assert!(response.1.contains("\r\nConnection: close\r\n"));
}

#[test]
fn nagle_is_turned_off_only_before_a_second_write() {
    let mut h = harness();
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    h.responses(1);
    assert!(
        !h.conn.stream.nodelay().unwrap(),
        "one answer: no setsockopt"
    );
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    h.responses(1);
    assert!(h.conn.stream.nodelay().unwrap());
}

fn proxy_harness() -> Harness {
    harness_with(&Config {
        proxy_protocol: true,
        ..Config::default()
    })
}

#[test]
fn a_proxy_protocol_header_in_pieces_gives_the_client_address() {
    let mut h = proxy_harness();
    h.send(b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80");
    assert_eq!(h.readable(), Next::Wait);
    assert!(matches!(h.conn.reading, Reading::ProxyHeader));
    h.send(b"\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    let echo = String::from_utf8(h.responses(1)[0].2.clone()).unwrap();
    assert!(echo.contains("\nremote: 192.0.2.7:5555\n"), "{echo}");
    let peer = h.client.local_addr().unwrap();
    assert!(echo.contains(&format!("\nproxy: {peer}\n")), "{echo}");
}

#[test]
fn a_connection_without_a_valid_proxy_header_is_closed_without_an_answer() {
    let mut h = proxy_harness();
    h.send(WHO);
    assert_eq!(h.readable(), Next::Close);
    assert_eq!(h.worker.counters().proxy_headers_refused.get(), 1);
    assert!(eof(h.close()), "no HTTP answer");
    // One that never finishes its header: closed at the header timeout, without an answer.
    let mut h = proxy_harness();
    h.send(b"PROXY TCP4 192.0.2.7");
    assert_eq!(h.readable(), Next::Wait);
    h.worker.clock.now = h.conn.deadline();
    assert_eq!(h.timeout(), Next::Close);
    assert!(eof(h.close()), "no HTTP answer");
}

/// The metrics page as the connection's worker would serve it.
fn page(h: &Harness) -> String {
    String::from_utf8(h.worker.metrics_page()).unwrap()
}

#[test]
fn a_connection_takes_at_most_sixteen_reads_per_turn() {
    let mut h = harness();
    // A small read buffer, so that a body of 20,000 bytes takes many full reads.
    h.buf = vec![0; 1024];
    let mut request = b"POST /who HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'b', 20_000));
    h.send(&request);
    assert_eq!(
        h.readable(),
        Next::Again,
        "others get their turn after 16 reads"
    );
    assert!(h.unread_by_server() > 0);
    let mut turns = 1;
    while h.readable() == Next::Again {
        turns += 1;
        assert!(turns < 10, "the reads never end");
    }
    assert_eq!(h.responses(1)[0].0, 405);
}

#[test]
fn a_full_read_is_followed_by_another_short_one_a_partial_request_included() {
    let mut h = harness();
    h.buf = vec![0; 1024];
    // Request A is exactly as long as the buffer; its first 100 bytes come first, kept as a
    // partial request, so the next read fills only what is left of the buffer.
    let mut a = b"GET /who HTTP/1.1\r\nHost: t\r\nX-Pad: ".to_vec();
    a.resize(1024 - 4, b'p');
    a.extend_from_slice(b"\r\n\r\n");
    h.send(&a[..100]);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.kept.len(), 100);
    h.send(&[&a[100..], b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"].concat());
    // One turn: the read that filled the buffer did not empty the socket, so another read
    // takes the second request, without waiting for an event that will not come.
    assert_eq!(h.readable(), Next::Wait);
    let responses = h.responses(2);
    assert_eq!(responses[1].2, b"ok");
    assert_eq!(h.unread_by_server(), 0);
}

#[test]
fn a_bad_request_with_bytes_behind_it_reads_them_at_once() {
    let mut h = harness();
    h.buf = vec![0; 1024];
    let mut bytes = b"GET /who HTTP/9.9\r\n\r\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 4000));
    h.send(&bytes);
    assert_eq!(h.readable(), Next::Wait);
    assert!(matches!(h.conn.reading, Reading::Lingering));
    assert_eq!(
        h.unread_by_server(),
        0,
        "what follows a refusal is read and dropped now"
    );
    assert_eq!(h.responses(1)[0].0, 505);
    let page = page(&h);
    assert!(
        page.contains("\nwhod_requests_refused_total{code=\"505\"} 1\n"),
        "{page}"
    );
    assert!(
        page.contains("\nwhod_timeouts_total{kind=\"header\"} 0\n"),
        "{page}"
    );
}

#[test]
fn a_closing_connection_whose_client_has_shut_reads_its_end_of_file_and_closes() {
    let mut h = harness();
    h.send(b"GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    h.client.shutdown(Shutdown::Write).unwrap();
    h.conn.on_peer_closed();
    assert_eq!(
        h.readable(),
        Next::Close,
        "no linger: the end of file is there to read"
    );
    assert!(h.responses(1)[0].1.contains("\r\nConnection: close\r\n"));
}

/// The client closes with an answer unread: its kernel sends a reset.
fn reset(h: &mut Harness) {
    // Swapped for a stand-in from a listener of its own, so that the harness keeps a client.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stand_in = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    drop(std::mem::replace(&mut h.client, stand_in));
    // The reset travels over loopback at once; give it a moment all the same.
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn a_reset_seen_by_a_read_closes_the_connection() {
    let mut h = harness();
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    reset(&mut h);
    assert_eq!(h.readable(), Next::Close);
}

#[test]
fn a_reset_while_lingering_closes_the_connection() {
    let mut h = harness();
    h.send(b"GET /who HTTP/9.9\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert!(
        matches!(h.conn.reading, Reading::Lingering),
        "a refusal lingers"
    );
    reset(&mut h);
    assert_eq!(h.readable(), Next::Close);
}

#[test]
fn the_metrics_page_says_ready_until_shutdown() {
    let mut h = harness();
    assert!(page(&h).contains("\nwhod_ready 1\n"));
    h.worker.begin_shutdown();
    assert!(page(&h).contains("\nwhod_ready 0\n"));
}

#[test]
fn a_read_that_finds_nothing_waits() {
    let mut h = harness();
    // An event with nothing to read (or what it announced already read): wait, don't close.
    assert_eq!(h.readable(), Next::Wait);
    assert!(h.conn.inbound == Inbound::Drained && h.conn.is_idle());
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.responses(1)[0].0, 200);
}

#[test]
fn a_read_that_finds_nothing_keeps_the_start_of_a_request() {
    let mut h = harness();
    let (start, end) = WHO.split_at(10);
    h.send(start);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.kept, Kept::Start(start.to_vec()));
    // An event that brings nothing (a writable one, or one for bytes already read): the read
    // finds nothing, and what was kept stays kept.
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.kept, Kept::Start(start.to_vec()));
    h.send(end);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.responses(1)[0].0, 200);
}
