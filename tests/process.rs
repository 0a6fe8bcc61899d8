//! The process: flags and exit codes, timeouts, the healthcheck client, shutdown on signals
//! (also as PID 1 of a PID namespace), host name changes, running out of file descriptors.

mod common;

use common::{
    BIN, Client, Exhaustion, TIMEOUT, Whod, get, have_root, hostname, out_of_descriptors, signal,
    wait_until, wake_ups,
};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn help_and_version_exit_0() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--port",
        "--bind",
        "--header-timeout",
        "--idle-timeout",
        "--max-connections",
        "--access-log",
        "--healthcheck",
        "PORT",
        "WHO_BIND",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("whod ", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn usage_errors_exit_2_naming_the_flag_and_value() {
    for (args, words) in [
        (&["--port", "99999"][..], &["--port", "99999"][..]),
        (&["--port", "abc"], &["--port", "abc"]),
        (&["--bind", "nowhere"], &["--bind", "nowhere"]),
        (&["--header-timeout", "0"], &["--header-timeout", "\"0\""]),
        (&["--what"], &["unknown flag", "--what"]),
        (&["--port"], &["--port", "needs a value"]),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        for word in words {
            assert!(err.contains(word), "{args:?}: {err:?} should name {word}");
        }
    }
    let output = Command::new(BIN).env("PORT", "http").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT: invalid value \"http\""));
}

#[test]
fn runtime_errors_exit_1_with_the_reason() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, err) = run(&["--bind", "127.0.0.1", "--port", &port]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")) && err.contains("in use"),
        "{err}"
    );

    if have_root("runtime_errors_exit_1_with_the_reason (permission denied)") {
        let output = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "--bind",
                "127.0.0.1",
                "--port",
                "1",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert!(
            err.contains("cannot listen on 127.0.0.1:1") && err.contains("ermission denied"),
            "{err}"
        );
    }
}

#[test]
fn startup_line_names_the_bound_address_also_for_ipv6() {
    let whod = Whod::start(&[]);
    assert!(
        whod.stderr()
            .contains(&format!("listening on {}", whod.addr))
    );
    let mut command = Command::new(BIN);
    command.args(["--port", "0", "--bind", "::1"]);
    let whod6 = Whod::spawn(command);
    assert!(whod6.addr.is_ipv6());
    assert_eq!(whod6.connect().exchange(&get("/who")).text(), hostname());
}

#[test]
fn an_incomplete_request_gets_408_after_the_header_timeout() {
    let whod = Whod::start(&["--header-timeout", "1"]);
    let mut client = whod.connect();
    let start = Instant::now();
    client.send(b"GET /who HTTP/1.1\r\nHost: a\r\n");
    // Trickling more bytes does not extend the deadline.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(200));
        client.send(b"X: y\r\n");
    }
    let response = client.response();
    assert_eq!(
        (response.status, response.header("Connection")),
        (408, Some("close"))
    );
    assert!(client.is_closed());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < TIMEOUT,
        "{waited:?}"
    );

    // A connection that never sends a byte is closed silently: there is nothing to answer.
    let mut silent = whod.connect();
    assert!(silent.is_closed());
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let whod = Whod::start(&["--idle-timeout", "1", "--header-timeout", "5"]);
    let mut client = whod.connect();
    assert_eq!(client.exchange(&get("/who")).status, 200);
    let start = Instant::now();
    assert!(client.is_closed());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[test]
fn healthcheck_exits_0_when_serving_and_1_otherwise() {
    let whod = Whod::start(&[]);
    let port = whod.addr.port().to_string();
    let (code, _, err) = run(&["--healthcheck", "--port", &port]);
    assert_eq!(code, 0, "{err}");
    let output = Command::new(BIN)
        .arg("--healthcheck")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "PORT from the environment");

    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (code, _, err) = run(&["--healthcheck", "--port", &free]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("127.0.0.1:{free}/healthz")), "{err}");

    // A port that accepts but never answers: exit 1 within the 2 s budget.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port().to_string();
    let start = Instant::now();
    let (code, _, err) = run(&["--healthcheck", "--port", &port]);
    assert_eq!(code, 1);
    assert!(
        err.contains("2 s")
            || err.contains("timed out")
            || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn sigterm_when_idle_exits_0_at_once_and_closes_idle_connections() {
    let mut whod = Whod::start(&[]);
    let mut idle = whod.connect();
    assert_eq!(idle.exchange(&get("/who")).status, 200);
    let start = Instant::now();
    whod.signal("TERM");
    assert!(whod.wait(Duration::from_secs(5)).success());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "idle shutdown took {:?}",
        start.elapsed()
    );
    assert!(idle.is_closed());
    assert!(whod.said("SIGTERM received"), "{}", whod.stderr());

    let mut whod = Whod::start(&[]);
    whod.signal("INT");
    assert!(whod.wait(Duration::from_secs(5)).success());
}

#[test]
fn sighup_and_sigquit_stop_gracefully_as_sigterm_does() {
    // Left at their default action, both would kill whod on the spot: answers in flight
    // lost, death by signal. Each is a graceful stop, drain window included.
    for signal in ["HUP", "QUIT"] {
        let mut whod = Whod::start(&["--shutdown-delay", "1"]);
        let mut in_flight = whod.connect();
        in_flight.send(b"GET /who HTTP/1.1\r\nHost: a\r\n");
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        whod.signal(signal);
        std::thread::sleep(Duration::from_millis(200));
        // The drain window: still answering, /healthz says the replica is going.
        assert_eq!(whod.connect().exchange(&get("/healthz")).status, 503);
        in_flight.send(b"\r\n");
        let response = in_flight.response();
        assert_eq!((response.status, response.text()), (200, hostname()));
        assert_eq!(response.header("Connection"), Some("close"));
        let status = whod.wait(Duration::from_secs(5));
        assert!(status.success(), "SIG{signal}: {status:?}");
        assert!(
            start.elapsed() >= Duration::from_millis(900),
            "SIG{signal}: the window"
        );
        assert!(
            whod.said(&format!("SIG{signal} received, draining for 1 s")),
            "{}",
            whod.stderr()
        );
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_with_connection_close() {
    // Two workers: each must stop, and the listener close once both have let go of it.
    let mut whod = Whod::start(&["--workers", "2"]);
    let mut who = whod.connect();
    let mut health = whod.connect();
    who.send(b"GET /who HTTP/1.1\r\nHost: a\r\n");
    health.send(b"GET /healthz HTTP/1.1\r\n");
    std::thread::sleep(Duration::from_millis(100));
    whod.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    // New connections are refused: the listener is closed.
    assert!(std::net::TcpStream::connect_timeout(&whod.addr, TIMEOUT).is_err());
    who.send(b"\r\n");
    let response = who.response();
    assert_eq!((response.status, response.text()), (200, hostname()));
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(who.is_closed());
    health.send(b"Host: a\r\n\r\n");
    let response = health.response();
    assert_eq!(
        (response.status, response.header("Connection")),
        (503, Some("close"))
    );
    assert!(whod.wait(Duration::from_secs(5)).success());
}

#[test]
fn shutdown_is_bounded_when_a_client_never_finishes() {
    let mut whod = Whod::start(&["--header-timeout", "60"]);
    let mut stuck = whod.connect();
    stuck.send(b"GET /who HTTP/1.1\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    whod.signal("TERM");
    assert!(whod.wait(Duration::from_secs(8)).success());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(7),
        "{took:?}"
    );
}

/// The PID of the only child of `parent`.
fn child_of(parent: u32) -> u32 {
    let mut child = None;
    wait_until(TIMEOUT, "a child is listed", || {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        child = children
            .split_whitespace()
            .next()
            .map(|pid| pid.parse().unwrap());
        child.is_some()
    });
    child.unwrap_or_else(|| panic!("{parent} has no child"))
}

/// As PID 1 the kernel drops every signal that has no handler: a server that ignores this
/// does not stop on `docker stop` until SIGKILL.
#[test]
fn sigterm_stops_whod_running_as_pid_1() {
    if !have_root("sigterm_stops_whod_running_as_pid_1") {
        return;
    }
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", BIN, "--port", "0", "--bind", "127.0.0.1"]);
    let mut whod = Whod::spawn(command);
    let pid = child_of(whod.pid());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert!(
        nspid.ends_with("\t1"),
        "whod is PID 1 in its namespace: {nspid}"
    );
    assert_eq!(whod.connect().exchange(&get("/who")).status, 200);
    let start = Instant::now();
    signal(pid, "TERM");
    let exit = whod.wait(Duration::from_secs(5));
    assert!(exit.success(), "{exit:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn the_answer_follows_a_hostname_change_within_a_second() {
    if !have_root("the_answer_follows_a_hostname_change_within_a_second") {
        return;
    }
    let host = hostname();
    let mut command = Command::new("unshare");
    command.args([
        "--uts",
        "sh",
        "-c",
        &format!("hostname who-uts-first && exec {BIN} --port 0 --bind 127.0.0.1"),
    ]);
    let whod = Whod::spawn(command);
    let mut client = whod.connect();
    assert_eq!(client.exchange(&get("/who")).text(), "who-uts-first");
    let status = Command::new("nsenter")
        .args([
            "--target",
            &whod.pid().to_string(),
            "--uts",
            "hostname",
            "who-uts-second",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    // The name is read again each second: after a second, every answer has the new one.
    std::thread::sleep(Duration::from_millis(1050));
    assert_eq!(client.exchange(&get("/who")).text(), "who-uts-second");
    assert_eq!(
        Client::connect(whod.addr).exchange(&get("/who")).text(),
        "who-uts-second"
    );
    // The names were set in whod's own UTS namespace: the host's is what it was.
    assert_ne!(host, "who-uts-second");
    assert_eq!(hostname(), host, "the host's own name is untouched");
}

#[test]
fn out_of_file_descriptors_backs_off_and_recovers() {
    // The soak runs the same routine with more connections for longer (tests/soak.rs).
    out_of_descriptors(&Exhaustion {
        nofile: 24,
        crowd: 40,
        watch: Duration::from_secs(1),
        max_ticks: 30,
    });
}

#[test]
fn the_drain_window_keeps_serving_with_connection_close_then_stops() {
    let mut whod = Whod::start(&["--shutdown-delay", "2"]);
    let mut idle = whod.connect();
    assert_eq!(idle.exchange(&get("/who")).status, 200);
    let start = Instant::now();
    whod.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    // New connections are still accepted and answered, each answer closing its connection;
    // /healthz says the replica is going away.
    let mut fresh = whod.connect();
    let health = fresh.exchange(&get("/healthz"));
    assert_eq!(
        (
            health.status,
            health.text().as_str(),
            health.header("Connection")
        ),
        (503, "shutting down", Some("close"))
    );
    assert!(fresh.is_closed());
    let mut fresh = whod.connect();
    let who = fresh.exchange(&get("/who"));
    assert_eq!((who.status, who.header("Connection")), (200, Some("close")));
    assert!(fresh.is_closed());
    // An idle keep-alive connection stays open for its next answer, which closes it.
    let answer = idle.exchange(&get("/who"));
    assert_eq!(
        (answer.status, answer.header("Connection")),
        (200, Some("close"))
    );
    assert!(idle.is_closed());
    // The window over, whod stops as without one.
    let mut late = whod.connect();
    assert!(whod.wait(Duration::from_secs(5)).success());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        late.is_closed(),
        "an idle connection is closed at the end of the window"
    );
    assert!(
        whod.said("SIGTERM received, draining for 2 s"),
        "{}",
        whod.stderr()
    );
}

#[test]
fn a_second_sigterm_ends_the_drain_window_early() {
    let mut whod = Whod::start(&["--shutdown-delay", "60"]);
    whod.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(whod.connect().exchange(&get("/healthz")).status, 503);
    let start = Instant::now();
    whod.signal("INT");
    assert!(whod.wait(Duration::from_secs(5)).success());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // The log says the window was cut short, and by what.
    assert!(
        whod.said("SIGINT received, drain window cut short after "),
        "{}",
        whod.stderr()
    );
}

#[test]
fn the_switch_signals_keep_the_drain_window_open() {
    let mut whod = Whod::start(&["--shutdown-delay", "60"]);
    whod.signal("TERM");
    assert!(whod.said("draining for 60 s"), "{}", whod.stderr());
    whod.signal("TTIN");
    assert!(whod.said("SIGTTIN received: sick"), "{}", whod.stderr());
    let answer = whod.connect().exchange(&get("/who"));
    assert_eq!(
        (answer.status, answer.header("Connection")),
        (503, Some("close")),
        "sick, and still draining"
    );
    assert!(whod.is_running());
    whod.signal("TERM");
    assert!(whod.wait(Duration::from_secs(5)).success());
}

#[test]
fn healthcheck_speaks_the_proxy_protocol_to_a_server_that_wants_it() {
    let whod = Whod::start(&["--proxy-protocol"]);
    let port = whod.addr.port().to_string();
    let output = Command::new(BIN)
        .args(["--healthcheck", "--port", &port])
        .env("WHO_PROXY_PROTOCOL", "1")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Without the header the server closes the connection unanswered.
    let (code, _, err) = run(&["--healthcheck", "--port", &port]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn an_idle_server_wakes_about_once_a_second() {
    let whod = Whod::start(&[]);
    // An idle keep-alive connection: its deadline is 75 s away, so nothing is due before.
    let mut idle = whod.connect();
    assert_eq!(idle.exchange(&get("/who")).status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let before = wake_ups(whod.pid());
    std::thread::sleep(Duration::from_secs(2));
    let woke = wake_ups(whod.pid()) - before;
    // The deadline scan runs at least once a second: about 2 in 2 s, not one per millisecond.
    assert!(woke <= 10, "{woke} wake-ups in 2 s while idle");
}

#[test]
fn an_open_files_limit_below_max_connections_is_warned_of() {
    // prlimit sets the soft and the hard limit: whod can raise neither past 64.
    for (max_connections, warned) in [("64", false), ("65", true)] {
        let mut command = Command::new("prlimit");
        command.args([
            "--nofile=64",
            BIN,
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--max-connections",
            max_connections,
        ]);
        let mut whod = Whod::spawn(command);
        // The warning comes before the wait for signals: it is in by the last line.
        assert!(whod.stop(TIMEOUT), "whod did not exit 0");
        assert!(whod.said("whod: stopped"), "{}", whod.stderr());
        let warning = "whod: warning: the open files limit (64) is below --max-connections \
                       (65); past it, new connections wait in the accept queue";
        assert_eq!(
            whod.stderr().contains("warning"),
            warned,
            "--max-connections {max_connections}: {}",
            whod.stderr()
        );
        if warned {
            assert!(whod.stderr().contains(warning), "{}", whod.stderr());
        }
    }
}
