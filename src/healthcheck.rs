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
    match probe(addr) {
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

/// Returns the status code of `GET /healthz`.
fn probe(addr: SocketAddr) -> io::Result<u16> {
    let deadline = Instant::now() + BUDGET;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no answer within 2 s"))
    };
    let mut stream = TcpStream::connect_timeout(&addr, BUDGET)?;
    stream.set_write_timeout(Some(left()?))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
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
