//! A request's body as the connection reads it: the decoder, the answer owed once it has been
//! read, and, when that answer is about the body (`/upload`, `/echo` of a POST), what was seen
//! of it: its size, its checksum, its first bytes, when it began.

use std::time::Instant;

use crate::crc32::Crc32;
use crate::http::body::BodyReader;
use crate::http::{Reject, Status};
use crate::routes::{AboutBody, Answer, Body};

#[derive(Debug)]
pub(crate) struct RequestBody {
    reader: BodyReader,
    /// Written once the body has been read.
    pub answer: Answer,
    /// Only when the answer is about the body; else the body is read and dropped.
    pub seen: Option<Seen>,
}

/// What was seen of a body.
#[derive(Debug)]
pub(crate) struct Seen {
    pub size: u64,
    pub crc: Crc32,
    /// Its first bytes, up to `keep`: `/echo?body=1` shows them.
    pub kept: Vec<u8>,
    keep: usize,
    /// When its head arrived.
    pub started: Instant,
    /// The request's head, as received: an echo is written once its body has been read.
    pub head: Vec<u8>,
}

impl Seen {
    /// What an answer about a body (`about`) will need: for an echo, the head (a copy: the
    /// bytes it lies in are gone when the body ends) and, shown, up to `max_shown` bytes.
    pub fn new(about: AboutBody, head: &[u8], max_shown: usize, started: Instant) -> Seen {
        let (head, keep) = match about {
            AboutBody::Upload(_) => (Vec::new(), 0),
            AboutBody::Echo { show, .. } => (head.to_vec(), if show { max_shown } else { 0 }),
        };
        Seen {
            size: 0,
            crc: Crc32::new(),
            kept: Vec::new(),
            keep,
            started,
            head,
        }
    }

    fn take(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.crc.update(data);
        let room = self.keep - self.kept.len();
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
    }
}

impl RequestBody {
    /// The body `reader` reads, for `answer`; `seen` when the answer is about it.
    pub fn new(reader: BodyReader, answer: Answer, seen: Option<Seen>) -> RequestBody {
        debug_assert_eq!(seen.is_some(), matches!(answer.body, Body::AboutBody(_)));
        RequestBody {
            reader,
            answer,
            seen,
        }
    }

    /// Takes body bytes from the start of `data`: `Complete(n)` when the body ended after
    /// `n` of them.
    pub fn read(&mut self, data: &[u8]) -> Result<Status<usize>, Reject> {
        match &mut self.seen {
            Some(seen) => self.reader.read_with(data, |piece| seen.take(piece)),
            None => self.reader.read(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echo::Format;
    use crate::http::request::Framing;
    use crate::routes::Route;

    fn answer(about: AboutBody) -> Answer {
        Answer {
            route: Route::Upload,
            head: crate::http::response::Head::new(200, crate::http::response::TEXT),
            body: Body::AboutBody(about),
            delay: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn what_is_seen_of_a_body_whatever_its_pieces() {
        let chunked = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        let body = b"Wikipedia in\r\n\r\nchunks.";
        let now = Instant::now();
        for step in [1, 3, chunked.len()] {
            let about = AboutBody::Echo {
                format: Format::Text,
                show: true,
            };
            let mut reading = RequestBody::new(
                BodyReader::new(Framing::Chunked).unwrap(),
                answer(about),
                Some(Seen::new(about, b"POST /echo HTTP/1.1\r\n\r\n", 10, now)),
            );
            let mut ended = false;
            for piece in chunked.chunks(step) {
                if let Status::Complete(_) = reading.read(piece).unwrap() {
                    ended = true;
                }
            }
            assert!(ended);
            let seen = reading.seen.unwrap();
            assert_eq!(seen.size, body.len() as u64);
            assert_eq!(seen.crc.value(), crate::crc32::crc32(body));
            assert_eq!(seen.kept, &body[..10], "the first bytes, up to the limit");
            assert_eq!(seen.head, b"POST /echo HTTP/1.1\r\n\r\n");
        }
        // An upload keeps neither the head nor the body.
        let seen = Seen::new(AboutBody::Upload(Format::Json), b"POST /upload", 10, now);
        assert!(seen.head.is_empty() && seen.keep == 0);
    }
}
