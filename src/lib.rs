//! who: a tiny, fast, hardened HTTP/1.1 server that answers `GET /who` with its host's name.
//!
//! - `config`: flags and environment variables.
//! - `duration`, `size`: durations and sizes as flags and queries write them (`250ms`, `10MiB`).
//! - `crc32`: the checksum of request bodies. `random`: the draws of the faults injected on purpose.
//! - `stream`: what `/stream` and `/data` send. `upload`: what `/upload` answers.
//! - `http`: the request parser, bodies, responses, dates; reading a head, its query.
//! - `server`: event loops, connections, timeouts, shutdown.
//! - `routes`: what each request is answered, and the host name.
//! - `echo`: `/echo`'s text and JSON writers.
//! - `metrics`: the per-worker counters and the `/metrics` page.
//! - `proxy_protocol`: the PROXY protocol header parser.
//! - `healthcheck`: the `--healthcheck` client.
//! - `websocket`: RFC 6455 without I/O: the handshake, frames, the echo session.
//! - `sys`: every `unsafe` libc call, and nothing else.

pub mod config;
pub mod crc32;
pub mod duration;
pub mod echo;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod proxy_protocol;
pub mod random;
pub mod routes;
pub mod server;
pub mod size;
pub mod stream;
pub mod sys;
pub mod upload;
pub mod websocket;
