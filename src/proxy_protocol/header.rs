//! What both versions of the PROXY header share: the limits, the header `parse` gives, its
//! errors, and the reader `v1` and `v2` take the bytes with.

use std::fmt;
use std::net::SocketAddr;

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

/// A complete, valid PROXY protocol header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader<'b> {
    /// How many bytes the header took at the start of the buffer: the HTTP request starts
    /// right after them.
    pub len: usize,
    /// The connection as the proxy received it: `None` for v1 UNKNOWN and v2 LOCAL, UNSPEC,
    /// UDP and UNIX, where the connection's own addresses stand.
    pub addresses: Option<Addresses>,
    /// Version 2 with addresses: the TLVs after them, as sent (`tlvs::read` says what they
    /// hold); empty otherwise.
    pub tlvs: &'b [u8],
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
    /// Version 2: the SSL TLV at this offset is too short for its fields, or its sub-TLVs run
    /// past its end.
    V2SslTlv { offset: usize },
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
            ProxyError::V2SslTlv { offset } => write!(
                f,
                "PROXY v2: the SSL TLV at offset {offset} is too short for its fields, or a \
                 sub-TLV runs past its end"
            ),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Why the bytes so far are not a header: the error of each step of a reader, which `parse`
/// turns into `Status::Partial` or its own error.
pub(super) enum NotParsed {
    /// The next byte has not arrived.
    Partial,
    /// A byte proved the header wrong.
    Invalid(ProxyError),
}

impl From<ProxyError> for NotParsed {
    fn from(error: ProxyError) -> NotParsed {
        NotParsed::Invalid(error)
    }
}

/// The bytes received, read from the front, within the header's greatest possible length.
pub(super) struct Reader<'b> {
    pub(super) buf: &'b [u8],
    pub(super) at: usize,
    /// The header cannot reach this offset...
    pub(super) limit: usize,
    /// ... and this is the error if a byte there is needed.
    pub(super) past_limit: ProxyError,
}

impl Reader<'_> {
    /// The next byte, not taken.
    pub(super) fn peek(&self) -> Result<u8, NotParsed> {
        if self.at >= self.limit {
            return Err(NotParsed::Invalid(self.past_limit));
        }
        self.buf.get(self.at).copied().ok_or(NotParsed::Partial)
    }

    /// The next byte, taken.
    pub(super) fn next(&mut self) -> Result<u8, NotParsed> {
        let byte = self.peek()?;
        self.at += 1;
        Ok(byte)
    }

    /// Takes `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&[u8], NotParsed> {
        if self.limit - self.at < n {
            return Err(NotParsed::Invalid(self.past_limit));
        }
        let bytes = self
            .buf
            .get(self.at..self.at + n)
            .ok_or(NotParsed::Partial)?;
        self.at += n;
        Ok(bytes)
    }

    /// Takes `expected`, or fails on the first byte that differs as not a PROXY header.
    pub(super) fn expect_signature(&mut self, expected: &[u8]) -> Result<(), NotParsed> {
        for &want in expected {
            let byte = self.peek()?;
            if byte != want {
                return Err(NotParsed::Invalid(ProxyError::NotProxyProtocol {
                    offset: self.at,
                    byte,
                }));
            }
            self.at += 1;
        }
        Ok(())
    }
}
