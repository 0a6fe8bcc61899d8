//! WebSocket (RFC 6455), sans I/O: the opening handshake and the echo session, as pure
//! functions and a push-style state machine over bytes. The server reads and writes the
//! socket; nothing here does.
//!
//! - `handshake`: is an upgrade request valid, and the answer's `Sec-WebSocket-Accept`.
//! - `session`: an open connection: frames read, messages echoed as they stream in, ping and
//!   close answered, the connection failed with the right code.
//! - `frame`: frame headers read and written, unmasking. `utf8`: validation fed in pieces.
//! - `sha1`, `base64`: the handshake's hash and encoding (RFC 3174, RFC 4648).
//! - `testing`: what every session must satisfy, for the unit tests and the fuzz target.
//!
//! Extensions (`permessage-deflate`) and subprotocols are never negotiated.

pub mod base64;
pub mod frame;
pub mod handshake;
pub mod session;
pub mod sha1;
#[doc(hidden)]
pub mod testing;
pub mod utf8;
