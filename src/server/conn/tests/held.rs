//! The answers that hold the connection's write side: delayed answers, streams, downloads.

use super::*;

#[test]
fn a_delayed_answer_is_a_timer_and_the_requests_behind_it_wait_their_turn() {
    let mut h = harness();
    // A clock set ahead, which a delay's fresh reading of the time does not move back.
    h.worker.clock.now += Duration::from_secs(3600);
    let start = h.worker.clock.now;
    h.send(
        &[
            &b"GET /who?delay=1500ms HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        .concat(),
    );
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.timer, Timer::Delay);
    assert_eq!(h.conn.deadline(), start + Duration::from_millis(1500));
    assert_eq!(
        h.worker.take_wake_at(),
        Some(h.conn.deadline()),
        "the worker is told"
    );
    assert_eq!(h.worker.take_wake_at(), None);
    assert!(
        !h.conn.is_idle() && !h.conn.kept.is_empty(),
        "the request behind it waits"
    );
    assert_eq!(h.worker.counters().delayed_answers.get(), 1);
    // More requests meanwhile stay unread in the socket.
    h.send(WHO);
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.unread_by_server(), WHO.len());
    assert!(
        !h.client_reads_what_is_there(),
        "nothing is answered before the deadline"
    );
    // The deadline: the held answer, then the ones behind it, in order.
    h.worker.clock.now = h.conn.deadline();
    assert_eq!(h.timeout(), Next::Wait);
    let responses = h.responses(3);
    let bodies: Vec<&[u8]> = responses.iter().map(|r| &r.2[..]).collect();
    assert_eq!(
        bodies,
        [&routes::hostname()[..], b"ok", &routes::hostname()[..]]
    );
    assert_eq!(h.worker.counters().delayed_answers.get(), 0);
    assert_eq!(h.conn.timer, Timer::Idle);
    assert_eq!(
        h.conn.deadline(),
        h.worker.clock.now + h.worker.settings.idle_timeout
    );
    assert!(h.conn.is_idle());
}

#[test]
fn shutdown_sends_a_delayed_answer_at_once_and_closes() {
    let mut h = harness();
    h.send(&[&b"GET /who?delay=10s HTTP/1.1\r\nHost: t\r\n\r\n"[..], WHO].concat());
    assert_eq!(h.readable(), Next::Wait);
    // The drain window keeps it: a client testing a timeout during a rollout sees it.
    h.worker.begin_shutdown();
    assert!(!h.client_reads_what_is_there());
    assert_eq!(h.conn.timer, Timer::Delay);
    h.worker.stopping = true;
    assert_eq!(h.conn.on_stop(&mut h.buf, &mut h.worker), Next::Wait);
    let response = &h.responses(1)[0];
    assert!(response.1.contains("\r\nConnection: close\r\n"));
    assert!(
        matches!(h.conn.reading, Reading::Lingering),
        "the request behind it is dropped"
    );
    assert_eq!(h.worker.counters().delayed_answers.get(), 0);
    // Without a delay, shutting down changes nothing by itself.
    let mut idle = harness();
    assert_eq!(
        idle.conn.on_stop(&mut idle.buf, &mut idle.worker),
        Next::Wait
    );
    assert!(idle.conn.is_idle());
}

#[test]
fn a_delay_asked_in_the_drain_window_is_kept_and_its_answer_closes() {
    let mut h = harness();
    h.worker.begin_shutdown();
    h.send(b"GET /who?delay=1500ms HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.conn.timer, Timer::Delay);
    assert!(
        !h.client_reads_what_is_there(),
        "held, not answered at once"
    );
    h.worker.clock.now = h.conn.deadline();
    h.timeout();
    let response = &h.responses(1)[0];
    assert_eq!(response.0, 200);
    assert!(response.1.contains("\r\nConnection: close\r\n"));
}

#[test]
fn closing_a_connection_with_a_delayed_answer_uncounts_it() {
    let mut h = harness();
    h.send(b"GET /who?delay=10s HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    assert_eq!(h.worker.counters().delayed_answers.get(), 1);
    let Harness {
        mut conn,
        mut worker,
        ..
    } = h;
    conn.close(&mut worker);
    assert_eq!(worker.counters().delayed_answers.get(), 0);
}

/// Reads what the client can read now, as text.
fn read_now(h: &mut Harness) -> String {
    h.client_reads_what_is_there();
    String::from_utf8(std::mem::take(&mut h.received)).unwrap()
}

#[test]
fn a_stream_is_a_timer_per_event_and_ends_with_its_last_chunk() {
    let mut h = harness();
    let start = h.worker.clock.now;
    h.send(
        &[
            &b"GET /stream?count=3&interval=2s HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            WHO,
        ]
        .concat(),
    );
    assert_eq!(h.readable(), Next::Wait);
    // The head and the first event at once; the request behind it waits, unanswered.
    let first = read_now(&mut h);
    assert!(first.contains("Transfer-Encoding: chunked\r\n"), "{first}");
    assert_eq!(first.matches("seq=").count(), 1, "{first}");
    assert!(first.contains("\r\n\r\n") && first.contains("seq=1 count=3"));
    assert_eq!(h.conn.timer, Timer::Event);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(2));
    assert_eq!(
        h.worker.take_wake_at(),
        Some(h.conn.deadline()),
        "the worker is told"
    );
    assert!(!h.conn.is_idle());
    // Nothing before the deadline; at it, the next event, and the one after is 2 s later.
    h.worker.clock.now = start + Duration::from_secs(1);
    assert_eq!(h.readable(), Next::Wait);
    assert!(!h.client_reads_what_is_there());
    h.worker.clock.now = start + Duration::from_secs(2);
    assert_eq!(h.timeout(), Next::Wait);
    assert!(read_now(&mut h).contains("seq=2 count=3"));
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(4));
    // Late by 3 s (a busy worker): one event now, the next an interval from now, no burst.
    h.worker.clock.now = start + Duration::from_secs(7);
    assert_eq!(h.timeout(), Next::Wait);
    let last = read_now(&mut h);
    assert!(last.contains("seq=3 count=3"), "{last}");
    // The last event ends the stream: its last chunk, then the request that waited.
    assert!(last.contains("\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"), "{last}");
    assert!(h.conn.is_idle());
    assert_eq!(h.conn.timer, Timer::Idle);
}

#[test]
fn a_late_stream_goes_on_an_interval_after_its_late_event() {
    let mut h = harness();
    let start = h.worker.clock.now;
    h.send(b"GET /stream?count=5&interval=1s HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    read_now(&mut h);
    h.worker.clock.now = start + Duration::from_secs(10);
    assert_eq!(h.timeout(), Next::Wait);
    assert_eq!(
        read_now(&mut h).matches("seq=").count(),
        1,
        "no burst of the missed"
    );
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(11));
}

#[test]
fn a_stream_keeps_its_own_time_when_a_little_late() {
    let mut h = harness();
    let start = h.worker.clock.now;
    h.send(b"GET /stream?count=5&interval=1s HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    read_now(&mut h);
    // 300 ms late: the next event stays on the stream's own time, 2 s from its start.
    h.worker.clock.now = start + Duration::from_millis(1300);
    assert_eq!(h.timeout(), Next::Wait);
    assert!(read_now(&mut h).contains("seq=2 count=5"));
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(2));
    // Late by exactly an interval: the next event is due now, and goes with this one.
    h.worker.clock.now = start + Duration::from_secs(3);
    assert_eq!(h.timeout(), Next::Wait);
    assert_eq!(read_now(&mut h).matches("seq=").count(), 2);
    assert_eq!(h.conn.deadline(), start + Duration::from_secs(4));
}

#[test]
fn a_stream_asked_with_connection_close_closes_after_its_last_chunk() {
    let mut h = harness();
    let start = h.worker.clock.now;
    h.send(b"GET /stream?count=2&interval=1s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    let first = read_now(&mut h);
    assert!(first.contains("Transfer-Encoding: chunked\r\n"), "{first}");
    h.worker.clock.now = start + Duration::from_secs(1);
    assert_eq!(h.timeout(), Next::Close);
    let last = read_now(&mut h);
    assert!(
        last.contains("seq=2 count=2") && last.ends_with("\r\n0\r\n\r\n"),
        "{last:?}"
    );
}

#[test]
fn a_stream_waits_for_a_client_that_does_not_read_then_goes_on() {
    let mut h = harness_with(&Config {
        max_stream_events: 1_000_000,
        ..Config::default()
    });
    small_buffers(&h);
    // No interval: as fast as the client takes them, each due at once; the test plays the
    // worker's scan of due deadlines.
    const COUNT: usize = 100_000;
    h.send(
        format!("GET /stream?count={COUNT}&interval=0ms HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
    );
    let mut next = h.readable();
    let mut turns = 0;
    while next != Next::WaitWritable {
        assert_eq!(next, Next::Wait);
        assert_eq!(h.conn.timer, Timer::Event);
        assert!(h.conn.deadline() <= h.worker.clock.now, "due at once");
        next = h.timeout();
        turns += 1;
        assert!(turns < COUNT, "the client's buffers never filled");
    }
    // What waits for the client is bounded: the limit, and one event.
    assert!(
        h.conn.unsent.len() < OUTPUT_LIMIT + 256,
        "{}",
        h.conn.unsent.len()
    );
    assert_eq!(
        h.conn.timer,
        Timer::Send,
        "the client must take it within the idle timeout"
    );
    // As the client reads, the stream goes on to its end: the writable events its reading
    // brings, and the deadlines, due at once.
    let start = Instant::now();
    while !h.conn.is_idle() {
        assert!(start.elapsed() < LIMIT, "the stream did not end");
        h.client_reads_what_is_there();
        if h.conn.timer == Timer::Event {
            h.timeout();
        } else {
            h.pump(false);
        }
    }
    h.client_reads_what_is_there();
    let text = String::from_utf8_lossy(&h.received).into_owned();
    assert_eq!(text.matches("seq=").count(), COUNT);
    assert!(text.ends_with("\r\n0\r\n\r\n"));
    assert!(h.conn.is_idle());
}

#[test]
fn the_stop_ends_a_stream_with_its_end_event_and_closes() {
    let mut h = harness();
    h.send(b"GET /stream?count=100&interval=1s HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.readable(), Next::Wait);
    read_now(&mut h);
    h.worker.begin_shutdown();
    h.worker.stopping = true;
    assert_ne!(h.conn.on_stop(&mut h.buf, &mut h.worker), Next::Again);
    let end = read_now(&mut h);
    assert!(end.ends_with("\r\nend=stopping\n\r\n0\r\n\r\n"), "{end:?}");
    assert!(matches!(
        h.conn.reading,
        Reading::Done { .. } | Reading::Lingering
    ));
}

#[test]
fn a_download_writes_from_the_shared_bytes_and_keeps_none() {
    let mut h = harness();
    small_buffers(&h);
    h.send(&[&b"GET /data?size=2MiB HTTP/1.1\r\nHost: t\r\n\r\n"[..], WHO].concat());
    let next = h.readable();
    assert!(matches!(next, Next::WaitWritable | Next::Again), "{next:?}");
    assert!(
        h.conn.unsent.is_empty(),
        "a download keeps no copy of what waits"
    );
    assert_eq!(h.conn.timer, Timer::Send);
    // The client reads: the download goes on to its end, then the request behind it.
    assert_eq!(h.pump(false), Next::Wait);
    h.client_reads_what_is_there();
    let head_end = h
        .received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let body = &h.received[head_end..head_end + (2 << 20)];
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, &b)| b == stream::LINE[i % 64])
    );
    let rest = String::from_utf8_lossy(&h.received[head_end + (2 << 20)..]).into_owned();
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(h.conn.is_idle());
}

#[test]
fn a_download_to_a_client_that_reset_closes() {
    let mut h = harness();
    small_buffers(&h);
    h.send(b"GET /data?size=2MiB HTTP/1.1\r\nHost: t\r\n\r\n");
    let next = h.readable();
    assert!(matches!(next, Next::WaitWritable | Next::Again), "{next:?}");
    // The client goes with the download's bytes unread: a reset, and the next write fails.
    reset(&mut h);
    assert_eq!(h.writable(), Next::Close);
}

#[test]
fn a_delay_is_timed_from_when_its_request_was_read_not_from_the_turns_start() {
    let mut h = harness();
    // A turn that began long ago: the delay still lasts as long as asked, from now.
    h.worker.clock.now -= Duration::from_secs(5);
    h.send(b"GET /who?delay=1s HTTP/1.1\r\nHost: t\r\n\r\n");
    let before = Instant::now();
    assert_eq!(h.readable(), Next::Wait);
    assert!(h.conn.deadline() >= before + Duration::from_secs(1));
    assert!(h.conn.deadline() <= Instant::now() + Duration::from_secs(1));
}
