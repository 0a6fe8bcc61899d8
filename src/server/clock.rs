//! A worker's clock: one read per turn of its loop. The wall clock is read again only when the
//! monotonic one says its second may have changed, and then the `Date` value and the access
//! log's date are renewed, so neither is ever more than a second stale.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http::date::{http_date, log_date};

pub(crate) struct Clock {
    pub now: Instant,
    /// When the wall clock's next second is due, by the monotonic clock.
    next_second: Instant,
    unix_second: u64,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    pub date: [u8; 29],
    /// `06/Nov/1994:08:49:37 +0000`
    pub log_date: [u8; 26],
}

impl Clock {
    pub fn new() -> Clock {
        let now = Instant::now();
        let mut clock = Clock {
            now,
            next_second: now,
            unix_second: u64::MAX,
            date: [0; 29],
            log_date: [0; 26],
        };
        clock.read_wall_clock();
        clock
    }

    /// Reads the monotonic clock again within a turn, for a deadline that must not start
    /// early: a delay, whose request may have been read long after the turn began. (Never back:
    /// the unit tests set `now` ahead by hand.)
    pub fn now_fresh(&mut self) -> Instant {
        self.now = self.now.max(Instant::now());
        self.now
    }

    /// Reads the time; returns true when the wall clock's second has changed.
    pub fn tick(&mut self) -> bool {
        self.now = Instant::now();
        self.now >= self.next_second && self.read_wall_clock()
    }

    fn read_wall_clock(&mut self) -> bool {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let to_next =
            Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
        self.next_second = self.now + to_next;
        let second = since_epoch.as_secs();
        if second == self.unix_second {
            return false;
        }
        self.unix_second = second;
        self.date = http_date(second);
        self.log_date = log_date(second);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_renews_the_date_when_the_second_changes() {
        let mut clock = Clock::new();
        let first = clock.date;
        assert!(first.ends_with(b" GMT"));
        // Within the same second nothing changes; across a second boundary the date does.
        let until_next = clock.next_second.saturating_duration_since(Instant::now());
        std::thread::sleep(until_next + Duration::from_millis(5));
        assert!(clock.tick(), "the second changed");
        assert_ne!(clock.date, first);
        assert!(!clock.tick(), "still the same second");
    }
}
