//! `whod --healthcheck`: a tiny client for the HEALTHCHECK of a `scratch` image, which has no
//! curl or wget. Asks `/healthz` of the server on the configured address; exit 0 on 200.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Config;

/// The whole check, connect to answer, must fit in this.
const BUDGET: Duration = Duration::from_secs(2);

/// The address to ask: the bound one, or loopback when bound to all addresses.
pub fn target(config: &Config) -> SocketAddr {
    let ip = match config.bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, config.port)
}

pub fn run(config: &Config) -> ExitCode {
    let addr = target(config);
    match probe(addr, config.proxy_protocol) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("whod: healthcheck: http://{addr}/healthz answered {status}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("whod: healthcheck: http://{addr}/healthz: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A PROXY protocol version 2 header with the LOCAL command: "the connection was established on
/// purpose by the proxy without being relayed", as for a health check; the server uses the
/// connection's own addresses (HAProxy's doc/proxy-protocol.txt, §2.2).
const PROXY_V2_LOCAL: &[u8; 16] = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";

/// The largest answer read: `/healthz` answers a few hundred bytes.
const MAX_ANSWER: usize = 16 * 1024;

/// Returns the status code of `GET /healthz`; first a PROXY protocol header if the server
/// wants one (`--proxy-protocol`), or it would close the connection without an answer.
fn probe(addr: SocketAddr, proxy_protocol: bool) -> io::Result<u16> {
    let deadline = Instant::now() + BUDGET;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no answer within 2 s"))
    };
    let mut stream = TcpStream::connect_timeout(&addr, BUDGET)?;
    stream.set_write_timeout(Some(left()?))?;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let header: &[u8] = if proxy_protocol { PROXY_V2_LOCAL } else { b"" };
    stream.write_all(&[header, request].concat())?;
    // The answer is read to its end, not only its status line: closing a socket with bytes
    // unread makes the kernel send a reset instead of a clean close.
    let mut answer = Vec::with_capacity(512);
    let mut piece = [0u8; 1024];
    while !is_whole(&answer) {
        if answer.len() > MAX_ANSWER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an answer over {MAX_ANSWER} bytes"),
            ));
        }
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut piece)? {
            0 => break,
            n => answer.extend_from_slice(&piece[..n]),
        }
    }
    if answer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed before an answer",
        ));
    }
    // "HTTP/1.1 200 OK"
    let status = answer
        .strip_prefix(b"HTTP/1.")
        .and_then(|rest| rest.get(1..5))
        .and_then(|code| code.strip_prefix(b" "))
        .and_then(|code| std::str::from_utf8(code).ok()?.parse().ok());
    status.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the answer is not HTTP/1.x"))
}

/// The answer has arrived whole: its head, and as many body bytes as its `Content-Length`
/// says. Without one, the answer ends when the server closes (it was asked to).
fn is_whole(answer: &[u8]) -> bool {
    let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = &answer[..head_end];
    let length = head.split(|&b| b == b'\n').find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        name.eq_ignore_ascii_case(b"content-length").then(|| {
            std::str::from_utf8(&value[1..])
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })?
    });
    length.is_some_and(|length| answer.len() >= head_end + 4 + length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::proxy_protocol;

    /// A server that takes one connection and runs `serve` on it.
    fn one_shot_server(serve: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener.accept().unwrap().0));
        addr
    }

    fn read_request(stream: &mut TcpStream) {
        let mut request = Vec::new();
        let mut byte = [0u8];
        while !request.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1);
            request.push(byte[0]);
        }
    }

    #[test]
    fn the_answer_is_read_to_its_end_so_the_close_is_clean() {
        let (closed, was_clean) = std::sync::mpsc::channel();
        let addr = one_shot_server(move |mut stream| {
            read_request(&mut stream);
            let body = "x".repeat(2000);
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
            // The client's close: its end of file, or a reset if it left bytes unread.
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            closed
                .send(stream.read(&mut [0u8; 16]).map_err(|e| e.kind()))
                .unwrap();
        });
        assert_eq!(probe(addr, false).unwrap(), 200);
        assert_eq!(
            was_clean.recv().unwrap(),
            Ok(0),
            "a clean close, not a reset"
        );
    }

    #[test]
    fn a_server_that_closes_without_answering_is_named() {
        let addr = one_shot_server(|mut stream| {
            read_request(&mut stream);
            drop(stream);
        });
        let error = probe(addr, false).unwrap_err();
        assert_eq!(error.to_string(), "the connection closed before an answer");
        let addr = one_shot_server(|mut stream| {
            read_request(&mut stream);
            stream.write_all(b"SSH-2.0-OpenSSH\r\n").unwrap();
        });
        let error = probe(addr, false).unwrap_err();
        assert_eq!(error.to_string(), "the answer is not HTTP/1.x");
        let addr = one_shot_server(|mut stream| {
            read_request(&mut stream);
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(probe(addr, false).unwrap(), 503);
    }

    #[test]
    fn a_server_bound_to_every_address_is_asked_on_loopback_of_its_family() {
        for (bind, asked) in [
            ("0.0.0.0", "127.0.0.1:81"),
            ("::", "[::1]:81"),
            ("10.1.2.3", "10.1.2.3:81"),
            ("fd00::1", "[fd00::1]:81"),
        ] {
            let config = Config {
                bind: bind.parse().unwrap(),
                port: 81,
                ..Config::default()
            };
            assert_eq!(target(&config).to_string(), asked, "--bind {bind}");
        }
    }

    /// A server that answers `answer` without a length, then closes.
    fn closing_server(answer: Vec<u8>) -> SocketAddr {
        one_shot_server(move |mut stream| {
            read_request(&mut stream);
            stream.write_all(&answer).unwrap();
        })
    }

    #[test]
    fn an_answer_is_read_up_to_its_bound_and_no_further() {
        let head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        let mut answer = head.to_vec();
        answer.resize(MAX_ANSWER, b'x');
        assert_eq!(probe(closing_server(answer.clone()), false).unwrap(), 200);
        answer.push(b'x');
        let error = probe(closing_server(answer), false).unwrap_err();
        assert_eq!(error.to_string(), "an answer over 16384 bytes");
    }

    #[test]
    fn an_answer_is_whole_once_its_content_length_is_in() {
        assert!(!is_whole(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"));
        assert!(!is_whole(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no"));
        assert!(is_whole(b"HTTP/1.1 200 OK\r\ncontent-length:2\r\n\r\nok"));
        // Without a length, the end of file ends it.
        assert!(!is_whole(b"HTTP/1.1 200 OK\r\n\r\nok"));
    }

    #[test]
    fn the_local_header_is_a_whole_v2_header_without_addresses() {
        let parsed = proxy_protocol::parse(PROXY_V2_LOCAL);
        let Ok(Status::Complete(header)) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!((header.len, header.addresses), (16, None));
    }
}
