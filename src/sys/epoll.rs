//! epoll: one instance per worker, what a descriptor is watched for (`Interest`), and the
//! events a wait returns (`Event`, `Events`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::check;

/// What a file descriptor is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u32);

impl Interest {
    /// The listening socket, shared by every worker's epoll: readable, and waking only one
    /// of them per new connection (EPOLLEXCLUSIVE: no thundering herd).
    pub const SHARED_LISTENER: Interest =
        Interest(libc::EPOLLIN as u32 | libc::EPOLLEXCLUSIVE as u32);
    /// A connection: readable and the peer's half-close, edge-triggered. Not writable: a new
    /// socket is writable at once, and asking for that would report it, an event that wakes
    /// the worker for nothing, between the accept and the request, on every connection.
    pub const CONNECTION: Interest =
        Interest(libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32 | libc::EPOLLET as u32);
    /// A connection whose answers the socket did not take at once: writable too, from then on.
    pub const CONNECTION_WRITING: Interest =
        Interest(Interest::CONNECTION.0 | libc::EPOLLOUT as u32);
    /// A wake-up socket: edge-triggered, so each byte written wakes every watcher once,
    /// and nobody needs to read it.
    pub const WAKE: Interest = Interest(libc::EPOLLIN as u32 | libc::EPOLLET as u32);
}

/// One event from `Epoll::wait`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Event(libc::epoll_event);

impl Event {
    const EMPTY: Event = Event(libc::epoll_event { events: 0, u64: 0 });

    /// The token given when the descriptor was added.
    pub fn token(&self) -> u64 {
        self.0.u64
    }

    fn has(&self, flag: libc::c_int) -> bool {
        self.0.events & flag as u32 != 0
    }

    pub fn is_readable(&self) -> bool {
        self.has(libc::EPOLLIN)
    }

    pub fn is_writable(&self) -> bool {
        self.has(libc::EPOLLOUT)
    }

    /// The peer shut its sending side: its end of file waits to be read (EPOLLRDHUP).
    pub fn is_peer_closed(&self) -> bool {
        self.has(libc::EPOLLRDHUP)
    }

    /// Reset by the peer, or both directions shut: nothing more can be said (EPOLLERR,
    /// EPOLLHUP).
    pub fn is_failed(&self) -> bool {
        self.has(libc::EPOLLERR) || self.has(libc::EPOLLHUP)
    }
}

/// Room for the events of one wait, and those the last wait returned.
pub struct Events {
    buf: Vec<Event>,
    len: usize,
}

impl Events {
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![Event::EMPTY; capacity.clamp(1, i32::MAX as usize)],
            len: 0,
        }
    }

    /// How many events the last wait returned.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `index`th event of the last wait.
    pub fn get(&self, index: usize) -> Event {
        self.buf[..self.len][index]
    }
}

/// One epoll instance: the event loop of one worker.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Watches `source` for `interest`; `token` comes back in each event for it.
    pub fn add(&self, source: &impl AsRawFd, interest: Interest, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, source, interest, token)
    }

    /// Watches `source`, already added, for `interest` instead. Edge-triggered readiness that
    /// is already there is reported at once, so none is missed in between.
    pub fn modify(&self, source: &impl AsRawFd, interest: Interest, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, source, interest, token)
    }

    fn control(
        &self,
        operation: libc::c_int,
        source: &impl AsRawFd,
        interest: Interest,
        token: u64,
    ) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: interest.0,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event that lives across the call.
        check(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                operation,
                source.as_raw_fd(),
                &mut event,
            )
        })?;
        Ok(())
    }

    pub fn delete(&self, source: &impl AsRawFd) -> io::Result<()> {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer, null is allowed since Linux 2.6.9.
        check(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                source.as_raw_fd(),
                std::ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    /// Waits at most `timeout` for events, which replace those in `events`. A signal
    /// interrupting the wait gives no events.
    pub fn wait(&self, events: &mut Events, timeout: Duration) -> io::Result<()> {
        // Round up, so a wait never ends just before the deadline it was computed for.
        let millis = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        let capacity = events.buf.len() as libc::c_int;
        // SAFETY: the kernel writes at most `capacity` events into the buffer, which is that
        // long; `Event` is a transparent wrapper around `epoll_event`.
        let ret = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr().cast(),
                capacity,
                millis,
            )
        };
        events.len = match check(ret) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        Ok(())
    }
}
