//! Every OS call that std does not offer. This is the only module allowed `unsafe`: each
//! block says why it is sound. Everything here is a thin, typed wrapper over one libc call.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Turns a libc return value into a `Result`, reading `errno` on failure.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The host's name as the kernel reports it now (the UTS name of our namespace).
pub fn hostname() -> io::Result<Vec<u8>> {
    // HOST_NAME_MAX is 64 on Linux; the extra room keeps the name NUL-terminated.
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    check(unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) })?;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(buf[..len].to_vec())
}

/// One epoll instance: the event loop of one worker.
pub struct Epoll {
    fd: OwnedFd,
}

pub type Event = libc::epoll_event;
pub const READABLE: u32 = libc::EPOLLIN as u32;
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;
pub const PEER_CLOSED: u32 = libc::EPOLLRDHUP as u32;
pub const HANGUP: u32 = libc::EPOLLHUP as u32;
pub const ERROR: u32 = libc::EPOLLERR as u32;
pub const EDGE_TRIGGERED: u32 = libc::EPOLLET as u32;
/// Wake only one of the epolls that watch the same listener, not all (no thundering herd).
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

pub fn empty_event() -> Event {
    libc::epoll_event { events: 0, u64: 0 }
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Watches `fd` for `events`; `token` comes back in each event for it.
    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event that lives across the call.
        check(unsafe {
            libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        })?;
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer, null is allowed since Linux 2.6.9.
        check(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    /// Waits for events at most `timeout`; returns how many were written to `events`.
    /// A signal interrupting the wait counts as zero events.
    pub fn wait(&self, events: &mut [Event], timeout: Duration) -> io::Result<usize> {
        // Round up, so a wait never ends just before the deadline it was computed for.
        let millis = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        let capacity = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the kernel writes at most `capacity` events into `events`, which is that long.
        let ret =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), capacity, millis) };
        match check(ret) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// SIGTERM and SIGINT: the signals that ask `whod` to shut down.
pub struct ShutdownSignals {
    set: libc::sigset_t,
}

impl ShutdownSignals {
    /// Blocks SIGTERM and SIGINT in the calling thread and in every thread it spawns later, so
    /// they stay pending until `wait` takes them. A blocked signal is never discarded, even
    /// when we are PID 1 of a namespace, where the kernel drops signals left at their default
    /// action: this is what lets `docker stop` work without an init process.
    pub fn block() -> io::Result<ShutdownSignals> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t owned by this frame for every call below.
        unsafe {
            check(libc::sigemptyset(&mut set))?;
            check(libc::sigaddset(&mut set, libc::SIGTERM))?;
            check(libc::sigaddset(&mut set, libc::SIGINT))?;
        }
        // SAFETY: `set` is initialised; the old mask is not asked for (null is allowed).
        let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(ShutdownSignals { set })
    }

    /// Sleeps until SIGTERM or SIGINT arrives; returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        let mut signal: libc::c_int = 0;
        // SAFETY: `self.set` is initialised and `signal` is a valid place for the result.
        let ret = unsafe { libc::sigwait(&self.set, &mut signal) };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(signal)
    }
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does), so the default
/// soft limit of 1024 does not cap `--max-connections`. Returns the limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; lowering nothing, raising only up to the hard limit.
        if check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) }).is_ok() {
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

/// Sets the accept queue length of a listening socket. std listens with a backlog of 128, which
/// a burst of a thousand connections overflows (clients then wait a 1 s SYN retransmit);
/// calling listen(2) again on a listening socket only changes the backlog.
pub fn set_listen_backlog(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen takes no pointers; on a bad fd it fails with EBADF.
    check(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}
