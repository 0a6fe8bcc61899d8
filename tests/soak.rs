//! `make soak`: hostile traffic against a real `whod` on loopback, scenario by scenario. Each
//! prints what it measured, then its checks, one line each; every loop is bounded in count and
//! time. The scenarios are ignored by a plain `cargo test`; `make soak` runs them:
//!
//!   cargo test --release --locked --test soak -- --ignored --test-threads=1 --nocapture
//!
//! `WHO_SOAK=short` is the version CI runs, each scenario under 20 s (`full`, the default,
//! holds more connections for longer).
//!
//! 1. slowloris: connections trickling a request head; fresh requests stay fast, the trickling
//!    ones get 408 and are cut after the header timeout
//! 2. idle crowd: thousands of idle keep-alive connections; fresh requests stay fast; RSS
//! 3. sustained load: wrk; zero errors, zero non-2xx, RSS flat from the middle to the end
//! 4. descriptor exhaustion: prlimit --nofile=64; no crash, no busy loop, recovery (the
//!    routine in tests/common, which tests/process.rs runs smaller)
//! 5. SIGTERM under load: every response that started is complete; exit 0
//! 6. pipeline flood: connections pipelining requests without ever reading the answers; whod
//!    stops taking them and its memory stays bounded (16 KiB of answers and one read of
//!    requests per connection)

mod common;

use common::{Exhaustion, TIMEOUT, Whod, out_of_descriptors, rss_kib};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET /who HTTP/1.1\r\nHost: soak\r\n\r\n";

/// `WHO_SOAK=short`: the CI version. Returns `short` then, `full` otherwise.
fn pick<T>(short: T, full: T) -> T {
    match std::env::var("WHO_SOAK").as_deref() {
        Ok("short") => short,
        Ok("full") | Ok("") | Err(std::env::VarError::NotPresent) => full,
        other => panic!("WHO_SOAK is short or full, not {other:?}"),
    }
}

/// The checks of one scenario: each is printed as it is made, and `done` fails the test if any
/// failed, after all of them were printed.
struct Checks {
    name: &'static str,
    started: Instant,
    failed: Vec<String>,
}

impl Checks {
    fn new(name: &'static str, what: &str) -> Checks {
        raise_descriptor_limit();
        println!("\n{name}: {what}");
        Checks {
            name,
            started: Instant::now(),
            failed: Vec::new(),
        }
    }

    fn check(&mut self, what: &str, ok: bool) {
        println!("  {}  {what}", if ok { "ok    " } else { "FAILED" });
        if !ok {
            self.failed.push(what.to_string());
        }
    }

    fn done(self) {
        println!("    ({:.1} s)", self.started.elapsed().as_secs_f64());
        assert!(self.failed.is_empty(), "{}: {:?}", self.name, self.failed);
    }
}

/// Lifts this process's soft limit on descriptors to the hard one (`whod`, started from here,
/// inherits it): the crowds below hold thousands of connections at both ends.
fn raise_descriptor_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        let (soft, hard) = (words[3], words[4]);
        if soft != hard {
            let status = Command::new("prlimit")
                .args(["--pid", &std::process::id().to_string()])
                .arg(format!("--nofile={hard}:{hard}"))
                .status()
                .expect("prlimit is installed (util-linux)");
            assert!(status.success(), "prlimit --nofile={hard}:{hard}");
        }
        let needed = 2 * pick(2000, 5000) + 1000;
        assert!(
            hard == "unlimited" || hard.parse::<u64>().unwrap() >= needed,
            "the idle crowd needs {needed} descriptors; the hard limit is {hard}"
        );
    });
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// One request on a new connection, `Connection: close`; returns the status (0 for no
/// answer) and how long the whole exchange took.
fn fresh_request(addr: SocketAddr) -> (u16, Duration) {
    let start = Instant::now();
    let exchange = || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.write_all(b"GET /who HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer)
    };
    let status = match exchange() {
        Ok(answer) if answer.starts_with(b"HTTP/1.1 ") && answer.len() >= 12 => {
            std::str::from_utf8(&answer[9..12])
                .ok()
                .and_then(|code| code.parse().ok())
                .unwrap_or(0)
        }
        _ => 0,
    };
    (status, start.elapsed())
}

/// Median and maximum, in milliseconds.
fn median_max_ms(times: &[Duration]) -> (f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(sorted[sorted.len() / 2]), ms(sorted[sorted.len() - 1]))
}

/// Reads one response with a Content-Length body, without panicking. Returns (started,
/// complete): whether any byte of it arrived, and whether all of it did.
fn read_response(mut stream: &TcpStream) -> (bool, bool) {
    let mut data = Vec::new();
    let mut chunk = [0; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return (!data.is_empty(), false),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let Some(length) = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
    else {
        return (true, false);
    };
    while data.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return (true, false),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    (true, true)
}

#[test]
#[ignore = "soak: make soak"]
fn slowloris() {
    let (count, header_timeout) = pick((150, 2), (400, 3));
    let mut checks = Checks::new(
        "slowloris",
        &format!(
            "{count} connections trickling a head one byte per 0.5 s, --header-timeout {header_timeout}"
        ),
    );
    let timeout = Duration::from_secs(header_timeout);
    let mut whod = Whod::start(&["--header-timeout", &header_timeout.to_string()]);
    let head = [
        &b"GET /who HTTP/1.1\r\nHost: soak\r\nX-Padding: "[..],
        &[b'a'; 200],
    ]
    .concat();
    struct Slow {
        stream: TcpStream,
        connected: Instant,
        answer: Vec<u8>,
        cut_after: Option<Duration>,
    }
    let mut slow: Vec<Slow> = (0..count)
        .map(|_| {
            let stream = connect(whod.addr);
            stream.set_nonblocking(true).unwrap();
            Slow {
                stream,
                connected: Instant::now(),
                answer: Vec::new(),
                cut_after: None,
            }
        })
        .collect();
    let started = Instant::now();
    let mut fresh = Vec::new();
    let mut chunk = [0; 4096];
    // A byte to each connection every 0.5 s; between, watch for answers and closes.
    for offset in 0..head.len() {
        if slow.iter().all(|s| s.cut_after.is_some()) || started.elapsed() > timeout + TIMEOUT {
            break;
        }
        for s in slow
            .iter_mut()
            .filter(|s| s.cut_after.is_none() && s.answer.is_empty())
        {
            let _ = s.stream.write(&head[offset..offset + 1]);
        }
        let turn = Instant::now() + Duration::from_millis(500);
        while Instant::now() < turn {
            for s in slow.iter_mut().filter(|s| s.cut_after.is_none()) {
                loop {
                    match s.stream.read(&mut chunk) {
                        Ok(0) => {}
                        Ok(n) => {
                            s.answer.extend_from_slice(&chunk[..n]);
                            continue;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {} // reset: cut too
                    }
                    s.cut_after = Some(s.connected.elapsed());
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        fresh.push(fresh_request(whod.addr));
    }
    let mut cut: Vec<Duration> = slow.iter().filter_map(|s| s.cut_after).collect();
    cut.sort();
    let got_408 = slow
        .iter()
        .filter(|s| s.cut_after.is_some() && s.answer.starts_with(b"HTTP/1.1 408"))
        .count();
    let (first, last) = (
        cut.first().copied().unwrap_or_default(),
        cut.last().copied().unwrap_or_default(),
    );
    let times: Vec<Duration> = fresh.iter().map(|&(_, t)| t).collect();
    let (median, max) = median_max_ms(&times);
    println!(
        "    {} of {count} cut, {got_408} with 408, {:.2}-{:.2} s after they connected; {} fresh \
         requests meanwhile: median {median:.1} ms, max {max:.1} ms",
        cut.len(),
        first.as_secs_f64(),
        last.as_secs_f64(),
        fresh.len()
    );
    checks.check(
        "every trickling connection got 408 and was cut",
        got_408 == count && cut.len() == count,
    );
    checks.check(
        "none cut before the header timeout, all within it + 1 s",
        !cut.is_empty()
            && first >= timeout - Duration::from_millis(50)
            && last <= timeout + Duration::from_secs(1),
    );
    checks.check(
        "fresh requests all answered 200, none slower than 200 ms",
        fresh.iter().all(|&(status, _)| status == 200) && max < 200.0,
    );
    drop(slow);
    checks.check("whod exited 0", whod.stop(Duration::from_secs(10)));
    checks.done();
}

#[test]
#[ignore = "soak: make soak"]
fn idle_crowd() {
    let count = pick(2000, 5000);
    let mut checks = Checks::new(
        "idle crowd",
        &format!("{count} idle keep-alive connections held"),
    );
    let mut whod = Whod::start(&[]);
    let before = rss_kib(whod.pid());
    let held: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = connect(whod.addr);
            stream.write_all(REQUEST).unwrap();
            assert!(read_response(&stream).1, "no answer to a held connection");
            stream
        })
        .collect();
    let fresh: Vec<(u16, Duration)> = (0..200).map(|_| fresh_request(whod.addr)).collect();
    let during = rss_kib(whod.pid());
    let times: Vec<Duration> = fresh.iter().map(|&(_, t)| t).collect();
    let (median, max) = median_max_ms(&times);
    println!(
        "    RSS {before} KiB before, {during} KiB holding {count}; 200 fresh requests: median \
         {median:.2} ms, max {max:.1} ms"
    );
    checks.check(
        "fresh requests all answered 200, none slower than 200 ms",
        fresh.iter().all(|&(status, _)| status == 200) && max < 200.0,
    );
    checks.check("RSS holding them stays under 32 MiB", during < 32 * 1024);
    let alive = held
        .iter()
        .filter(|&(mut stream)| stream.write_all(REQUEST).is_ok() && read_response(stream).1)
        .count();
    drop(held);
    checks.check(
        &format!("all {count} held connections still answer ({alive})"),
        alive == count,
    );
    checks.check("whod exited 0", whod.stop(Duration::from_secs(10)));
    checks.done();
}

/// What `wrk` reports: requests, socket errors (connect + read + write + timeout), non-2xx.
#[derive(Debug, PartialEq)]
struct WrkSummary {
    requests: u64,
    errors: u64,
    non_2xx: u64,
}

fn parse_wrk(output: &str) -> Option<WrkSummary> {
    let line = |key: &str| output.lines().find(|l| l.contains(key));
    let numbers = |l: &str| -> Vec<u64> {
        l.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    Some(WrkSummary {
        requests: line(" requests in ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?,
        errors: line("Socket errors:").map_or(0, |l| numbers(l).iter().sum()),
        non_2xx: match line("Non-2xx or 3xx responses:") {
            Some(l) => l.split_whitespace().last()?.parse().ok()?,
            None => 0,
        },
    })
}

#[test]
fn wrk_output_is_parsed() {
    let output = "Running 1s test @ http://127.0.0.1:8080/who
  1 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.51ms  318.62us   5.87ms   80.84%
    Req/Sec   169.72k    12.08k  180.52k    90.00%
  168929 requests in 1.00s, 26.42MB read
  Socket errors: connect 3, read 1, write 0, timeout 12
  Non-2xx or 3xx responses: 7
Requests/sec: 168885.91
Transfer/sec:     26.41MB
";
    let expected = WrkSummary {
        requests: 168929,
        errors: 16,
        non_2xx: 7,
    };
    assert_eq!(parse_wrk(output), Some(expected));
    let clean = output
        .lines()
        .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
        .collect::<Vec<_>>()
        .join("\n");
    let expected = WrkSummary {
        requests: 168929,
        errors: 0,
        non_2xx: 0,
    };
    assert_eq!(parse_wrk(&clean), Some(expected));
    assert_eq!(parse_wrk("unable to connect to 127.0.0.1:1"), None);
}

#[test]
#[ignore = "soak: make soak"]
fn sustained_load() {
    let seconds = pick(12, 60);
    let mut checks = Checks::new(
        "sustained load",
        &format!("wrk, 256 connections, {seconds} s"),
    );
    let mut whod = Whod::start(&[]);
    let mut wrk = Command::new("wrk")
        .args(["-t1", "-c256", &format!("-d{seconds}s"), "--timeout", "5s"])
        .arg(format!("http://{}/who", whod.addr))
        .stdout(Stdio::piped())
        .spawn()
        .expect("wrk is installed (.ci/run installs it)");
    std::thread::sleep(Duration::from_secs(seconds) / 2);
    let middle = rss_kib(whod.pid());
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while wrk.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = wrk.kill();
            panic!("wrk still running {} s after its end", 30);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let end = rss_kib(whod.pid());
    let mut output = String::new();
    wrk.stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    let wrk = parse_wrk(&output).unwrap_or_else(|| panic!("no summary in wrk's output:\n{output}"));
    println!(
        "    {} requests, {} socket errors, {} non-2xx; RSS {middle} KiB at the middle, {end} KiB \
         at the end",
        wrk.requests, wrk.errors, wrk.non_2xx
    );
    checks.check(
        "zero socket errors, zero non-2xx",
        wrk.requests > 0 && wrk.errors == 0 && wrk.non_2xx == 0,
    );
    checks.check(
        "RSS flat from the middle to the end (within 10% + 256 KiB)",
        end * 10 <= middle * 11 + 2560,
    );
    checks.check("whod exited 0", whod.stop(Duration::from_secs(10)));
    checks.done();
}

#[test]
#[ignore = "soak: make soak"]
fn descriptor_exhaustion() {
    let run = Exhaustion {
        nofile: 64,
        crowd: 200,
        watch: Duration::from_secs(2),
        max_ticks: 40,
    };
    let checks = Checks::new(
        "descriptor exhaustion",
        &format!("prlimit --nofile={}, {} connections", run.nofile, run.crowd),
    );
    // The routine asserts (the integration test in tests/process.rs runs it too): past it,
    // every check held.
    let ticks = out_of_descriptors(&run);
    println!(
        "    {ticks} clock ticks of CPU in {} s while out of descriptors (a busy loop would use \
         ~{})",
        run.watch.as_secs(),
        run.watch.as_secs() * 100
    );
    println!(
        "  ok      no busy loop (at most {} ticks); still running, open connection served, said \
         why, recovered, exited 0",
        run.max_ticks
    );
    checks.done();
}

#[test]
#[ignore = "soak: make soak"]
fn sigterm_under_load() {
    let clients = 32;
    let mut checks = Checks::new(
        "SIGTERM under load",
        &format!("{clients} keep-alive clients in a loop, SIGTERM after 1 s"),
    );
    let mut whod = Whod::start(&[]);
    let addr = whod.addr;
    let complete = Arc::new(AtomicU64::new(0));
    let incomplete = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(15);
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (complete, incomplete) = (Arc::clone(&complete), Arc::clone(&incomplete));
            std::thread::spawn(move || {
                let mut stream: Option<TcpStream> = None;
                while Instant::now() < stop_at {
                    let s = match stream.as_mut() {
                        Some(s) => s,
                        None => match TcpStream::connect_timeout(&addr, TIMEOUT) {
                            Ok(s) => {
                                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                                stream.insert(s)
                            }
                            Err(_) => return, // refused: the listener is closed
                        },
                    };
                    if s.write_all(REQUEST).is_err() {
                        stream = None;
                        continue;
                    }
                    match read_response(s) {
                        (_, true) => {
                            complete.fetch_add(1, Ordering::Relaxed);
                        }
                        (started, false) => {
                            if started {
                                incomplete.fetch_add(1, Ordering::Relaxed);
                            }
                            stream = None;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let signalled = Instant::now();
    let exited_0 = whod.stop(Duration::from_secs(10));
    let took = signalled.elapsed();
    for thread in threads {
        thread.join().unwrap();
    }
    let (complete, incomplete) = (
        complete.load(Ordering::Relaxed),
        incomplete.load(Ordering::Relaxed),
    );
    println!(
        "    {complete} complete responses, {incomplete} cut short; exited {} {:.0} ms after \
         SIGTERM",
        if exited_0 { "0" } else { "NOT 0" },
        took.as_secs_f64() * 1000.0
    );
    checks.check(
        "every response that started is complete",
        incomplete == 0 && complete > 0,
    );
    checks.check(
        "exit 0 within 5 s",
        exited_0 && took < Duration::from_secs(5),
    );
    checks.done();
}

#[test]
#[ignore = "soak: make soak"]
fn pipeline_flood() {
    let (count, seconds) = pick((50, 3), (200, 10));
    let mut checks = Checks::new(
        "pipeline flood",
        &format!("{count} connections pipelining requests for {seconds} s, never reading"),
    );
    let mut whod = Whod::start(&[]);
    let before = rss_kib(whod.pid());
    let flood = b"GET /nope HTTP/1.1\r\nHost: soak\r\n\r\n".repeat(2000);
    let mut socks: Vec<TcpStream> = (0..count)
        .map(|_| {
            let stream = connect(whod.addr);
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();
    let mut sent = 0;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut last_taken = start;
    // Once every connection has 16 KiB of answers waiting, whod reads no more of its requests
    // and the kernel's buffers fill: the flood stalls. On a slow machine it may not have by
    // the end: then it goes on, at most 5 s more, until nothing was taken for 0.5 s.
    let stall = Duration::from_millis(500);
    while Instant::now() < deadline
        || (last_taken.elapsed() < stall && Instant::now() < deadline + TIMEOUT)
    {
        let mut progress = false;
        for s in &mut socks {
            match s.write(&flood) {
                Ok(n) => {
                    sent += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("a flooding connection failed: {e}"),
            }
        }
        if progress {
            last_taken = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let stalled = last_taken.elapsed() >= stall;
    let during = rss_kib(whod.pid());
    let (status, _) = fresh_request(whod.addr);
    drop(socks);
    let bound = before + count as u64 * 96;
    println!(
        "    {:.0} MB of requests sent, the last {:.1} s after the start; RSS {before} KiB \
         before, {during} KiB while flooded (bound {bound} KiB)",
        sent as f64 / 1e6,
        (last_taken - start).as_secs_f64()
    );
    checks.check(
        "whod stopped taking requests it could not answer (nothing sent in the last 0.5 s)",
        stalled,
    );
    checks.check(
        "RSS grows by less than 96 KiB per flooding connection",
        during <= bound,
    );
    checks.check("a fresh request is still answered 200", status == 200);
    checks.check("whod exited 0", whod.stop(Duration::from_secs(10)));
    checks.done();
}
