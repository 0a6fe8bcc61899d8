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
    // Only the status line matters: "HTTP/1.1 200 OK".
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < 12 {
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let status = head[..filled]
        .strip_prefix(b"HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| std::str::from_utf8(code).ok()?.parse().ok());
    status.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the answer is not HTTP/1.x"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::proxy_protocol;

    #[test]
    fn the_local_header_is_a_whole_v2_header_without_addresses() {
        let parsed = proxy_protocol::parse(PROXY_V2_LOCAL);
        let Ok(Status::Complete(header)) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!((header.len, header.addresses), (16, None));
    }
}
