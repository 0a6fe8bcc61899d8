//! What must hold for every input, whatever its bytes. The unit tests check it on chosen and
//! mutated requests, the fuzz targets in `fuzz/` on whatever libFuzzer finds (`make fuzz`).

use super::body::BodySkipper;
use super::request;
use super::{Reject, Status};

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
    framing: request::Framing,
    input: &[u8],
    ends: &[usize],
) -> Result<Option<usize>, Reject> {
    let Some(mut reader) = BodySkipper::new(framing) else {
        return Ok(Some(0));
    };
    let mut start = 0;
    for &end in ends.iter().chain([&input.len()]) {
        if end <= start || end > input.len() {
            continue;
        }
        match reader.read(&input[start..end])? {
            Status::Complete(n) if n <= end - start => return Ok(Some(start + n)),
            Status::Complete(n) => panic!("the body reader used {n} bytes of {}", end - start),
            Status::Partial => start = end,
        }
    }
    Ok(None)
}

/// Parses `input` whole, then as if it had arrived in pieces ending at `ends` (each prefix
/// parsed anew, as the server does): every prefix must be `Partial` until one gives the whole
/// input's answer, and all longer ones the same answer. A complete head must be well formed,
/// and the body after it must end at the same byte however it is split.
pub fn check_splits(input: &[u8], ends: &[usize]) -> Result<(), String> {
    let whole = request::parse(input);
    let mut ends: Vec<usize> = ends.iter().map(|&end| end.min(input.len())).collect();
    ends.push(input.len());
    ends.sort_unstable();
    ends.dedup();
    let mut settled = false;
    for &end in &ends {
        let prefix = request::parse(&input[..end]);
        match (&prefix, &whole) {
            (Ok(Status::Partial), Ok(Status::Complete(head))) if end >= head.head_len => {
                return Err(format!(
                    "a prefix of {end} bytes holds the whole head but is Partial"
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
            let at_once = read_body(head.framing, rest, &[]);
            let in_pieces = read_body(head.framing, rest, &body_ends);
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
    let mut at = 0;
    let mut requests = 0;
    while at < input.len() {
        let head = match request::parse(&input[at..]) {
            Ok(Status::Complete(head)) => head,
            Ok(Status::Partial) => break,
            Err(reject) => return check_reject(&reject).map(|()| requests),
        };
        if head.head_len == 0 {
            return Err(format!("no progress at byte {at}"));
        }
        at += head.head_len;
        match read_body(head.framing, &input[at..], &[]) {
            Ok(Some(n)) => at += n,
            Ok(None) => break,
            Err(reject) => return check_reject(&reject).map(|()| requests),
        }
        requests += 1;
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_of_requests_and_bodies() {
        let stream = b"GET /who HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /who HTTP/1.0\r\n\r\nGET /";
        assert_eq!(check_stream(stream), Ok(4));
        let every: Vec<usize> = (0..stream.len()).collect();
        assert_eq!(check_splits(stream, &every), Ok(()));
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
