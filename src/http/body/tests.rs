use super::*;
use crate::http::limits::BODY_TOO_LARGE;

/// Feeds `input` in pieces of `step` bytes; returns where the body ended, or the rejection.
fn read_in_steps(framing: Framing, input: &[u8], step: usize) -> Result<Option<usize>, Reject> {
    let mut reader = BodyReader::new(framing).expect("a body");
    let mut offset = 0;
    for piece in input.chunks(step) {
        match reader.read(piece)? {
            Status::Complete(n) => return Ok(Some(offset + n)),
            Status::Partial => offset += piece.len(),
        }
    }
    Ok(None)
}

fn read_every_way(framing: Framing, input: &[u8]) -> Result<Option<usize>, Reject> {
    let whole = read_in_steps(framing, input, input.len().max(1));
    for step in 1..input.len() {
        assert_eq!(
            read_in_steps(framing, input, step),
            whole,
            "step {step}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

/// Decodes `input` fed in pieces of `step` bytes: the body's data, and where it ended.
fn decode_in_steps(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, Option<usize>) {
    let mut reader = BodyReader::new(framing).expect("a body");
    let mut data = Vec::new();
    let mut offset = 0;
    for piece in input.chunks(step) {
        let mut at = 0;
        loop {
            match reader.decode(&piece[at..]).expect("a valid body") {
                Progress::Data(0) | Progress::Framing(0) => break,
                Progress::Data(n) => {
                    data.extend_from_slice(&piece[at..at + n]);
                    at += n;
                }
                Progress::Framing(n) => at += n,
                Progress::End(n) => return (data, Some(offset + at + n)),
            }
        }
        offset += piece.len();
    }
    (data, None)
}

/// The data decoded, the same however the body is split; and where the body ended, the
/// same as `read` finds.
fn data_every_way(framing: Framing, input: &[u8]) -> (Vec<u8>, Option<usize>) {
    let whole = decode_in_steps(framing, input, input.len().max(1));
    for step in 1..input.len() {
        assert_eq!(decode_in_steps(framing, input, step), whole, "step {step}");
    }
    assert_eq!(read_every_way(framing, input), Ok(whole.1));
    whole
}

#[test]
fn the_data_of_a_body_is_what_is_left_without_its_framing() {
    let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nGET /";
    assert_eq!(
        data_every_way(Framing::Chunked, body),
        (
            b"Wikipedia in\r\n\r\nchunks.".to_vec(),
            Some(body.len() - 5)
        )
    );
    let extended = b"5 ; a=\"b\"\r\nhello\r\n1;c\r\n!\r\n0;d\r\nT: v\r\n\r\n";
    assert_eq!(
        data_every_way(Framing::Chunked, extended),
        (b"hello!".to_vec(), Some(extended.len()))
    );
    assert_eq!(
        data_every_way(Framing::Chunked, b"a\r\n0123456789\r\n"),
        (b"0123456789".to_vec(), None)
    );
    assert_eq!(
        data_every_way(Framing::Length(5), b"helloGET /"),
        (b"hello".to_vec(), Some(5))
    );
    assert_eq!(
        data_every_way(Framing::Length(5), b"hel"),
        (b"hel".to_vec(), None)
    );
}

#[test]
fn decode_stops_where_data_and_framing_meet() {
    let mut reader = BodyReader::new(Framing::Chunked).unwrap();
    let body = b"5\r\nhello\r\n0\r\n\r\nGET";
    let mut at = 0;
    let steps: Vec<Progress> = (0..3)
        .map(|_| {
            let step = reader.decode(&body[at..]).unwrap();
            let (Progress::Data(n) | Progress::Framing(n) | Progress::End(n)) = step;
            at += n;
            step
        })
        .collect();
    assert_eq!(at, body.len() - "GET".len());
    assert_eq!(
        steps,
        [Progress::Framing(3), Progress::Data(5), Progress::End(7)]
    );
    // Once ended, a body stays ended.
    assert_eq!(reader.decode(b"GET"), Ok(Progress::End(0)));
    assert_eq!(reader.read(b"GET"), Ok(Status::Complete(0)));
    assert_eq!(reader.read(b""), Ok(Status::Complete(0)));

    let mut reader = BodyReader::new(Framing::Length(2)).unwrap();
    assert_eq!(reader.decode(b""), Ok(Progress::Data(0)));
    assert_eq!(reader.decode(b"abc"), Ok(Progress::Data(2)));
    assert_eq!(reader.decode(b"c"), Ok(Progress::End(0)));
    assert_eq!(reader.read(b""), Ok(Status::Complete(0)));
    let mut empty = BodyReader::new(Framing::Length(0)).unwrap();
    assert_eq!(empty.read(b""), Ok(Status::Complete(0)));
}

#[test]
fn content_length() {
    assert_eq!(read_every_way(Framing::Length(5), b"hello"), Ok(Some(5)));
    assert_eq!(
        read_every_way(Framing::Length(5), b"helloGET /"),
        Ok(Some(5))
    );
    assert_eq!(read_every_way(Framing::Length(5), b"hel"), Ok(None));
    assert!(BodyReader::new(Framing::None).is_none());
}

#[test]
fn chunked_rfc_example_and_variants() {
    let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
    assert_eq!(read_every_way(Framing::Chunked, body), Ok(Some(body.len())));
    let with_next = [&body[..], b"GET / HTTP/1.1\r\n"].concat();
    assert_eq!(
        read_every_way(Framing::Chunked, &with_next),
        Ok(Some(body.len()))
    );
    let extended = b"5 ; name=value;x\r\nhello\r\n000;last\r\nTrailer: t\r\nOther: u\r\n\r\n";
    assert_eq!(
        read_every_way(Framing::Chunked, extended),
        Ok(Some(extended.len()))
    );
    assert_eq!(
        read_every_way(Framing::Chunked, b"a\r\n0123456789\r\n"),
        Ok(None)
    );
}

#[test]
fn chunk_extensions_by_their_grammar() {
    for extension in [
        &b";a"[..],
        b";a=b",
        b" ;a",
        b"\t; \ta",
        b";a =b",
        b";a= b",
        b";a \t=\t b",
        b";a=b;c;d=e",
        b";a=\"\"",
        b";a=\"q \\\"x\\\" \\\\ \t\xff\"",
        b";a=\"b\" ;c",
        b";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
    ] {
        let body = [b"5", extension, b"\r\nhello\r\n0", extension, b"\r\n\r\n"].concat();
        assert_eq!(
            read_every_way(Framing::Chunked, &body),
            Ok(Some(body.len())),
            "{:?}",
            String::from_utf8_lossy(extension)
        );
    }
}

#[test]
fn trailer_fields_by_their_grammar() {
    for trailer in [
        &b"T: v\r\n"[..],
        b"T:\r\n",
        b"T:v\r\n",
        b"T: a b \t\r\n",
        b"T: \xff\x80\r\nU: w\r\n",
    ] {
        let body = [b"0\r\n", trailer, b"\r\n"].concat();
        assert_eq!(
            read_every_way(Framing::Chunked, &body),
            Ok(Some(body.len())),
            "{:?}",
            String::from_utf8_lossy(trailer)
        );
    }
}

#[test]
fn chunked_rejections() {
    let cases: &[(&[u8], Reject)] = &[
        (b"\r\n", BAD_CHUNK_SIZE),
        (b"x\r\n", BAD_CHUNK_SIZE),
        (b"-1\r\n", BAD_CHUNK_SIZE),
        (b";a\r\n", BAD_CHUNK_SIZE),
        (b" 5\r\n", BAD_CHUNK_SIZE),
        (b"5x\r\n", BAD_CHUNK_SIZE),
        (b"\n", BAD_CHUNK_END),
        (b"5\nhello\r\n", BAD_CHUNK_END),
        (b"5;a\n", BAD_CHUNK_END),
        (b"5;a=\"b\n", BAD_CHUNK_END),
        (b"5 \n", BAD_CHUNK_END),
        // BWS only before ";" or "=": not at the end of the line.
        (b"5 \r\n", BAD_CHUNK_EXTENSION),
        (b"5;a \r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=b \r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"b\" \r\n", BAD_CHUNK_EXTENSION),
        (b"5 x\r\n", BAD_CHUNK_EXTENSION),
        (b"5;\r\n", BAD_CHUNK_EXTENSION),
        (b"5; \r\n", BAD_CHUNK_EXTENSION),
        (b"5;;a\r\n", BAD_CHUNK_EXTENSION),
        (b"5;=b\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a= \r\n", BAD_CHUNK_EXTENSION),
        (b"5;a==b\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a b\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=b c\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a@\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a\x00\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=b=c\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=b\"c\"\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"b\"c\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"b\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"\x01\"\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"\\\x01\"\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"\x7f\"\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a=\"b\"\"\r\n", BAD_CHUNK_EXTENSION),
        (b"5;a\rX", BAD_CHUNK_END),
        (b"5\r\nhelloX", BAD_CHUNK_END),
        (b"5\r\nhello\rX", BAD_CHUNK_END),
        (b"5\r\nhello\n", BAD_CHUNK_END),
        (b"0\r\n\rX", BAD_CHUNK_END),
        (b"0\r\n\n", BAD_CHUNK_END),
        (b"0\r\n T: v\r\n\r\n", TRAILER_FOLD),
        (b"0\r\n\tT: v\r\n\r\n", TRAILER_FOLD),
        (b"0\r\nT: v\r\n w\r\n\r\n", TRAILER_FOLD),
        (b"0\r\nT : v\r\n\r\n", BAD_TRAILER_NAME),
        (b"0\r\nT\r\n\r\n", BAD_TRAILER_NAME),
        (b"0\r\nT\n", BAD_TRAILER_NAME),
        (b"0\r\n: v\r\n\r\n", BAD_TRAILER_NAME),
        (b"0\r\nT(: v\r\n\r\n", BAD_TRAILER_NAME),
        (b"0\r\n\xff: v\r\n\r\n", BAD_TRAILER_NAME),
        (b"0\r\nT: \x01\r\n\r\n", BAD_TRAILER_VALUE),
        (b"0\r\nT: a\x00b\r\n\r\n", BAD_TRAILER_VALUE),
        (b"0\r\nT: \x7f\r\n\r\n", BAD_TRAILER_VALUE),
        (b"0\r\nT: v\n\r\n", BAD_CHUNK_END),
        (b"0\r\nT: v\rX", BAD_CHUNK_END),
        (b"100001\r\n", BODY_TOO_LARGE),
        (b"ffffffffffffffffffffffff\r\n", BODY_TOO_LARGE),
    ];
    for (input, expected) in cases {
        assert_eq!(
            read_every_way(Framing::Chunked, input),
            Err(*expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// The limits by their numbers, not only their constants: a changed constant shows here.
#[test]
fn limits_by_number() {
    // The chunk-size line, without its CRLF: 4096 bytes pass, 4097 do not, even before
    // the line ends.
    let size_line = |len: usize| format!("5;{}", "a".repeat(len - 2));
    let body = format!("{}\r\nhello\r\n0\r\n\r\n", size_line(4096));
    assert_eq!(
        read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
        Ok(Some(body.len()))
    );
    assert_eq!(
        read_in_steps(Framing::Chunked, size_line(4097).as_bytes(), 1000),
        Err(CHUNK_LINE_TOO_LONG)
    );
    let zeros = format!("{}\r\n\r\n", "0".repeat(4096));
    assert_eq!(
        read_in_steps(Framing::Chunked, zeros.as_bytes(), 1000),
        Ok(Some(zeros.len()))
    );
    assert_eq!(
        read_in_steps(Framing::Chunked, "0".repeat(4097).as_bytes(), 1000),
        Err(CHUNK_LINE_TOO_LONG)
    );

    // The trailer section, with its final CRLF: 16384 bytes pass, 16385 do not.
    let trailer = |len: usize| format!("T: {}\r\n\r\n", "v".repeat(len - 7));
    let body = format!("0\r\n{}", trailer(16384));
    assert_eq!(
        read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
        Ok(Some(body.len()))
    );
    let body = format!("0\r\n{}", trailer(16385));
    assert_eq!(
        read_in_steps(Framing::Chunked, body.as_bytes(), 1000),
        Err(TRAILER_TOO_LARGE)
    );
    // One byte over is refused at that byte, before the line ends.
    let unended = |len: usize| format!("0\r\nT: {}", "v".repeat(len - 3));
    assert_eq!(
        read_in_steps(Framing::Chunked, unended(16384).as_bytes(), 1000),
        Ok(None)
    );
    assert_eq!(
        read_in_steps(Framing::Chunked, unended(16385).as_bytes(), 1000),
        Err(TRAILER_TOO_LARGE)
    );

    // 100 trailer fields pass, 101 do not.
    let fields = |count: usize| format!("0\r\n{}\r\n", "T: v\r\n".repeat(count));
    let body = fields(100);
    assert_eq!(
        read_in_steps(Framing::Chunked, body.as_bytes(), 7),
        Ok(Some(body.len()))
    );
    assert_eq!(
        read_in_steps(Framing::Chunked, fields(101).as_bytes(), 7),
        Err(TOO_MANY_TRAILER_FIELDS)
    );
}

#[test]
fn the_data_of_a_body_comes_in_order_however_it_is_cut() {
    let chunked = b"4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nGET";
    for (framing, input, body) in [
        (
            Framing::Chunked,
            &chunked[..],
            &b"Wikipedia in\r\n\r\nchunks."[..],
        ),
        (Framing::Length(5), b"helloGET", b"hello"),
    ] {
        for step in 1..=input.len() {
            let mut reader = BodyReader::new(framing).unwrap();
            let mut seen = Vec::new();
            let mut ended = None;
            let mut offset = 0;
            for piece in input.chunks(step) {
                match reader
                    .read_with(piece, |d| seen.extend_from_slice(d))
                    .unwrap()
                {
                    Status::Complete(n) => {
                        ended = Some(offset + n);
                        break;
                    }
                    Status::Partial => offset += piece.len(),
                }
            }
            assert_eq!(seen, body, "step {step}");
            assert_eq!(ended, Some(input.len() - 3), "step {step}");
        }
    }
}

#[test]
fn a_chunked_body_over_a_limit_set_is_refused_naming_it() {
    let mut reader = BodyReader::within(Framing::Chunked, 10).unwrap();
    assert_eq!(reader.read(b"a\r\n0123456789\r\n"), Ok(Status::Partial));
    let refusal = reader.read(b"1\r\n").unwrap_err();
    assert_eq!(
        (refusal.status, refusal.message()),
        (413, "request body larger than 10 bytes".to_string())
    );
    let mut large = BodyReader::within(Framing::Chunked, 1 << 40).unwrap();
    assert_eq!(
        large.read(b"10000000000\r\n"),
        Ok(Status::Partial),
        "2^40 bytes pass"
    );
    assert!(
        BodyReader::within(Framing::Chunked, 1 << 40)
            .unwrap()
            .read(b"10000000001\r\n")
            .is_err()
    );
}

#[test]
fn chunked_total_is_capped_at_one_mebibyte() {
    // 1048576 bytes of data in one chunk pass; one more is refused at the size's last digit.
    let exactly = format!("100000\r\n{}\r\n0\r\n\r\n", "a".repeat(1048576));
    assert_eq!(
        read_in_steps(Framing::Chunked, exactly.as_bytes(), 65536),
        Ok(Some(exactly.len()))
    );
    assert_eq!(
        read_in_steps(Framing::Chunked, b"100001", 6),
        Err(BODY_TOO_LARGE)
    );
    let chunk = format!("{:x}\r\n{}\r\n", 512 * 1024, "a".repeat(512 * 1024));
    let exactly = format!("{chunk}{chunk}0\r\n\r\n");
    assert_eq!(
        read_in_steps(Framing::Chunked, exactly.as_bytes(), 4096),
        Ok(Some(exactly.len()))
    );
    let over = format!("{chunk}{chunk}1\r\n");
    assert_eq!(
        read_in_steps(Framing::Chunked, over.as_bytes(), 4096),
        Err(BODY_TOO_LARGE)
    );
}
