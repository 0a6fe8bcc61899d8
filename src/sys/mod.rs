//! Every OS call that std does not offer. This is the only module allowed `unsafe` (the
//! `allow` below covers its children; `unsafe_code` is denied everywhere else): each block
//! says why it is sound in a `// SAFETY:` line. Everything here is a thin, typed wrapper over
//! libc, and no libc type or constant leaves this folder: callers see `Interest`, `Event`,
//! `Signal` and `io::Error`.
//!
//! - `socket`: accept, read, write; the listener's backlog, the buffer sizes (tests).
//! - `epoll`: `Epoll`, `Interest`, `Event`, `Events`.
//! - `signal`: `Signal`, `Signals` (block, wait).
//! - `process`: the host name, the open files limit and the descriptors open, the CPUs and
//!   CPU time, the resident memory (/proc/self).
#![allow(unsafe_code)]

use std::io;

mod epoll;
mod process;
mod signal;
mod socket;

pub use epoll::{Epoll, Event, Events, Interest};
pub use process::{
    available_cpus, cpu_time, hostname, open_descriptors, open_files_limit, page_size,
    raise_open_files_limit, resident_memory_bytes,
};
pub use signal::{Signal, Signals};
pub use socket::{accept, is_out_of_resources, read, set_listen_backlog, write};
#[cfg(test)]
pub use socket::{set_receive_buffer, set_send_buffer};

/// Turns a libc return value into a `Result`, reading `errno` on failure.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Makes a system call through `call` (a `libc::syscall`: a count, or -1 with `errno` set)
/// until a signal does not interrupt it (EINTR), so callers see only real outcomes. Inlined
/// always: `read` and `write` are on the path of every request.
#[inline(always)]
fn retry_interrupted(mut call: impl FnMut() -> libc::c_long) -> io::Result<usize> {
    loop {
        let ret = call();
        let result = if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret as usize)
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
