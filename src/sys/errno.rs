//! What every system call's result goes through: `errno` read on failure, and a call that a
//! signal interrupted (EINTR) made again.

use std::io;

/// Turns a libc return value into a `Result`, reading `errno` on failure.
pub(super) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
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
pub(super) fn retry_interrupted(mut call: impl FnMut() -> libc::c_long) -> io::Result<usize> {
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
