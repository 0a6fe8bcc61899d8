//! What `/metrics` reports, counted per worker: each worker writes only its own counters, with a
//! plain load and store (no lock, no locked add, no cache line written by two threads), and a
//! scrape sums them. The page is the Prometheus text exposition format, version 0.0.4.
//!
//! Every label value comes from a small fixed set, so no client can grow the page past it: the
//! routes, the status codes each route answers (for `/status/NNN`, which answers whatever code
//! it is asked, the class: `2xx` to `5xx`), the parser's refusals, the timeout kinds.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::routes::Route;
use crate::sys;

/// A count with one writer, its worker. Others (a scrape in another worker) only read it.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`: a load and a store, which one writer makes exact, and which costs what a
    /// plain increment does.
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Takes `n` away (a worker's share of a gauge may go down).
    pub fn sub(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_sub(n),
            Ordering::Relaxed,
        );
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Status codes 100-599, indexed by `code - 100`.
const CODES: usize = 500;

/// Why a connection was closed by its timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// A request (or the first byte of a new connection) did not arrive in time.
    Header,
    /// A keep-alive connection sat idle, or an answer waited for the client too long.
    Idle,
}

/// One worker's counts. Aligned to two cache lines, so that no two workers' counts share one
/// (nor a line the prefetcher pairs with it).
#[repr(align(128))]
pub struct Counters {
    requests: [[Counter; CODES]; Route::ALL.len()],
    refused_by_parser: [Counter; CODES],
    pub connections_accepted: Counter,
    pub connections_refused: Counter,
    pub proxy_headers_refused: Counter,
    header_timeouts: Counter,
    idle_timeouts: Counter,
    /// This worker's share of the answers held by `?delay` now: goes up and down.
    pub delayed_answers: Counter,
    /// This worker's WebSocket connections open now: goes up and down.
    pub websockets_open: Counter,
    /// WebSocket messages and their payload bytes, received and sent.
    pub websocket_messages_in: Counter,
    pub websocket_messages_out: Counter,
    pub websocket_bytes_in: Counter,
    pub websocket_bytes_out: Counter,
    /// WebSocket connections closed, by the code of the close that ended them
    /// (`CLOSE_CODES`, then any other).
    websocket_closes: [Counter; CLOSE_CODES.len() + 1],
}

/// The close codes `whod_websocket_closes_total` names; any other counts as `other`. 1006
/// stands for a connection that ended without a close frame (RFC 6455 §7.1.5).
pub const CLOSE_CODES: [u16; 9] = [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011];

fn code_index(status: u16) -> usize {
    usize::from(status.clamp(100, 599) - 100)
}

impl Counters {
    pub fn new() -> Counters {
        Counters {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| Counter::default())),
            refused_by_parser: std::array::from_fn(|_| Counter::default()),
            connections_accepted: Counter::default(),
            connections_refused: Counter::default(),
            proxy_headers_refused: Counter::default(),
            header_timeouts: Counter::default(),
            idle_timeouts: Counter::default(),
            delayed_answers: Counter::default(),
            websockets_open: Counter::default(),
            websocket_messages_in: Counter::default(),
            websocket_messages_out: Counter::default(),
            websocket_bytes_in: Counter::default(),
            websocket_bytes_out: Counter::default(),
            websocket_closes: std::array::from_fn(|_| Counter::default()),
        }
    }

    /// A WebSocket connection ended with a close of `code`.
    pub fn websocket_closed(&self, code: u16) {
        let index = CLOSE_CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(CLOSE_CODES.len());
        self.websocket_closes[index].add(1);
    }

    /// A request answered. `/status/NNN` is counted by class (`status` 503 as 500, shown
    /// `5xx`): one client walking `/status/200` to `/status/599` must not add 400 series.
    pub fn request(&self, route: Route, status: u16) {
        let status = if route == Route::Status {
            status / 100 * 100
        } else {
            status
        };
        self.requests[route as usize][code_index(status)].add(1);
    }

    /// A request the parser refused.
    pub fn refused(&self, status: u16) {
        self.refused_by_parser[code_index(status)].add(1);
    }

    pub fn timeout(&self, kind: Timeout) {
        match kind {
            Timeout::Header => self.header_timeouts.add(1),
            Timeout::Idle => self.idle_timeouts.add(1),
        }
    }
}

impl Default for Counters {
    fn default() -> Counters {
        Counters::new()
    }
}

/// What the page reports besides the counters.
pub struct Gauges {
    pub connections_open: u64,
    pub ready: bool,
    /// When the process started, since the Unix epoch.
    pub start_time: Duration,
}

/// The time now, since the Unix epoch, as `process_start_time_seconds` wants it.
pub fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A duration written as decimal seconds to the microsecond, `12.345678`: exact, and without
/// going through `f64`, whose formatting code would weigh about 12 KB in the binary.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0.as_secs(), self.0.subsec_micros())
    }
}

/// Writes one metric's `# HELP` and `# TYPE` lines.
fn family(out: &mut Vec<u8>, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one sample: `name{labels} value`, or `name value` without labels.
fn sample(out: &mut Vec<u8>, name: &str, labels: &str, value: impl fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// The sum of one counter over every worker.
fn total(workers: &[Counters], counter: fn(&Counters) -> &Counter) -> u64 {
    workers
        .iter()
        .map(|w| counter(w).get())
        .fold(0, u64::wrapping_add)
}

/// Writes the whole page: the sums of every worker's counters, the gauges, the process.
pub fn render(out: &mut Vec<u8>, workers: &[Counters], gauges: &Gauges) {
    // Each status code's count, one sample per code that happened; every route's usual code
    // is always there, so that a rate over it starts at zero.
    let by_code = |out: &mut Vec<u8>, name: &str, route: Option<Route>| {
        for index in 0..CODES {
            let count = workers
                .iter()
                .map(|w| match route {
                    Some(route) => w.requests[route as usize][index].get(),
                    None => w.refused_by_parser[index].get(),
                })
                .fold(0, u64::wrapping_add);
            let status = index as u16 + 100;
            if count == 0 && route.is_none_or(|route| status != route.usual_status()) {
                continue;
            }
            let _ = match route {
                Some(Route::Status) => writeln!(
                    out,
                    "{name}{{route=\"status\",code=\"{}xx\"}} {count}",
                    status / 100
                ),
                Some(route) => writeln!(
                    out,
                    "{name}{{route=\"{}\",code=\"{status}\"}} {count}",
                    route.label()
                ),
                None => writeln!(out, "{name}{{code=\"{status}\"}} {count}"),
            };
        }
    };
    family(
        out,
        "whod_requests_total",
        "counter",
        "Requests answered, by route and status code.",
    );
    for route in Route::ALL {
        by_code(out, "whod_requests_total", Some(route));
    }
    family(
        out,
        "whod_requests_refused_total",
        "counter",
        "Requests the parser refused (answered with this status, then closed), by status code.",
    );
    by_code(out, "whod_requests_refused_total", None);
    family(
        out,
        "whod_timeouts_total",
        "counter",
        "Connections closed by a timeout: header (a request, or a new connection's first \
         request, not received in time; answered 408 if a request had begun) or idle.",
    );
    sample(
        out,
        "whod_timeouts_total",
        "kind=\"header\"",
        total(workers, |w| &w.header_timeouts),
    );
    sample(
        out,
        "whod_timeouts_total",
        "kind=\"idle\"",
        total(workers, |w| &w.idle_timeouts),
    );
    let singles: [(&str, &str, &str, u64); 6] = [
        (
            "whod_connections_accepted_total",
            "counter",
            "Connections accepted.",
            total(workers, |w| &w.connections_accepted),
        ),
        (
            "whod_connections_refused_total",
            "counter",
            "Connections refused past --max-connections (answered 503, then closed).",
            total(workers, |w| &w.connections_refused),
        ),
        (
            "whod_proxy_headers_refused_total",
            "counter",
            "Connections closed because they did not start with a valid PROXY protocol header.",
            total(workers, |w| &w.proxy_headers_refused),
        ),
        (
            "whod_connections_open",
            "gauge",
            "Connections open now.",
            gauges.connections_open,
        ),
        (
            "whod_delayed_answers",
            "gauge",
            "Answers held by ?delay now.",
            total(workers, |w| &w.delayed_answers),
        ),
        (
            "whod_ready",
            "gauge",
            "1 while /healthz answers 200; 0 after SIGUSR1 or once shutdown has begun.",
            u64::from(gauges.ready),
        ),
    ];
    for (name, kind, help, value) in singles {
        family(out, name, kind, help);
        sample(out, name, "", value);
    }
    write_websockets(out, workers);
    family(
        out,
        "whod_build_info",
        "gauge",
        "Always 1; the labels say which build is running.",
    );
    sample(
        out,
        "whod_build_info",
        concat!("version=\"", env!("CARGO_PKG_VERSION"), "\""),
        1,
    );
    write_process(out, gauges.start_time);
}

/// A counter family with one sample each way: `direction="in"` and `direction="out"`.
fn in_and_out(
    out: &mut Vec<u8>,
    workers: &[Counters],
    name: &str,
    help: &str,
    received: fn(&Counters) -> &Counter,
    sent: fn(&Counters) -> &Counter,
) {
    family(out, name, "counter", help);
    sample(out, name, "direction=\"in\"", total(workers, received));
    sample(out, name, "direction=\"out\"", total(workers, sent));
}

/// The WebSocket families: connections open, messages and bytes each way, closes by code.
fn write_websockets(out: &mut Vec<u8>, workers: &[Counters]) {
    let name = "whod_websocket_connections_open";
    family(out, name, "gauge", "WebSocket connections open now.");
    sample(out, name, "", total(workers, |w| &w.websockets_open));
    in_and_out(
        out,
        workers,
        "whod_websocket_messages_total",
        "WebSocket text and binary messages, received (in) and sent (out).",
        |w| &w.websocket_messages_in,
        |w| &w.websocket_messages_out,
    );
    in_and_out(
        out,
        workers,
        "whod_websocket_bytes_total",
        "WebSocket message payload bytes, received (in) and sent (out).",
        |w| &w.websocket_bytes_in,
        |w| &w.websocket_bytes_out,
    );
    let name = "whod_websocket_closes_total";
    family(
        out,
        name,
        "counter",
        "WebSocket connections closed, by the code of the close that ended them (1006: none \
         came).",
    );
    for (index, code) in CLOSE_CODES
        .iter()
        .map(u16::to_string)
        .chain(["other".to_string()])
        .enumerate()
    {
        let count = workers
            .iter()
            .map(|w| w.websocket_closes[index].get())
            .fold(0, u64::wrapping_add);
        sample(out, name, &format!("code=\"{code}\""), count);
    }
}

/// The standard process metrics, as the Prometheus client libraries name them. They come
/// from the kernel: resource usage, the open files limit, and two fixed paths under
/// /proc/self (no request byte ever reaches a path).
fn write_process(out: &mut Vec<u8>, start_time: Duration) {
    let mut metric = |name: &str, kind: &str, help: &str, value: &dyn fmt::Display| {
        family(out, name, kind, help);
        sample(out, name, "", value);
    };
    if let Ok(cpu) = sys::cpu_time() {
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            &Seconds(cpu),
        );
    }
    if let Ok(bytes) = sys::resident_memory_bytes() {
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            &bytes,
        );
    }
    if let Ok(open) = sys::open_descriptors() {
        metric(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            &open,
        );
    }
    if let Ok(limit) = sys::open_files_limit() {
        metric(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            &limit,
        );
    }
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        &Seconds(start_time),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(workers: &[Counters]) -> String {
        let mut out = Vec::new();
        let gauges = Gauges {
            connections_open: 3,
            ready: true,
            start_time: Duration::from_millis(1_700_000_000_500),
        };
        render(&mut out, workers, &gauges);
        String::from_utf8(out).unwrap()
    }

    fn value<'a>(page: &'a str, series: &str) -> Option<&'a str> {
        page.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn websocket_families_sum_every_worker_and_count_closes_by_code() {
        let workers = [Counters::new(), Counters::new()];
        workers[0].websockets_open.add(2);
        workers[1].websockets_open.add(1);
        workers[1].websockets_open.sub(1);
        workers[0].websocket_messages_in.add(3);
        workers[1].websocket_messages_out.add(4);
        workers[0].websocket_bytes_in.add(100);
        workers[1].websocket_bytes_out.add(250);
        workers[0].websocket_closed(1000);
        workers[1].websocket_closed(1000);
        workers[1].websocket_closed(1006);
        // Not one of CLOSE_CODES: `other`, whatever the code.
        workers[0].websocket_closed(4000);
        workers[1].websocket_closed(1005);
        let page = page(&workers);
        for (series, expected) in [
            ("whod_websocket_connections_open", "2"),
            (r#"whod_websocket_messages_total{direction="in"}"#, "3"),
            (r#"whod_websocket_messages_total{direction="out"}"#, "4"),
            (r#"whod_websocket_bytes_total{direction="in"}"#, "100"),
            (r#"whod_websocket_bytes_total{direction="out"}"#, "250"),
            (r#"whod_websocket_closes_total{code="1000"}"#, "2"),
            (r#"whod_websocket_closes_total{code="1001"}"#, "0"),
            (r#"whod_websocket_closes_total{code="1006"}"#, "1"),
            (r#"whod_websocket_closes_total{code="other"}"#, "2"),
        ] {
            assert_eq!(value(&page, series), Some(expected), "{series}\n{page}");
        }
    }

    #[test]
    fn the_page_sums_every_worker() {
        let workers = [Counters::new(), Counters::new()];
        workers[0].request(Route::Who, 200);
        workers[1].request(Route::Who, 200);
        workers[1].request(Route::Who, 200);
        workers[1].request(Route::Other, 404);
        workers[0].refused(400);
        workers[0].connections_accepted.add(5);
        workers[1].connections_accepted.add(2);
        workers[0].timeout(Timeout::Header);
        workers[1].timeout(Timeout::Idle);
        workers[1].timeout(Timeout::Idle);
        workers[0].delayed_answers.add(2);
        workers[0].delayed_answers.sub(1);
        let page = page(&workers);
        assert_eq!(
            value(&page, r#"whod_requests_total{route="who",code="200"}"#),
            Some("3")
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="other",code="404"}"#),
            Some("1")
        );
        // Each route's usual code is there from the start; other codes only once they
        // happened. A 404 is all `other` ever answers: it has no 200. A 101 is what `ws`
        // answers but when refused.
        assert_eq!(
            value(&page, r#"whod_requests_total{route="echo",code="200"}"#),
            Some("0")
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="ws",code="101"}"#),
            Some("0")
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="ws",code="200"}"#),
            None
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="status",code="2xx"}"#),
            Some("0")
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="other",code="200"}"#),
            None
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="who",code="404"}"#),
            None
        );
        assert_eq!(
            value(&page, r#"whod_requests_refused_total{code="400"}"#),
            Some("1")
        );
        assert_eq!(value(&page, "whod_connections_accepted_total"), Some("7"));
        assert_eq!(
            value(&page, r#"whod_timeouts_total{kind="header"}"#),
            Some("1")
        );
        assert_eq!(
            value(&page, r#"whod_timeouts_total{kind="idle"}"#),
            Some("2")
        );
        assert_eq!(value(&page, "whod_delayed_answers"), Some("1"));
        assert_eq!(value(&page, "whod_connections_open"), Some("3"));
        assert_eq!(value(&page, "whod_ready"), Some("1"));
        assert_eq!(
            value(
                &page,
                &format!(
                    "whod_build_info{{version=\"{}\"}}",
                    env!("CARGO_PKG_VERSION")
                )
            ),
            Some("1")
        );
        assert_eq!(
            value(&page, "process_start_time_seconds"),
            Some("1700000000.500000")
        );
        let rss: u64 = value(&page, "process_resident_memory_bytes")
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss > 100_000, "{rss}");
        let open: u64 = value(&page, "process_open_fds").unwrap().parse().unwrap();
        let max: u64 = value(&page, "process_max_fds").unwrap().parse().unwrap();
        assert!(open >= 3 && open <= max, "{open} of {max}");
        let cpu: f64 = value(&page, "process_cpu_seconds_total")
            .unwrap()
            .parse()
            .unwrap();
        assert!(cpu > 0.0);
    }

    #[test]
    fn the_start_time_is_the_wall_clock_when_asked() {
        let since_epoch = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let before = since_epoch();
        let now = unix_time();
        assert!(before <= now && now <= since_epoch(), "{now:?}");
    }

    #[test]
    fn every_sample_follows_its_help_and_type_lines() {
        let page = page(&[Counters::new()]);
        let mut declared = Vec::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                declared.push(name.to_string());
            } else if !line.starts_with("# HELP ") {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
            }
        }
        let mut unique = declared.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), declared.len(), "each family once");
        assert!(page.ends_with('\n'));
    }

    #[test]
    fn the_status_route_counts_by_class_so_no_client_grows_the_page() {
        let workers = [Counters::new()];
        let before = page(&workers).lines().count();
        for code in 200..=599 {
            workers[0].request(Route::Status, code);
        }
        let page = page(&workers);
        for (class, count) in [
            ("2xx", "100"),
            ("3xx", "100"),
            ("4xx", "100"),
            ("5xx", "100"),
        ] {
            assert_eq!(
                value(
                    &page,
                    &format!("whod_requests_total{{route=\"status\",code=\"{class}\"}}")
                ),
                Some(count),
                "{class}"
            );
        }
        assert_eq!(page.lines().count(), before + 3, "three classes more");
    }

    #[test]
    fn a_status_outside_100_599_counts_at_the_edge_not_out_of_bounds() {
        let workers = [Counters::new()];
        workers[0].request(Route::Status, 999);
        workers[0].request(Route::Who, 999);
        workers[0].refused(42);
        let page = page(&workers);
        assert_eq!(
            value(&page, r#"whod_requests_total{route="status",code="5xx"}"#),
            Some("1")
        );
        assert_eq!(
            value(&page, r#"whod_requests_total{route="who",code="599"}"#),
            Some("1")
        );
        assert_eq!(
            value(&page, r#"whod_requests_refused_total{code="100"}"#),
            Some("1")
        );
    }
}
