//! The request log: one line per request, written without `tracing`'s formatter.
//!
//! Most traffic is cached `<img src>` hits that take a few microseconds; formatting each line
//! through the JSON layer (a span, its fields, an event, a channel message and a `write(2)` per
//! line) cost about a third of that. Here a request writes its fields straight into a reused
//! per-thread buffer and appends the line to a shared batch under a short lock. As nginx's
//! `access_log … buffer= flush=`: the request whose line fills the batch to [`WRITE_AT`] writes it
//! (one `write(2)` of some 64 KiB, a few every second at tens of thousands of requests a
//! second), and a background flusher writes what is left every [`FLUSH_EVERY`]. No thread is
//! woken per batch: a writer thread woken every few milliseconds took the served core from the
//! workers when pinned, which showed in p99. Never lossy: if the sink falls more than
//! [`MAX_PENDING`] bytes behind, requests wait for it instead of dropping lines; a request waits
//! on I/O only for the write its own line triggered, and never for another's (the sink is only
//! tried, never waited for, by requests).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::settings::LogFormat;

/// Lines waiting for the writer beyond which requests wait (the sink is stuck or too slow).
pub const MAX_PENDING: usize = 8 * 1024 * 1024;
/// Batch size at which the request that reached it writes the batch.
pub const WRITE_AT: usize = 64 * 1024;
/// The longest a line waits for the batch to fill: the flusher's period.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// One served request, as the log line shows it.
pub struct AccessRecord<'a> {
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
pub struct Failure {
    pub code: &'static str,
    pub cause: Option<String>,
}

/// The request log's writer: a shared batch, the sink, and the thread that flushes leftovers.
pub struct AccessLog {
    shared: Arc<Shared>,
    format: LogFormat,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

/// Lock order: a request holds `pending` and only *tries* `sink`; the flusher takes `sink`
/// first, then `pending`. Whoever holds `sink` took the oldest lines, so batches reach the sink
/// in order, and no one waits for `sink` while holding `pending`.
struct Shared {
    pending: Mutex<Pending>,
    sink: Mutex<Box<dyn Write + Send>>,
    /// The flusher sleeps here between ticks; `close` wakes it.
    tick: Condvar,
    /// Requests wait here while more than `MAX_PENDING` bytes are pending.
    drained: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

thread_local! {
    /// The line being formatted: reused by every request of this worker thread.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
    /// An empty batch buffer swapped in when this thread writes a batch, so the shared one
    /// never starts from zero capacity.
    static SPARE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(WRITE_AT * 2));
}

static GLOBAL: OnceLock<AccessLog> = OnceLock::new();

fn lock(shared: &Shared) -> MutexGuard<'_, Pending> {
    shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Writes one batch and empties it; a failing sink (stderr closed) cannot be reported anywhere:
/// keep serving. A buffer that grew while the sink lagged goes back to its usual size.
fn write_batch(sink: &mut dyn Write, batch: &mut Vec<u8>) {
    let _ = sink.write_all(batch).and_then(|()| sink.flush());
    batch.clear();
    batch.shrink_to(WRITE_AT * 2);
}

impl AccessLog {
    /// A log writing to `sink`, with a background flusher.
    pub fn start(format: LogFormat, sink: Box<dyn Write + Send>) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            sink: Mutex::new(sink),
            tick: Condvar::new(),
            drained: Condvar::new(),
        });
        let background = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(WRITE_AT * 2);
                loop {
                    let closed = {
                        let pending = lock(&background);
                        let (pending, _) = background
                            .tick
                            .wait_timeout_while(pending, FLUSH_EVERY, |p| !p.closed)
                            .unwrap_or_else(PoisonError::into_inner);
                        pending.closed
                    };
                    // `sink` before `pending` (see `Shared`): waits for a request's write to end.
                    let mut sink = background
                        .sink
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    std::mem::swap(&mut batch, &mut lock(&background).lines);
                    background.drained.notify_all();
                    if !batch.is_empty() {
                        write_batch(&mut **sink, &mut batch);
                    }
                    if closed {
                        return;
                    }
                }
            })
            .ok();
        Self {
            shared,
            format,
            flusher: Mutex::new(flusher),
        }
    }

    /// Installs the process's request log once (later calls keep the first).
    pub fn install(format: LogFormat) {
        let _ = GLOBAL.get_or_init(|| Self::start(format, Box::new(std::io::stderr())));
    }

    /// The process's request log, when installed.
    pub fn global() -> Option<&'static Self> {
        GLOBAL.get()
    }

    /// Whether request lines are wanted: `RUST_LOG` at `info` for `visage::access` (the default).
    pub fn enabled() -> bool {
        tracing::enabled!(target: "visage::access", tracing::Level::INFO)
    }

    /// Appends one request's line, and writes the batch when this line filled it (unless
    /// another request is writing one). Waits only when the sink is [`MAX_PENDING`] bytes behind.
    pub fn record(&self, record: &AccessRecord<'_>) {
        LINE.with_borrow_mut(|line| {
            line.clear();
            format_line(line, self.format, SystemTime::now(), record);
            let mut pending = lock(&self.shared);
            while pending.lines.len() > MAX_PENDING && !pending.closed {
                pending = self
                    .shared
                    .drained
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.closed {
                return;
            }
            pending.lines.extend_from_slice(line);
            if pending.lines.len() < WRITE_AT {
                return;
            }
            let mut sink = match self.shared.sink.try_lock() {
                Ok(sink) => sink,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                // Another request or the flusher is writing; these lines go with the next batch.
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            SPARE.with_borrow_mut(|batch| {
                std::mem::swap(batch, &mut pending.lines);
                drop(pending);
                write_batch(&mut **sink, batch);
            });
            drop(sink);
            self.shared.drained.notify_all();
        });
    }

    /// Writes out every pending line and stops the writer; later records are dropped (the
    /// process is exiting).
    pub fn close(&self) {
        lock(&self.shared).closed = true;
        self.shared.tick.notify_one();
        self.shared.drained.notify_all();
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// One line, JSON (the fields `tracing`'s JSON layer wrote before) or text.
pub fn format_line(
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

    /// A sink tests can read while the log writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_lone_line_is_written_by_the_flusher_without_close() {
        let sink = Shared::default();
        let log = AccessLog::start(LogFormat::Json, Box::new(sink.clone()));
        log.record(&record(None));
        let deadline = std::time::Instant::now() + FLUSH_EVERY * 20;
        while sink.0.lock().expect("sink").is_empty() {
            assert!(std::time::Instant::now() < deadline, "never flushed");
            std::thread::sleep(FLUSH_EVERY / 4);
        }
        let written = sink.0.lock().expect("sink").clone();
        assert_eq!(
            written
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            1
        );
        log.close();
    }

    #[test]
    fn every_line_reaches_the_sink_in_order_and_close_flushes() {
        let sink = Shared::default();
        let log = Arc::new(AccessLog::start(LogFormat::Json, Box::new(sink.clone())));
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        let id = format!("{thread}-{n}");
                        log.record(&AccessRecord {
                            request_id: &id,
                            ..record(None)
                        });
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("recorder");
        }
        log.close();
        let written = sink.0.lock().expect("sink").clone();
        let mut next = [0usize; 4];
        for line in written.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line: serde_json::Value = serde_json::from_slice(line).expect("JSON line");
            let id = line["request_id"].as_str().expect("id");
            let (thread, n) = id.split_once('-').expect("thread-n");
            let thread: usize = thread.parse().expect("thread");
            assert_eq!(
                n.parse::<usize>().expect("n"),
                next[thread],
                "order of {thread}"
            );
            next[thread] += 1;
        }
        assert_eq!(next, [5_000; 4], "every line written once");
    }
}
