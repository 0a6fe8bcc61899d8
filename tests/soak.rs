//! `make soak`: hostile traffic against a real `whod` on loopback, scenario by scenario. Each
//! prints what it measured, then its checks, one line each; every loop is bounded in count and
//! time. The scenarios are ignored by a plain `cargo test`; `make soak` runs them:
//!
//!   cargo test --release --locked --test soak -- --ignored --test-threads=1 --nocapture
//!
//! `WHO_SOAK=short` is the version CI runs, each scenario under 20 s (`full`, the default,
//! holds more connections for longer). One test here is not ignored: the check of wrk's
//! `done()` hook that the soak and the shell scripts read wrk's numbers through. The server,
//! the connections and the waits are the harness's, tests/common.
//!
//! 1. slowloris: connections trickling a request head; fresh requests stay fast, the trickling
//!    ones get 408 and are cut after the header timeout
//! 2. idle crowd: thousands of idle keep-alive connections; fresh requests stay fast; RSS
//! 3. sustained load: wrk (its numbers from bench/numbers.lua's hook, read by the harness's
//!    `Wrk`); zero errors, zero non-2xx, RSS flat from the middle to the end
//! 4. descriptor exhaustion: prlimit --nofile=64; no crash, no busy loop, recovery (the
//!    routine in tests/common, which tests/process.rs runs smaller)
//! 5. SIGTERM under load: every response that started is complete; exit 0
//! 6. pipeline flood: connections pipelining requests without ever reading the answers; whod
//!    stops taking them and its memory stays bounded (16 KiB of answers and one read of
//!    requests per connection)

mod common;

use common::{
    Client, Exhaustion, Outcome, TIMEOUT, Whod, Wrk, connect, fresh_request, get, have_tool,
    out_of_descriptors, rss_kib,
};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
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

/// Median and maximum, in milliseconds.
fn median_max_ms(times: &[Duration]) -> (f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(sorted[sorted.len() / 2]), ms(sorted[sorted.len() - 1]))
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
    let mut held: Vec<Client> = (0..count)
        .map(|_| {
            let mut client = whod.connect();
            client.send(REQUEST);
            assert!(
                matches!(client.try_response(), Outcome::Complete(_)),
                "no answer to a held connection"
            );
            client
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
        .iter_mut()
        .map(|client| {
            client.stream().write_all(REQUEST).is_ok()
                && matches!(client.try_response(), Outcome::Complete(_))
        })
        .filter(|&answered| answered)
        .count();
    drop(held);
    checks.check(
        &format!("all {count} held connections still answer ({alive})"),
        alive == count,
    );
    checks.check("whod exited 0", whod.stop(Duration::from_secs(10)));
    checks.done();
}

/// bench/numbers.lua's `done()` hook, as the harness's `Wrk` runs it, against a real whod:
/// the numbers are wrk's own (its text says the same counts), whod answered as many, and the
/// hook also writes them when bench/pipeline.lua loads it. Runs in a plain `cargo test`; skipped
/// without wrk, except in CI.
#[test]
fn wrk_writes_its_numbers_through_the_done_hook() {
    if !have_tool("wrk", "wrk_writes_its_numbers_through_the_done_hook") {
        return;
    }
    let whod = Whod::start(&["--metrics"]);
    let url = |path: &str| format!("http://{}{path}", whod.addr);
    let args = ["-t1", "-c4", "-d1s", "--timeout", "5s"];
    let limit = Duration::from_secs(30);

    let (who, text) = Wrk::start(&args, &url("/who")).finish(limit);
    println!("{who:?}");
    assert!(who.requests > 0, "{who:?}\n{text}");
    assert!(
        text.contains(&format!("  {} requests in ", who.requests)),
        "wrk's text says another count than {}:\n{text}",
        who.requests
    );
    assert_eq!((who.socket_errors(), who.non_2xx), (0, 0), "{text}");
    assert!(
        (1_000_000..3_000_000).contains(&who.duration_us),
        "a 1 s run took {} us",
        who.duration_us
    );
    let rate = who.requests as f64 * 1e6 / who.duration_us as f64;
    assert!(
        (who.requests_per_second - rate).abs() <= rate / 1000.0 + 0.01,
        "{} requests per second, not {rate}",
        who.requests_per_second
    );
    assert!(
        0 < who.p50_us
            && who.p50_us <= who.p90_us
            && who.p90_us <= who.p99_us
            && who.p99_us <= who.max_us,
        "{who:?}"
    );
    // whod answered every request wrk counted, and at most one more per connection (those in
    // flight when wrk stopped, which it does not count).
    let page = whod.connect().exchange(&get("/metrics")).text();
    let served: u64 = page
        .lines()
        .find_map(|line| line.strip_prefix(r#"whod_requests_total{route="who",code="200"} "#))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no /who count in\n{page}"));
    assert!(
        (who.requests..=who.requests + 4).contains(&served),
        "whod answered {served}, wrk counted {}",
        who.requests
    );

    let (nowhere, text) = Wrk::start(&args, &url("/nowhere")).finish(limit);
    assert!(
        nowhere.requests > 0 && nowhere.non_2xx == nowhere.requests,
        "{nowhere:?}"
    );
    assert!(
        text.contains(&format!("Non-2xx or 3xx responses: {}\n", nowhere.non_2xx)),
        "{text}"
    );

    let pipelined = [&args[..], &["-s", "bench/pipeline.lua"]].concat();
    let (pipelined, text) = Wrk::start(&pipelined, &url("/who")).finish(limit);
    assert!(
        pipelined.requests >= 16 && pipelined.socket_errors() == 0 && pipelined.non_2xx == 0,
        "{pipelined:?}"
    );
    assert!(
        text.contains(&format!("  {} requests in ", pipelined.requests)),
        "{text}"
    );
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
    let wrk = Wrk::start(
        &["-t1", "-c256", &format!("-d{seconds}s"), "--timeout", "5s"],
        &format!("http://{}/who", whod.addr),
    );
    std::thread::sleep(Duration::from_secs(seconds) / 2);
    let middle = rss_kib(whod.pid());
    // wrk stops itself at its end: 30 s more is the bound.
    let (wrk, _) = wrk.finish(Duration::from_secs(seconds + 30));
    let end = rss_kib(whod.pid());
    println!(
        "    {} requests, {} socket errors, {} non-2xx; RSS {middle} KiB at the middle, {end} KiB \
         at the end",
        wrk.requests,
        wrk.socket_errors(),
        wrk.non_2xx
    );
    checks.check(
        "zero socket errors, zero non-2xx",
        wrk.requests > 0 && wrk.socket_errors() == 0 && wrk.non_2xx == 0,
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
                let mut client: Option<Client> = None;
                while Instant::now() < stop_at {
                    let c = match client.as_mut() {
                        Some(c) => c,
                        None => match Client::try_connect(addr) {
                            Ok(c) => client.insert(c),
                            Err(_) => return, // refused: the listener is closed
                        },
                    };
                    if c.stream().write_all(REQUEST).is_err() {
                        client = None;
                        continue;
                    }
                    match c.try_response() {
                        Outcome::Complete(_) => {
                            complete.fetch_add(1, Ordering::Relaxed);
                        }
                        outcome => {
                            if matches!(outcome, Outcome::Cut) {
                                incomplete.fetch_add(1, Ordering::Relaxed);
                            }
                            client = None;
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
