//! `visage import`: reads the input, builds the upload's own parts with the import's longer
//! write-back bound, runs users `--concurrency` at a time, prints one JSON line per user on
//! stdout and a progress bar (a terminal only) and the summary on stderr. SIGINT or SIGTERM stops
//! taking new users and lets the ones under way finish, so none is left half imported.

mod input;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use input::InputError;

use super::parts::UploadParts;
use super::{StartError, wiring};
use crate::adapters::source_fetch::SourceFetcher;
use crate::domain::import::{Candidate, ImportService, Outcome, Status, Summary};
use crate::metrics::Metrics;
use crate::ports::source::{AllowedHosts, BadHostPattern};
use crate::settings::Settings;

/// The command line's choices (`visage import --help`).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file: PathBuf,
    pub allow_hosts: Vec<String>,
    pub concurrency: usize,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    AllowHost(#[from] BadHostPattern),
    #[error("cannot set up the picture fetcher")]
    Fetcher(#[source] reqwest::Error),
    #[error(
        "import.write_back_timeout_secs ({bound} s) must be under storage.cleanup_grace_secs ({grace} s)"
    )]
    Grace { bound: u64, grace: u64 },
    #[error("{failed} of {users} users failed (see their lines); a rerun retries them")]
    UsersFailed { failed: usize, users: usize },
    #[error("stopped by a signal after {done} of {users} users; a rerun resumes")]
    Interrupted { done: usize, users: usize },
}

/// Runs the import; `Err(ImportError::UsersFailed)` when any user failed (exit status 1).
pub async fn import(settings: Settings, options: ImportOptions) -> Result<(), StartError> {
    let started = Instant::now();
    let allowed = AllowedHosts::parse(&options.allow_hosts).map_err(ImportError::from)?;
    let candidates =
        input::read(&options.file, wiring::picture_field(&settings)).map_err(ImportError::from)?;
    let settings = with_import_bound(settings)?;
    let metrics = Metrics::new()?;
    let parts = UploadParts::build(&settings, &metrics).await?;
    let fetcher = SourceFetcher::new(
        allowed,
        settings.limits.max_upload_bytes,
        Duration::from_secs(settings.import.fetch_timeout_secs),
    )
    .map_err(ImportError::Fetcher)?;
    let service = Arc::new(ImportService::new(
        wiring::import(&settings, options.dry_run),
        parts.uploads,
        Arc::new(fetcher),
        parts.store,
        parts.runner,
    ));
    let users = candidates.len();
    tracing::info!(users, dry_run = options.dry_run, file = %options.file.display(), "import started");
    let stopping = stop_on_signal();
    let bar = progress_bar(users);
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    let stop = stopping.clone();
    let mut outcomes = futures_util::stream::iter(candidates)
        .take_while(move |_| std::future::ready(!stop.load(Ordering::SeqCst)))
        .map(|candidate: Candidate| {
            let service = service.clone();
            async move { service.import(&candidate).await }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(outcome) = outcomes.next().await {
        summary.add(&outcome);
        bar.suspend(|| print_line(&outcome));
        if outcome.status == Status::Failed {
            bar.set_message(format!("{} failed", summary.failed_total()));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let per_minute = summary.users() as f64 * 60.0 / elapsed.max(0.001);
    let dry = if options.dry_run { " (dry run)" } else { "" };
    eprintln!(
        "visage import{dry}: {} users in {elapsed:.1} s ({per_minute:.0} users/min): {summary}",
        summary.users()
    );
    tracing::info!(%summary, elapsed_secs = elapsed, "import finished");
    if stopping.load(Ordering::SeqCst) && summary.users() < users {
        return Err(ImportError::Interrupted {
            done: summary.users(),
            users,
        }
        .into());
    }
    match summary.failed_total() {
        0 => Ok(()),
        failed => Err(ImportError::UsersFailed { failed, users }.into()),
    }
}

/// The settings the import's parts are built from: the write-back may wait out the Management
/// API's rate limit for `import.write_back_timeout_secs` (never less than an upload's bound).
fn with_import_bound(mut settings: Settings) -> Result<Settings, ImportError> {
    let management = &mut settings.auth0.management;
    management.timeout_secs = management
        .timeout_secs
        .max(settings.import.write_back_timeout_secs);
    let (bound, grace) = (management.timeout_secs, settings.storage.cleanup_grace_secs);
    if settings.write_back_enabled() && bound >= grace {
        return Err(ImportError::Grace { bound, grace });
    }
    Ok(settings)
}

/// One JSON line per user; a closed stdout (`| head`) ends nothing but the lines.
fn print_line(outcome: &Outcome) {
    if let Ok(line) = serde_json::to_string(outcome) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Drawn on stderr only when it is a terminal (indicatif hides it otherwise).
fn progress_bar(users: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(users as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} users, {per_sec}, ETA {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Set on the first SIGINT or SIGTERM; a second one exits at once (status 130).
fn stop_on_signal() -> Arc<AtomicBool> {
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = stopping.clone();
    actix_web::rt::spawn(async move {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::warn!(error = %err, "no SIGTERM handler; SIGINT still stops the import");
                return;
            }
        };
        for _ in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            if flag.swap(true, Ordering::SeqCst) {
                eprintln!("visage import: stopped at once");
                std::process::exit(130);
            }
            eprintln!("visage import: stopping; users under way finish (again to stop at once)");
        }
    });
    stopping
}
