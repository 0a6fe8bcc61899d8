//! `websocket`'s core alone behind the simplest server std allows (a thread a connection,
//! blocking sockets), to run a WebSocket test suite against the protocol before the real
//! server (one epoll loop, `src/server/`) serves it. Not `whod`: no limits, no timeouts but the
//! lingering close's, no metrics.
//!
//! ```text
//! cargo run --release --example ws_echo [ADDRESS]         # 127.0.0.1:9002 by default
//! kosoku 127.0.0.1:9002/ws -x '12.*' -x '13.*' -o DIR     # Autobahn's cases 1-10 (PyPI kosoku)
//! ```
//!
//! It shows the calls the server makes: `request::parse` and `head::read`, then
//! `handshake::accept` and `write_switching` (or a refusal, then a close), then each read fed
//! to `Session::read` and its output sent; at `Closed`, the output sent, the sending side
//! shut, and the socket drained until the client closes.
//!
//! Reading never waits for writing: a writer thread sends what the session wrote, however
//! much waits. Many clients send a whole message before they read any of its echo (a blocking
//! `sendall`; Autobahn's 9.x cases through kosoku): an echo that stopped reading while its
//! output waited would wait on a client that waits on it. The server must likewise let a
//! message's worth of echo (`max_message` and its frames' headers) wait before it stops
//! reading.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use whod::http::{Status, head, request};
use whod::websocket::handshake::{self, VERSION_FIELD};
use whod::websocket::session::{Read, Session};

/// The server's default maximum message.
const MAX_MESSAGE: u64 = 16 << 20;

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; 64 * 1024];
    let mut have = 0;
    let request = loop {
        let n = stream.read(&mut buf[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        match request::parse(&buf[..have]) {
            Ok(Status::Complete(request)) => break request,
            Ok(Status::Partial) if have < buf.len() => {}
            _ => return Ok(()),
        }
    };
    let head = head::read(&buf[..request.head_len]);
    let mut out = Vec::with_capacity(buf.len() + 1024);
    match handshake::accept(&request, &head) {
        Ok(accept) => handshake::write_switching(&accept, b"", &mut out),
        Err(refusal) => {
            let message = refusal.message();
            let extra: &[u8] = if refusal.status == 426 {
                VERSION_FIELD
            } else {
                b""
            };
            out.extend_from_slice(format!("HTTP/1.1 {} Refused\r\n", refusal.status).as_bytes());
            out.extend_from_slice(extra);
            out.extend_from_slice(
                format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n{message}",
                    message.len()
                )
                .as_bytes(),
            );
            return stream.write_all(&out);
        }
    }
    // The writer: sends what it is given, in order; shuts the sending side at the end, and
    // drains the socket so that the close does not reset the connection.
    let (to_writer, writes) = mpsc::channel::<Vec<u8>>();
    let mut writer = stream.try_clone()?;
    let writing = std::thread::spawn(move || -> std::io::Result<()> {
        for bytes in writes {
            writer.write_all(&bytes)?;
        }
        writer.shutdown(Shutdown::Write)
    });
    let mut session = Session::new(MAX_MESSAGE);
    // Bytes after the head are the first frames.
    let (mut start, mut end) = (request.head_len, have);
    loop {
        let outcome = session.read(&buf[start..end], &mut out);
        if !out.is_empty() && to_writer.send(std::mem::take(&mut out)).is_err() {
            break;
        }
        if let Read::Closed { .. } = outcome {
            // The server closes first (RFC 6455 §7.1.1), once the close is sent; what the
            // client still sends is read and dropped.
            drop(to_writer);
            let _ = writing.join();
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            while matches!(stream.read(&mut buf), Ok(1..)) {}
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        (start, end) = (0, n);
    }
    drop(to_writer);
    let _ = writing.join();
    Ok(())
}

fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:9002".into());
    let listener = TcpListener::bind(&address)?;
    eprintln!("ws_echo: listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || serve(stream));
    }
    Ok(())
}
