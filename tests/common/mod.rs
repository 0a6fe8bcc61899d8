//! The harness of the Rust tests (tests/*.rs, the soak in tests/soak.rs too): starts the real
//! `whod` on a free port (`Whod`), speaks raw HTTP/1.1 to it over real sockets (`Client`,
//! `fresh_request`), waits for a condition with one bounded poll loop (`wait_until`), runs wrk
//! with bench/numbers.lua's hook (`Wrk`), reads what a process costs from `/proc` (`cpu_ticks`,
//! `rss_kib`, `wake_ups`), and skips what needs root or a tool, except in CI (`have_root`,
//! `have_tool`). Every read has a timeout and every loop a bound, so no test can hang.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_whod");
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Calls `condition` every 10 ms until it is true, at most `limit`; true if it came true. On
/// timeout it says, on stderr, that `what` never came true, and returns false: the caller
/// asserts (or, in the soak, checks).
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            eprintln!("waited {limit:?} in vain until {what}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `whod`; killed when dropped.
pub struct Whod {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Whod {
    /// Starts `whod --port 0 ARGS` and waits for its startup line.
    pub fn start(args: &[&str]) -> Whod {
        let mut command = Command::new(BIN);
        command
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(args);
        Whod::spawn(command)
    }

    /// Starts `command`, which runs `whod` somehow (e.g. under `unshare`).
    pub fn spawn(mut command: Command) -> Whod {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn whod");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).expect("read the startup line");
        let addr = line
            .split_whitespace()
            .skip_while(|word| *word != "on")
            .nth(1)
            .and_then(|word| word.parse().ok())
            .unwrap_or_else(|| panic!("no address in the startup line {line:?}"));
        let collected = Arc::new(Mutex::new(line));
        let sink = Arc::clone(&collected);
        std::thread::spawn(move || {
            let mut line = String::new();
            while matches!(stderr.read_line(&mut line), Ok(n) if n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Whod {
            child,
            addr,
            stderr: collected,
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// The exit status, once the process has exited within `limit`.
    fn exited_within(&mut self, limit: Duration, what: &str) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, what, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        self.exited_within(limit, "whod exits")
            .unwrap_or_else(|| panic!("whod still running after {limit:?}"))
    }

    /// True once a new connection gets `200` for `GET /who`, trying for at most `TIMEOUT`.
    /// A refusal, a reset or another status means: not yet.
    pub fn serves_new_connections(&self) -> bool {
        wait_until(TIMEOUT, "a new connection is answered 200", || {
            fresh_request(self.addr).0 == 200
        })
    }

    /// Sends SIGTERM and waits at most `limit` for the exit; true if it exited 0 in time.
    /// Unlike `wait`, it does not panic: the soak scenarios report it as one of their checks.
    pub fn stop(&mut self, limit: Duration) -> bool {
        self.signal("TERM");
        self.exited_within(limit, "whod exits after SIGTERM")
            .is_some_and(|status| status.success())
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What `whod` wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// True once `whod` has written `text` to stderr, waiting at most `TIMEOUT`: the lines are
    /// collected by a thread of the test, which may lag the process on a busy machine.
    pub fn said(&self, text: &str) -> bool {
        wait_until(TIMEOUT, &format!("whod says {text:?}"), || {
            self.stderr().contains(text)
        })
    }

    /// The access log: all of stdout, once the process has exited.
    pub fn stdout(&mut self) -> String {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }
}

impl Drop for Whod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A new connection to `addr`, its reads and writes bounded by `TIMEOUT`.
pub fn try_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// `try_connect`, which must succeed.
pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr).expect("connect")
}

/// What came of reading a response on a connection that may fail (`Client::try_response`).
#[derive(Debug)]
pub enum Outcome {
    /// All of it arrived.
    Complete(Response),
    /// Some of it arrived, then the connection ended or failed.
    Cut,
    /// No byte of it arrived.
    Nothing,
}

/// One client connection.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).expect("connect")
    }

    /// A connection, or why there is none (refused: the listener is closed).
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = try_connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("send");
    }

    /// Reads one response; `head_only` for the answer to HEAD, which has no body. The body is
    /// read by its `Content-Length`, its chunks, or to the close.
    pub fn response_to(&mut self, head_only: bool) -> Response {
        self.read(head_only)
            .unwrap_or_else(|e| panic!("read a response: {e}"))
    }

    pub fn response(&mut self) -> Response {
        self.response_to(false)
    }

    /// Reads one response as `response` does, except that a failed read is an outcome, not a
    /// panic: for connections that may be cut (a server stopping under load). An answer that
    /// breaks HTTP still panics.
    pub fn try_response(&mut self) -> Outcome {
        match self.reader.fill_buf() {
            Ok(bytes) if !bytes.is_empty() => {}
            _ => return Outcome::Nothing,
        }
        match self.read(false) {
            Ok(response) => Outcome::Complete(response),
            Err(_) => Outcome::Cut,
        }
    }

    /// Reads one chunk of a chunked body (RFC 9112 §7.1); `None` for the last chunk, whose
    /// empty trailer section is read too.
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        self.read_chunk()
            .unwrap_or_else(|e| panic!("read a chunk: {e}"))
    }

    /// Reads a response's status line and header section: its body is left to read.
    pub fn head(&mut self) -> Response {
        self.read_head()
            .unwrap_or_else(|e| panic!("read a response's head: {e}"))
    }

    /// Sends one request and reads its response.
    pub fn exchange(&mut self, request: &[u8]) -> Response {
        self.send(request);
        self.response_to(request.starts_with(b"HEAD "))
    }

    /// True if the server closed the connection: end of file (or a reset) with no more bytes.
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
            Err(e) => panic!("waiting for the close: {e}"),
        }
    }

    /// One line, CRLF included; the end of the connection before its end is an error.
    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.ends_with('\n') {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line)
    }

    fn read(&mut self, head_only: bool) -> io::Result<Response> {
        let mut response = self.read_head()?;
        // 204 and 304 have no body, and say no length (RFC 9110 §8.6).
        if matches!(response.status, 204 | 304) {
            assert_eq!(
                response.header("Content-Length"),
                None,
                "{}",
                response.status
            );
            return Ok(response);
        }
        if head_only {
            return Ok(response);
        }
        if response.header("Transfer-Encoding") == Some("chunked") {
            while let Some(chunk) = self.read_chunk()? {
                response.body.extend_from_slice(&chunk);
            }
        } else if let Some(length) = response.header("Content-Length") {
            response.body = vec![0; length.parse().unwrap()];
            self.reader.read_exact(&mut response.body)?;
        } else {
            // Only a stream to an HTTP/1.0 client ends with the close; every other answer
            // says where it ends.
            assert_eq!(
                response.header("Connection"),
                Some("close"),
                "an answer with neither Content-Length nor chunks: {:?}",
                response.headers
            );
            self.reader.read_to_end(&mut response.body)?;
        }
        Ok(response)
    }

    fn read_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let size_line = self.line()?;
        let size = usize::from_str_radix(
            size_line.strip_suffix("\r\n").expect("CRLF after the size"),
            16,
        )
        .expect("a hexadecimal chunk size");
        if size == 0 {
            let end = self.line()?;
            assert_eq!(end, "\r\n", "no trailer");
            return Ok(None);
        }
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        assert!(chunk.ends_with(b"\r\n"), "CRLF after the chunk");
        chunk.truncate(size);
        Ok(Some(chunk))
    }

    fn read_head(&mut self) -> io::Result<Response> {
        let status_line = self.line()?;
        assert!(
            status_line.starts_with("HTTP/1.1 ") && status_line.ends_with("\r\n"),
            "status line {status_line:?}"
        );
        let status = status_line[9..12].parse().expect("status code");
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            assert!(line.ends_with("\r\n"), "header line {line:?}");
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.trim_end().split_once(": ").expect("name: value");
            headers.push((name.to_string(), value.to_string()));
        }
        Ok(Response {
            status,
            headers,
            body: Vec::new(),
        })
    }
}

/// One `GET /who` on a new connection, `Connection: close`: the status (0 unless a whole answer
/// came, then the close) and how long the whole exchange took, the close included.
pub fn fresh_request(addr: SocketAddr) -> (u16, Duration) {
    let start = Instant::now();
    let status = match Client::try_connect(addr) {
        Ok(mut client) => {
            let sent = client
                .stream()
                .write_all(b"GET /who HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                .is_ok();
            match client.try_response() {
                Outcome::Complete(response)
                    if sent && client.reader.read_to_end(&mut Vec::new()).is_ok() =>
                {
                    response.status
                }
                _ => 0,
            }
        }
        Err(_) => 0,
    };
    (status, start.elapsed())
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim_end()
        .to_string()
}

/// True when running as root. Tests that need root skip without it, except under CI, which
/// runs as root and must run them.
pub fn have_root(test: &str) -> bool {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.is_ok_and(|uid| uid == "0") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs root, and CI must run it"
    );
    eprintln!("SKIPPED {test}: needs root (run the tests as root, as CI does)");
    false
}

/// True if `tool` can be run (it answers `TOOL -v` or `--version`, whatever the exit). Tests
/// that need it skip without it, except under CI, which installs it and must run them.
pub fn have_tool(tool: &str, test: &str) -> bool {
    if Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs {tool}, and CI must run it (.ci/run installs it)"
    );
    eprintln!("SKIPPED {test}: needs {tool} (apt-get install {tool}; CI runs it)");
    false
}

/// wrk's numbers, from the TSV line bench/numbers.lua's `done()` hook writes (its header
/// comment names the fields); times in microseconds.
#[derive(Debug, Default, PartialEq)]
pub struct WrkNumbers {
    pub requests: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub timeout_errors: u64,
    /// Answers with a status of 400 or more (wrk's "Non-2xx or 3xx responses").
    pub non_2xx: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub requests_per_second: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl WrkNumbers {
    /// The socket errors of every kind: connect, read, write, timeout.
    pub fn socket_errors(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeout_errors
    }

    fn from_tsv(line: &str) -> Option<WrkNumbers> {
        let fields: Vec<&str> = line.trim_end().split('\t').collect();
        let n = |i: usize| fields.get(i)?.parse::<u64>().ok();
        if fields.len() != 13 {
            return None;
        }
        Some(WrkNumbers {
            requests: n(0)?,
            connect_errors: n(1)?,
            read_errors: n(2)?,
            write_errors: n(3)?,
            timeout_errors: n(4)?,
            non_2xx: n(5)?,
            duration_us: n(6)?,
            bytes: n(7)?,
            requests_per_second: fields[8].parse().ok()?,
            p50_us: n(9)?,
            p90_us: n(10)?,
            p99_us: n(11)?,
            max_us: n(12)?,
        })
    }
}

/// A running wrk whose numbers bench/numbers.lua's `done()` hook writes to a file of its own.
pub struct Wrk {
    child: Child,
    numbers: PathBuf,
}

impl Wrk {
    /// Starts `wrk -s bench/numbers.lua ARGS URL`. ARGS may name another script (`-s`, the
    /// last wins) if that one loads numbers.lua, as bench/pipeline.lua does.
    pub fn start(args: &[&str], url: &str) -> Wrk {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let numbers =
            std::env::temp_dir().join(format!("who-wrk-{}-{run}.tsv", std::process::id()));
        let _ = std::fs::remove_file(&numbers);
        let child = Command::new("wrk")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("WRK_NUMBERS", &numbers)
            .args(["-s", "bench/numbers.lua"])
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("wrk is installed (.ci/run installs it)");
        Wrk { child, numbers }
    }

    /// Waits for wrk to end, at most `limit` (then kills it and panics); returns its numbers
    /// and the text it printed. Panics if the hook wrote no numbers.
    pub fn finish(mut self, limit: Duration) -> (WrkNumbers, String) {
        let ended = wait_until(limit, "wrk ends", || {
            self.child.try_wait().unwrap().is_some()
        });
        if !ended {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!("wrk still running after {limit:?}");
        }
        let mut text = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let line = std::fs::read_to_string(&self.numbers).unwrap_or_default();
        let _ = std::fs::remove_file(&self.numbers);
        let numbers = WrkNumbers::from_tsv(&line).unwrap_or_else(|| {
            panic!("no numbers from wrk's done() hook ({line:?}); it said:\n{text}")
        });
        (numbers, text)
    }
}

impl Drop for Wrk {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.numbers);
    }
}

/// CPU time (user + system, all threads) of a process, in clock ticks (USER_HZ, 100 a second).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// How many times the threads of a process have gone to sleep and woken up (the sum of their
/// `voluntary_ctxt_switches`): an idle event loop wakes once per timeout it sets.
pub fn wake_ups(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// Resident memory of a process (VmRSS), in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// One run of `out_of_descriptors`.
pub struct Exhaustion {
    /// whod's descriptor limit (`prlimit --nofile`).
    pub nofile: u32,
    /// Connections opened beyond it, which the kernel queues and whod cannot accept.
    pub crowd: usize,
    /// How long whod's CPU time is measured while it is out of descriptors.
    pub watch: Duration,
    /// The most CPU it may use meanwhile, in clock ticks: a busy loop uses 100 a second.
    pub max_ticks: u64,
}

/// Runs one worker of `whod` under `prlimit --nofile`, then queues far more connections than
/// it has descriptors. Asserts that it does not spin (CPU time under `max_ticks` in `watch`),
/// keeps running and serving the connection it has, says why it cannot accept, serves new
/// connections once the crowd leaves, and exits 0 on SIGTERM. Returns the ticks it used.
pub fn out_of_descriptors(run: &Exhaustion) -> u64 {
    let mut command = Command::new("prlimit");
    command.arg(format!("--nofile={}", run.nofile)).args([
        BIN,
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--workers",
        "1",
    ]);
    let mut whod = Whod::spawn(command);
    let mut first = whod.connect();
    assert_eq!(first.exchange(&get("/who")).status, 200);
    let crowd: Vec<_> = (0..run.crowd)
        .map(|_| TcpStream::connect_timeout(&whod.addr, TIMEOUT).expect("connect"))
        .collect();
    // Time to take what it can, run out, and back off.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(whod.pid());
    std::thread::sleep(run.watch);
    let spent = cpu_ticks(whod.pid()) - before;
    assert!(
        spent <= run.max_ticks,
        "{spent} ticks of CPU in {:?} while out of descriptors (at most {}): a busy loop",
        run.watch,
        run.max_ticks
    );
    assert!(whod.is_running(), "whod died out of descriptors");
    assert_eq!(
        first.exchange(&get("/who")).status,
        200,
        "an open connection is still served"
    );
    // Once: the message is repeated at most every 10 s, not at each retry (every 100 ms).
    assert_eq!(
        whod.stderr().matches("cannot accept connections").count(),
        1,
        "it says why it cannot accept, once: {}",
        whod.stderr()
    );
    drop(crowd);
    drop(first);
    assert!(
        whod.serves_new_connections(),
        "new connections are not served once descriptors free up"
    );
    assert!(whod.stop(Duration::from_secs(8)), "whod did not exit 0");
    spent
}
