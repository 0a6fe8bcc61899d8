//! The answers that hold a connection's write side for a while: a stream's events, each
//! written when its time comes, and a download, written as fast as the client takes it. Each
//! knows how far it got; the connection decides what follows it.

use std::io;
use std::net::TcpStream;
use std::time::Instant;

use crate::http::response;
use crate::routes::Events;
use crate::server::worker_state::WorkerState;
use crate::stream;
use crate::sys;

/// A download's writes per turn (each up to `stream::WRITE`) before the others get theirs.
const WRITES_PER_TURN: usize = 8;

/// A stream of events under way.
#[derive(Debug)]
pub(super) struct EventStream {
    pub events: Events,
    /// Events written so far.
    sent: u64,
    /// When the next one is due.
    pub next_at: Instant,
    /// Chunked (HTTP/1.1), or ended by the close (HTTP/1.0).
    pub chunked: bool,
    /// The connection closes after the stream.
    closes: bool,
}

impl EventStream {
    /// A stream whose first event is due at once (it goes with the head).
    pub fn new(events: Events, now: Instant, chunked: bool, closes: bool) -> EventStream {
        EventStream {
            events,
            sent: 0,
            next_at: now,
            chunked,
            closes,
        }
    }

    /// Writes the events that are due to the batch, as long as the client keeps up (the
    /// batch stays under `room`: what the output limit leaves beside what waits for the
    /// client), and after the last one, the end. Returns `None` while events are to come (the
    /// worker is woken for the next), else whether the connection closes after the stream.
    pub fn write_due(&mut self, room: usize, worker: &mut WorkerState) -> Option<bool> {
        let now = worker.clock.now;
        while self.sent < self.events.count && self.next_at <= now && worker.batch.len() < room {
            self.sent += 1;
            let events = self.events;
            worker.write_event(events.format, self.sent, events.count, self.chunked);
            self.next_at += events.interval;
            if self.next_at < now {
                // Late (the client did not keep up, or the worker was busy): no burst of the
                // events missed, the next one an interval from now.
                self.next_at = now + events.interval;
            }
        }
        if self.sent < self.events.count {
            worker.wake_at(self.next_at);
            return None;
        }
        if self.chunked {
            worker.batch.extend_from_slice(response::LAST_CHUNK);
        }
        Some(self.closes || !self.chunked)
    }
}

/// A download under way: its bytes come straight from `stream::download_bytes` (no copy is
/// kept: a slow reader costs no memory).
#[derive(Debug)]
pub(super) struct Download {
    sent: u64,
    left: u64,
    /// The connection closes after the download.
    pub closes: bool,
}

/// How far one turn of a download got.
pub(super) enum Turn {
    /// Every byte is written.
    Done,
    /// The socket takes no more for now; `progress`: some bytes went this turn.
    Blocked { progress: bool },
    /// A turn's worth of writes went: more to write, once the others had their turn.
    More,
    /// The socket failed, or the client is gone.
    Failed,
}

impl Download {
    pub fn new(size: u64, closes: bool) -> Download {
        Download {
            sent: 0,
            left: size,
            closes,
        }
    }

    /// Writes as much of the download as the socket takes, a few large writes a turn.
    pub fn write_turn(&mut self, socket: &TcpStream) -> Turn {
        let bytes = stream::download_bytes();
        let mut progress = false;
        for _ in 0..WRITES_PER_TURN {
            if self.left == 0 {
                return Turn::Done;
            }
            let n = self.left.min(stream::WRITE as u64) as usize;
            let piece = &bytes[(self.sent % stream::LINE.len() as u64) as usize..][..n];
            match sys::write(socket, piece) {
                Ok(0) => return Turn::Failed,
                Ok(written) => {
                    self.sent += written as u64;
                    self.left -= written as u64;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Turn::Blocked { progress };
                }
                Err(_) => return Turn::Failed,
            }
        }
        Turn::More
    }
}
