//! Every OS call that std does not offer. This is the only module allowed `unsafe`: each
//! block says why it is sound. Everything here is a thin, typed wrapper over libc, and no libc
//! type or constant leaves this file: callers see `Interest`, `Event`, `Signal` and `io::Error`.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

/// True for the errors that say the process or the system is out of descriptors or memory:
/// accepting again at once would fail the same way.
pub fn is_out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts a connection as non-blocking and close-on-exec in one call (`accept4`), where
/// std's `accept` needs a second call (`ioctl(FIONBIO)`) to make it non-blocking.
pub fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` and `len` describe a buffer large enough for any socket address; the
    // kernel writes at most `len` bytes into it and the new length into `len`.
    let fd = check(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            storage.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
    let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: the kernel initialised the address (zeroed before, so any tail is zeros).
    let storage = unsafe { storage.assume_init() };
    let peer = socket_addr(&storage)?;
    Ok((stream, peer))
}

/// Reads a socket address the kernel wrote.
fn socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // enough and aligned for.
            let addr =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(addr.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6, which it is large
            // enough and aligned for.
            let addr = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(addr.sin6_port),
                addr.sin6_flowinfo,
                addr.sin6_scope_id,
            )))
        }
        family => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("accepted a connection of address family {family}, not IPv4 or IPv6"),
        )),
    }
}

/// Reads from a socket into `buf`; returns how many bytes came (0: the peer's end of file).
/// A call interrupted by a signal (EINTR) is made again, so callers see only real outcomes.
///
/// The same system call std's `Read` for `TcpStream` makes, without going through glibc's
/// `recv`: that is a thread cancellation point, which in a process with threads enters and
/// leaves asynchronous cancellation around every call, about 30 instructions each way on the
/// path of every request. `whod` never cancels a thread.
pub fn read(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe `buf`, which outlives the call; the kernel
        // writes at most `buf.len()` bytes into it.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_read,
                socket.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        match syscall_result(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// A `libc::syscall` return value as a `Result`, reading `errno` on failure.
fn syscall_result(ret: libc::c_long) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Writes `bytes` to a socket; returns how many it took. As `read`: the system call itself,
/// made again when interrupted. `MSG_NOSIGNAL` so that writing to a closed connection is an
/// error (EPIPE), never SIGPIPE (std ignores SIGPIPE for the whole process at start; this holds
/// without it).
pub fn write(socket: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe `bytes`, which outlives the call; no address
        // is given (null, 0), as for a connected socket.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_sendto,
                socket.as_raw_fd(),
                bytes.as_ptr(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
                std::ptr::null::<libc::sockaddr>(),
                0 as libc::socklen_t,
            )
        };
        match syscall_result(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

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

/// The signals `whod` acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Int,
    /// A terminal hang-up, or `docker kill -s HUP`.
    Hup,
    /// What some inits forward, and what nginx takes for a graceful stop.
    Quit,
    Usr1,
    Usr2,
}

impl Signal {
    const ALL: [Signal; 6] = [
        Signal::Term,
        Signal::Int,
        Signal::Hup,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
    ];

    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Quit => libc::SIGQUIT,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Hup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }

    /// SIGTERM, SIGINT, SIGHUP and SIGQUIT all stop `whod` the same graceful way: left at
    /// their default action, the last two would kill it on the spot, answers in flight lost.
    pub fn is_stop(self) -> bool {
        !matches!(self, Signal::Usr1 | Signal::Usr2)
    }
}

/// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2, blocked so that only `wait` receives
/// them.
pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks the signals in the calling thread and in every thread it spawns later, so they
    /// stay pending until `wait` takes them. A blocked signal is never discarded, even when we
    /// are PID 1 of a namespace, where the kernel drops signals left at their default action:
    /// this is what lets `docker stop` work without an init process.
    pub fn block() -> io::Result<Signals> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given.
        check(unsafe { libc::sigemptyset(set.as_mut_ptr()) })?;
        // SAFETY: initialised by sigemptyset just above.
        let mut set = unsafe { set.assume_init() };
        for signal in Signal::ALL {
            // SAFETY: `set` is an initialised sigset_t owned by this frame.
            check(unsafe { libc::sigaddset(&mut set, signal.number()) })?;
        }
        // SAFETY: `set` is initialised; the old mask is not asked for (null is allowed).
        let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(Signals { set })
    }

    /// Sleeps until one of the signals arrives, or `timeout` passes (`None`: forever).
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<Option<Signal>> {
        let limit = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
        });
        let limit_ptr = limit
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        loop {
            // SAFETY: `self.set` is initialised; no siginfo is asked for (null is allowed);
            // `limit_ptr` is null or points to `limit`, which outlives the call.
            let ret = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), limit_ptr) };
            if ret >= 0 {
                let signal = Signal::ALL.into_iter().find(|s| s.number() == ret);
                return Ok(signal);
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(None),
                Some(libc::EINTR) => continue,
                _ => return Err(error),
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does), so the default
/// soft limit of 1024 does not cap `--max-connections`. Returns the limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = open_files_limits()?;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; lowering nothing, raising only up to the hard limit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) })?;
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// The soft limit on open files now in force.
pub fn open_files_limit() -> io::Result<u64> {
    Ok(open_files_limits()?.rlim_cur)
}

fn open_files_limits() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok(limit)
}

/// How many CPUs this process may run on: its affinity mask (`taskset`, `docker run
/// --cpuset-cpus`), as nginx's `worker_processes auto` counts them. A CPU quota (`docker run
/// --cpus`) limits time, not CPUs, and does not lower it. (std's `available_parallelism` also
/// reads cgroup quotas, at the cost of about 15 KB of parsing code in the binary.)
pub fn available_cpus() -> io::Result<usize> {
    let mut set = MaybeUninit::<libc::cpu_set_t>::zeroed();
    // SAFETY: the pointer and size describe `set`, a cpu_set_t the kernel fills; pid 0 is the
    // calling thread, whose mask the threads it starts inherit.
    check(unsafe {
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set.as_mut_ptr())
    })?;
    // SAFETY: sched_getaffinity succeeded, so `set` is initialised (zeroed before in any case).
    let set = unsafe { set.assume_init() };
    // SAFETY: CPU_COUNT only reads the set it is given.
    let count = unsafe { libc::CPU_COUNT(&set) };
    Ok(usize::try_from(count).unwrap_or(1).max(1))
}

/// The CPU time this process has used, user and system.
pub fn cpu_time() -> io::Result<Duration> {
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a buffer of the right type for the kernel to fill.
    check(unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) })?;
    // SAFETY: getrusage succeeded, so it filled `usage` (zeroed before in any case).
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok(time(usage.ru_utime) + time(usage.ru_stime))
}

/// The size of a memory page in bytes (to turn /proc's page counts into bytes).
pub fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // Every Linux system answers; 4 KiB is the usual size if one did not.
    if size > 0 { size as u64 } else { 4096 }
}

/// Sets the accept queue length of a listening socket. std listens with a backlog of 128, which
/// a burst of a thousand connections overflows (clients then wait a 1 s SYN retransmit);
/// calling listen(2) again on a listening socket only changes the backlog.
pub fn set_listen_backlog(listener: &TcpListener, backlog: u32) -> io::Result<()> {
    let backlog = backlog.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: listen takes no pointers; on a bad fd it fails with EBADF.
    check(unsafe { libc::listen(listener.as_raw_fd(), backlog) })?;
    Ok(())
}

/// Sets the kernel's send buffer size of a socket (tests use small ones, to make a peer that
/// does not read block writes quickly).
#[cfg(test)]
pub fn set_send_buffer(socket: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    set_buffer(socket, libc::SO_SNDBUF, bytes)
}

/// Sets the kernel's receive buffer size of a socket (see `set_send_buffer`).
#[cfg(test)]
pub fn set_receive_buffer(socket: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    set_buffer(socket, libc::SO_RCVBUF, bytes)
}

#[cfg(test)]
fn set_buffer(socket: &impl AsRawFd, option: libc::c_int, bytes: u32) -> io::Result<()> {
    let value = bytes.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: the pointer and length describe `value`, which outlives the call.
    check(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_gives_a_non_blocking_stream_and_the_peer_address() {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let listener = TcpListener::bind(bind).unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut stream, peer) = accept(&listener).unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            // Non-blocking: a read with nothing to read says so instead of waiting.
            let error = std::io::Read::read(&mut stream, &mut [0; 8]).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let error = accept(&listener).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert!(!is_out_of_resources(&error));
        assert!(is_out_of_resources(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
    }

    #[test]
    fn available_cpus_are_those_of_the_affinity_mask() {
        let cpus = available_cpus().unwrap();
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
        // "0-1" or "0,2-3": the affinity mask is at most the CPUs online.
        let most: usize = online
            .trim()
            .split(',')
            .map(|range| match range.split_once('-') {
                Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                None => 1,
            })
            .sum();
        assert!((1..=most).contains(&cpus), "{cpus} of {most}");
    }

    #[test]
    fn a_pending_signal_is_taken_by_wait_and_a_timeout_gives_none() {
        let signals = Signals::block().unwrap();
        assert_eq!(signals.wait(Some(Duration::from_millis(10))).unwrap(), None);
        // SAFETY: raising a signal that this thread blocks only makes it pending.
        let sent = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
        assert_eq!(sent, 0);
        assert_eq!(signals.wait(None).unwrap(), Some(Signal::Usr2));
    }
}
