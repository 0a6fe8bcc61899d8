//! What every parse of a PROXY protocol header must satisfy, whatever the bytes: checked by the
//! unit tests and by the fuzz target `proxy_header` (as `http::invariants` is for requests).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Addresses, V1_MAX, V2_MAX, parse};
use crate::http::Status;
use crate::http::invariants::check_prefixes;

/// Parses `input` whole, then as if it had arrived in pieces ending at `ends` (each prefix
/// parsed anew, as the server does): every prefix must be `Partial` until one gives the whole
/// input's answer, and all longer ones the same answer. A complete header must be within its
/// version's bound and give the same answer alone; a version 1 line must mean what std's
/// address parsers read in it.
pub fn check_splits(input: &[u8], ends: &[usize]) -> Result<(), String> {
    let (whole, _) = check_prefixes(parse, |header| header.len, input, ends)?;
    let Ok(Status::Complete(header)) = whole else {
        return Ok(());
    };
    let bound = if input[0] == b'P' { V1_MAX } else { V2_MAX };
    if header.len > input.len() || header.len > bound {
        return Err(format!("{header:?} is longer than its input or bound"));
    }
    if parse(&input[..header.len]) != whole {
        return Err(format!(
            "{header:?} alone gives {:?}",
            parse(&input[..header.len])
        ));
    }
    if input[0] == b'P' {
        check_v1_meaning(&input[..header.len], header.addresses)?;
    }
    Ok(())
}

/// A version 1 line read with std's parsers gives the same addresses; a TCP4 line, which has
/// one spelling, is exactly the one `Display` writes; an UNKNOWN line has no CR or LF inside.
fn check_v1_meaning(line: &[u8], addresses: Option<Addresses>) -> Result<(), String> {
    let shown = String::from_utf8_lossy(line);
    let Some(rest) = line
        .strip_prefix(b"PROXY ")
        .and_then(|rest| rest.strip_suffix(b"\r\n"))
    else {
        return Err(format!("{shown:?} is not PROXY ... CRLF"));
    };
    if rest.starts_with(b"UNKNOWN") {
        return match (rest.contains(&b'\r') || rest.contains(&b'\n'), addresses) {
            (false, None) => Ok(()),
            _ => Err(format!("{shown:?} gave {addresses:?}")),
        };
    }
    let text = std::str::from_utf8(rest).map_err(|_| format!("{shown:?} is not ASCII"))?;
    let port = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|_| text == "0" || !text.starts_with(['0', '+']))
    };
    let read = match text.split(' ').collect::<Vec<_>>()[..] {
        ["TCP4", source, destination, source_port, destination_port] => (
            source.parse::<Ipv4Addr>().ok().map(Into::into),
            destination.parse::<Ipv4Addr>().ok().map(Into::into),
            port(source_port),
            port(destination_port),
        ),
        ["TCP6", source, destination, source_port, destination_port] => (
            source.parse::<Ipv6Addr>().ok().map(Into::into),
            destination.parse::<Ipv6Addr>().ok().map(Into::into),
            port(source_port),
            port(destination_port),
        ),
        _ => return Err(format!("{shown:?} was accepted")),
    };
    let (Some(source), Some(destination), Some(source_port), Some(destination_port)) = read else {
        return Err(format!("{shown:?} was accepted, std refuses a part"));
    };
    let expected = Addresses {
        source: SocketAddr::new(source, source_port),
        destination: SocketAddr::new(destination, destination_port),
    };
    if addresses != Some(expected) {
        return Err(format!(
            "{shown:?} gave {addresses:?}, std reads {expected:?}"
        ));
    }
    let canonical = format!(
        "TCP4 {} {} {source_port} {destination_port}",
        expected.source.ip(),
        expected.destination.ip()
    );
    if text.starts_with("TCP4") && canonical != text {
        return Err(format!("{shown:?} is not the canonical {canonical:?}"));
    }
    Ok(())
}
