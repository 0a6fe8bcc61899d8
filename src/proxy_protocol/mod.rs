//! The PROXY protocol, versions 1 and 2, as HAProxy's `doc/proxy-protocol.txt` defines it: the
//! header a proxy sends first on each connection, carrying the client's address. What it is
//! for, when to turn it on (`--proxy-protocol`: every connection then starts with a header or
//! is closed, §2) and why it must not face clients directly: see docs/operations.md.
//!
//! A push parser in the manner of `http::request::parse`: `parse` looks at the bytes received
//! so far and answers `Complete` (the header's length and addresses), `Partial` (every byte so
//! far can still begin a valid header: send more), or an error as soon as a byte proves the
//! header wrong, so a header split anywhere gives the same answer as the header whole. Each
//! byte is judged when it arrives: a first byte that starts neither `PROXY ` nor the version 2
//! signature (an HTTP request sent straight to `whod`, say) is refused at once.
//!
//! - `header`: what both versions share: the limits, the header, its errors, the reader.
//! - `v1`: the text line (§2.1), its grammar beside the code.
//! - `v2`: the binary header (§2.2), its layout beside the code.
//! - `tlvs`: what a version 2 header's TLVs say (ALPN, SNI, TLS version, cipher, CN...).
//! - `invariants`: what every parse must satisfy (the unit tests and the fuzz target).

use crate::http::Status;

mod header;
pub mod tlvs;
mod v1;
mod v2;

pub mod invariants;

use header::NotParsed;
pub use header::{Addresses, ProxyError, ProxyHeader, V1_MAX, V2_MAX, V2_SIGNATURE};

/// Parses the PROXY protocol header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Status<ProxyHeader<'_>>, ProxyError> {
    // "PROXY" starts version 1, "\r\n\r\n\0..." version 2; nothing else can begin a header.
    let header = match buf.first() {
        None => return Ok(Status::Partial),
        Some(b'P') => v1::read(buf),
        Some(b'\r') => v2::read(buf),
        Some(&byte) => return Err(ProxyError::NotProxyProtocol { offset: 0, byte }),
    };
    match header {
        Ok(header) => Ok(Status::Complete(header)),
        Err(NotParsed::Partial) => Ok(Status::Partial),
        Err(NotParsed::Invalid(error)) => Err(error),
    }
}

/// The helpers v1's and v2's tests share, and the tests of what the versions share.
#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::invariants::check_splits;
    use super::*;
    use crate::http::testing::{Rng, mutate};

    /// The start of `input`, for a failure message.
    pub(super) fn shown(input: &[u8]) -> String {
        format!(
            "{:?}",
            String::from_utf8_lossy(&input[..input.len().min(80)])
        )
    }

    pub(super) fn complete(input: &[u8]) -> ProxyHeader<'_> {
        check_every_split(input);
        match parse(input) {
            Ok(Status::Complete(header)) => header,
            other => panic!("{}: expected Complete, got {other:?}", shown(input)),
        }
    }

    pub(super) fn refused(input: &[u8]) -> ProxyError {
        check_every_split(input);
        match parse(input) {
            Err(error) => error,
            other => panic!("{}: expected an error, got {other:?}", shown(input)),
        }
    }

    /// Every split of `input` gives the answer `input` whole does.
    pub(super) fn check_every_split(input: &[u8]) {
        let every: Vec<usize> = (0..=input.len()).collect();
        if let Err(error) = check_splits(input, &every) {
            panic!("{}: {error}", shown(input));
        }
    }

    pub(super) fn addresses(source: &str, destination: &str) -> Option<Addresses> {
        Some(Addresses {
            source: source.parse().unwrap(),
            destination: destination.parse().unwrap(),
        })
    }

    pub(super) fn malformed(part: &'static str, offset: usize, byte: u8) -> ProxyError {
        ProxyError::V1Malformed { part, offset, byte }
    }

    /// A version 2 header: `ver_cmd`, `fam`, then `body` (addresses and TLVs), with its length.
    pub(super) fn v2_header(version_command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len()).unwrap().to_be_bytes();
        [&V2_SIGNATURE[..], &[version_command, family], &len, body].concat()
    }

    pub(super) const TCP4_BLOCK: [u8; 12] = [192, 0, 2, 1, 10, 0, 0, 2, 0xc3, 0x50, 0x1f, 0x90];

    pub(super) fn tcp6_block() -> Vec<u8> {
        let source: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let destination: Ipv6Addr = "fd00::2".parse().unwrap();
        [
            &source.octets()[..],
            &destination.octets(),
            &[0xc3, 0x50, 0x01, 0xbb],
        ]
        .concat()
    }

    #[test]
    fn not_a_proxy_header_is_refused_at_the_first_wrong_byte() {
        let not = |offset, byte| ProxyError::NotProxyProtocol { offset, byte };
        assert_eq!(refused(b"GET / HTTP/1.1\r\n"), not(0, b'G'));
        assert_eq!(refused(b"G"), not(0, b'G'));
        assert_eq!(refused(b"\x16\x03\x01"), not(0, 0x16));
        assert_eq!(refused(b"PROXI"), not(4, b'I'));
        assert_eq!(refused(b"PROXY\r\n"), not(5, b'\r'));
        assert_eq!(refused(b"proxy "), not(0, b'p'));
        assert_eq!(refused(b"\r\nGET / HTTP/1.1\r\n"), not(2, b'G'));
        assert_eq!(refused(b"\r\n\r\n\x00\r\nQUIT\r"), not(11, b'\r'));
        // Every proper prefix of either signature waits for more.
        for end in 0..6 {
            assert_eq!(parse(&b"PROXY "[..end]), Ok(Status::Partial));
        }
        for end in 0..16 {
            assert_eq!(
                parse(&v2_header(0x21, 0x11, &TCP4_BLOCK)[..end]),
                Ok(Status::Partial)
            );
        }
    }

    #[test]
    fn errors_say_what_and_which_value() {
        for (error, text) in [
            (
                ProxyError::NotProxyProtocol {
                    offset: 0,
                    byte: b'G',
                },
                "not a PROXY protocol header: byte 'G' at offset 0",
            ),
            (
                ProxyError::NotProxyProtocol {
                    offset: 11,
                    byte: b'\r',
                },
                "not a PROXY protocol header: byte 0x0d at offset 11",
            ),
            (
                malformed("the source port", 27, b'-'),
                "PROXY v1: the source port is malformed: byte '-' at offset 27",
            ),
            (ProxyError::V1TooLong, "PROXY v1: no CRLF within 107 bytes"),
            (ProxyError::V2Version(3), "PROXY v2: version 3, expected 2"),
            (
                ProxyError::V2Command(2),
                "PROXY v2: command 2, expected 0 (LOCAL) or 1 (PROXY)",
            ),
            (
                ProxyError::V2Family(4),
                "PROXY v2: address family 4, expected 0 to 3",
            ),
            (
                ProxyError::V2Transport(3),
                "PROXY v2: transport protocol 3, expected 0 to 2",
            ),
            (
                ProxyError::V2TooLong(65551),
                "PROXY v2: a header of 65551 bytes, over the 4096 accepted",
            ),
            (
                ProxyError::V2AddressesTooShort {
                    len: 11,
                    needed: 12,
                },
                "PROXY v2: 11 bytes after the fixed part, the addresses need 12",
            ),
            (
                ProxyError::V2Tlv { header_len: 31 },
                "PROXY v2: a TLV runs past the end of the 31-byte header",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn mutated_headers_keep_the_split_invariant() {
        let seeds: Vec<Vec<u8>> = vec![
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /".to_vec(),
            b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 0\r\n".to_vec(),
            b"PROXY UNKNOWN ffff::1 ::2 1 2\r\n".to_vec(),
            v2_header(
                0x21,
                0x11,
                &[&TCP4_BLOCK[..], &[1, 0, 2, b'h', b'2']].concat(),
            ),
            v2_header(0x21, 0x21, &tcp6_block()),
            v2_header(0x20, 0x00, &[]),
        ];
        let interesting = b"\r\n \x00\x11\x21\x20.:0159afPROXYTCP46UNKNOWN\xff";
        let mut rng = Rng(0x5eed_0000_0000_0042);
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            mutate(&mut rng, &mut input, interesting, 3);
            check_every_split(&input);
        }
    }
}
