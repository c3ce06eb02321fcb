//! Encodings as the server writes and reads them: header blocks, Go durations, RFC 3339
//! times and base64.

use std::time::Duration;

use serde_json::Value;

/// Unix time at virtual time zero (2026-01-01T00:00:00Z), as the hosts' clocks have it.
pub(super) const EPOCH_OFFSET: Duration = Duration::from_secs(1_767_225_600);
/// Go's zero `time.Time`, as the server writes it for a missing timestamp.
pub(super) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The value of header `name` in a header block (`NATS/1.0\r\nName: value\r\n...`).
pub(super) fn header_value(block: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(block).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// A JSON number of nanoseconds (a Go `time.Duration`) as a duration; negative or absent
/// is zero.
pub(super) fn nanos_of(value: Option<&Value>) -> Duration {
    value
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A Go duration text such as `1.5s`, `100ms`, `2m` (one unit).
pub(super) fn parse_go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(number * scale).ok()
}

/// A duration as Go prints it, for the few server texts that show one (`30s`, `1.5s`).
pub(super) fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Virtual time `at` as the server writes a time: RFC 3339 in UTC with the nanoseconds
/// Go's `RFC3339Nano` keeps (trailing zeros dropped).
pub(super) fn rfc3339(at: Duration) -> String {
    nats_client::rfc3339::format(nats_client::UNIX_EPOCH + EPOCH_OFFSET + at)
}

/// Parses an RFC 3339 time (UTC or with an offset) to virtual time.
pub(super) fn parse_rfc3339(text: &str) -> Option<Duration> {
    let unix = nats_client::rfc3339::parse(text)?.duration_since(nats_client::UNIX_EPOCH).ok()?;
    unix.checked_sub(EPOCH_OFFSET)
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_and_encodings_as_the_server_writes_them() {
        assert_eq!(rfc3339(Duration::ZERO), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(Duration::from_millis(1500)), "2026-01-01T00:00:01.5Z");
        assert_eq!(rfc3339(Duration::from_secs(59 * 86_400 + 3661)), "2026-03-01T01:01:01Z");
        assert_eq!(parse_rfc3339("2026-03-01T01:01:01Z"), Some(Duration::from_secs(59 * 86_400 + 3661)));
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00.25+01:00"), Some(Duration::from_millis(250)));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            header_value(b"NATS/1.0\r\nNats-Msg-Id: x1\r\n\r\n", "Nats-Msg-Id").as_deref(),
            Some("x1")
        );
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
    }
}
