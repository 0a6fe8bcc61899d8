//! The version 2 reader. Version 2 (§2.2) is binary:
//!
//! ```text
//! signature (12)  \r \n \r \n \0 \r \n Q U I T \n
//! ver_cmd   (1)   high nibble: version, 2; low nibble: command, 0 LOCAL or 1 PROXY
//! fam       (1)   high nibble: family, 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX;
//!                 low nibble: transport, 0 UNSPEC, 1 STREAM, 2 DGRAM
//! len       (2)   big-endian: the bytes after these 16, addresses then TLVs
//! addresses       INET: src 4, dst 4, src port 2, dst port 2; INET6: 16, 16, 2, 2; UNIX: 108, 108
//! TLVs            type (1), length (2, big-endian), value: up to the header's end
//! ```
//!
//! Other nibble values "must be rejected as invalid by receivers", and so are refused here.
//! The addresses are used for PROXY with TCP over IPv4 or IPv6 (`fam` 0x11 and 0x21), whose
//! TLVs must then tile the rest of the header exactly, as HAProxy checks; their contents are
//! skipped (a CRC32C TLV is not verified: the spec asks that only of receivers that support
//! it). LOCAL ("the receiver must ... use the real connection endpoints and discard the
//! protocol block including the family"), UNSPEC, UDP and UNIX headers give no addresses and
//! their `len` bytes are skipped unread: the spec lets a receiver fall back to the real
//! endpoints "for the valid combinations ... that it does not support".

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::tlvs;

use super::header::{Addresses, NotParsed, ProxyError, ProxyHeader, Reader, V2_MAX, V2_SIGNATURE};

/// The length of version 2's fixed part: signature, ver_cmd, fam, len.
const V2_FIXED: usize = 16;

/// A version 2 header (§2.2).
pub(super) fn read(buf: &[u8]) -> Result<ProxyHeader<'_>, NotParsed> {
    // The fixed part is read first; the limit moves once its length is known.
    let mut r = Reader {
        buf,
        at: 0,
        limit: V2_FIXED,
        past_limit: ProxyError::V2TooLong(V2_FIXED),
    };
    r.expect_signature(&V2_SIGNATURE)?;
    let version_command = r.next()?;
    if version_command >> 4 != 2 {
        return Err(ProxyError::V2Version(version_command >> 4).into());
    }
    let proxy = match version_command & 0x0f {
        0 => false,
        1 => true,
        command => return Err(ProxyError::V2Command(command).into()),
    };
    let family_transport = r.next()?;
    let (family, transport) = (family_transport >> 4, family_transport & 0x0f);
    if family > 3 {
        return Err(ProxyError::V2Family(family).into());
    }
    if transport > 2 {
        return Err(ProxyError::V2Transport(transport).into());
    }
    let len = u16::from_be_bytes([r.next()?, r.next()?]);
    let header_len = V2_FIXED + usize::from(len);
    if header_len > V2_MAX {
        return Err(ProxyError::V2TooLong(header_len).into());
    }
    r.limit = header_len;
    r.past_limit = ProxyError::V2Tlv { header_len };

    // TCP (STREAM) over INET or INET6, for a PROXY command: the addresses are used.
    let needed: u16 = match (proxy, family_transport) {
        (true, 0x11) => 12,
        (true, 0x21) => 36,
        _ => {
            r.take(usize::from(len))?;
            return Ok(ProxyHeader {
                len: header_len,
                addresses: None,
                tlvs: &[],
            });
        }
    };
    if len < needed {
        return Err(ProxyError::V2AddressesTooShort { len, needed }.into());
    }
    let block = r.take(usize::from(needed))?;
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    let addresses = if needed == 12 {
        let ip =
            |at: usize| Ipv4Addr::from([block[at], block[at + 1], block[at + 2], block[at + 3]]);
        Addresses {
            source: SocketAddr::new(ip(0).into(), port(8)),
            destination: SocketAddr::new(ip(4).into(), port(10)),
        }
    } else {
        let ip = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&block[at..at + 16]);
            Ipv6Addr::from(octets)
        };
        Addresses {
            source: SocketAddr::new(ip(0).into(), port(32)),
            destination: SocketAddr::new(ip(16).into(), port(34)),
        }
    };
    // The TLVs tile the rest: type (1), length (2), value. A TLV header or value past the end
    // of the header fails with V2Tlv as soon as its length is known; an SSL TLV whose own
    // fields do not fit it, once its value is all there.
    let tlvs_start = r.at;
    while r.at < header_len {
        let offset = r.at;
        let kind = r.next()?;
        let value_len = u16::from_be_bytes([r.next()?, r.next()?]);
        let value = r.take(usize::from(value_len))?;
        if kind == tlvs::SSL && tlvs::read_ssl(value).is_none() {
            return Err(ProxyError::V2SslTlv { offset }.into());
        }
    }
    Ok(ProxyHeader {
        len: header_len,
        addresses: Some(addresses),
        tlvs: &buf[tlvs_start..header_len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_protocol::tests::{
        TCP4_BLOCK, addresses, complete, refused, shown, tcp6_block, v2_header,
    };

    #[test]
    fn v2_tcp_over_ipv4_and_ipv6() {
        let header = v2_header(0x21, 0x11, &TCP4_BLOCK);
        let input = [&header[..], b"GET / HTTP/1.1\r\n"].concat();
        assert_eq!(
            complete(&input),
            ProxyHeader {
                len: 28,
                addresses: addresses("192.0.2.1:50000", "10.0.0.2:8080"),
                tlvs: &[],
            }
        );
        let header = v2_header(0x21, 0x21, &tcp6_block());
        assert_eq!(
            complete(&header),
            ProxyHeader {
                len: 52,
                addresses: addresses("[2001:db8::1]:50000", "[fd00::2]:443"),
                tlvs: &[],
            }
        );
    }

    #[test]
    fn v2_tlvs_are_skipped() {
        // ALPN "h2", AUTHORITY "example.com", NOOP of 0 bytes, a custom type 0xE0.
        let tlvs = [
            &[0x01, 0, 2][..],
            b"h2",
            &[0x02, 0, 11],
            b"example.com",
            &[0x04, 0, 0],
            &[0xe0, 0, 3, 1, 2, 3],
        ]
        .concat();
        let body = [&TCP4_BLOCK[..], &tlvs].concat();
        let input = v2_header(0x21, 0x11, &body);
        let header = complete(&input);
        assert_eq!(header.len, 16 + 12 + tlvs.len());
        assert_eq!(header.tlvs, &tlvs[..], "the TLVs, as sent");
        assert_eq!(
            header.addresses,
            addresses("192.0.2.1:50000", "10.0.0.2:8080")
        );
        // A TLV longer than what is left, or a TLV header cut by the end: refused as soon as
        // its length is read.
        for tlvs in [&[0x01, 0, 1][..], &[0x01, 0, 0, 0x04, 0], &[0x04]] {
            let body = [&TCP4_BLOCK[..], tlvs].concat();
            let header_len = 16 + body.len();
            assert_eq!(
                refused(&v2_header(0x21, 0x11, &body)),
                ProxyError::V2Tlv { header_len }
            );
        }
        let header = v2_header(0x21, 0x11, &[&TCP4_BLOCK[..], &[0x02, 0, 9, b'x']].concat());
        let error = ProxyError::V2Tlv { header_len: 32 };
        assert_eq!(refused(&header), error);
        assert_eq!(refused(&header[..31]), error);
    }

    #[test]
    fn v2_ssl_tlvs_are_kept_as_sent_and_checked_whole() {
        let tlvs = [
            tlvs::tlv(0x01, b"h2"),
            tlvs::ssl_tlv(0x07, 0, &[(0x21, b"TLSv1.3"), (0x22, b"client one")]),
        ]
        .concat();
        let input = v2_header(0x21, 0x11, &[&TCP4_BLOCK[..], &tlvs].concat());
        let header = complete(&input);
        let read = tlvs::read(header.tlvs).unwrap();
        assert_eq!(read.alpn, Some(&b"h2"[..]));
        assert_eq!(read.ssl.unwrap().cn, Some(&b"client one"[..]));
        // An SSL TLV whose sub-TLV runs past it: refused once the SSL TLV is all there, at
        // its offset; before that, the header may still be right.
        let bad = [
            tlvs::tlv(0x01, b"h2"),
            tlvs::tlv(0x20, &[0x01, 0, 0, 0, 0, 0x22, 0, 9, b'x']),
        ]
        .concat();
        let input = v2_header(0x21, 0x11, &[&TCP4_BLOCK[..], &bad].concat());
        assert_eq!(refused(&input), ProxyError::V2SslTlv { offset: 33 });
        assert_eq!(
            ProxyError::V2SslTlv { offset: 33 }.to_string(),
            "PROXY v2: the SSL TLV at offset 33 is too short for its fields, or a sub-TLV runs \
             past its end"
        );
        let short = tlvs::tlv(0x20, &[0x01, 0, 0]);
        let input = v2_header(0x21, 0x11, &[&TCP4_BLOCK[..], &short].concat());
        assert_eq!(refused(&input), ProxyError::V2SslTlv { offset: 28 });
    }

    #[test]
    fn v2_without_addresses() {
        // LOCAL (a health check), with no block and with one to skip; any family.
        assert_eq!(
            complete(&v2_header(0x20, 0x00, &[])),
            ProxyHeader {
                len: 16,
                addresses: None,
                tlvs: &[]
            }
        );
        assert_eq!(
            complete(&v2_header(0x20, 0x11, &TCP4_BLOCK)),
            ProxyHeader {
                len: 28,
                addresses: None,
                tlvs: &[]
            }
        );
        // UNSPEC, UDP and UNIX fall back to the connection's own addresses; bytes are skipped
        // unread, TLV or not.
        for (family, body) in [
            (0x00, &[][..]),
            (0x00, &[1, 2, 3][..]),
            (0x01, &TCP4_BLOCK[..]),
            (0x10, &TCP4_BLOCK[..]),
            (0x12, &TCP4_BLOCK[..]),
            (0x22, &tcp6_block()[..]),
            (0x31, &[0u8; 216][..]),
            (0x32, &[0u8; 5][..]),
        ] {
            let input = v2_header(0x21, family, body);
            assert_eq!(
                complete(&input),
                ProxyHeader {
                    len: input.len(),
                    addresses: None,
                    tlvs: &[]
                },
                "{family:#x}"
            );
        }
    }

    #[test]
    fn v2_refusals() {
        for (input, error) in [
            (v2_header(0x11, 0x11, &TCP4_BLOCK), ProxyError::V2Version(1)),
            (v2_header(0x31, 0x11, &TCP4_BLOCK), ProxyError::V2Version(3)),
            (v2_header(0x01, 0x11, &TCP4_BLOCK), ProxyError::V2Version(0)),
            (v2_header(0x22, 0x11, &TCP4_BLOCK), ProxyError::V2Command(2)),
            (
                v2_header(0x2f, 0x11, &TCP4_BLOCK),
                ProxyError::V2Command(15),
            ),
            (v2_header(0x21, 0x41, &TCP4_BLOCK), ProxyError::V2Family(4)),
            (v2_header(0x20, 0xf0, &[]), ProxyError::V2Family(15)),
            (
                v2_header(0x21, 0x13, &TCP4_BLOCK),
                ProxyError::V2Transport(3),
            ),
            (
                v2_header(0x21, 0x11, &TCP4_BLOCK[..11]),
                ProxyError::V2AddressesTooShort {
                    len: 11,
                    needed: 12,
                },
            ),
            (
                v2_header(0x21, 0x21, &TCP4_BLOCK),
                ProxyError::V2AddressesTooShort {
                    len: 12,
                    needed: 36,
                },
            ),
            (
                v2_header(0x21, 0x21, &[]),
                ProxyError::V2AddressesTooShort { len: 0, needed: 36 },
            ),
        ] {
            assert_eq!(refused(&input), error, "{}", shown(&input));
            // Decided on the 13th to 16th byte: nothing after them is needed.
            assert_eq!(refused(&input[..16]), error, "{}", shown(&input));
        }
        // The largest header accepted, and one byte more, refused on its length alone.
        let value_len = V2_MAX - 16 - 12 - 3;
        let body = [
            &TCP4_BLOCK[..],
            &[0xe0],
            &u16::try_from(value_len).unwrap().to_be_bytes(),
            &vec![0; value_len],
        ]
        .concat();
        let largest = v2_header(0x21, 0x11, &body);
        assert_eq!(complete(&largest).len, V2_MAX);
        let over = v2_header(0x20, 0x00, &vec![0; V2_MAX - 16 + 1]);
        assert_eq!(refused(&over), ProxyError::V2TooLong(V2_MAX + 1));
        assert_eq!(refused(&over[..16]), ProxyError::V2TooLong(V2_MAX + 1));
        assert_eq!(
            refused(
                &v2_header(0x20, 0x00, &[0; 0])[..14]
                    .iter()
                    .chain(&[0xff, 0xff])
                    .copied()
                    .collect::<Vec<_>>()
            ),
            ProxyError::V2TooLong(16 + 65535)
        );
    }
}
