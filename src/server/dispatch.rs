//! From a parsed request to the answer it is owed: the routes, the facts the server gives them
//! (readiness, the echo of the request, the metrics page), the count and the log line.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::request_body::Seen;
use super::worker_state::WorkerState;
use crate::echo::{Echo, EchoBody, Format};
use crate::http::head;
use crate::http::request::Request;
use crate::http::response::{self, Connection, Length};
use crate::proxy_protocol;
use crate::routes::{self, AboutBody, Answer, Body, Health, Route};
use crate::upload::Upload;

/// Who is at the other end of a connection, for `/echo` and the access log.
pub(crate) struct Peers<'a> {
    /// The client: the socket's peer, or the source a PROXY protocol header gave.
    pub client: SocketAddr,
    /// The socket's peer: the proxy itself when a PROXY protocol header gave the client.
    pub peer: SocketAddr,
    /// The connection, asked for its local address only by an echo.
    pub socket: &'a TcpStream,
    /// The PROXY protocol v2 header's TLVs, as sent (empty without them).
    pub tlvs: &'a [u8],
}

/// The answer to a request whose `Expect` names something other than `100-continue`.
const EXPECTATION_FAILED: &str = "expectation failed: only Expect: 100-continue is known";

/// The answer `request` is owed, `head` being its head as received: routed, with what it shows
/// rendered while the head is still at hand, counted and logged. Written now, after the
/// request's body (an answer about the body is finished then, by `finish`), or after its delay.
pub(crate) fn answer(
    request: &Request,
    head: &[u8],
    peers: &Peers,
    worker: &mut WorkerState,
) -> Answer {
    let facts = Facts { worker, peers };
    let mut answer = routes::route(request, head, &worker.settings.routes, &facts);
    // A route that refuses an upgrade closes the connection, whatever the request asked.
    let closes = answer.head.connection == Connection::Close;
    if request.unmet_expectation {
        // "A server that receives an Expect field value containing a member other than
        // 100-continue MAY respond with a 417 (Expectation Failed)" (RFC 9110 §10.1.1).
        answer.head = response::Head::new(417, response::TEXT);
        answer.body = Body::Text(EXPECTATION_FAILED);
        answer.delay = Duration::ZERO;
    }
    inject_faults(&mut answer, worker);
    answer.head.connection = if closes {
        Connection::Close
    } else {
        routes::connection(request, worker.shutting_down)
    };
    answer.head.head_only = request.method == b"HEAD";
    answer.head.length = match answer.body {
        Body::Download(size) => Length::Declared(size),
        // An HTTP/1.0 client cannot read chunks: the stream ends with the connection.
        Body::Events(_) if request.minor_version == 0 => {
            answer.head.connection = Connection::Close;
            Length::UntilClose
        }
        Body::Events(_) => Length::Chunked,
        _ => Length::Body,
    };
    let status = answer.head.status;
    worker.counters().request(answer.route, status);
    // An answer about the body is logged once it is written whole, by `finish`; an upgrade
    // when its connection closes.
    if !worker.log.is_off() && !matches!(answer.body, Body::AboutBody(_) | Body::Upgrade(_)) {
        let bytes = if answer.head.head_only || matches!(status, 204 | 304) {
            0
        } else {
            worker.body(&answer.body).len()
        };
        let date = worker.clock.log_date;
        worker
            .log
            .line(&date, peers.client, Some(head), status, bytes);
    }
    answer
}

/// Writes what an answer about the request's body says, now that the body has been read whole
/// (`seen`), and logs it.
pub(crate) fn finish(answer: &mut Answer, seen: &Seen, peers: &Peers, worker: &mut WorkerState) {
    let Body::AboutBody(about) = answer.body else {
        return;
    };
    let mut out = Vec::with_capacity(512 + seen.head.len());
    match about {
        AboutBody::Upload(format) => Upload {
            hostname: worker.hostname(),
            name: worker.settings.name.as_deref(),
            size: seen.size,
            crc32: seen.crc.value(),
            duration: worker.clock.now.saturating_duration_since(seen.started),
        }
        .write(format, &mut out),
        AboutBody::Echo { format, show } => {
            let body = EchoBody {
                size: seen.size,
                crc32: seen.crc.value(),
                shown: show.then_some(&seen.kept[..]),
            };
            out = echo(worker, peers, format, &seen.head, Some(body));
        }
    }
    answer.body = Body::Owned(out);
    if !worker.log.is_off() {
        let bytes = if answer.head.head_only {
            0
        } else {
            worker.body(&answer.body).len()
        };
        let date = worker.clock.log_date;
        let status = answer.head.status;
        worker
            .log
            .line(&date, peers.client, Some(&seen.head), status, bytes);
    }
}

/// Failures and latency on purpose, on every route but `/healthz` and `/metrics` (a balancer's
/// probe and a scrape must see the truth): with `--sick`, every answer fails; else one in
/// `--fail-rate`, at random. `--latency` adds to the answer's delay.
fn inject_faults(answer: &mut Answer, worker: &mut WorkerState) {
    if matches!(answer.route, Route::Healthz | Route::Metrics) {
        return;
    }
    let faults = &worker.settings.faults;
    let why = if worker.server.is_sick() {
        Some("sick on purpose (--sick or SIGTTIN; SIGTTOU makes it well)")
    } else if faults.fail_rate > 0 && worker.rng.below(1_000_000) < faults.fail_rate as usize {
        Some("failed on purpose (--fail-rate)")
    } else {
        None
    };
    if let Some(why) = why {
        answer.head = response::Head {
            vary_accept: answer.head.vary_accept,
            ..response::Head::new(faults.fail_status, response::TEXT)
        };
        answer.body = Body::Text(why);
    }
    let (low, high) = faults.latency;
    if !high.is_zero() {
        let spread = (high - low).as_micros() as usize;
        let extra = low + Duration::from_micros(worker.rng.below(spread + 1) as u64);
        answer.delay += extra;
    }
}

/// What the routes ask of the server, for one request.
struct Facts<'a> {
    worker: &'a WorkerState,
    peers: &'a Peers<'a>,
}

impl routes::Facts for Facts<'_> {
    fn health(&self) -> Health {
        self.worker.health()
    }

    fn echo(&self, format: Format, head: &[u8]) -> Vec<u8> {
        echo(self.worker, self.peers, format, head, None)
    }

    fn metrics_page(&self) -> Vec<u8> {
        self.worker.metrics_page()
    }
}

/// The echo of a request whose head is `head` (and whose body was `body`, if it had one).
/// (Out of line, as the metrics page: rare work, kept out of the code the request path
/// inlines.)
#[inline(never)]
fn echo(
    worker: &WorkerState,
    peers: &Peers,
    format: Format,
    head: &[u8],
    body: Option<EchoBody<'_>>,
) -> Vec<u8> {
    let echo = Echo {
        hostname: worker.hostname(),
        name: worker.settings.name.as_deref(),
        version: env!("CARGO_PKG_VERSION"),
        remote: peers.client,
        proxy: (peers.client != peers.peer).then_some(peers.peer),
        // A connected socket always has one.
        local: peers.socket.local_addr().unwrap_or(peers.peer),
        // Checked when the header was read, so read again here without fail.
        tlvs: (!peers.tlvs.is_empty())
            .then(|| proxy_protocol::tlvs::read(peers.tlvs))
            .flatten(),
        head: head::read(head),
        hide: &worker.settings.echo_hide,
        body,
    };
    let mut out = Vec::with_capacity(1024 + 2 * head.len());
    echo.write(format, &mut out);
    out
}
