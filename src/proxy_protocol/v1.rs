//! The version 1 reader. Version 1 (§2.1) is one line of at most 107 bytes with its CRLF:
//!
//! ```text
//! "PROXY" SP ( "TCP4" SP ipv4 SP ipv4 | "TCP6" SP ipv6 SP ipv6 ) SP port SP port CRLF
//! "PROXY" SP "UNKNOWN" [ SP <any bytes but CR and LF> ] CRLF
//! ```
//!
//! - IPv4: four decimal numbers 0-255 separated by dots; "Heading zeroes are not permitted in
//!   front of numbers in order to avoid any possible confusion with octal numbers".
//! - IPv6: groups of one to four hexadecimal digits (either case) separated by colons, at most
//!   one `::`; a dotted IPv4 address may stand for the last two groups (`::ffff:192.0.2.1`,
//!   as `inet_ntop` writes IPv4-mapped addresses and HAProxy's own `inet_pton` accepts).
//! - Ports: decimal 0-65535, no heading zero. Exactly one space between parts; only CRLF ends
//!   the line ("The receiver must not tolerate a single CR or LF character").

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::header::{Addresses, NotParsed, ProxyError, ProxyHeader, Reader, V1_MAX};

/// A version 1 line (§2.1).
pub(super) fn read(buf: &[u8]) -> Result<ProxyHeader<'_>, NotParsed> {
    // "If the CRLF sequence is not found in the first 107 characters, the receiver should
    // declare the line invalid."
    let mut r = Reader {
        buf,
        at: 0,
        limit: V1_MAX,
        past_limit: ProxyError::V1TooLong,
    };
    r.expect_signature(b"PROXY ")?;
    const PROTOCOL: &str = "the protocol (TCP4, TCP6 or UNKNOWN)";
    let addresses = match r.peek()? {
        b'T' => {
            for &byte in b"TCP" {
                r.expect(byte, PROTOCOL)?;
            }
            let ipv6 = match r.peek()? {
                b'4' => false,
                b'6' => true,
                _ => return Err(r.malformed(PROTOCOL)),
            };
            r.at += 1;
            r.expect(b' ', PROTOCOL)?;
            let (source, destination) = if ipv6 {
                let source = r.ipv6("the source address")?;
                r.expect(b' ', "the source address")?;
                let destination = r.ipv6("the destination address")?;
                (source.into(), destination.into())
            } else {
                let source = r.ipv4("the source address")?;
                r.expect(b' ', "the source address")?;
                let destination = r.ipv4("the destination address")?;
                (source.into(), destination.into())
            };
            r.expect(b' ', "the destination address")?;
            let source_port = r.decimal(65535, "the source port")? as u16;
            r.expect(b' ', "the source port")?;
            let destination_port = r.decimal(65535, "the destination port")? as u16;
            r.expect(b'\r', "the destination port")?;
            Some(Addresses {
                source: SocketAddr::new(source, source_port),
                destination: SocketAddr::new(destination, destination_port),
            })
        }
        b'U' => {
            for &byte in b"UNKNOWN" {
                r.expect(byte, PROTOCOL)?;
            }
            // "the rest of the line before the CRLF may be omitted by the sender, and the
            // receiver must ignore anything presented before the CRLF is found."
            match r.peek()? {
                b'\r' => {}
                b' ' => loop {
                    r.at += 1;
                    match r.peek()? {
                        b'\r' => break,
                        b'\n' => return Err(r.malformed("the line end")),
                        _ => {}
                    }
                },
                _ => return Err(r.malformed(PROTOCOL)),
            }
            r.expect(b'\r', "the line end")?;
            None
        }
        _ => return Err(r.malformed(PROTOCOL)),
    };
    r.expect(b'\n', "the line end")?;
    Ok(ProxyHeader {
        len: r.at,
        addresses,
        tlvs: &[],
    })
}

/// The parts of a version 1 line: separators, numbers, addresses; an error names the part.
impl Reader<'_> {
    /// The error for the byte at `self.at` in `part` of a version 1 line.
    fn malformed(&self, part: &'static str) -> NotParsed {
        match self.peek() {
            Ok(byte) => NotParsed::Invalid(ProxyError::V1Malformed {
                part,
                offset: self.at,
                byte,
            }),
            Err(not_parsed) => not_parsed,
        }
    }

    /// Takes `expected`, or fails on the byte in its place as part of `part`.
    fn expect(&mut self, expected: u8, part: &'static str) -> Result<(), NotParsed> {
        if self.peek()? == expected {
            self.at += 1;
            Ok(())
        } else {
            Err(self.malformed(part))
        }
    }

    /// A decimal number from 0 to `max` with no heading zero: `"0" / %x31-39 *DIGIT`.
    fn decimal(&mut self, max: u32, part: &'static str) -> Result<u32, NotParsed> {
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(self.malformed(part));
        }
        self.at += 1;
        let mut n = u32::from(first - b'0');
        // "Heading zeroes are not permitted": a 0 is the whole number, and whatever digit
        // follows it fails where the caller expects a separator.
        if n == 0 {
            return Ok(0);
        }
        while let digit @ b'0'..=b'9' = self.peek()? {
            n = n * 10 + u32::from(digit - b'0');
            if n > max {
                return Err(self.malformed(part));
            }
            self.at += 1;
        }
        Ok(n)
    }

    /// An IPv4 address: four decimal numbers 0-255 separated by dots.
    fn ipv4(&mut self, part: &'static str) -> Result<Ipv4Addr, NotParsed> {
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            if i > 0 {
                self.expect(b'.', part)?;
            }
            *octet = self.decimal(255, part)? as u8;
        }
        Ok(Ipv4Addr::from(octets))
    }

    /// An IPv6 address in text (RFC 4291 §2.2): eight groups of 1-4 hex digits separated by
    /// colons; one `::` standing for one or more groups of zeros; an IPv4 address in place of
    /// the last two groups. Judged byte by byte: a byte that no valid address can have there
    /// fails at once, with the count of groups checked when the address ends.
    fn ipv6(&mut self, part: &'static str) -> Result<Ipv6Addr, NotParsed> {
        let mut groups = [0u16; 8];
        let mut count = 0;
        // Where the "::" stands, counted in groups.
        let mut gap: Option<usize> = None;
        if self.peek()? == b':' {
            self.at += 1;
            self.expect(b':', part)?;
            gap = Some(0);
        }
        // Unless the address is just "::", groups follow.
        let just_gap = gap.is_some() && !self.peek()?.is_ascii_hexdigit();
        if !just_gap {
            loop {
                // Groups the address still has room for, the "::" counting as one at least.
                let room = 8 - count - usize::from(gap.is_some());
                if room == 0 {
                    return Err(self.malformed(part));
                }
                let start = self.at;
                let mut group = 0u16;
                let mut digits = 0;
                while let Some(digit) = char::from(self.peek()?).to_digit(16) {
                    if digits == 4 {
                        return Err(self.malformed(part));
                    }
                    group = group << 4 | digit as u16;
                    digits += 1;
                    self.at += 1;
                }
                if digits == 0 {
                    return Err(self.malformed(part));
                }
                if self.peek()? == b'.' {
                    // The digits were the first number of an IPv4 address: read it again as one.
                    if room < 2 {
                        return Err(self.malformed(part));
                    }
                    self.at = start;
                    let [a, b, c, d] = self.ipv4(part)?.octets();
                    groups[count] = u16::from_be_bytes([a, b]);
                    groups[count + 1] = u16::from_be_bytes([c, d]);
                    count += 2;
                    break;
                }
                groups[count] = group;
                count += 1;
                if self.peek()? != b':' {
                    break;
                }
                // A colon promises another group or a "::": both need room.
                if count + usize::from(gap.is_some()) == 8 {
                    return Err(self.malformed(part));
                }
                self.at += 1;
                if self.peek()? == b':' {
                    if gap.is_some() {
                        return Err(self.malformed(part));
                    }
                    self.at += 1;
                    gap = Some(count);
                    // "1::" ends here; "1::2" goes on.
                    if !self.peek()?.is_ascii_hexdigit() {
                        break;
                    }
                }
            }
        }
        let mut address = [0u16; 8];
        match gap {
            Some(at) => {
                let after = count - at;
                address[..at].copy_from_slice(&groups[..at]);
                address[8 - after..].copy_from_slice(&groups[at..count]);
            }
            // Without "::", all eight groups, else the byte that ended the address is wrong.
            None if count == 8 => address = groups,
            None => return Err(self.malformed(part)),
        }
        Ok(Ipv6Addr::from(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Status;
    use crate::http::testing::Rng;
    use crate::proxy_protocol::parse;
    use crate::proxy_protocol::tests::{
        addresses, check_every_split, complete, malformed, refused,
    };

    #[test]
    fn v1_the_specs_example_before_an_http_request() {
        let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        let input = [&line[..], b"GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"].concat();
        let header = complete(&input);
        assert_eq!(header.len, line.len());
        assert_eq!(
            header.addresses,
            addresses("192.168.0.1:56324", "192.168.0.11:443")
        );
    }

    #[test]
    fn v1_the_longest_lines() {
        // §2.1: 56 bytes for TCP4, 104 for TCP6, 15 for UNKNOWN short, 107 at worst.
        let tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
        assert_eq!(complete(tcp4).len, 56);
        let full = "ffff:".repeat(7) + "ffff";
        let tcp6 = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
        let header = complete(tcp6.as_bytes());
        assert_eq!(header.len, 104);
        let ones = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
        assert_eq!(header.addresses, addresses(ones, ones));
        assert_eq!(
            complete(b"PROXY UNKNOWN\r\n"),
            ProxyHeader {
                len: 15,
                addresses: None,
                tlvs: &[]
            }
        );
        let worst = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
        assert_eq!(worst.len(), V1_MAX);
        assert_eq!(
            complete(worst.as_bytes()),
            ProxyHeader {
                len: 107,
                addresses: None,
                tlvs: &[]
            }
        );
        // One byte more, and the CRLF is past the 107th byte: refused without waiting for it.
        let over = format!("PROXY UNKNOWN {full} {full} 65535 655350\r\n");
        assert_eq!(refused(over.as_bytes()), ProxyError::V1TooLong);
        assert_eq!(refused(&over.as_bytes()[..V1_MAX]), ProxyError::V1TooLong);
        assert_eq!(parse(&over.as_bytes()[..V1_MAX - 1]), Ok(Status::Partial));
    }

    #[test]
    fn v1_addresses() {
        for (line, source, destination) in [
            ("TCP4 0.0.0.0 10.0.0.1 0 8080", "0.0.0.0:0", "10.0.0.1:8080"),
            ("TCP4 1.2.3.4 5.6.7.8 65535 1", "1.2.3.4:65535", "5.6.7.8:1"),
            ("TCP6 ::1 ::1 1 2", "[::1]:1", "[::1]:2"),
            ("TCP6 :: 2001:DB8::A 10 20", "[::]:10", "[2001:db8::a]:20"),
            (
                "TCP6 2001:db8:0:0:0:0:0:1 1:: 3 4",
                "[2001:db8::1]:3",
                "[1::]:4",
            ),
            (
                "TCP6 0001:0002:0003:0004:0005:0006:0007:0008 1:2:3:4:5:6:7:: 5 6",
                "[1:2:3:4:5:6:7:8]:5",
                "[1:2:3:4:5:6:7:0]:6",
            ),
            (
                "TCP6 ::ffff:192.0.2.1 ::1:2:3:4:5:6:7 5 6",
                "[::ffff:192.0.2.1]:5",
                "[0:1:2:3:4:5:6:7]:6",
            ),
            (
                "TCP6 1:2:3:4:5:6:1.2.3.4 a::b:0.0.0.0 5 6",
                "[1:2:3:4:5:6:102:304]:5",
                "[a::b:0:0]:6",
            ),
        ] {
            let input = format!("PROXY {line}\r\n");
            assert_eq!(
                complete(input.as_bytes()).addresses,
                addresses(source, destination),
                "{line}"
            );
        }
        for line in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN \r\n",
            b"PROXY UNKNOWN anything\x00\x7f\xff at all\r\n",
            b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
        ] {
            assert_eq!(complete(line).addresses, None, "{line:?}");
        }
    }

    #[test]
    fn v1_refusals() {
        let source = "the source address";
        let destination = "the destination address";
        let source_port = "the source port";
        let destination_port = "the destination port";
        let end = "the line end";
        let protocol = "the protocol (TCP4, TCP6 or UNKNOWN)";
        for (input, error) in [
            (&b"PROXY TCP5 "[..], malformed(protocol, 9, b'5')),
            (b"PROXY tcp4 ", malformed(protocol, 6, b't')),
            (b"PROXY  TCP4", malformed(protocol, 6, b' ')),
            (b"PROXY TCP4  1", malformed(source, 11, b' ')),
            (b"PROXY UNKNOWNX\r\n", malformed(protocol, 13, b'X')),
            (b"PROXY UDP4 ", malformed(protocol, 7, b'D')),
            (b"PROXY TCP4\r\n", malformed(protocol, 10, b'\r')),
            // Heading zeroes, ranges, shapes.
            (b"PROXY TCP4 01.2.3.4 ", malformed(source, 12, b'1')),
            (b"PROXY TCP4 1.2.3.04 ", malformed(source, 18, b'4')),
            (b"PROXY TCP4 1.2.3.00 ", malformed(source, 18, b'0')),
            (b"PROXY TCP4 1.2.3.256 ", malformed(source, 19, b'6')),
            (b"PROXY TCP4 1.2.3 ", malformed(source, 16, b' ')),
            (b"PROXY TCP4 1.2.3.4.5 ", malformed(source, 18, b'.')),
            (b"PROXY TCP4 1..3.4 ", malformed(source, 13, b'.')),
            (b"PROXY TCP4 ::1 ", malformed(source, 11, b':')),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 080 ",
                malformed(source_port, 28, b'8'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 ",
                malformed(source_port, 31, b'6'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 ",
                malformed(source_port, 31, b'9'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 ",
                malformed(source_port, 27, b'-'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2",
                malformed(destination_port, 29, b'+'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
                malformed(destination_port, 30, b' '),
            ),
            (
                b"PROXY TCP4 1.2.3.4  5.6.7.8",
                malformed(destination, 19, b' '),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8  1",
                malformed(source_port, 27, b' '),
            ),
            (b"PROXY TCP6 1.2.3.4 ", malformed(source, 18, b' ')),
            (b"PROXY TCP6 ::1 1.2.3.4 ", malformed(destination, 22, b' ')),
            (b"PROXY TCP6 1:2:3:4:5:6:7:8:", malformed(source, 26, b':')),
            (
                b"PROXY TCP6 1:2:3:4:5:6:7:8:9 ",
                malformed(source, 26, b':'),
            ),
            (b"PROXY TCP6 1::2::3 ", malformed(source, 16, b':')),
            (b"PROXY TCP6 1:2:3:4:5:6:7::8 ", malformed(source, 26, b'8')),
            // Seven groups and a "::": a colon after them has no room, whatever follows.
            (b"PROXY TCP6 ::1:2:3:4:5:6:7:", malformed(source, 26, b':')),
            (b"PROXY TCP6 1::2:3:4:5:6:7:", malformed(source, 25, b':')),
            (b"PROXY TCP6 :1 ", malformed(source, 12, b'1')),
            (b"PROXY TCP6 12345:: ", malformed(source, 15, b'5')),
            (b"PROXY TCP6 1:2 ", malformed(source, 14, b' ')),
            (b"PROXY TCP6 1::g ", malformed(source, 14, b'g')),
            (
                b"PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ",
                malformed(source, 26, b'.'),
            ),
            (b"PROXY TCP6 ::01.2.3.4 ", malformed(source, 14, b'1')),
            (b"PROXY TCP6 ::1.2.3.4:5 ", malformed(source, 20, b':')),
            // Only CRLF ends the line.
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                malformed(destination_port, 30, b'\n'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
                malformed(end, 31, b'X'),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
                malformed(end, 31, b'\r'),
            ),
            (b"PROXY UNKNOWN\n", malformed(protocol, 13, b'\n')),
            (b"PROXY UNKNOWN a\nb\r\n", malformed(end, 15, b'\n')),
            (b"PROXY UNKNOWN a\rb\r\n", malformed(end, 16, b'b')),
        ] {
            assert_eq!(
                refused(input),
                error,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn ipv6_text_as_std_reads_it() {
        // Strings of the characters an IPv6 address has, read by this parser and by std's:
        // the same address, or both refuse. The line around them checks the rest.
        let alphabet = b"0123456789abcdefABCDEF::::...";
        let mut rng = Rng(0x1dea_5eed_0000_0006);
        let mut accepted = 0;
        for round in 0..100_000 {
            let text: Vec<u8> = if round % 2 == 0 {
                (0..rng.below(24))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            } else {
                // Mostly valid: a random address written by std, then mutated a little.
                let mut octets = [0u8; 16];
                for octet in &mut octets {
                    *octet = if rng.below(3) == 0 {
                        0
                    } else {
                        rng.next_u64() as u8
                    };
                }
                let mut text = Ipv6Addr::from(octets).to_string().into_bytes();
                for _ in 0..rng.below(3) {
                    let at = rng.below(text.len() + 1);
                    text.insert(at, alphabet[rng.below(alphabet.len())]);
                }
                text
            };
            let line = [&b"PROXY TCP6 "[..], &text, b" ::1 1 2\r\n"].concat();
            let ours = match parse(&line) {
                Ok(Status::Complete(header)) => header.addresses.map(|a| a.source.ip()),
                Ok(Status::Partial) => panic!("{line:?} is Partial"),
                Err(_) => None,
            };
            let std = std::str::from_utf8(&text)
                .unwrap()
                .parse::<Ipv6Addr>()
                .ok()
                .map(Into::into);
            assert_eq!(ours, std, "{}", String::from_utf8_lossy(&text));
            accepted += usize::from(ours.is_some());
            if round % 97 == 0 {
                check_every_split(&line);
            }
        }
        assert!(accepted > 15_000, "{accepted}");
    }
}
