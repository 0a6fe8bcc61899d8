//! Signals: the ones `whod` acts on, blocked in every thread and taken by the main thread's
//! wait.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::errno::check;

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
    /// `--sick` on: every route but `/healthz` and `/metrics` fails on purpose. (Job control's
    /// pair, unused by a server with no terminal: `docker kill -s TTIN`.)
    Ttin,
    /// `--sick` off.
    Ttou,
}

impl Signal {
    const ALL: [Signal; 8] = [
        Signal::Term,
        Signal::Int,
        Signal::Hup,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Ttin,
        Signal::Ttou,
    ];

    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Quit => libc::SIGQUIT,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
            Signal::Ttin => libc::SIGTTIN,
            Signal::Ttou => libc::SIGTTOU,
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
            Signal::Ttin => "SIGTTIN",
            Signal::Ttou => "SIGTTOU",
        }
    }

    /// SIGTERM, SIGINT, SIGHUP and SIGQUIT all stop `whod` the same graceful way: left at
    /// their default action, the last two would kill it on the spot, answers in flight lost.
    pub fn is_stop(self) -> bool {
        matches!(
            self,
            Signal::Term | Signal::Int | Signal::Hup | Signal::Quit
        )
    }
}

/// The signals `whod` acts on, blocked so that only `wait` receives them (SIGTTIN and SIGTTOU
/// would otherwise stop the process, as for a background job).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_signal_is_taken_by_wait_and_a_timeout_gives_none() {
        let signals = Signals::block().unwrap();
        assert_eq!(signals.wait(Some(Duration::from_millis(10))).unwrap(), None);
        // SAFETY: raising a signal that this thread blocks only makes it pending.
        let sent = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
        assert_eq!(sent, 0);
        assert_eq!(signals.wait(None).unwrap(), Some(Signal::Usr2));
    }

    #[test]
    fn an_interrupted_wait_goes_on_waiting() {
        let signals = Signals::block().unwrap();
        let interrupter = super::super::tests::interrupt_after(Duration::from_millis(50));
        let started = std::time::Instant::now();
        let waited = signals.wait(Some(Duration::from_millis(300)));
        interrupter.join().unwrap();
        assert_eq!(waited.unwrap(), None);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn four_signals_stop_and_each_has_its_name() {
        let names = Signal::ALL.map(Signal::name);
        assert_eq!(
            names,
            [
                "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTTIN",
                "SIGTTOU"
            ]
        );
        let stops = Signal::ALL.map(Signal::is_stop);
        assert_eq!(stops, [true, true, true, true, false, false, false, false]);
    }
}
