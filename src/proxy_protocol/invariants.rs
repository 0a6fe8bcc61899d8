//! What every parse of a PROXY protocol header must satisfy, whatever the bytes: checked by the
//! unit tests and by the fuzz target `proxy_header` (as `http::testing` is for requests).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Addresses, ProxyError, ProxyHeader, V1_MAX, V2_MAX, parse};
use crate::http::Status;
use crate::http::testing::check_prefixes;

/// A PROXY header parser: `parse`, or in the tests one made wrong.
type Parser<'p> = &'p dyn Fn(&[u8]) -> Result<Status<ProxyHeader<'_>>, ProxyError>;

/// Parses `input` whole, then as if it had arrived in pieces ending at `ends` (each prefix
/// parsed anew, as the server does): every prefix must be `Partial` until one gives the whole
/// input's answer, and all longer ones the same answer. A complete header must be within its
/// version's bound and give the same answer alone; a version 1 line must mean what std's
/// address parsers read in it.
pub fn check_splits(input: &[u8], ends: &[usize]) -> Result<(), String> {
    check_splits_of(&parse, input, ends)
}

fn check_splits_of(parse: Parser, input: &[u8], ends: &[usize]) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = b"PROXY TCP4 192.0.2.1 10.0.0.2 50000 8080\r\n";

    /// A parser that answers `header` for any input but an empty one.
    fn always(
        header: ProxyHeader<'static>,
    ) -> impl Fn(&[u8]) -> Result<Status<ProxyHeader<'_>>, ProxyError> {
        move |input: &[u8]| match input {
            [] => Ok(Status::Partial),
            _ => Ok(Status::Complete(header)),
        }
    }

    /// `input`'s own addresses, as `parse` reads them.
    fn addresses_of(input: &[u8]) -> Option<Addresses> {
        match parse(input) {
            Ok(Status::Complete(header)) => header.addresses,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_check_catches_a_parser_made_wrong() {
        let every: Vec<usize> = (0..=LINE.len()).collect();
        assert_eq!(check_splits_of(&parse, LINE, &every), Ok(()));
        let addresses = addresses_of(LINE);
        let right = |len| ProxyHeader {
            len,
            addresses,
            tlvs: &[],
        };
        assert_eq!(
            check_splits_of(&always(right(LINE.len())), LINE, &[]),
            Ok(())
        );

        // A header longer than its input, within the bound; or longer than the bound.
        let longer = [LINE, b"GET"].concat();
        let past_input = always(right(LINE.len() + 1));
        assert!(check_splits_of(&past_input, LINE, &[]).is_err());
        let past_bound = always(right(V1_MAX + 1));
        assert!(check_splits_of(&past_bound, &[&longer[..], &[b' '; 100]].concat(), &[]).is_err());
        // Complete only with a byte after the header.
        fn needs_more(input: &[u8]) -> Result<Status<ProxyHeader<'_>>, ProxyError> {
            match input.len() {
                n if n > LINE.len() => Ok(Status::Complete(ProxyHeader {
                    len: LINE.len(),
                    addresses: addresses_of(LINE),
                    tlvs: &[],
                })),
                _ => Ok(Status::Partial),
            }
        }
        assert!(check_splits_of(&needs_more, &longer, &[]).is_err());

        // Addresses other than the line's: swapped, or none.
        let swapped = addresses.map(|a| Addresses {
            source: a.destination,
            destination: a.source,
        });
        let swapping = always(ProxyHeader {
            len: LINE.len(),
            addresses: swapped,
            tlvs: &[],
        });
        assert!(check_splits_of(&swapping, LINE, &[]).is_err());
        let none = always(ProxyHeader {
            len: LINE.len(),
            addresses: None,
            tlvs: &[],
        });
        assert!(check_splits_of(&none, LINE, &[]).is_err());

        // Lines accepted that the grammar refuses, whatever the addresses given.
        for line in [
            &b"PROXY UNKNOWN a\rb\r\n"[..],
            b"PROXY UNKNOWN a\nb\r\n",
            b"PROXY TCP4 192.0.2.1 10.0.0.2 50000 8080\n\n",
            b"PROXY TCP4 192.0.2.1 10.0.0.2 050000 8080\r\n",
            b"PROXY TCP4 192.0.2.1 10.0.0.2 +5 8080\r\n",
            b"PROXY TCP4 192.0.2.01 10.0.0.2 50000 8080\r\n",
            b"PROXY TCP4 192.0.2.1 10.0.0.2 50000\r\n",
            b"PROXY TCP5 192.0.2.1 10.0.0.2 50000 8080\r\n",
            b"PROXY TCP6 192.0.2.1 10.0.0.2 50000 8080\r\n",
            b"PROXY TCP4 192.0.2.1 10.0.0.2 50000 \xff\r\n",
        ] {
            for addresses in [None, addresses] {
                let accepting = always(ProxyHeader {
                    len: line.len(),
                    addresses,
                    tlvs: &[],
                });
                let shown = String::from_utf8_lossy(line);
                assert!(check_splits_of(&accepting, line, &[]).is_err(), "{shown:?}");
            }
        }
        // An UNKNOWN line gives no addresses, and a TCP6 line may take any spelling.
        for (line, addresses) in [
            (&b"PROXY UNKNOWN a b\r\n"[..], None),
            (
                b"PROXY TCP6 ::1 0::1 0 1\r\n",
                addresses_of(b"PROXY TCP6 ::1 ::1 0 1\r\n"),
            ),
        ] {
            let accepting = always(ProxyHeader {
                len: line.len(),
                addresses,
                tlvs: &[],
            });
            assert_eq!(check_splits_of(&accepting, line, &[]), Ok(()));
        }
        let unknown = b"PROXY UNKNOWN a b\r\n";
        let with_addresses = always(ProxyHeader {
            len: unknown.len(),
            addresses,
            tlvs: &[],
        });
        assert!(check_splits_of(&with_addresses, unknown, &[]).is_err());
    }
}
