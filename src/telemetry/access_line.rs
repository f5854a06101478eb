//! One request-log line, formatted by hand: JSON (the fields `tracing`'s JSON layer wrote) or
//! text, into a reused buffer (`core::fmt` cost more than the rest of a cache hit).

use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::settings::LogFormat;

/// One served request, as the log line shows it.
pub(crate) struct AccessRecord<'a> {
    pub request_id: &'a str,
    pub method: &'static str,
    pub route: &'a str,
    pub status: u16,
    pub latency: Duration,
    /// For a failed request: the contract's error code and the underlying cause.
    pub failure: Option<&'a Failure>,
}

/// Why a request failed (5xx): kept in the response's extensions by the error mapping, written
/// in the request's own log line so the cause and the request id are never apart.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub code: &'static str,
    pub cause: Option<String>,
}

/// One line, JSON (the fields `tracing`'s JSON layer wrote before) or text.
pub(crate) fn format_line(
    out: &mut Vec<u8>,
    format: LogFormat,
    now: SystemTime,
    record: &AccessRecord<'_>,
) {
    let micros = u64::try_from(record.latency.as_micros()).unwrap_or(u64::MAX);
    let (ms, frac) = (micros / 1000, micros % 1000);
    match format {
        LogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            write_timestamp(out, now);
            out.extend_from_slice(
                b"\",\"level\":\"INFO\",\"target\":\"visage::access\",\"message\":\"request served\",\"request_id\":",
            );
            write_json_string(out, record.request_id);
            out.extend_from_slice(b",\"method\":\"");
            out.extend_from_slice(record.method.as_bytes());
            out.extend_from_slice(b"\",\"route\":");
            write_json_string(out, record.route);
            out.extend_from_slice(b",\"status\":");
            write_padded(out, u64::from(record.status), 1);
            out.extend_from_slice(b",\"latency_ms\":");
            write_latency(out, ms, frac);
            if let Some(failure) = record.failure {
                out.extend_from_slice(b",\"error\":\"");
                out.extend_from_slice(failure.code.as_bytes());
                out.push(b'"');
                if let Some(cause) = &failure.cause {
                    out.extend_from_slice(b",\"cause\":");
                    write_json_string(out, cause);
                }
            }
            out.extend_from_slice(b"}\n");
        }
        LogFormat::Text => {
            write_timestamp(out, now);
            out.extend_from_slice(b"  INFO visage::access: request served request_id=");
            out.extend_from_slice(record.request_id.as_bytes());
            out.extend_from_slice(b" method=");
            out.extend_from_slice(record.method.as_bytes());
            out.extend_from_slice(b" route=");
            out.extend_from_slice(record.route.as_bytes());
            out.extend_from_slice(b" status=");
            write_padded(out, u64::from(record.status), 1);
            out.extend_from_slice(b" latency_ms=");
            write_latency(out, ms, frac);
            if let Some(failure) = record.failure {
                out.extend_from_slice(b" error=");
                out.extend_from_slice(failure.code.as_bytes());
                if let Some(cause) = &failure.cause {
                    out.extend_from_slice(b" cause=");
                    write_json_string(out, cause);
                }
            }
            out.push(b'\n');
        }
    }
}

/// Milliseconds with three decimals: `ms.frac`.
fn write_latency(out: &mut Vec<u8>, ms: u64, frac: u64) {
    write_padded(out, ms, 1);
    out.push(b'.');
    write_padded(out, frac, 3);
}

/// RFC 3339 in UTC with microseconds, as `tracing` writes it: `2026-11-27T11:03:45.129894Z`.
fn write_timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    for (value, width, separator) in [
        (year, 4, b'-'),
        (month, 2, b'-'),
        (day, 2, b'T'),
        (of_day / 3600, 2, b':'),
        (of_day / 60 % 60, 2, b':'),
        (of_day % 60, 2, b'.'),
        (u64::from(since_epoch.subsec_micros()), 6, b'Z'),
    ] {
        write_padded(out, value, width);
        out.push(separator);
    }
}

/// `value` in decimal, zero-padded to `width` digits (`core::fmt` costs more than the line).
fn write_padded(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while value > 0 || at == digits.len() {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    let start = at.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[start..]);
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text.as_bytes()[start..index]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&text.as_bytes()[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(failure: Option<&Failure>) -> AccessRecord<'_> {
        AccessRecord {
            request_id: "abc\"1",
            method: "GET",
            route: "/avatar/{file}",
            status: 502,
            latency: Duration::from_micros(1_234),
            failure,
        }
    }

    #[test]
    fn a_json_line_is_json_with_every_field() {
        let failure = Failure {
            code: "upstream_unavailable",
            cause: Some("connect:\n refused \u{1}".into()),
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_779_825_129_894);
        let mut out = Vec::new();
        format_line(&mut out, LogFormat::Json, at, &record(Some(&failure)));
        assert_eq!(out.last(), Some(&b'\n'));
        let line: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        assert_eq!(line["timestamp"], "2026-11-27T11:43:45.129894Z");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request served");
        assert_eq!(line["request_id"], "abc\"1");
        assert_eq!(line["method"], "GET");
        assert_eq!(line["route"], "/avatar/{file}");
        assert_eq!(line["status"], 502);
        assert_eq!(line["latency_ms"], 1.234);
        assert_eq!(line["error"], "upstream_unavailable");
        assert_eq!(line["cause"], "connect:\n refused \u{1}");
    }

    #[test]
    fn numbers_are_padded_and_never_cut() {
        for (value, width, expected) in [
            (0, 1, "0"),
            (7, 3, "007"),
            (1234, 2, "1234"),
            (u64::MAX, 1, "18446744073709551615"),
        ] {
            let mut out = Vec::new();
            write_padded(&mut out, value, width);
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
    }

    #[test]
    fn dates_follow_the_calendar() {
        for (secs, expected) in [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000Z"),
            (4_107_542_399, "2100-02-28T23:59:59.000000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000000Z"),
        ] {
            let mut out = Vec::new();
            write_timestamp(&mut out, SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
    }
}
