//! Timestamps: IMF-fixdate for the `Date` header (RFC 9110 §5.6.7, §6.6.1) and the Common Log
//! Format's for the access log. Both are computed once per second per worker, not per request.

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A moment split into calendar fields (UTC).
struct Civil {
    year: u64,
    month: usize, // 1..=12
    day: u64,
    weekday: usize, // 0 = Sunday
    hour: u64,
    minute: u64,
    second: u64,
}

/// Converts seconds since the Unix epoch to a UTC calendar date, after Howard Hinnant's
/// `civil_from_days` (https://howardhinnant.github.io/date_algorithms.html).
fn civil(unix_seconds: u64) -> Civil {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Shift the epoch to 0000-03-01, so that leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    Civil {
        year,
        month: month as usize,
        day,
        weekday: ((days + 4) % 7) as usize, // 1970-01-01 was a Thursday
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

/// Writes the last two decimal digits of `n`.
fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Writes the last four decimal digits of `n`.
fn four_digits(out: &mut [u8], n: u64) {
    two_digits(&mut out[..2], n / 100);
    two_digits(&mut out[2..], n);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`: always 29 bytes.
pub fn http_date(unix_seconds: u64) -> [u8; 29] {
    let c = civil(unix_seconds);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[c.weekday]);
    two_digits(&mut out[5..7], c.day);
    out[8..11].copy_from_slice(MONTHS[c.month - 1]);
    four_digits(&mut out[12..16], c.year);
    two_digits(&mut out[17..19], c.hour);
    two_digits(&mut out[20..22], c.minute);
    two_digits(&mut out[23..25], c.second);
    out
}

/// `06/Nov/1994:08:49:37 +0000`: always 26 bytes.
pub fn log_date(unix_seconds: u64) -> [u8; 26] {
    let c = civil(unix_seconds);
    let mut out = *b"01/Jan/1970:00:00:00 +0000";
    two_digits(&mut out[..2], c.day);
    out[3..6].copy_from_slice(MONTHS[c.month - 1]);
    four_digits(&mut out[7..11], c.year);
    two_digits(&mut out[12..14], c.hour);
    two_digits(&mut out[15..17], c.minute);
    two_digits(&mut out[18..20], c.second);
    out
}

/// `1994-11-06T08:49:37.123Z` (RFC 3339, UTC, milliseconds): always 24 bytes. What a stream's
/// events carry, so that a client sees the gaps between them.
pub fn iso8601(unix_millis: u64) -> [u8; 24] {
    let c = civil(unix_millis / 1000);
    let mut out = *b"1970-01-01T00:00:00.000Z";
    four_digits(&mut out[..4], c.year);
    two_digits(&mut out[5..7], c.month as u64);
    two_digits(&mut out[8..10], c.day);
    two_digits(&mut out[11..13], c.hour);
    two_digits(&mut out[14..16], c.minute);
    two_digits(&mut out[17..19], c.second);
    let millis = unix_millis % 1000;
    out[20] = b'0' + (millis / 100) as u8;
    two_digits(&mut out[21..23], millis);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_to_the_millisecond() {
        assert_eq!(&iso8601(784_111_777_123), b"1994-11-06T08:49:37.123Z");
        assert_eq!(&iso8601(0), b"1970-01-01T00:00:00.000Z");
        assert_eq!(&iso8601(951_782_400_007), b"2000-02-29T00:00:00.007Z");
        assert_eq!(&iso8601(253_402_300_799_999), b"9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc_9110_example() {
        // RFC 9110 §5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT"
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&log_date(784_111_777), b"06/Nov/1994:08:49:37 +0000");
    }

    #[test]
    fn epoch_leap_days_and_far_future() {
        assert_eq!(&http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&http_date(1_709_251_199), b"Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(&http_date(4_102_444_800), b"Fri, 01 Jan 2100 00:00:00 GMT");
        assert_eq!(
            &http_date(253_402_300_799),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn every_day_for_thirty_years_is_well_formed_and_increasing() {
        let mut previous = (0, 0, 0);
        for day in 0..(30 * 366) {
            let c = civil(day * 86_400 + 86_399);
            assert!((1..=12).contains(&c.month) && (1..=31).contains(&c.day));
            let now = (c.year, c.month, c.day);
            assert!(now > previous, "{now:?} after {previous:?}");
            assert_eq!(c.weekday, ((day + 4) % 7) as usize);
            previous = now;
        }
    }
}
