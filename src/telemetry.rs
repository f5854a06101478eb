//! Structured logs with `tracing`; `RUST_LOG` filters (default `info`).
//!
//! Lines are written by a background thread (`tracing_appender::non_blocking`), so a request
//! never waits on stderr; nothing is dropped (the writer blocks only when its buffer is full).
//! The one line per request has its own cheaper writer, [`access_log`], under the same
//! `RUST_LOG` filter (target `visage::access`).

pub(crate) mod access_line;
pub(crate) mod access_log;

use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Kept until [`flush`]: dropping it writes out what is still buffered.
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// [`init`] with another filter than `info` when `RUST_LOG` is unset (`visage import` logs
/// warnings only: its stdout already has a line per user).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colour codes only for a person at a terminal, never in files or log collectors.
        .with_ansi(std::io::stderr().is_terminal());
    let installed = if format == LogFormat::Json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            // The current span already carries request id and route; the list would repeat it.
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        if let Ok(mut slot) = WRITER.lock() {
            *slot = Some(guard);
        }
        access_log::AccessLog::install(format);
    }
}

/// Writes out buffered log lines; call once before the process exits.
pub fn flush() {
    if let Some(log) = access_log::AccessLog::global() {
        log.close();
    }
    if let Ok(mut slot) = WRITER.lock() {
        slot.take();
    }
}
