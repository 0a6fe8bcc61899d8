//! What the main thread and the workers share: where the server is in its life, readiness, the
//! count of open connections, and each worker's counters.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use crate::metrics::{self, Counters};

/// Where the server is in its life; it only moves forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Lifecycle {
    Serving = 0,
    /// SIGTERM came with a `--shutdown-delay`: still accepting and answering, but every answer
    /// closes its connection and `/healthz` answers 503.
    Draining = 1,
    /// Not accepting; finishing what is in flight, within the grace period.
    Stopping = 2,
}

/// The state every thread of the server sees.
pub(crate) struct ServerState {
    /// Connections open in all workers, for `--max-connections`.
    open: AtomicUsize,
    lifecycle: AtomicU8,
    /// `/healthz` answers 200 (SIGUSR2, and at start) or 503 (SIGUSR1).
    ready: AtomicBool,
    /// Every answer but `/healthz`'s and `/metrics`' fails on purpose (`--sick`, SIGTTIN; SIGTTOU
    /// makes it well).
    sick: AtomicBool,
    /// One set per worker, each written by its worker only, read by any scrape.
    pub counters: Box<[Counters]>,
    /// When the server started, since the Unix epoch.
    pub start_time: Duration,
}

impl ServerState {
    pub fn new(workers: usize) -> ServerState {
        ServerState {
            open: AtomicUsize::new(0),
            lifecycle: AtomicU8::new(Lifecycle::Serving as u8),
            ready: AtomicBool::new(true),
            sick: AtomicBool::new(false),
            counters: (0..workers).map(|_| Counters::new()).collect(),
            start_time: metrics::unix_time(),
        }
    }

    /// Counts a new connection; returns how many are open with it.
    pub fn open_connection(&self) -> usize {
        self.open.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn close_connection(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connections_open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_sick(&self) -> bool {
        self.sick.load(Ordering::Relaxed)
    }

    pub fn set_sick(&self, sick: bool) {
        self.sick.store(sick, Ordering::Relaxed);
    }

    pub fn lifecycle(&self) -> Lifecycle {
        match self.lifecycle.load(Ordering::Acquire) {
            0 => Lifecycle::Serving,
            1 => Lifecycle::Draining,
            _ => Lifecycle::Stopping,
        }
    }

    /// Moves the lifecycle forward to `to` (never back).
    pub fn advance(&self, to: Lifecycle) {
        self.lifecycle.fetch_max(to as u8, Ordering::Release);
    }
}
