//! The server: a bound listener, the workers that serve it, and how they stop.
//!
//! As in nginx: a few event loops, no thread per connection. Each of `--workers` threads runs
//! one epoll loop (`worker`) over non-blocking std sockets. All of them watch the one listening
//! socket with EPOLLEXCLUSIVE, so a new connection wakes one worker, which then owns it for its
//! whole life. A connection (`conn`) speaks HTTP and never touches epoll; the worker drives it
//! and never looks at HTTP. What a worker's connections share is its `context`: the clock, the
//! host name, the output batch, the access log.
//!
//! Every timeout is explicit: `--header-timeout` while a request arrives (and for a new
//! connection's first byte), `--idle-timeout` between requests and while an answer waits for the
//! client to take it, `conn::LINGER` while closing, `worker::SHUTDOWN_GRACE` once the stop
//! begins. Deadlines are checked by a scan of the worker's connections when the earliest is due,
//! and at least once a second.

mod conn;
mod context;
mod worker;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crate::config::Config;
use crate::metrics::{self, Counters};
use crate::sys;
use worker::Worker;

/// The accept queue: std's 128 overflows when a thousand clients connect at once.
const LISTEN_BACKLOG: u32 = 4096;

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

/// What the main thread and the workers share.
pub(crate) struct Shared {
    /// Connections open in all workers, for `--max-connections`.
    open: AtomicUsize,
    lifecycle: AtomicU8,
    /// `/healthz` answers 200 (SIGUSR2, and at start) or 503 (SIGUSR1).
    ready: AtomicBool,
    /// One set per worker, each written by its worker only, read by any scrape.
    pub counters: Box<[Counters]>,
    /// When the server started, since the Unix epoch.
    pub start_time: std::time::Duration,
}

impl Shared {
    pub fn new(workers: usize) -> Shared {
        Shared {
            open: AtomicUsize::new(0),
            lifecycle: AtomicU8::new(Lifecycle::Serving as u8),
            ready: AtomicBool::new(true),
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

    pub fn lifecycle(&self) -> Lifecycle {
        match self.lifecycle.load(Ordering::Acquire) {
            0 => Lifecycle::Serving,
            1 => Lifecycle::Draining,
            _ => Lifecycle::Stopping,
        }
    }

    /// Moves the lifecycle forward to `to` (never back).
    fn advance(&self, to: Lifecycle) {
        self.lifecycle.fetch_max(to as u8, Ordering::Release);
    }
}

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    config: Config,
}

impl Server {
    pub fn bind(config: &Config) -> io::Result<Server> {
        let listener = TcpListener::bind((config.bind, config.port))?;
        listener.set_nonblocking(true)?;
        sys::set_listen_backlog(&listener, LISTEN_BACKLOG)?;
        Ok(Server {
            listener,
            config: config.clone(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the workers. They serve until `Running::stop`.
    pub fn start(self) -> io::Result<Running> {
        let (wake, wake_receiver) = UnixStream::pair()?;
        let listener = Arc::new(self.listener);
        let shared = Arc::new(Shared::new(self.config.workers));
        let mut workers = Vec::with_capacity(self.config.workers);
        for id in 0..self.config.workers {
            let mut worker = Worker::new(
                &self.config,
                Arc::clone(&listener),
                wake_receiver.try_clone()?,
                Arc::clone(&shared),
                id,
            )?;
            let thread = std::thread::Builder::new()
                .name(format!("whod-worker-{id}"))
                .spawn(move || {
                    if let Err(error) = worker.run() {
                        eprintln!("whod: worker {id} failed: {error}");
                        std::process::exit(1);
                    }
                })?;
            workers.push(thread);
        }
        Ok(Running {
            wake,
            workers,
            shared,
        })
    }
}

/// The workers, serving.
pub struct Running {
    /// Each byte written here wakes every worker once (edge-triggered); none is ever read.
    wake: UnixStream,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Running {
    /// Makes `/healthz` answer 200 (`true`) or 503 (`false`), and `whod --healthcheck` succeed
    /// or fail with it; `/who` and the rest serve as before.
    pub fn set_ready(&self, ready: bool) {
        self.shared.ready.store(ready, Ordering::Relaxed);
    }

    /// Starts the drain window: every answer from now on closes its connection and `/healthz`
    /// answers 503, while new connections are still accepted.
    pub fn drain(&mut self) {
        self.move_to(Lifecycle::Draining);
    }

    /// Stops accepting, lets requests in flight finish (`SHUTDOWN_GRACE` at most), closes idle
    /// connections, and returns when every worker is done.
    pub fn stop(mut self) {
        self.move_to(Lifecycle::Stopping);
        for worker in self.workers {
            let _ = worker.join();
        }
    }

    fn move_to(&mut self, lifecycle: Lifecycle) {
        self.shared.advance(lifecycle);
        // A full socket buffer would already be readable: the workers are awake anyway.
        let _ = self.wake.write(b"!");
    }
}
