//! RFC 3339 timestamps (UTC) to and from [`SystemTime`], as NATS carries them: JetStream's
//! message and object times, the services' `started`. Sans-IO: the caller supplies the time
//! (on a client, [`Client::system_time`](crate::Client::system_time)).
//!
//! Written here rather than taken from a date-time crate: NATS needs one parse and two
//! formats, a few dozen lines around the civil-from-days algorithm.
//!
//! ```
//! use nats_client::rfc3339;
//!
//! let time = rfc3339::parse("2023-11-15T00:13:20.5+02:00").unwrap();
//! assert_eq!(rfc3339::format(time), "2023-11-14T22:13:20.5Z");
//! assert_eq!(rfc3339::format_micros(time), "2023-11-14T22:13:20.500000Z");
//! ```

use std::time::Duration;

use crate::time::{SystemTime, UNIX_EPOCH};

/// Formats a time as Go's `time.RFC3339Nano` in UTC: nanoseconds with trailing zeros
/// dropped, no fraction when it is zero (`2024-05-01T12:30:00.1234Z`), as nats-server and
/// nats.go write message and object times. Times before 1970 are formatted as the epoch.
pub fn format(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let mut out = format_seconds(since.as_secs());
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        let fraction = std::format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Formats a time as RFC 3339 in UTC with microseconds, always six digits:
/// `2024-05-01T12:30:00.123456Z`.
///
/// The services' `started` takes this form because nats-py parses it with
/// `%Y-%m-%dT%H:%M:%S.%fZ`, which needs a fraction of one to six digits; nats.go parses any
/// RFC 3339 time. Times before 1970 are formatted as the epoch.
pub fn format_micros(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let mut out = format_seconds(since.as_secs());
    out.push_str(&std::format!(".{:06}Z", since.subsec_micros()));
    out
}

/// `YYYY-MM-DDTHH:MM:SS` of a count of seconds since the epoch.
fn format_seconds(secs: u64) -> String {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    std::format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Parses an RFC 3339 time (`Z` or a `±hh:mm` offset, any number of fractional digits,
/// nanoseconds kept). Returns `None` for anything else, including times before 1970.
pub fn parse(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in fraction.bytes().take(digits).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        rest = &fraction[digits..];
    }
    let offset: i64 = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
            let minutes = value(digits[0], digits[1]) * 60 + value(digits[2], digits[3]);
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let local = i64::try_from(days.checked_mul(86_400)? + hour * 3600 + minute * 60 + second).ok()?;
    let utc = u64::try_from(local - offset).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(utc, nanos))
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm for the
/// proleptic Gregorian calendar, on unsigned days (no dates before the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`]; `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn formats_utc_with_microseconds() {
        assert_eq!(format_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_micros(at(951_782_400, 0)), "2000-02-29T00:00:00.000000Z");
        assert_eq!(format_micros(at(1_700_000_000, 123_456_789)), "2023-11-14T22:13:20.123456Z");
        assert_eq!(format_micros(at(4_102_444_799, 999_999_999)), "2099-12-31T23:59:59.999999Z");
        assert_eq!(format_micros(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn formats_like_go_rfc3339_nano() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(format(at(1_767_225_600, 100_000_000)), "2026-01-01T00:00:00.1Z");
        assert_eq!(
            format(parse("2024-02-29T23:59:59.123456789+01:00").unwrap()),
            "2024-02-29T22:59:59.123456789Z"
        );
        for day in (0..365 * 200).step_by(11) {
            let time = at(day * 86_400 + 59, 7);
            assert_eq!(parse(&format(time)), Some(time), "day {day}");
        }
    }

    #[test]
    fn round_trips_every_day_of_several_years() {
        for day in (0..365 * 200).step_by(7) {
            let time = at(day * 86_400 + 3723, 5_000);
            assert_eq!(parse(&format_micros(time)), Some(time), "day {day}");
        }
    }

    #[test]
    fn parses_what_other_clients_write() {
        // nats.go: RFC 3339 with nanoseconds, trailing zeros trimmed or no fraction at all.
        assert_eq!(parse("2023-11-14T22:13:20.123456789Z"), Some(at(1_700_000_000, 123_456_789)));
        assert_eq!(parse("2023-11-14T22:13:20Z"), Some(at(1_700_000_000, 0)));
        // nats-py: milliseconds.
        assert_eq!(parse("2023-11-14T22:13:20.123Z"), Some(at(1_700_000_000, 123_000_000)));
        // Offsets; digits beyond nanoseconds are ignored.
        assert_eq!(parse("2023-11-15T00:13:20+02:00"), Some(at(1_700_000_000, 0)));
        assert_eq!(parse("2023-11-14T21:13:20-01:00"), Some(at(1_700_000_000, 0)));
        assert_eq!(parse("2023-11-14T22:13:20.1234567891Z"), Some(at(1_700_000_000, 123_456_789)));
    }

    #[test]
    fn rejects_malformed_times_without_panicking() {
        for bad in [
            "",
            "2023",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "2023-02-29T22:13:20Z",
            "2023-11-14T24:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0200",
            "2023-11-14T22:13:20ZZ",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "2023-1a-14T22:13:20Z",
            "2023-11-14T22:13:2éZ",
            "ééééééééééééééééééééé",
            "+023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
