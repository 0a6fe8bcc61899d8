//! Test scaffolding, not part of the server: what every parse must satisfy, whatever its
//! bytes (the unit tests check it on chosen and mutated requests, the fuzz targets in `fuzz/`
//! on whatever libFuzzer finds, `make fuzz`), a seeded generator and mutator for the tests, and
//! the input layout of the fuzz targets that split. Compiled into the library only so that the
//! fuzz crate and fuzz/oracle can use it; hidden from its documentation.

use super::body::BodyReader;
use super::request::{self, Framing, Request};
use super::{Reject, Status};

/// A body reader under test: each call takes the next piece of the body, as
/// `BodyReader::read` does.
type ReadBody = Box<dyn FnMut(&[u8]) -> Result<Status<usize>, Reject>>;

/// What the checks run: a head parser and a body reader for each framing. `WHOD` is the
/// server's; the tests below make wrong ones on purpose, to see each check catch them.
struct Parsers {
    head: for<'b> fn(&'b [u8]) -> Result<Status<Request<'b>>, Reject>,
    body: fn(Framing) -> Option<ReadBody>,
}

const WHOD: Parsers = Parsers {
    head: request::parse,
    body: |framing| {
        let mut reader = BodyReader::new(framing)?;
        Some(Box::new(move |piece| reader.read(piece)))
    },
};

/// The statuses a rejection may carry.
const REJECT_STATUSES: [u16; 6] = [400, 413, 414, 431, 501, 505];

fn check_reject(reject: &Reject) -> Result<(), String> {
    if REJECT_STATUSES.contains(&reject.status) && !reject.reason.is_empty() {
        Ok(())
    } else {
        Err(format!("malformed rejection {reject:?}"))
    }
}

/// Where a body that starts `input` ends, fed in pieces that end at `ends` (offsets into
/// `input`): `Ok(Some(n))` after `n` bytes, `Ok(None)` if it has not ended.
fn read_body(
    parsers: &Parsers,
    framing: Framing,
    input: &[u8],
    ends: &[usize],
) -> Result<Option<usize>, Reject> {
    let Some(mut read) = (parsers.body)(framing) else {
        return Ok(Some(0));
    };
    let mut start = 0;
    for &end in ends.iter().chain([&input.len()]) {
        if end <= start || end > input.len() {
            continue;
        }
        match read(&input[start..end])? {
            Status::Complete(n) if n <= end - start => return Ok(Some(start + n)),
            Status::Complete(n) => panic!("the body reader used {n} bytes of {}", end - start),
            Status::Partial => start = end,
        }
    }
    Ok(None)
}

/// What a push parser answers for the bytes so far.
pub type Answer<T, E> = Result<Status<T>, E>;

/// The split check every push parser must pass (this module's, and the PROXY protocol
/// header's): parses `input` whole, then each prefix ending at `ends`; every prefix must be
/// `Partial` until one gives the whole input's answer, and all longer ones the same answer, and
/// no prefix that holds a complete item (`len` of the whole answer) may be `Partial`. Returns
/// the whole input's answer and the ends checked, sorted, the input's length among them.
pub fn check_prefixes<'i, T: PartialEq + std::fmt::Debug, E: PartialEq + std::fmt::Debug>(
    parse: impl Fn(&'i [u8]) -> Answer<T, E>,
    len: impl Fn(&T) -> usize,
    input: &'i [u8],
    ends: &[usize],
) -> Result<(Answer<T, E>, Vec<usize>), String> {
    let whole = parse(input);
    let mut ends: Vec<usize> = ends.iter().map(|&end| end.min(input.len())).collect();
    ends.push(input.len());
    ends.sort_unstable();
    ends.dedup();
    let mut settled = false;
    for &end in &ends {
        let prefix = parse(&input[..end]);
        match (&prefix, &whole) {
            (Ok(Status::Partial), Ok(Status::Complete(item))) if end >= len(item) => {
                return Err(format!(
                    "a prefix of {end} bytes holds the whole of {item:?} but is Partial"
                ));
            }
            (Ok(Status::Partial), _) if !settled => {}
            (prefix, whole) if prefix == whole => settled = true,
            _ => {
                return Err(format!(
                    "a prefix of {end} bytes gives {prefix:?}, the whole input {whole:?}"
                ));
            }
        }
    }
    Ok((whole, ends))
}

/// Parses `input` whole, then as if it had arrived in pieces ending at `ends` (each prefix
/// parsed anew, as the server does): every prefix must be `Partial` until one gives the whole
/// input's answer, and all longer ones the same answer. A complete head must be well formed,
/// and the body after it must end at the same byte however it is split.
pub fn check_splits(input: &[u8], ends: &[usize]) -> Result<(), String> {
    check_splits_of(&WHOD, input, ends)
}

fn check_splits_of(parsers: &Parsers, input: &[u8], ends: &[usize]) -> Result<(), String> {
    let (whole, ends) = check_prefixes(parsers.head, |head| head.head_len, input, ends)?;
    match whole {
        Ok(Status::Complete(head)) => {
            if head.method.is_empty() || head.target.is_empty() || head.head_len > input.len() {
                return Err(format!("malformed head {head:?}"));
            }
            let rest = &input[head.head_len..];
            let body_ends: Vec<usize> = ends
                .iter()
                .filter_map(|&end| end.checked_sub(head.head_len))
                .collect();
            let at_once = read_body(parsers, head.framing, rest, &[]);
            let in_pieces = read_body(parsers, head.framing, rest, &body_ends);
            if let Err(reject) = &at_once {
                check_reject(reject)?;
            }
            if at_once != in_pieces {
                return Err(format!(
                    "the body gives {at_once:?} at once, {in_pieces:?} in pieces at {body_ends:?}"
                ));
            }
            Ok(())
        }
        Ok(Status::Partial) => Ok(()),
        Err(reject) => check_reject(&reject),
    }
}

/// Reads `input` as a connection does: heads and bodies one after the other, until the bytes
/// run out or a request is refused. Every step must make progress. Returns how many requests
/// were complete.
pub fn check_stream(input: &[u8]) -> Result<usize, String> {
    check_stream_of(&WHOD, input)
}

fn check_stream_of(parsers: &Parsers, input: &[u8]) -> Result<usize, String> {
    let mut at = 0;
    let mut requests = 0;
    while at < input.len() {
        let head = match (parsers.head)(&input[at..]) {
            Ok(Status::Complete(head)) => head,
            Ok(Status::Partial) => break,
            Err(reject) => return check_reject(&reject).map(|()| requests),
        };
        if head.head_len == 0 {
            return Err(format!("no progress at byte {at}"));
        }
        if head.head_len > input.len() - at {
            return Err(format!(
                "a head at byte {at} longer than its input: {head:?}"
            ));
        }
        at += head.head_len;
        match read_body(parsers, head.framing, &input[at..], &[]) {
            Ok(Some(n)) => at += n,
            Ok(None) => break,
            Err(reject) => return check_reject(&reject).map(|()| requests),
        }
        requests += 1;
    }
    Ok(requests)
}

/// A seeded generator for the tests that mutate inputs by the thousand: the product's own
/// xorshift64*, so that a failure replays.
pub use crate::random::Rng;

/// Makes 1 to `most` edits to `input`: a byte replaced by one of `interesting`, a byte
/// removed, a random byte or one of `interesting` inserted.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, interesting: &[u8], most: usize) {
    for _ in 0..1 + rng.below(most) {
        let at = rng.below(input.len() + 1);
        match rng.below(4) {
            0 if at < input.len() => input[at] = interesting[rng.below(interesting.len())],
            1 if at < input.len() => drop(input.remove(at)),
            2 => input.insert(at, rng.next_u64() as u8),
            _ => input.insert(at, interesting[rng.below(interesting.len())]),
        }
    }
}

/// The input layout of the fuzz targets that split: the first byte says how many split points
/// follow (at most 16), two bytes each (little-endian offsets); the rest is the input. Gives
/// the input and its split points, or `None` when the bytes are too few for the count.
pub fn split_input(data: &[u8]) -> Option<(&[u8], Vec<usize>)> {
    let (&count, rest) = data.split_first()?;
    let count = usize::from(count % 17);
    if rest.len() < 2 * count {
        return None;
    }
    let (points, input) = rest.split_at(2 * count);
    let ends = points
        .chunks(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])))
        .collect();
    Some((input, ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_input_reads_the_count_and_the_points() {
        assert_eq!(split_input(b""), None);
        assert_eq!(split_input(b"\0GET"), Some((&b"GET"[..], vec![])));
        assert_eq!(
            split_input(b"\x02\x01\x00\x03\x01GET"),
            Some((&b"GET"[..], vec![1, 259]))
        );
        assert_eq!(
            split_input(b"\x02\x01\x00\x03"),
            None,
            "too few for two points"
        );
        // 17 is 0 split points: the count is taken modulo 17.
        assert_eq!(split_input(b"\x11ab"), Some((&b"ab"[..], vec![])));
        // Points and no input: an empty input, not too few bytes.
        assert_eq!(split_input(b"\x01\x05\x00"), Some((&b""[..], vec![5])));
        assert_eq!(split_input(b"\x01\x05"), None);
    }

    /// The generator is xorshift64* exactly: a change to it would change every seeded test's
    /// inputs, and a failure would no longer replay.
    #[test]
    fn the_generator_is_xorshift64_star() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let outputs = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        assert_eq!(
            outputs,
            [
                0x7c94_8247_2cb6_708c,
                0xd570_5692_bf1f_28de,
                0x88b7_1e3b_a5e0_05c0
            ]
        );
    }

    #[test]
    fn mutate_makes_every_kind_of_edit() {
        let seed = b"GET / HTTP/1.1";
        let mut rng = Rng(11);
        let (mut removed, mut replaced, mut random_inserted) = (false, false, false);
        for _ in 0..200 {
            let mut input = seed.to_vec();
            mutate(&mut rng, &mut input, b"x", 1);
            match input.len() {
                13 => removed = true,
                14 => replaced |= input.contains(&b'x'),
                _ => random_inserted |= input.iter().any(|b| !seed.contains(b) && *b != b'x'),
            }
        }
        assert!(removed && replaced && random_inserted);
        // An empty input can only grow, at its end.
        let mut empty = Vec::new();
        mutate(&mut rng, &mut empty, b"x", 1);
        assert_eq!(empty.len(), 1);
    }

    #[test]
    fn mutate_edits_at_least_once_and_replays() {
        let mut one = Rng(7);
        let mut two = Rng(7);
        let (mut a, mut b) = (b"GET / HTTP/1.1".to_vec(), b"GET / HTTP/1.1".to_vec());
        let mut changed = 0;
        for _ in 0..100 {
            let before = a.clone();
            mutate(&mut one, &mut a, b"xyz", 3);
            mutate(&mut two, &mut b, b"xyz", 3);
            changed += usize::from(a != before);
        }
        assert_eq!(a, b, "the same seed, the same edits");
        assert!(changed > 90, "{changed} of 100 rounds changed the input");
    }

    #[test]
    fn a_pipeline_of_requests_and_bodies() {
        let stream = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /who HTTP/1.0\r\n\r\nGET /";
        assert_eq!(check_stream(stream), Ok(4));
        let every: Vec<usize> = (0..stream.len()).collect();
        assert_eq!(check_splits(stream, &every), Ok(()));
    }

    const GET: &[u8] = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
    const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";

    /// whod's parsers, with `head` instead of its head parser.
    fn with_head(head: for<'b> fn(&'b [u8]) -> Result<Status<Request<'b>>, Reject>) -> Parsers {
        Parsers { head, ..WHOD }
    }

    /// whod's parsers, with a body reader that ends every body after `n` bytes of its piece.
    fn body_ending_after(n: usize) -> ReadBody {
        Box::new(move |piece: &[u8]| {
            Ok(if piece.len() >= n {
                Status::Complete(n)
            } else {
                Status::Partial
            })
        })
    }

    #[test]
    fn a_refusal_must_carry_a_refusal_status_and_a_reason() {
        assert_eq!(check_reject(&Reject::new(400, "bad")), Ok(()));
        assert!(check_reject(&Reject::new(200, "fine")).is_err());
        assert!(check_reject(&Reject::new(400, "")).is_err());
    }

    #[test]
    fn each_check_catches_a_parser_made_wrong() {
        let every = |input: &[u8]| (0..=input.len()).collect::<Vec<usize>>();
        assert_eq!(check_splits_of(&WHOD, GET, &every(GET)), Ok(()));

        // Partial for a prefix that holds the whole head.
        let late = with_head(|buf| match buf.len() {
            0..=33 => Ok(Status::Partial),
            _ => request::parse(buf),
        });
        let get_and_more = [GET, b"GET /"].concat();
        assert!(check_splits_of(&late, &get_and_more, &[GET.len()]).is_err());
        // Partial only before the head ends is right.
        assert_eq!(check_splits_of(&late, GET, &[GET.len() - 1]), Ok(()));

        // A prefix answered otherwise than the whole input.
        let early = with_head(|buf| match buf.len() {
            0..=3 => Err(Reject::new(400, "early")),
            _ => request::parse(buf),
        });
        assert!(check_splits_of(&early, GET, &[2]).is_err());

        // Complete, then Partial again for a longer prefix.
        let forgetful = with_head(|buf| match buf.len() {
            10 => Err(Reject::new(400, "once")),
            _ => request::parse(buf),
        });
        let bad = b"GET /who HTTP/1.1\r\nHost: a b\r\n\r\n";
        assert!(check_splits_of(&forgetful, bad, &[10, 12]).is_err());

        // The whole input's answer, then Partial again for a longer prefix.
        let unsettled = with_head(|buf| match buf.len() {
            5 => Ok(Status::Partial),
            _ => request::parse(buf),
        });
        let bad_method = b"G@T / HTTP/1.1\r\n\r\n";
        assert!(check_splits_of(&unsettled, bad_method, &[3, 5]).is_err());
        assert_eq!(check_splits_of(&unsettled, bad_method, &[3, 6]), Ok(()));

        // Complete heads that are not well formed.
        let no_method = with_head(|buf| {
            request::parse(buf).map(|status| match status {
                Status::Complete(head) => Status::Complete(Request {
                    method: b"",
                    ..head
                }),
                Status::Partial => Status::Partial,
            })
        });
        assert!(check_splits_of(&no_method, GET, &[]).is_err());
        let no_target = with_head(|buf| {
            request::parse(buf).map(|status| match status {
                Status::Complete(head) => Status::Complete(Request {
                    target: b"",
                    ..head
                }),
                Status::Partial => Status::Partial,
            })
        });
        assert!(check_splits_of(&no_target, GET, &[]).is_err());
        let too_long = with_head(|buf| {
            request::parse(buf).map(|status| match status {
                Status::Complete(head) => Status::Complete(Request {
                    head_len: head.head_len + 1,
                    ..head
                }),
                Status::Partial => Status::Partial,
            })
        });
        assert!(check_splits_of(&too_long, GET, &[]).is_err());
        assert!(check_stream_of(&too_long, GET).is_err());
        // The same, for the second request of a stream only.
        let second_too_long = with_head(|buf| {
            request::parse(buf).map(|status| match status {
                Status::Complete(head) if buf.len() == head.head_len => Status::Complete(Request {
                    head_len: head.head_len + 1,
                    ..head
                }),
                status => status,
            })
        });
        assert_eq!(
            check_stream_of(&second_too_long, &[GET, POST].concat()),
            Ok(2)
        );
        assert!(check_stream_of(&second_too_long, &[GET, GET].concat()).is_err());

        // The stream stops when the bytes run out: it does not ask the parser about nothing.
        let refuses_nothing = with_head(|buf| match buf {
            [] => Err(Reject::new(200, "nothing")),
            _ => request::parse(buf),
        });
        assert_eq!(check_stream_of(&refuses_nothing, GET), Ok(1));

        // A refusal without a refusal's status.
        let refuses_badly = with_head(|_| Err(Reject::new(200, "no")));
        assert!(check_splits_of(&refuses_badly, GET, &[]).is_err());
        assert!(check_stream_of(&refuses_badly, GET).is_err());

        // A head that takes no bytes: the stream would never move.
        let stuck = with_head(|buf| {
            request::parse(buf).map(|status| match status {
                Status::Complete(head) => Status::Complete(Request {
                    head_len: 0,
                    ..head
                }),
                Status::Partial => Status::Partial,
            })
        });
        assert!(check_stream_of(&stuck, GET).is_err());
    }

    #[test]
    fn each_body_check_catches_a_reader_made_wrong() {
        let pieces: Vec<usize> = (0..=POST.len()).collect();
        assert_eq!(check_splits_of(&WHOD, POST, &pieces), Ok(()));

        // A body that ends at another byte when it comes in pieces.
        let by_piece = Parsers {
            body: |_| Some(body_ending_after(2)),
            ..WHOD
        };
        assert!(check_splits_of(&by_piece, POST, &pieces).is_err());
        assert_eq!(check_splits_of(&by_piece, POST, &[]), Ok(()));

        // A body refused without a refusal's status.
        let refuses_badly = Parsers {
            body: |_| Some(Box::new(|_| Err(Reject::new(200, "no")))),
            ..WHOD
        };
        assert!(check_splits_of(&refuses_badly, POST, &[]).is_err());
        assert!(check_stream_of(&refuses_badly, POST).is_err());

        // Pieces are taken in order, each ending past the last and within the input.
        let framing = Framing::Length(3);
        assert_eq!(
            read_body(&WHOD, framing, b"abcd", &[2, 1, 9, 2, 3]),
            Ok(Some(3))
        );
        assert_eq!(read_body(&WHOD, framing, b"ab", &[1, 1, 2]), Ok(None));
        assert_eq!(read_body(&WHOD, Framing::None, b"ab", &[1]), Ok(Some(0)));
        let at_second_piece = Parsers {
            body: |_| Some(body_ending_after(2)),
            ..WHOD
        };
        assert_eq!(
            read_body(&at_second_piece, framing, b"abcd", &[1, 3]),
            Ok(Some(3))
        );
    }

    #[test]
    #[should_panic(expected = "the body reader used 2 bytes of 1")]
    fn a_reader_that_uses_more_than_its_piece_is_a_bug() {
        // Partial for the first piece, then more than the second piece holds.
        let greedy = Parsers {
            body: |_| {
                Some(Box::new(|piece: &[u8]| {
                    Ok(match piece {
                        b"a" => Status::Partial,
                        _ => Status::Complete(2),
                    })
                }))
            },
            ..WHOD
        };
        let _ = read_body(&greedy, Framing::Length(3), b"ab", &[1]);
    }

    #[test]
    fn a_stream_counts_the_requests_it_completes() {
        assert_eq!(check_stream(&[GET, GET, POST].concat()), Ok(3));
        assert_eq!(
            check_stream(&[GET, &POST[..POST.len() - 1]].concat()),
            Ok(1)
        );
        assert_eq!(check_stream(&[GET, b"GET /".as_slice()].concat()), Ok(1));
        assert_eq!(check_stream(b""), Ok(0));
        assert_eq!(check_stream(GET), Ok(1), "a head that ends the input");
    }

    #[test]
    fn a_refusal_ends_the_stream() {
        assert_eq!(
            check_stream(
                b"GET /who HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/2.0\r\n\r\nGET /who HTTP/1.1\r\n"
            ),
            Ok(1)
        );
    }
}
