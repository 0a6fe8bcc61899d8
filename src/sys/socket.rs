//! Sockets: accepting a connection, reading and writing it, the listener's backlog, the
//! kernel's buffer sizes (for tests).

use std::io;
use std::mem::MaybeUninit;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::errno::{check, retry_interrupted};

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
    retry_interrupted(|| {
        // SAFETY: the pointer and length describe `buf`, which outlives the call; the kernel
        // writes at most `buf.len()` bytes into it.
        unsafe {
            libc::syscall(
                libc::SYS_read,
                socket.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        }
    })
}

/// Writes `bytes` to a socket; returns how many it took. As `read`: the system call itself,
/// made again when interrupted. `MSG_NOSIGNAL` so that writing to a closed connection is an
/// error (EPIPE), never SIGPIPE (std ignores SIGPIPE for the whole process at start; this holds
/// without it).
pub fn write(socket: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    retry_interrupted(|| {
        // SAFETY: the pointer and length describe `bytes`, which outlives the call; no address
        // is given (null, 0), as for a connected socket.
        unsafe {
            libc::syscall(
                libc::SYS_sendto,
                socket.as_raw_fd(),
                bytes.as_ptr(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
                std::ptr::null::<libc::sockaddr>(),
                0 as libc::socklen_t,
            )
        }
    })
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
    use std::time::Duration;

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
    fn read_and_write_carry_the_bytes_and_an_interrupted_read_is_made_again() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // Blocking, so that the read waits, to be interrupted (whod's sockets never wait).
        let (server, _) = listener.accept().unwrap();
        assert_eq!(write(&client, b"hello").unwrap(), 5);
        let mut buf = [0; 8];
        assert_eq!(read(&server, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");

        let interrupter = super::super::tests::interrupt_after(Duration::from_millis(50));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            write(&client, b"!").unwrap();
            client
        });
        let got = read(&server, &mut buf);
        interrupter.join().unwrap();
        let client = writer.join().unwrap();
        assert_eq!(got.unwrap(), 1);
        assert_eq!(buf[0], b'!');
        drop(client);
        assert_eq!(read(&server, &mut buf).unwrap(), 0);
    }

    #[test]
    fn the_listen_backlog_goes_past_std_s_128() {
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if somaxconn < 256 {
            eprintln!("skipped: net.core.somaxconn is {somaxconn}, under 256");
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_listen_backlog(&listener, 256).unwrap();
        // Nothing accepted: every connection waits in the queue. With std's backlog of 128,
        // the 130th would find it full, its SYN dropped, and wait for a retransmit (1 s).
        let addr = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = (0..200)
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"))
            })
            .collect();
        assert_eq!(clients.len(), 200);
    }
}
