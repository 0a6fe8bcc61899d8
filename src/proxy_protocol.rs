//! The PROXY protocol, versions 1 and 2, as HAProxy's `doc/proxy-protocol.txt` defines it: the
//! header a proxy sends first on each connection, carrying the client's address.
//!
//! A push parser in the manner of `http::request::parse`: `parse` looks at the bytes received
//! so far and answers `Complete` (the header's length and addresses), `Partial` (every byte so
//! far can still begin a valid header: send more), or an error as soon as a byte proves the
//! header wrong, so a header split anywhere gives the same answer as the header whole. Each
//! byte is judged when it arrives: a first byte that starts neither `PROXY ` nor the version 2
//! signature (an HTTP request sent straight to `whod`, say) is refused at once.
//!
//! "The receiver MUST be configured to only receive the protocol described in this
//! specification and MUST not try to guess whether the protocol header is present or not"
//! (§2): with `--proxy-protocol`, every connection starts with a header or is closed; without
//! it, this module is never used.
//!
//! Version 1 (§2.1), one line of at most 107 bytes with its CRLF:
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
//!
//! Version 2 (§2.2), binary:
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

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::http::Status;

/// The longest version 1 header, CRLF included (§2.1): `PROXY UNKNOWN` with two full IPv6
/// addresses and ports.
pub const V1_MAX: usize = 107;

/// The version 2 signature (§2.2).
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest version 2 header accepted, its fixed 16 bytes included. The spec bounds it only
/// by its 16-bit length (65,551 bytes). The addresses take at most 216 bytes (UNIX) and the
/// TLVs a proxy sends in practice (ALPN, an authority of at most 255 bytes, a unique id of at
/// most 128, SSL with its version, cipher, algorithms and CN, CRC32C, NETNS, the cloud
/// providers' own types) stay under 1 KiB; 4 KiB leaves room for a client certificate TLV too.
/// A connection that has not yet proved anything makes `whod` hold at most this much, not
/// 64 KiB.
pub const V2_MAX: usize = 4096;

/// The length of version 2's fixed part: signature, ver_cmd, fam, len.
const V2_FIXED: usize = 16;

/// A complete, valid PROXY protocol header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// How many bytes the header took at the start of the buffer: the HTTP request starts
    /// right after them.
    pub len: usize,
    /// The connection as the proxy received it: `None` for v1 UNKNOWN and v2 LOCAL, UNSPEC,
    /// UDP and UNIX, where the connection's own addresses stand.
    pub addresses: Option<Addresses>,
}

/// The two ends of the client's connection to the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// The client: what `whod` shows and logs as the remote address.
    pub source: SocketAddr,
    /// The address the client connected to, on the proxy.
    pub destination: SocketAddr,
}

/// Why the bytes are not a valid PROXY protocol header. The connection is closed without an
/// answer; `Display` says what was wrong and with which value, for a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// `byte`, at `offset`, is where the bytes stop matching both `PROXY ` and the version 2
    /// signature.
    NotProxyProtocol { offset: usize, byte: u8 },
    /// Version 1: `byte`, at `offset`, cannot continue `part` (`"the protocol"`, `"the
    /// source address"`, ..., `"the line end"`).
    V1Malformed {
        part: &'static str,
        offset: usize,
        byte: u8,
    },
    /// Version 1: no CRLF within `V1_MAX` bytes.
    V1TooLong,
    /// Version 2: the version nibble is not 2.
    V2Version(u8),
    /// Version 2: the command nibble is neither 0 (LOCAL) nor 1 (PROXY).
    V2Command(u8),
    /// Version 2: the address family nibble is over 3.
    V2Family(u8),
    /// Version 2: the transport protocol nibble is over 2.
    V2Transport(u8),
    /// Version 2: the header announces this many bytes, over `V2_MAX`.
    V2TooLong(usize),
    /// Version 2: `len` is smaller than the addresses of the family need.
    V2AddressesTooShort { len: u16, needed: u16 },
    /// Version 2: a TLV runs past the end of the header, which is this long.
    V2Tlv { header_len: usize },
}

/// A byte as a log reader wants it: `'x'` when visible ASCII, else `0x0d`.
struct ShownByte(u8);

impl fmt::Display for ShownByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "{:#04x}", self.0)
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProxyError::NotProxyProtocol { offset, byte } => write!(
                f,
                "not a PROXY protocol header: byte {} at offset {offset}",
                ShownByte(byte)
            ),
            ProxyError::V1Malformed { part, offset, byte } => write!(
                f,
                "PROXY v1: {part} is malformed: byte {} at offset {offset}",
                ShownByte(byte)
            ),
            ProxyError::V1TooLong => write!(f, "PROXY v1: no CRLF within {V1_MAX} bytes"),
            ProxyError::V2Version(version) => {
                write!(f, "PROXY v2: version {version}, expected 2")
            }
            ProxyError::V2Command(command) => write!(
                f,
                "PROXY v2: command {command}, expected 0 (LOCAL) or 1 (PROXY)"
            ),
            ProxyError::V2Family(family) => {
                write!(f, "PROXY v2: address family {family}, expected 0 to 3")
            }
            ProxyError::V2Transport(transport) => write!(
                f,
                "PROXY v2: transport protocol {transport}, expected 0 to 2"
            ),
            ProxyError::V2TooLong(len) => write!(
                f,
                "PROXY v2: a header of {len} bytes, over the {V2_MAX} accepted"
            ),
            ProxyError::V2AddressesTooShort { len, needed } => write!(
                f,
                "PROXY v2: {len} bytes after the fixed part, the addresses need {needed}"
            ),
            ProxyError::V2Tlv { header_len } => write!(
                f,
                "PROXY v2: a TLV runs past the end of the {header_len}-byte header"
            ),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Why a step of the parse stopped.
enum Stop {
    /// The next byte has not arrived.
    Partial,
    Invalid(ProxyError),
}

impl From<ProxyError> for Stop {
    fn from(error: ProxyError) -> Stop {
        Stop::Invalid(error)
    }
}

/// The bytes received, read from the front, within the header's greatest possible length.
struct Reader<'b> {
    buf: &'b [u8],
    at: usize,
    /// The header cannot reach this offset...
    limit: usize,
    /// ... and this is the error if a byte there is needed.
    past_limit: ProxyError,
}

impl Reader<'_> {
    /// The next byte, not taken.
    fn peek(&self) -> Result<u8, Stop> {
        if self.at >= self.limit {
            return Err(Stop::Invalid(self.past_limit));
        }
        self.buf.get(self.at).copied().ok_or(Stop::Partial)
    }

    /// The next byte, taken.
    fn next(&mut self) -> Result<u8, Stop> {
        let byte = self.peek()?;
        self.at += 1;
        Ok(byte)
    }

    /// Takes `n` bytes.
    fn take(&mut self, n: usize) -> Result<&[u8], Stop> {
        if self.limit - self.at < n {
            return Err(Stop::Invalid(self.past_limit));
        }
        let bytes = self.buf.get(self.at..self.at + n).ok_or(Stop::Partial)?;
        self.at += n;
        Ok(bytes)
    }

    /// The error for the byte at `self.at` in `part` of a version 1 line.
    fn malformed(&self, part: &'static str) -> Stop {
        match self.peek() {
            Ok(byte) => Stop::Invalid(ProxyError::V1Malformed {
                part,
                offset: self.at,
                byte,
            }),
            Err(stop) => stop,
        }
    }

    /// Takes `expected`, or fails on the byte in its place as part of `part`.
    fn expect(&mut self, expected: u8, part: &'static str) -> Result<(), Stop> {
        if self.peek()? == expected {
            self.at += 1;
            Ok(())
        } else {
            Err(self.malformed(part))
        }
    }

    /// Takes `expected`, or fails on the first byte that differs as not a PROXY header.
    fn signature(&mut self, expected: &[u8]) -> Result<(), Stop> {
        for &want in expected {
            let byte = self.peek()?;
            if byte != want {
                return Err(Stop::Invalid(ProxyError::NotProxyProtocol {
                    offset: self.at,
                    byte,
                }));
            }
            self.at += 1;
        }
        Ok(())
    }

    /// A decimal number from 0 to `max` with no heading zero: `"0" / %x31-39 *DIGIT`.
    fn decimal(&mut self, max: u32, part: &'static str) -> Result<u32, Stop> {
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
    fn ipv4(&mut self, part: &'static str) -> Result<Ipv4Addr, Stop> {
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
    fn ipv6(&mut self, part: &'static str) -> Result<Ipv6Addr, Stop> {
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

/// Parses the PROXY protocol header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Status<ProxyHeader>, ProxyError> {
    // "PROXY" starts version 1, "\r\n\r\n\0..." version 2; nothing else can begin a header.
    let header = match buf.first() {
        None => return Ok(Status::Partial),
        Some(b'P') => v1(buf),
        Some(b'\r') => v2(buf),
        Some(&byte) => return Err(ProxyError::NotProxyProtocol { offset: 0, byte }),
    };
    match header {
        Ok(header) => Ok(Status::Complete(header)),
        Err(Stop::Partial) => Ok(Status::Partial),
        Err(Stop::Invalid(error)) => Err(error),
    }
}

/// A version 1 line (§2.1).
fn v1(buf: &[u8]) -> Result<ProxyHeader, Stop> {
    // "If the CRLF sequence is not found in the first 107 characters, the receiver should
    // declare the line invalid."
    let mut r = Reader {
        buf,
        at: 0,
        limit: V1_MAX,
        past_limit: ProxyError::V1TooLong,
    };
    r.signature(b"PROXY ")?;
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
    })
}

/// A version 2 header (§2.2).
fn v2(buf: &[u8]) -> Result<ProxyHeader, Stop> {
    // The fixed part is read first; the limit moves once its length is known.
    let mut r = Reader {
        buf,
        at: 0,
        limit: V2_FIXED,
        past_limit: ProxyError::V2TooLong(V2_FIXED),
    };
    r.signature(&V2_SIGNATURE)?;
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
    // of the header fails with V2Tlv as soon as its length is known.
    while r.at < header_len {
        r.next()?;
        let value_len = u16::from_be_bytes([r.next()?, r.next()?]);
        r.take(usize::from(value_len))?;
    }
    Ok(ProxyHeader {
        len: header_len,
        addresses: Some(addresses),
    })
}

pub mod invariants;

#[cfg(test)]
mod tests {
    use super::invariants::check_splits;
    use super::*;
    use crate::http::invariants::{Rng, mutate};

    /// The start of `input`, for a failure message.
    fn shown(input: &[u8]) -> String {
        format!(
            "{:?}",
            String::from_utf8_lossy(&input[..input.len().min(80)])
        )
    }

    fn complete(input: &[u8]) -> ProxyHeader {
        check(input);
        match parse(input) {
            Ok(Status::Complete(header)) => header,
            other => panic!("{}: expected Complete, got {other:?}", shown(input)),
        }
    }

    fn refused(input: &[u8]) -> ProxyError {
        check(input);
        match parse(input) {
            Err(error) => error,
            other => panic!("{}: expected an error, got {other:?}", shown(input)),
        }
    }

    /// Every split of `input` gives the answer `input` whole does.
    fn check(input: &[u8]) {
        let every: Vec<usize> = (0..=input.len()).collect();
        if let Err(error) = check_splits(input, &every) {
            panic!("{}: {error}", shown(input));
        }
    }

    fn addresses(source: &str, destination: &str) -> Option<Addresses> {
        Some(Addresses {
            source: source.parse().unwrap(),
            destination: destination.parse().unwrap(),
        })
    }

    fn malformed(part: &'static str, offset: usize, byte: u8) -> ProxyError {
        ProxyError::V1Malformed { part, offset, byte }
    }

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
                addresses: None
            }
        );
        let worst = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
        assert_eq!(worst.len(), V1_MAX);
        assert_eq!(
            complete(worst.as_bytes()),
            ProxyHeader {
                len: 107,
                addresses: None
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

    /// A version 2 header: `ver_cmd`, `fam`, then `body` (addresses and TLVs), with its length.
    fn v2_header(version_command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len()).unwrap().to_be_bytes();
        [&V2_SIGNATURE[..], &[version_command, family], &len, body].concat()
    }

    const TCP4_BLOCK: [u8; 12] = [192, 0, 2, 1, 10, 0, 0, 2, 0xc3, 0x50, 0x1f, 0x90];

    fn tcp6_block() -> Vec<u8> {
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
    fn v2_tcp_over_ipv4_and_ipv6() {
        let header = v2_header(0x21, 0x11, &TCP4_BLOCK);
        let input = [&header[..], b"GET / HTTP/1.1\r\n"].concat();
        assert_eq!(
            complete(&input),
            ProxyHeader {
                len: 28,
                addresses: addresses("192.0.2.1:50000", "10.0.0.2:8080"),
            }
        );
        let header = v2_header(0x21, 0x21, &tcp6_block());
        assert_eq!(
            complete(&header),
            ProxyHeader {
                len: 52,
                addresses: addresses("[2001:db8::1]:50000", "[fd00::2]:443"),
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
        let header = complete(&v2_header(0x21, 0x11, &body));
        assert_eq!(header.len, 16 + 12 + tlvs.len());
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
    fn v2_without_addresses() {
        // LOCAL (a health check), with no block and with one to skip; any family.
        assert_eq!(
            complete(&v2_header(0x20, 0x00, &[])),
            ProxyHeader {
                len: 16,
                addresses: None
            }
        );
        assert_eq!(
            complete(&v2_header(0x20, 0x11, &TCP4_BLOCK)),
            ProxyHeader {
                len: 28,
                addresses: None
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
                    addresses: None
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
                check(&line);
            }
        }
        assert!(accepted > 15_000, "{accepted}");
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
            check(&input);
        }
    }
}
