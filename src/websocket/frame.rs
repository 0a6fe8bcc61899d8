//! WebSocket frames (RFC 6455 §5): the header parser, the server's frame writer, unmasking.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use crate::http::Status;

// frame-opcode-cont = %x0, frame-opcode-non-control = %x1 / %x2,
// frame-opcode-control = %x8 / %x9 / %xA
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// "All control frames MUST have a payload length of 125 bytes or less" (§5.5).
pub const MAX_CONTROL: usize = 125;
/// The longest header: 2 bytes, a 64-bit length, a masking key.
pub const MAX_HEADER: usize = 14;

/// A frame's header, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// "Indicates that this is the final fragment in a message."
    pub fin: bool,
    pub opcode: u8,
    /// The masking key of a client's frame; `None` for a server's.
    pub mask: Option<[u8; 4]>,
    /// The payload's length.
    pub len: u64,
    /// The bytes the header took, 2 to 14.
    pub header_len: usize,
}

/// Why the connection must be failed: the close code to send (RFC 6455 §7.4.1) and what was
/// wrong, with the value that was wrong when there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: u16,
    pub reason: &'static str,
    pub value: Option<u64>,
}

/// "1002 indicates that an endpoint is terminating the connection due to a protocol error."
pub const PROTOCOL_ERROR: u16 = 1002;
/// "1007 ... data within a message that was not consistent with the type of the message
/// (e.g., non-UTF-8 [RFC3629] data within a text message)."
pub const INVALID_DATA: u16 = 1007;
/// "1009 ... a message that is too big for it to process."
pub const TOO_BIG: u16 = 1009;

impl Fault {
    pub const fn new(code: u16, reason: &'static str, value: Option<u64>) -> Fault {
        Fault {
            code,
            reason,
            value,
        }
    }

    /// Appends what was wrong: the reason, then the value in decimal ("reserved opcode 3").
    pub fn write_message(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.reason.as_bytes());
        if let Some(value) = self.value {
            out.push(b' ');
            push_decimal(out, value);
        }
    }
}

/// Appends `n` in decimal, without `fmt`'s machinery.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

const RSV: &str = "reserved bits set (no extension was negotiated):";
const RESERVED_OPCODE: &str = "reserved opcode";
const FRAGMENTED_CONTROL: &str = "fragmented control frame, opcode";
const UNMASKED: &str = "unmasked client frame";
const MASKED: &str = "masked server frame";
const LONG_CONTROL: &str = "control frame payload longer than 125 bytes:";
const TOP_BIT: &str = "64-bit payload length with its top bit set:";

/// Reads the frame header at the start of `buf`: a client's (masked) if `masked`, else a
/// server's. Each byte is checked as soon as it is there, so a bad frame fails on its first
/// bad byte; `Partial` means the bytes so far are a valid beginning.
///
/// ```text
/// frame-fin               = %x0 / %x1
/// frame-rsv1..3           = %x0 ; MUST be 0 unless negotiated otherwise
/// frame-opcode            = frame-opcode-non-control / frame-opcode-control /
///                           frame-opcode-cont
/// frame-masked            = %x0 / %x1
/// frame-payload-length    = ( %x00-7D ) / ( %x7E frame-payload-length-16 ) /
///                           ( %x7F frame-payload-length-63 )
/// frame-payload-length-16 = %x0000-FFFF
/// frame-payload-length-63 = %x0000000000000000-7FFFFFFFFFFFFFFF
/// frame-masking-key       = 4( %x00-FF )
/// ```
///
/// Non-minimal lengths (5 in the 16-bit form) are accepted: §5.2's "the minimal number of
/// bytes MUST be used" binds the sender, and nothing is gained by refusing them.
pub fn parse(buf: &[u8], masked: bool) -> Result<Status<Header>, Fault> {
    let Some(&first) = buf.first() else {
        return Ok(Status::Partial);
    };
    // "MUST be 0 unless an extension is negotiated that defines meanings for non-zero
    // values. If a nonzero value is received and none of the negotiated extensions defines
    // the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
    // Connection_." None is ever negotiated.
    if first & 0x70 != 0 {
        return Err(Fault::new(
            PROTOCOL_ERROR,
            RSV,
            Some(u64::from(first >> 4 & 7)),
        ));
    }
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    match opcode {
        CONTINUATION | TEXT | BINARY => {}
        // "Control frames themselves MUST NOT be fragmented." (§5.5)
        CLOSE | PING | PONG if !fin => {
            return Err(Fault::new(
                PROTOCOL_ERROR,
                FRAGMENTED_CONTROL,
                Some(opcode.into()),
            ));
        }
        CLOSE | PING | PONG => {}
        // "%x3-7 are reserved for further non-control frames", "%xB-F ... control frames";
        // "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
        // Connection_."
        _ => {
            return Err(Fault::new(
                PROTOCOL_ERROR,
                RESERVED_OPCODE,
                Some(opcode.into()),
            ));
        }
    }
    let Some(&second) = buf.get(1) else {
        return Ok(Status::Partial);
    };
    // "The server MUST close the connection upon receiving a frame that is not masked ...
    // A client MUST close a connection if it detects a masked frame." (§5.1)
    if (second & 0x80 != 0) != masked {
        let reason = if masked { UNMASKED } else { MASKED };
        return Err(Fault::new(PROTOCOL_ERROR, reason, None));
    }
    let (len, mut at) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(Status::Partial),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(b);
                (u64::from_be_bytes(bytes), 10)
            }
            None => return Ok(Status::Partial),
        },
        len => (u64::from(len), 2),
    };
    // "the most significant bit MUST be 0"
    if len >> 63 != 0 {
        return Err(Fault::new(PROTOCOL_ERROR, TOP_BIT, Some(len)));
    }
    if opcode >= CLOSE && len > MAX_CONTROL as u64 {
        return Err(Fault::new(PROTOCOL_ERROR, LONG_CONTROL, Some(len)));
    }
    let mask = if masked {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(Status::Partial);
        };
        at += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    Ok(Status::Complete(Header {
        fin,
        opcode,
        mask,
        len,
        header_len: at,
    }))
}

/// A server frame's header (unmasked: "A server MUST NOT mask any frames that it sends to the
/// client", §5.1), with the payload length in the fewest bytes, as §5.2 requires: the bytes,
/// and how many of them it takes.
pub fn encode_header(fin: bool, opcode: u8, len: u64) -> ([u8; 10], usize) {
    let mut bytes = [0; 10];
    bytes[0] = u8::from(fin) << 7 | opcode;
    let size = match len {
        0..=125 => {
            bytes[1] = len as u8;
            2
        }
        126..=0xFFFF => {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&len.to_be_bytes());
            10
        }
    };
    (bytes, size)
}

/// Appends a server frame's header, as `encode_header` gives it (each length's bytes in one
/// copy of a fixed size: no call to `memcpy` for the few bytes of a small message's header).
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: u64) {
    let first = u8::from(fin) << 7 | opcode;
    match len {
        0..=125 => out.extend_from_slice(&[first, len as u8]),
        126..=0xFFFF => {
            let [high, low] = (len as u16).to_be_bytes();
            out.extend_from_slice(&[first, 126, high, low]);
        }
        _ => {
            let [a, b, c, d, e, f, g, h] = len.to_be_bytes();
            out.extend_from_slice(&[first, 127, a, b, c, d, e, f, g, h]);
        }
    }
}

/// Appends a whole server frame.
pub fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    write_header(out, fin, opcode, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Unmasks (or masks: the same XOR) `bytes`, which start `offset` bytes into a payload masked
/// with `key`: "Octet i of the transformed data is the XOR of octet i of the original data
/// with octet at index i modulo 4 of the masking key" (§5.3). Eight bytes a step: the key,
/// turned to start at `offset`, repeated twice in a word.
pub fn unmask(bytes: &mut [u8], key: [u8; 4], offset: u64) {
    let turn = (offset % 4) as usize;
    let turned = [
        key[turn],
        key[(turn + 1) % 4],
        key[(turn + 2) % 4],
        key[(turn + 3) % 4],
    ];
    let word = u64::from_ne_bytes([
        turned[0], turned[1], turned[2], turned[3], turned[0], turned[1], turned[2], turned[3],
    ]);
    let mut words = bytes.chunks_exact_mut(8);
    for chunk in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(eight) ^ word).to_ne_bytes());
    }
    // The words took a multiple of 8, so the rest starts at the same turn of the key.
    for (b, k) in words.into_remainder().iter_mut().zip(turned.iter().cycle()) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(buf: &[u8], masked: bool) -> Header {
        match parse(buf, masked) {
            Ok(Status::Complete(header)) => header,
            other => panic!("{buf:02x?}: {other:?}"),
        }
    }

    fn fault(buf: &[u8], masked: bool) -> Fault {
        match parse(buf, masked) {
            Err(fault) => fault,
            other => panic!("{buf:02x?}: {other:?}"),
        }
    }

    /// RFC 6455 §5.7's examples, read as their senders wrote them.
    #[test]
    fn rfc_6455_examples() {
        // A single-frame unmasked text message (a server's).
        let hello = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let h = header(&hello, false);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.len, h.header_len),
            (true, TEXT, None, 5, 2)
        );
        let mut written = Vec::new();
        write_frame(&mut written, true, TEXT, b"Hello");
        assert_eq!(written, hello);

        // A single-frame masked text message (a client's).
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = header(&masked, true);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.len, h.header_len),
            (true, TEXT, Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
        let mut payload = masked[6..].to_vec();
        unmask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");

        // A fragmented unmasked text message: "Hel", then "lo".
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let h = header(&first, false);
        assert_eq!((h.fin, h.opcode, h.len), (false, TEXT, 3));
        let h = header(&second, false);
        assert_eq!((h.fin, h.opcode, h.len), (true, CONTINUATION, 2));
        let mut written = Vec::new();
        write_frame(&mut written, false, TEXT, b"Hel");
        write_frame(&mut written, true, CONTINUATION, b"lo");
        assert_eq!(written, [&first[..], &second[..]].concat());

        // Unmasked Ping request and masked Ping response (a Pong), both with "Hello".
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(header(&ping, false).opcode, PING);
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = header(&pong, true);
        assert_eq!((h.opcode, h.len), (PONG, 5));
        let mut written = Vec::new();
        write_frame(&mut written, true, PING, b"Hello");
        assert_eq!(written, ping);

        // 256 bytes binary message in a single unmasked frame; 64 KiB likewise.
        let h = header(&[0x82, 0x7E, 0x01, 0x00], false);
        assert_eq!((h.opcode, h.len, h.header_len), (BINARY, 256, 4));
        let h = header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00], false);
        assert_eq!((h.opcode, h.len, h.header_len), (BINARY, 65536, 10));
        let mut written = Vec::new();
        write_header(&mut written, true, BINARY, 256);
        write_header(&mut written, true, BINARY, 65536);
        assert_eq!(
            written,
            [
                0x82, 0x7E, 0x01, 0x00, 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn lengths_in_the_fewest_bytes_written_any_read() {
        for (len, size) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (0xFFFF, 4),
            (0x1_0000, 10),
            (u64::MAX >> 1, 10),
        ] {
            let mut out = Vec::new();
            write_header(&mut out, true, BINARY, len);
            assert_eq!(
                (out.len(), encode_header(true, BINARY, len).1),
                (size, size),
                "{len}"
            );
            let (bytes, _) = encode_header(true, BINARY, len);
            assert_eq!(out, bytes[..size]);
            let h = header(&out, false);
            assert_eq!((h.len, h.header_len), (len, size));
        }
        // Non-minimal encodings are read: 5 in the 16-bit and the 64-bit forms.
        assert_eq!(header(&[0x82, 0xFE, 0, 5, 1, 2, 3, 4], true).len, 5);
        let long = [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4];
        let h = header(&long, true);
        assert_eq!((h.len, h.header_len, h.mask), (5, 14, Some([1, 2, 3, 4])));
    }

    #[test]
    fn every_rejection_on_its_first_bad_byte() {
        let cases: [(&[u8], bool, Fault); 10] = [
            (&[0xC1], true, Fault::new(1002, RSV, Some(4))),
            (&[0xA1], true, Fault::new(1002, RSV, Some(2))),
            (&[0x91], true, Fault::new(1002, RSV, Some(1))),
            (&[0x83], true, Fault::new(1002, RESERVED_OPCODE, Some(3))),
            (&[0x8B], true, Fault::new(1002, RESERVED_OPCODE, Some(11))),
            (&[0x09], true, Fault::new(1002, FRAGMENTED_CONTROL, Some(9))),
            (&[0x81, 0x05], true, Fault::new(1002, UNMASKED, None)),
            (&[0x81, 0x85], false, Fault::new(1002, MASKED, None)),
            (
                &[0x89, 0xFE, 0x00, 0x7E],
                true,
                Fault::new(1002, LONG_CONTROL, Some(126)),
            ),
            (
                &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1],
                true,
                Fault::new(1002, TOP_BIT, Some(0x8000_0000_0000_0001)),
            ),
        ];
        for (buf, masked, expected) in cases {
            assert_eq!(fault(buf, masked), expected, "{buf:02x?}");
            // Every prefix that lacks the bad byte is a valid beginning.
            let before = &buf[..buf.len() - 1];
            assert_eq!(parse(before, masked), Ok(Status::Partial), "{before:02x?}");
        }
        // The largest control payload passes; a close of 126 bytes does not.
        assert_eq!(header(&[0x88, 0xFD, 1, 2, 3, 4], true).len, 125);
        assert_eq!(
            fault(&[0x88, 0xFE, 0, 126], true),
            Fault::new(1002, LONG_CONTROL, Some(126))
        );
        // A short control payload in the 64-bit form is still short.
        assert_eq!(
            header(&[0x8A, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], true).len,
            0
        );
    }

    #[test]
    fn partial_until_complete() {
        let frame = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0, 0, 9, 8, 7, 6];
        for end in 0..frame.len() {
            assert_eq!(parse(&frame[..end], true), Ok(Status::Partial), "{end}");
        }
        assert_eq!(header(&frame, true).header_len, 14);
    }

    #[test]
    fn messages_name_the_value() {
        let mut out = Vec::new();
        Fault::new(1002, RESERVED_OPCODE, Some(3)).write_message(&mut out);
        out.push(b'|');
        Fault::new(1002, UNMASKED, None).write_message(&mut out);
        out.push(b'|');
        push_decimal(&mut out, u64::MAX);
        out.push(b'|');
        push_decimal(&mut out, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "reserved opcode 3|unmasked client frame|18446744073709551615|0"
        );
    }

    /// Word-wise unmasking gives what the byte-wise definition gives, from any offset into
    /// the payload, for any length.
    #[test]
    fn unmasking_from_any_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(31)).collect();
        for offset in 0..8u64 {
            for len in 0..data.len() {
                let mut fast = data[..len].to_vec();
                unmask(&mut fast, key, offset);
                let slow: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(offset as usize + i) % 4])
                    .collect();
                assert_eq!(fast, slow, "offset {offset}, {len} bytes");
            }
        }
    }
}
