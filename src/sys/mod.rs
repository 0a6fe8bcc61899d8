//! Every OS call that std does not offer. This is the only module allowed `unsafe` (the
//! `allow` below covers its children; `unsafe_code` is denied everywhere else): each block
//! says why it is sound in a `// SAFETY:` line. Everything here is a thin, typed wrapper over
//! libc, and no libc type or constant leaves this folder: callers see `Interest`, `Event`,
//! `Signal` and `io::Error`.
//!
//! - `errno`: every call's result: `errno` read on failure, EINTR retried.
//! - `socket`: accept, read, write; the listener's backlog, the buffer sizes (tests).
//! - `epoll`: `Epoll`, `Interest`, `Event`, `Events`.
//! - `signal`: `Signal`, `Signals` (block, wait).
//! - `clmul`: CRC-32 by the CPU's carry-less multiply, where it has one (not libc: the one
//!   use of CPU instructions std does not reach).
//! - `process`: the host name, the open files limit and the descriptors open, the CPUs and
//!   CPU time, the resident memory (/proc/self).
#![allow(unsafe_code)]

mod clmul;
mod epoll;
mod errno;
mod process;
mod signal;
mod socket;

pub use clmul::crc32_fold;
pub use epoll::{Epoll, Event, Events, Interest};
pub use process::{
    available_cpus, cpu_time, hostname, open_descriptors, open_files_limit, page_size,
    raise_open_files_limit, resident_memory_bytes,
};
pub use signal::{Signal, Signals};
pub use socket::{accept, is_out_of_resources, read, set_listen_backlog, write};
#[cfg(test)]
pub use socket::{set_receive_buffer, set_send_buffer};

/// What the tests of more than one file here share.
#[cfg(test)]
mod tests {
    use std::sync::Once;
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    extern "C" fn do_nothing(_: libc::c_int) {}

    /// Sends the calling thread SIGURG after `delay`, from another thread. SIGURG is given a
    /// handler that does nothing, installed without SA_RESTART, so a system call the thread
    /// is blocked in then fails with EINTR, as it would for a signal `whod` does not block
    /// (or after SIGSTOP and SIGCONT, signal(7)). No other thread is sent anything.
    pub(super) fn interrupt_after(delay: Duration) -> JoinHandle<()> {
        static HANDLER: Once = Once::new();
        HANDLER.call_once(|| {
            // SAFETY: a zeroed sigaction is valid (no flags, empty mask); the handler is a
            // function that does nothing, which is async-signal-safe.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = do_nothing as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: `action` is initialised; the old action is not asked for (null).
            let ret = unsafe { libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()) };
            assert_eq!(ret, 0);
        });
        // SAFETY: pthread_self takes nothing and cannot fail.
        let target = unsafe { libc::pthread_self() };
        thread::spawn(move || {
            thread::sleep(delay);
            // SAFETY: `target` is the thread that called interrupt_after, which joins this
            // one before it ends, so it is still running.
            let ret = unsafe { libc::pthread_kill(target, libc::SIGURG) };
            assert_eq!(ret, 0);
        })
    }
}
