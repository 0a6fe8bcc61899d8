//! The server: a bound listener, the workers that serve it, and how they stop.
//!
//! As in nginx: a few event loops, no thread per connection. Each of `--workers` threads runs
//! one epoll loop (`worker`) over non-blocking std sockets. All of them watch the one listening
//! socket with EPOLLEXCLUSIVE, so a new connection wakes one worker, which then owns it for its
//! whole life. A connection (`conn`) speaks HTTP and never touches epoll; the worker drives it
//! and never looks at HTTP. What a worker's connections share is its `worker_state`: the
//! settings, the `clock`, the host name, the output batch, the `access_log`, the counters; a
//! parsed request becomes its answer in `dispatch`. What all threads share is the `state`.
//!
//! Every timeout is explicit: `--header-timeout` while a request arrives (and for a new
//! connection's first byte), `--idle-timeout` between requests and while an answer waits for the
//! client to take it, `conn::LINGER` while closing, `worker::SHUTDOWN_GRACE` once the stop
//! begins. Deadlines are checked by a scan of the worker's connections when the earliest is due,
//! and at least once a second.

mod access_log;
mod clock;
mod conn;
mod dispatch;
mod request_body;
mod state;
mod websocket;
mod worker;
mod worker_state;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::config::Config;
use crate::sys;
use state::{Lifecycle, ServerState};
use worker::Worker;

/// The accept queue: std's 128 overflows when a thousand clients connect at once.
const LISTEN_BACKLOG: u32 = 4096;

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    config: Config,
    /// `--workers`, counted (`auto`: the CPUs of the affinity mask).
    workers: usize,
}

impl Server {
    pub fn bind(config: &Config) -> io::Result<Server> {
        let listener = TcpListener::bind((config.bind, config.port))?;
        listener.set_nonblocking(true)?;
        sys::set_listen_backlog(&listener, LISTEN_BACKLOG)?;
        Ok(Server {
            listener,
            config: config.clone(),
            workers: config.workers.count(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the workers. They serve until `Running::stop`.
    pub fn start(self) -> io::Result<Running> {
        let (wake, wake_receiver) = UnixStream::pair()?;
        let listener = Arc::new(self.listener);
        let server = Arc::new(ServerState::new(self.workers));
        server.set_sick(self.config.sick);
        let mut workers = Vec::with_capacity(self.workers);
        for id in 0..self.workers {
            let mut worker = Worker::new(
                &self.config,
                Arc::clone(&listener),
                wake_receiver.try_clone()?,
                Arc::clone(&server),
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
            server,
        })
    }
}

/// The workers, serving.
pub struct Running {
    /// Each byte written here wakes every worker once (edge-triggered); none is ever read.
    wake: UnixStream,
    workers: Vec<JoinHandle<()>>,
    server: Arc<ServerState>,
}

impl Running {
    /// Makes `/healthz` answer 200 (`true`) or 503 (`false`), and `whod --healthcheck` succeed
    /// or fail with it; `/who` and the rest serve as before.
    pub fn set_ready(&self, ready: bool) {
        self.server.set_ready(ready);
    }

    /// Makes every answer but `/healthz`'s and `/metrics`' fail on purpose (`true`), or not.
    pub fn set_sick(&self, sick: bool) {
        self.server.set_sick(sick);
    }

    /// How many workers serve.
    pub fn workers(&self) -> usize {
        self.workers.len()
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
        self.server.advance(lifecycle);
        // A full socket buffer would already be readable: the workers are awake anyway.
        let _ = self.wake.write(b"!");
    }
}
