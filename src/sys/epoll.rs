//! epoll: one instance per worker, what a descriptor is watched for (`Interest`), and the
//! events a wait returns (`Event`, `Events`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::errno::check;

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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};

    use super::*;

    /// Readable, writable, peer closed, failed.
    type Flags = [bool; 4];
    const READABLE: Flags = [true, false, false, false];

    fn flags(event: Event) -> Flags {
        [
            event.is_readable(),
            event.is_writable(),
            event.is_peer_closed(),
            event.is_failed(),
        ]
    }

    /// The tokens and flags of one wait of at most `timeout`.
    fn wait(epoll: &Epoll, events: &mut Events, timeout: Duration) -> Vec<(u64, Flags)> {
        epoll.wait(events, timeout).unwrap();
        let reported: Vec<(u64, Flags)> = (0..events.len())
            .map(|i| (events.get(i).token(), flags(events.get(i))))
            .collect();
        assert_eq!(events.is_empty(), reported.is_empty());
        reported
    }

    #[test]
    fn a_wait_reports_what_each_interest_asks_for() {
        let epoll = Epoll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (now, soon) = (Duration::ZERO, Duration::from_secs(5));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        epoll.add(&listener, Interest::SHARED_LISTENER, 1).unwrap();
        assert_eq!(wait(&epoll, &mut events, now), []);
        assert!(events.is_empty());

        // The listener is level-triggered: reported until the connection is accepted.
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert_eq!(wait(&epoll, &mut events, soon), [(1, READABLE)]);
        assert!(!events.is_empty());
        assert_eq!(wait(&epoll, &mut events, now), [(1, READABLE)]);
        let (server, _) = listener.accept().unwrap();
        assert_eq!(wait(&epoll, &mut events, now), []);

        // A connection: not reported for being writable, and each change reported once.
        epoll.add(&server, Interest::CONNECTION, 2).unwrap();
        assert_eq!(wait(&epoll, &mut events, now), []);
        client.write_all(b"x").unwrap();
        assert_eq!(wait(&epoll, &mut events, soon), [(2, READABLE)]);
        assert_eq!(wait(&epoll, &mut events, now), []);
        // Writing too: what is already there is reported at once, under the new token.
        epoll
            .modify(&server, Interest::CONNECTION_WRITING, 3)
            .unwrap();
        let both = [true, true, false, false];
        assert_eq!(wait(&epoll, &mut events, soon), [(3, both)]);
        assert_eq!(wait(&epoll, &mut events, now), []);
        client.shutdown(Shutdown::Write).unwrap();
        let closed = [true, true, true, false];
        assert_eq!(wait(&epoll, &mut events, soon), [(3, closed)]);

        // A wake-up socket: each byte wakes once.
        let waker = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (woken, _) = listener.accept().unwrap();
        epoll.delete(&listener).unwrap();
        epoll.add(&woken, Interest::WAKE, 4).unwrap();
        for _ in 0..2 {
            (&waker).write_all(b"!").unwrap();
            assert_eq!(wait(&epoll, &mut events, soon), [(4, READABLE)]);
            assert_eq!(wait(&epoll, &mut events, now), []);
        }
        // Deleted: the listener's new connection is not reported.
        let _third = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert_eq!(wait(&epoll, &mut events, Duration::from_millis(50)), []);
    }

    #[test]
    fn an_event_reads_each_flag() {
        for (bits, expected) in [
            (0, [false; 4]),
            (libc::EPOLLIN, READABLE),
            (libc::EPOLLOUT, [false, true, false, false]),
            (libc::EPOLLRDHUP, [false, false, true, false]),
            (libc::EPOLLERR, [false, false, false, true]),
            (libc::EPOLLHUP, [false, false, false, true]),
        ] {
            let event = Event(libc::epoll_event {
                events: bits as u32,
                u64: 9,
            });
            assert_eq!(flags(event), expected, "{bits:#x}");
            assert_eq!(event.token(), 9);
        }
    }

    #[test]
    fn an_interrupted_wait_gives_no_events() {
        let epoll = Epoll::new().unwrap();
        let mut events = Events::with_capacity(1);
        let interrupter = super::super::tests::interrupt_after(Duration::from_millis(50));
        let started = std::time::Instant::now();
        let waited = epoll.wait(&mut events, Duration::from_secs(5));
        interrupter.join().unwrap();
        waited.unwrap();
        assert!(events.is_empty());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
