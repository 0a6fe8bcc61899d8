//! The harness for the integration tests and the soak scenarios: starts the real `whod` on a
//! free port, speaks raw HTTP/1.1 to it over real sockets and reads what it costs from `/proc`.
//! Every read has a timeout, so no test can hang.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_whod");
pub const TIMEOUT: Duration = Duration::from_secs(5);

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

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "whod still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// True once a new connection gets `200` for `GET /who`, trying for at most `TIMEOUT`.
    /// A refusal, a reset or another status means: not yet.
    pub fn serves_new_connections(&self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let mut fresh = self.connect();
            fresh.send(&get("/who"));
            let mut status_line = String::new();
            if fresh.reader.read_line(&mut status_line).is_ok()
                && status_line.starts_with("HTTP/1.1 200")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends SIGTERM and waits at most `limit` for the exit; true if it exited 0 in time.
    /// Unlike `wait`, it does not panic: the soak scenarios report it as one of their checks.
    pub fn stop(&mut self, limit: Duration) -> bool {
        self.signal("TERM");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
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
        let deadline = Instant::now() + TIMEOUT;
        while !self.stderr().contains(text) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
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

/// One client connection.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
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
        let mut response = self.head();
        // 204 and 304 have no body, and say no length (RFC 9110 §8.6).
        if matches!(response.status, 204 | 304) {
            assert_eq!(
                response.header("Content-Length"),
                None,
                "{}",
                response.status
            );
            return response;
        }
        if head_only {
            return response;
        }
        if response.header("Transfer-Encoding") == Some("chunked") {
            while let Some(chunk) = self.chunk() {
                response.body.extend_from_slice(&chunk);
            }
        } else if let Some(length) = response.header("Content-Length") {
            response.body = vec![0; length.parse().unwrap()];
            self.reader
                .read_exact(&mut response.body)
                .expect("read the body");
        } else {
            // Only a stream to an HTTP/1.0 client ends with the close; every other answer
            // says where it ends.
            assert_eq!(
                response.header("Connection"),
                Some("close"),
                "an answer with neither Content-Length nor chunks: {:?}",
                response.headers
            );
            self.reader
                .read_to_end(&mut response.body)
                .expect("read the body to the close");
        }
        response
    }

    /// Reads one chunk of a chunked body (RFC 9112 §7.1); `None` for the last chunk, whose
    /// empty trailer section is read too.
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut size_line = String::new();
        self.reader
            .read_line(&mut size_line)
            .expect("read a chunk size");
        let size = usize::from_str_radix(
            size_line.strip_suffix("\r\n").expect("CRLF after the size"),
            16,
        )
        .expect("a hexadecimal chunk size");
        if size == 0 {
            let mut end = String::new();
            self.reader.read_line(&mut end).expect("the last CRLF");
            assert_eq!(end, "\r\n", "no trailer");
            return None;
        }
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk).expect("read a chunk");
        assert!(chunk.ends_with(b"\r\n"), "CRLF after the chunk");
        chunk.truncate(size);
        Some(chunk)
    }

    /// Reads a response's status line and header section: its body is left to read.
    pub fn head(&mut self) -> Response {
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .expect("read the status line");
        assert!(
            status_line.starts_with("HTTP/1.1 ") && status_line.ends_with("\r\n"),
            "status line {status_line:?}"
        );
        let status = status_line[9..12].parse().expect("status code");
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader
                .read_line(&mut line)
                .expect("read a header line");
            assert!(line.ends_with("\r\n"), "header line {line:?}");
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.trim_end().split_once(": ").expect("name: value");
            headers.push((name.to_string(), value.to_string()));
        }
        Response {
            status,
            headers,
            body: Vec::new(),
        }
    }

    pub fn response(&mut self) -> Response {
        self.response_to(false)
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
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Err(e) => panic!("waiting for the close: {e}"),
        }
    }
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
