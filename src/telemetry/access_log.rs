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

use super::access_line::{AccessRecord, format_line};
use crate::settings::LogFormat;

/// Lines waiting for the writer beyond which requests wait (the sink is stuck or too slow).
pub(crate) const MAX_PENDING: usize = 8 * 1024 * 1024;
/// Batch size at which the request that reached it writes the batch.
pub(crate) const WRITE_AT: usize = 64 * 1024;
/// The longest a line waits for the batch to fill: the flusher's period.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The request log's writer: a shared batch, the sink, and the thread that flushes leftovers.
pub(crate) struct AccessLog {
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
    pub(crate) fn start(format: LogFormat, sink: Box<dyn Write + Send>) -> Self {
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
    pub(crate) fn install(format: LogFormat) {
        let _ = GLOBAL.get_or_init(|| Self::start(format, Box::new(std::io::stderr())));
    }

    /// The process's request log, when installed.
    pub(crate) fn global() -> Option<&'static Self> {
        GLOBAL.get()
    }

    /// Whether request lines are wanted: `RUST_LOG` at `info` for `visage::access` (the default).
    pub(crate) fn enabled() -> bool {
        tracing::enabled!(target: "visage::access", tracing::Level::INFO)
    }

    /// Appends one request's line, and writes the batch when this line filled it (unless
    /// another request is writing one). Waits only when the sink is [`MAX_PENDING`] bytes behind.
    pub(crate) fn record(&self, record: &AccessRecord<'_>) {
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
    pub(crate) fn close(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord<'static> {
        AccessRecord {
            request_id: "abc\"1",
            method: "GET",
            route: "/avatar/{file}",
            status: 200,
            latency: Duration::from_micros(1_234),
            failure: None,
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
        log.record(&record());
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
                            ..record()
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
