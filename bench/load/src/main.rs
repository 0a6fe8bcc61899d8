//! `load`: the bench's client for what wrk cannot load (bench/run.sh builds and runs it).
//! Loopback only, std only (epoll declared here), one thread. Each command prints one TSV line
//! (or one per transfer) for run.sh; times in seconds, memory in KiB.
//!
//! ```text
//! load download PORT PATH COUNT
//!     COUNT times: a new connection, GET PATH, the body read whole (Content-Length) into a
//!     256 KiB buffer and dropped. One line each: bytes seconds.
//! load upload PORT PATH SIZE COUNT
//!     One keep-alive connection: COUNT times POST PATH with a SIZE-byte body (Content-Length,
//!     written 256 KiB at a time) and its answer read; then GET /who on the same connection,
//!     which the server answers only once it has read (or discarded) every body before it.
//!     One line each upload (bytes seconds, the answer's first body line), then
//!     total BYTES SECONDS, the seconds running to the GET's answer.
//! load ws-echo PORT PATH CONNS SIZE DEPTH SECONDS
//!     CONNS WebSockets; each sends DEPTH binary messages of SIZE bytes (in one write), waits
//!     for their echoes, again, for SECONDS. Prints: messages seconds client_cpu_seconds.
//! load ws-hold PORT PATH N PID
//!     Opens N WebSockets and holds them; prints the RSS of PID (and its children) before and
//!     while they are held, and how many are still open: rss_before rss_held alive.
//! load streams PORT PATH N EVENTS PID
//!     N connections GET PATH (a /stream, Connection: close) at once, read to their end;
//!     counts the events (`seq=`), samples PID's RSS. Prints: events seconds max_rss short,
//!     short being the streams that ended with fewer than EVENTS events.
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod poll {
    //! epoll, declared by hand (std has no binding, and the bench takes no crate).
    use std::io;
    use std::os::raw::c_int;

    pub const IN: u32 = 0x001;
    pub const OUT: u32 = 0x004;
    pub const RDHUP: u32 = 0x2000;
    pub const ET: u32 = 1 << 31;

    #[repr(C)]
    #[cfg_attr(target_arch = "x86_64", repr(packed))]
    #[derive(Clone, Copy)]
    pub struct Event {
        pub events: u32,
        pub data: u64,
    }

    unsafe extern "C" {
        fn epoll_create1(flags: c_int) -> c_int;
        fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut Event) -> c_int;
        fn epoll_wait(epfd: c_int, events: *mut Event, max: c_int, timeout: c_int) -> c_int;
        fn close(fd: c_int) -> c_int;
    }

    pub struct Poller(c_int);

    impl Poller {
        pub fn new() -> io::Result<Poller> {
            // SAFETY: no pointer; EPOLL_CLOEXEC.
            let fd = unsafe { epoll_create1(0o2000000) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Poller(fd))
        }

        pub fn add(&self, fd: c_int, token: u64, events: u32) -> io::Result<()> {
            let mut event = Event {
                events,
                data: token,
            };
            // SAFETY: event is a valid epoll_event for the call's duration. (EPOLL_CTL_ADD = 1)
            if unsafe { epoll_ctl(self.0, 1, fd, &mut event) } < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Ready events into `events`; how many (0 on a timeout or a signal).
        pub fn wait(&self, events: &mut [Event], timeout_ms: c_int) -> io::Result<usize> {
            // SAFETY: the pointer and length describe `events`, which outlives the call.
            let n = unsafe {
                epoll_wait(
                    self.0,
                    events.as_mut_ptr(),
                    events.len() as c_int,
                    timeout_ms,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted {
                    Ok(0)
                } else {
                    Err(e)
                };
            }
            Ok(n as usize)
        }
    }

    impl Drop for Poller {
        fn drop(&mut self) {
            // SAFETY: the descriptor is ours and closed once.
            unsafe { close(self.0) };
        }
    }

    unsafe extern "C" {
        fn sysconf(name: c_int) -> std::os::raw::c_long;
    }

    /// Clock ticks per second (sysconf(_SC_CLK_TCK)).
    pub fn clock_ticks() -> f64 {
        // SAFETY: no pointer. (_SC_CLK_TCK = 2)
        unsafe { sysconf(2) as f64 }
    }
}

fn fail(message: impl std::fmt::Display) -> io::Error {
    io::Error::other(message.to_string())
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An answer's head as read: its status, Content-Length, where the body starts in the buffer
/// and how many bytes were read into it.
struct Head {
    status: u16,
    length: Option<u64>,
    len: usize,
    filled: usize,
}

/// Reads into `buf` until a head has arrived whole (the body's first bytes may follow).
fn read_head(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Head> {
    let mut filled = 0;
    loop {
        if let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| fail("a head not UTF-8"))?;
            let mut lines = head.split("\r\n");
            let status = lines
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| fail(format!("no status line: {head:?}")))?;
            let length = lines
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok());
            return Ok(Head {
                status,
                length,
                len: end + 4,
                filled,
            });
        }
        if filled == buf.len() {
            return Err(fail("a head longer than the buffer"));
        }
        match stream.read(&mut buf[filled..])? {
            0 => return Err(fail("the connection closed before a head")),
            n => filled += n,
        }
    }
}

/// Reads an answer whole (head and Content-Length body); returns its status and the body's
/// first line (up to 200 bytes).
fn read_answer(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<(u16, String)> {
    let head = read_head(stream, buf)?;
    let length = head
        .length
        .ok_or_else(|| fail("an answer without Content-Length"))?;
    let mut body = buf[head.len..head.filled].to_vec();
    while (body.len() as u64) < length {
        match stream.read(buf)? {
            0 => return Err(fail("the connection closed within a body")),
            n => body.extend_from_slice(&buf[..n]),
        }
    }
    let first = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(&first[..first.len().min(200)]).into_owned();
    Ok((head.status, first))
}

fn download(port: u16, path: &str, count: u32) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..count {
        let start = Instant::now();
        let mut stream = connect(port)?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes())?;
        let head = read_head(&mut stream, &mut buf)?;
        if head.status != 200 {
            return Err(fail(format!("GET {path}: status {}", head.status)));
        }
        let length = head
            .length
            .ok_or_else(|| fail("a download without Content-Length"))?;
        let mut got = (head.filled - head.len) as u64;
        while got < length {
            match stream.read(&mut buf)? {
                0 => return Err(fail(format!("closed after {got} of {length} bytes"))),
                n => got += n as u64,
            }
        }
        if got != length {
            return Err(fail(format!(
                "{got} bytes for a Content-Length of {length}"
            )));
        }
        println!("{length}\t{:.6}", start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// 256 KiB of a body's bytes.
fn pattern() -> Vec<u8> {
    (0..256 * 1024).map(|i| b'a' + (i % 26) as u8).collect()
}

fn upload(port: u16, path: &str, size: u64, count: u32) -> io::Result<()> {
    let chunk = pattern();
    let mut buf = vec![0u8; 64 * 1024];
    let mut stream = connect(port)?;
    let start = Instant::now();
    for _ in 0..count {
        let began = Instant::now();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
        );
        stream.write_all(head.as_bytes())?;
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            stream.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        let (status, first) = read_answer(&mut stream, &mut buf)?;
        if status != 200 {
            return Err(fail(format!("POST {path}: status {status} ({first})")));
        }
        println!("{size}\t{:.6}\t{first}", began.elapsed().as_secs_f64());
    }
    // Answered only once every body before it was read: so the total counts all of them.
    stream.write_all(b"GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    let (status, _) = read_answer(&mut stream, &mut buf)?;
    if status != 200 {
        return Err(fail(format!("GET /who after the uploads: status {status}")));
    }
    println!(
        "total\t{}\t{:.6}",
        size * count as u64,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Opens a WebSocket (RFC 6455 handshake, no extension); returns it (blocking) and any bytes
/// that came after the 101's head.
fn ws_connect(port: u16, path: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = connect(port)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut buf = [0u8; 4096];
    let head = read_head(&mut stream, &mut buf)?;
    if head.status != 101 {
        return Err(fail(format!("GET {path}: status {}, not 101", head.status)));
    }
    Ok((stream, buf[head.len..head.filled].to_vec()))
}

/// A client's binary message of `size` bytes, masked (the key's bytes differ, so the masking
/// is real work for the server).
fn client_frame(size: usize) -> Vec<u8> {
    let mut frame = vec![0x82];
    match size {
        0..=125 => frame.push(0x80 | size as u8),
        126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(size as u64).to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    frame.extend_from_slice(&key);
    frame.extend((0..size).map(|i| (b'a' + (i % 26) as u8) ^ key[i % 4]));
    frame
}

/// Counts the data messages in the server's frames (unmasked; a message may come in several
/// fragments), as bytes arrive in pieces of any size.
#[derive(Default)]
struct Frames {
    header: [u8; 14],
    have: usize,
    payload_left: u64,
    fin: bool,
    control: bool,
    /// A close frame came.
    closed: bool,
}

impl Frames {
    /// The header's length once enough of it is known.
    fn header_len(&self) -> Option<usize> {
        if self.have < 2 {
            return None;
        }
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        Some(
            2 + mask
                + match self.header[1] & 0x7f {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                },
        )
    }

    /// Messages completed in `data`.
    fn feed(&mut self, mut data: &[u8]) -> usize {
        let mut done = 0;
        while !data.is_empty() {
            if self.payload_left > 0 {
                let take = self.payload_left.min(data.len() as u64);
                self.payload_left -= take;
                data = &data[take as usize..];
                if self.payload_left == 0 && self.fin && !self.control {
                    done += 1;
                }
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            if self.header_len() != Some(self.have) {
                continue;
            }
            let h = self.header;
            self.fin = h[0] & 0x80 != 0;
            let opcode = h[0] & 0x0f;
            self.control = opcode >= 8;
            self.closed |= opcode == 8;
            self.payload_left = match h[1] & 0x7f {
                126 => u16::from_be_bytes([h[2], h[3]]) as u64,
                127 => u64::from_be_bytes(h[2..10].try_into().unwrap()),
                n => n as u64,
            };
            self.have = 0;
            if self.payload_left == 0 && self.fin && !self.control {
                done += 1;
            }
        }
        done
    }
}

/// One echoing WebSocket.
struct Echoer {
    stream: TcpStream,
    /// Bytes of the batch written so far (all: nothing to write).
    out_at: usize,
    /// Messages sent (or being sent) whose echo has not come back whole.
    in_flight: usize,
    frames: Frames,
    failed: bool,
}

/// CPU time (user + system) this process has used, in seconds.
fn own_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, f)| f)
        .unwrap_or("")
        .split(' ')
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / poll::clock_ticks()
}

fn ws_echo(
    port: u16,
    path: &str,
    conns: usize,
    size: usize,
    depth: usize,
    seconds: f64,
) -> io::Result<()> {
    let batch: Vec<u8> = client_frame(size).repeat(depth);
    let poller = poll::Poller::new()?;
    let mut echoers = Vec::with_capacity(conns);
    for i in 0..conns {
        let (stream, early) = ws_connect(port, path)?;
        if !early.is_empty() {
            return Err(fail("bytes before the first message (a greeting?)"));
        }
        stream.set_nonblocking(true)?;
        poller.add(
            stream.as_raw_fd(),
            i as u64,
            poll::IN | poll::OUT | poll::RDHUP | poll::ET,
        )?;
        echoers.push(Echoer {
            stream,
            out_at: batch.len(),
            in_flight: 0,
            frames: Frames::default(),
            failed: false,
        });
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut events = vec![poll::Event { events: 0, data: 0 }; 1024];
    let cpu = own_cpu();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut messages = 0u64;
    let mut ready: Vec<usize> = (0..conns).collect();
    loop {
        for &i in &ready {
            messages += progress(&mut echoers[i], &batch, depth, &mut buf) as u64;
            if echoers[i].failed {
                return Err(fail(format!(
                    "WebSocket {i} failed or was closed after {messages} messages"
                )));
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        let n = poller.wait(&mut events, 100)?;
        ready.clear();
        ready.extend(events[..n].iter().map(|e| {
            let token = e.data;
            token as usize
        }));
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!("{messages}\t{elapsed:.6}\t{:.3}", own_cpu() - cpu);
    Ok(())
}

/// Writes what the connection owes, reads what came; once every echo of a batch is back,
/// sends the next. Returns the messages whose echo completed.
fn progress(echoer: &mut Echoer, batch: &[u8], depth: usize, buf: &mut [u8]) -> usize {
    let mut completed = 0;
    loop {
        while echoer.out_at < batch.len() {
            match (&echoer.stream).write(&batch[echoer.out_at..]) {
                Ok(n) => echoer.out_at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    echoer.failed = true;
                    return completed;
                }
            }
        }
        loop {
            match (&echoer.stream).read(buf) {
                Ok(0) => {
                    echoer.failed = true;
                    return completed;
                }
                Ok(n) => {
                    let done = echoer.frames.feed(&buf[..n]);
                    echoer.in_flight = echoer.in_flight.saturating_sub(done);
                    completed += done;
                    if echoer.frames.closed {
                        echoer.failed = true;
                        return completed;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    echoer.failed = true;
                    return completed;
                }
            }
        }
        if echoer.in_flight == 0 && echoer.out_at == batch.len() {
            echoer.out_at = 0;
            echoer.in_flight = depth;
            continue;
        }
        return completed;
    }
}

/// Resident memory (VmRSS, KiB) of `pid` and its children.
fn rss_kib(pid: u32) -> u64 {
    let mut pids = vec![pid];
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

fn ws_hold(port: u16, path: &str, n: usize, pid: u32) -> io::Result<()> {
    let before = rss_kib(pid);
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let (stream, _) =
            ws_connect(port, path).map_err(|e| fail(format!("WebSocket {i}: {e}")))?;
        held.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(pid);
    let mut alive = 0;
    let mut byte = [0u8; 1];
    for stream in &held {
        stream.set_nonblocking(true)?;
        if matches!((&*stream).read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            alive += 1;
        }
    }
    println!("{before}\t{rss}\t{alive}");
    Ok(())
}

fn streams(port: u16, path: &str, n: usize, expected: u64, pid: u32) -> io::Result<()> {
    struct Stream {
        stream: TcpStream,
        events: u64,
        /// The last 3 bytes read, so that a `seq=` cut between two reads counts.
        tail: Vec<u8>,
        ended: bool,
    }
    let poller = poll::Poller::new()?;
    let mut open = Vec::with_capacity(n);
    let start = Instant::now();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    for i in 0..n {
        let mut stream = connect(port)?;
        stream.write_all(request.as_bytes())?;
        stream.set_nonblocking(true)?;
        poller.add(
            stream.as_raw_fd(),
            i as u64,
            poll::IN | poll::RDHUP | poll::ET,
        )?;
        open.push(Stream {
            stream,
            events: 0,
            tail: Vec::new(),
            ended: false,
        });
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = vec![poll::Event { events: 0, data: 0 }; 1024];
    let mut ended = 0;
    let mut max_rss = 0;
    let mut sampled = Instant::now() - Duration::from_secs(1);
    // Every stream is read once first: events may have come before it was registered.
    let mut ready: Vec<usize> = (0..n).collect();
    let limit = start + Duration::from_secs(600);
    while ended < n {
        for &i in &ready {
            let s = &mut open[i];
            while !s.ended {
                match (&s.stream).read(&mut buf) {
                    Ok(0) => s.ended = true,
                    Ok(got) => {
                        let mut data = std::mem::take(&mut s.tail);
                        data.extend_from_slice(&buf[..got]);
                        s.events += data.windows(4).filter(|w| *w == b"seq=").count() as u64;
                        s.tail = data[data.len().saturating_sub(3)..].to_vec();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => s.ended = true,
                }
            }
            if s.ended {
                ended += 1;
                // (An ended stream gets no more events: it is not read again.)
                s.tail.clear();
            }
        }
        if sampled.elapsed() >= Duration::from_millis(250) {
            max_rss = max_rss.max(rss_kib(pid));
            sampled = Instant::now();
        }
        if Instant::now() > limit {
            return Err(fail(format!(
                "{} streams not ended within 600 s",
                n - ended
            )));
        }
        let got = poller.wait(&mut events, 250)?;
        ready.clear();
        for e in &events[..got] {
            let i = e.data as usize;
            if !open[i].ended {
                ready.push(i);
            }
        }
    }
    let total: u64 = open.iter().map(|s| s.events).sum();
    let short = open.iter().filter(|s| s.events < expected).count();
    println!(
        "{total}\t{:.6}\t{max_rss}\t{short}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run(args: &[String]) -> io::Result<()> {
    let arg = |i: usize| -> io::Result<&str> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| fail("missing arguments (see bench/load/src/main.rs)"))
    };
    let number = |i: usize| -> io::Result<u64> {
        arg(i)?
            .parse()
            .map_err(|_| fail(format!("not a number: {}", args[i])))
    };
    match arg(0)? {
        "download" => download(number(1)? as u16, arg(2)?, number(3)? as u32),
        "upload" => upload(number(1)? as u16, arg(2)?, number(3)?, number(4)? as u32),
        "ws-echo" => {
            let seconds: f64 = arg(6)?.parse().map_err(|_| fail("SECONDS: not a number"))?;
            ws_echo(
                number(1)? as u16,
                arg(2)?,
                number(3)? as usize,
                number(4)? as usize,
                number(5)? as usize,
                seconds,
            )
        }
        "ws-hold" => ws_hold(
            number(1)? as u16,
            arg(2)?,
            number(3)? as usize,
            number(4)? as u32,
        ),
        "streams" => streams(
            number(1)? as u16,
            arg(2)?,
            number(3)? as usize,
            number(4)?,
            number(5)? as u32,
        ),
        other => Err(fail(format!("unknown command {other}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
