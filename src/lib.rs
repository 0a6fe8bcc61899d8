//! who: a tiny, fast, hardened HTTP/1.1 server that answers `GET /who` with its host's name.
//!
//! - `config`: flags and environment variables.
//! - `duration`: durations as flags and `?delay=` write them (`250ms`, `2s`).
//! - `http`: the request parser, bodies, responses, dates; reading a head, its query.
//! - `server`: event loops, connections, timeouts, shutdown.
//! - `routes`: what each request is answered, and the host name.
//! - `echo`: `/echo`'s text and JSON writers.
//! - `metrics`: the per-worker counters and the `/metrics` page.
//! - `proxy_protocol`: the PROXY protocol header parser.
//! - `healthcheck`: the `--healthcheck` client.
//! - `sys`: every `unsafe` libc call, and nothing else.

pub mod config;
pub mod duration;
pub mod echo;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod proxy_protocol;
pub mod routes;
pub mod server;
pub mod sys;
