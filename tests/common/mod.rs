//! The harness for the integration tests: starts the real `whod` on a free port and speaks raw
//! HTTP/1.1 to it over real sockets. Every read has a timeout, so no test can hang.

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

    /// What `whod` wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
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

    /// Reads one response; `head_only` for the answer to HEAD, which has no body.
    pub fn response_to(&mut self, head_only: bool) -> Response {
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
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let length: usize = response
            .header("Content-Length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        if !head_only {
            response.body = vec![0; length];
            self.reader
                .read_exact(&mut response.body)
                .expect("read the body");
        }
        response
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
