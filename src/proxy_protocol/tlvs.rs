//! The TLVs of a version 2 header that `whod` shows, as a TLS-terminating proxy sends them
//! (HAProxy's `send-proxy-v2-ssl`, `send-proxy-v2-ssl-cn`; §2.2.1-§2.2.7):
//!
//! ```text
//! PP2_TYPE_ALPN        0x01  the application protocol negotiated, as ALPN names it: h2
//! PP2_TYPE_AUTHORITY   0x02  the host name the client asked for: its TLS SNI
//! PP2_TYPE_UNIQUE_ID   0x05  an opaque id of the connection, up to 128 bytes
//! PP2_TYPE_SSL         0x20  client (1): PP2_CLIENT_SSL 0x01, PP2_CLIENT_CERT_CONN 0x02,
//!                            PP2_CLIENT_CERT_SESS 0x04; verify (4, big-endian): 0 when the
//!                            client's certificate was verified; then sub-TLVs:
//!   PP2_SUBTYPE_SSL_VERSION  0x21  TLSv1.3
//!   PP2_SUBTYPE_SSL_CN       0x22  the Common Name of the client certificate's subject
//!   PP2_SUBTYPE_SSL_CIPHER   0x23  TLS_AES_256_GCM_SHA384
//!   PP2_SUBTYPE_SSL_SIG_ALG  0x24  the certificate's signature algorithm
//!   PP2_SUBTYPE_SSL_KEY_ALG  0x25  the certificate's key algorithm
//! ```
//!
//! Every other type (CRC32C, NOOP, NETNS, the custom and experimental ranges) is skipped. The
//! reader borrows the values from the header's bytes; a type repeated counts once, the first.

const ALPN: u8 = 0x01;
const AUTHORITY: u8 = 0x02;
const UNIQUE_ID: u8 = 0x05;
pub(super) const SSL: u8 = 0x20;
const SSL_VERSION: u8 = 0x21;
const SSL_CN: u8 = 0x22;
const SSL_CIPHER: u8 = 0x23;
const SSL_SIG_ALG: u8 = 0x24;
const SSL_KEY_ALG: u8 = 0x25;

/// `client`: the connection was made over TLS.
pub const CLIENT_SSL: u8 = 0x01;
/// `client`: the client presented a certificate on this connection...
pub const CLIENT_CERT_CONN: u8 = 0x02;
/// ... or on the TLS session this connection resumed.
pub const CLIENT_CERT_SESS: u8 = 0x04;

/// What the TLVs say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tlvs<'b> {
    pub alpn: Option<&'b [u8]>,
    /// The host name the client asked for (TLS SNI).
    pub authority: Option<&'b [u8]>,
    pub unique_id: Option<&'b [u8]>,
    pub ssl: Option<Ssl<'b>>,
}

/// The client's TLS connection, as the proxy that terminated it saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ssl<'b> {
    /// `CLIENT_SSL`, `CLIENT_CERT_CONN`, `CLIENT_CERT_SESS`.
    pub client: u8,
    /// 0 when the client's certificate was verified.
    pub verify: u32,
    pub version: Option<&'b [u8]>,
    pub cn: Option<&'b [u8]>,
    pub cipher: Option<&'b [u8]>,
    pub sig_alg: Option<&'b [u8]>,
    pub key_alg: Option<&'b [u8]>,
}

impl Ssl<'_> {
    /// The client presented a certificate (on this connection or its session)...
    pub fn client_certificate(&self) -> bool {
        self.client & (CLIENT_CERT_CONN | CLIENT_CERT_SESS) != 0
    }

    /// ... and the proxy verified it.
    pub fn verified(&self) -> bool {
        self.client_certificate() && self.verify == 0
    }
}

/// The TLVs that tile `bytes` exactly (`type (1), length (2, big-endian), value`), or `None`
/// when they do not, or an SSL TLV's do not.
pub fn read(mut bytes: &[u8]) -> Option<Tlvs<'_>> {
    let mut tlvs = Tlvs::default();
    while !bytes.is_empty() {
        let (kind, value, rest) = split_tlv(bytes)?;
        bytes = rest;
        match kind {
            ALPN => _ = tlvs.alpn.get_or_insert(value),
            AUTHORITY => _ = tlvs.authority.get_or_insert(value),
            UNIQUE_ID => _ = tlvs.unique_id.get_or_insert(value),
            SSL => {
                let ssl = read_ssl(value)?;
                tlvs.ssl.get_or_insert(ssl);
            }
            _ => {}
        }
    }
    Some(tlvs)
}

/// The SSL TLV's value: `client`, `verify`, then sub-TLVs that tile the rest exactly.
pub fn read_ssl(value: &[u8]) -> Option<Ssl<'_>> {
    let (&client, rest) = value.split_first()?;
    let (verify, mut rest) = rest.split_first_chunk::<4>()?;
    let mut ssl = Ssl {
        client,
        verify: u32::from_be_bytes(*verify),
        ..Ssl::default()
    };
    while !rest.is_empty() {
        let (kind, value, after) = split_tlv(rest)?;
        rest = after;
        let field = match kind {
            SSL_VERSION => &mut ssl.version,
            SSL_CN => &mut ssl.cn,
            SSL_CIPHER => &mut ssl.cipher,
            SSL_SIG_ALG => &mut ssl.sig_alg,
            SSL_KEY_ALG => &mut ssl.key_alg,
            _ => continue,
        };
        field.get_or_insert(value);
    }
    Some(ssl)
}

/// The first TLV of `bytes`: its type, its value, the bytes after it; `None` when its header
/// or its value runs past the end.
fn split_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&[kind, high, low], rest) = bytes.split_first_chunk::<3>()?;
    let len = usize::from(u16::from_be_bytes([high, low]));
    (rest.len() >= len).then(|| (kind, &rest[..len], &rest[len..]))
}

/// Appends a TLV: what a proxy sends, for the tests.
#[cfg(test)]
pub(super) fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(value.len()).unwrap().to_be_bytes();
    [&[kind][..], &len, value].concat()
}

/// An SSL TLV with the sub-TLVs given, for the tests.
#[cfg(test)]
pub(super) fn ssl_tlv(client: u8, verify: u32, subs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut value = vec![client];
    value.extend_from_slice(&verify.to_be_bytes());
    for (kind, sub) in subs {
        value.extend_from_slice(&tlv(*kind, sub));
    }
    tlv(SSL, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What HAProxy sends with `send-proxy-v2-ssl-cn` for a TLS 1.3 client with a verified
    /// certificate.
    fn haproxy_tlvs() -> Vec<u8> {
        [
            tlv(ALPN, b"h2"),
            tlv(AUTHORITY, b"who.example"),
            ssl_tlv(
                CLIENT_SSL | CLIENT_CERT_CONN | CLIENT_CERT_SESS,
                0,
                &[
                    (SSL_VERSION, b"TLSv1.3"),
                    (SSL_CN, b"client one"),
                    (SSL_CIPHER, b"TLS_AES_256_GCM_SHA384"),
                    (SSL_SIG_ALG, b"RSA-SHA256"),
                    (SSL_KEY_ALG, b"RSA2048"),
                ],
            ),
            tlv(0x03, &[1, 2, 3, 4]),
            tlv(UNIQUE_ID, b"\x01\x02id"),
            tlv(0x04, b""),
        ]
        .concat()
    }

    #[test]
    fn what_a_tls_terminating_proxy_sends() {
        let bytes = haproxy_tlvs();
        let tlvs = read(&bytes).unwrap();
        assert_eq!(tlvs.alpn, Some(&b"h2"[..]));
        assert_eq!(tlvs.authority, Some(&b"who.example"[..]));
        assert_eq!(tlvs.unique_id, Some(&b"\x01\x02id"[..]));
        let ssl = tlvs.ssl.unwrap();
        assert_eq!(ssl.version, Some(&b"TLSv1.3"[..]));
        assert_eq!(ssl.cn, Some(&b"client one"[..]));
        assert_eq!(ssl.cipher, Some(&b"TLS_AES_256_GCM_SHA384"[..]));
        assert_eq!(ssl.sig_alg, Some(&b"RSA-SHA256"[..]));
        assert_eq!(ssl.key_alg, Some(&b"RSA2048"[..]));
        assert!(ssl.client_certificate() && ssl.verified());
        assert_eq!(read(b""), Some(Tlvs::default()));
    }

    #[test]
    fn a_certificate_is_verified_only_when_presented_and_verify_is_0() {
        let ssl = |client: u8, verify: u32| Ssl {
            client,
            verify,
            ..Ssl::default()
        };
        assert!(!ssl(CLIENT_SSL, 0).client_certificate());
        assert!(!ssl(CLIENT_SSL, 0).verified(), "no certificate");
        assert!(ssl(CLIENT_SSL | CLIENT_CERT_CONN, 0).verified());
        assert!(ssl(CLIENT_SSL | CLIENT_CERT_SESS, 0).verified());
        assert!(
            !ssl(CLIENT_SSL | CLIENT_CERT_CONN, 21).verified(),
            "X509_V_ERR_..."
        );
        let value = ssl_tlv(CLIENT_SSL | CLIENT_CERT_CONN, 21, &[]);
        assert_eq!(
            read_ssl(&value[3..]),
            Some(ssl(CLIENT_SSL | CLIENT_CERT_CONN, 21))
        );
    }

    #[test]
    fn the_first_of_a_repeated_type_counts() {
        let bytes = [tlv(ALPN, b"h2"), tlv(ALPN, b"http/1.1")].concat();
        assert_eq!(read(&bytes).unwrap().alpn, Some(&b"h2"[..]));
        let ssl = ssl_tlv(
            CLIENT_SSL,
            0,
            &[(SSL_CN, b"a"), (SSL_CN, b"b"), (0x2f, b"x")],
        );
        assert_eq!(read(&ssl).unwrap().ssl.unwrap().cn, Some(&b"a"[..]));
    }

    #[test]
    fn tlvs_that_do_not_tile_exactly_are_refused() {
        let good = haproxy_tlvs();
        for cut in 1..good.len() {
            let tiles = read(&good[..cut]).is_some();
            // Only a cut at a TLV's boundary still tiles.
            let mut at = 0;
            let mut boundary = false;
            while at < cut {
                at += 3 + usize::from(u16::from_be_bytes([good[at + 1], good[at + 2]]));
                boundary |= at == cut;
            }
            assert_eq!(tiles, boundary, "cut at {cut}");
        }
        // An SSL TLV too short for its client and verify fields, or whose sub-TLVs overrun it.
        assert_eq!(read(&tlv(SSL, &[1, 0, 0, 0])), None);
        assert!(read(&tlv(SSL, &[1, 0, 0, 0, 0])).is_some());
        assert_eq!(read(&tlv(SSL, &[1, 0, 0, 0, 0, SSL_CN, 0, 5, b'a'])), None);
        assert_eq!(read(&tlv(SSL, &[1, 0, 0, 0, 0, SSL_CN, 0])), None);
    }
}
