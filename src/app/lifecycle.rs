//! The lifecycle's wiring: the CDN purger every delete path shares, and `visage reconcile`
//! (progress on a terminal, one summary line on stdout, exit 1 when a step failed).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{StartError, open_store, wiring};
use crate::adapters::auth0::Auth0Profiles;
use crate::adapters::cdn::CdnPurger;
use crate::domain::directory::Directory;
use crate::domain::lifecycle::Eraser;
use crate::domain::lifecycle::purge::Purger;
use crate::domain::lifecycle::reconcile::{self as pass, Progress, ReconcileConfig};
use crate::domain::pictures::VariantCache;
use crate::metrics::Metrics;
use crate::ports::CdnPurge;
use crate::settings::Settings;

/// Prefixes without an owner listed one by one on stderr; beyond, a count.
const UNATTRIBUTED_SHOWN: usize = 20;

/// The purger `cdn.purge` names (one that does nothing for `none`).
pub(super) fn purger(settings: &Settings) -> Result<Arc<Purger>, StartError> {
    let cdn =
        CdnPurger::from_settings(&settings.cdn)?.map(|cdn| Arc::new(cdn) as Arc<dyn CdnPurge>);
    Ok(Arc::new(Purger::new(cdn)))
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn advance(&self, gone: usize) {
        self.0.set_message(format!("{gone} gone"));
        self.0.inc(1);
    }
}

/// `visage reconcile [--dry-run]`: asks the Management API about every user with pictures and
/// erases the ones that no longer exist.
pub async fn reconcile(settings: Settings, dry_run: bool) -> Result<(), StartError> {
    if !settings.write_back_enabled() {
        // Not an error: the shipped CronJob and timer run reconcile after gc whether or not the
        // deployment has a Management API client, and without one no user is ever "gone".
        println!(
            "visage reconcile: write-back is off (auth0.management.client_id unset, or dev mode): no Management API to ask; nothing done"
        );
        return Ok(());
    }
    let store = open_store(&settings).await?;
    // The client's own counters; nothing scrapes a command's registry.
    let profiles = Auth0Profiles::from_settings(&settings, &Metrics::new()?)?;
    let directory = Arc::new(Directory::new(wiring::directory(&settings), store.clone()));
    let eraser = Eraser::new(
        store.clone(),
        directory.clone(),
        VariantCache::new(1, Duration::from_secs(1)),
        purger(&settings)?,
    );
    let config = ReconcileConfig {
        pace: Duration::from_secs(1) / settings.reconcile.requests_per_sec.max(1),
        dry_run,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "visage reconcile {bar:30} {pos}/{len} users, {msg} ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let report = pass::reconcile(
        store.as_ref(),
        &directory,
        &profiles,
        &eraser,
        config,
        &Bar(bar.clone()),
    )
    .await?;
    bar.finish_and_clear();
    for prefix in report.unattributed.iter().take(UNATTRIBUTED_SHOWN) {
        eprintln!("visage reconcile: {prefix} holds pictures without an owner record; kept");
    }
    if report.unattributed.len() > UNATTRIBUTED_SHOWN {
        eprintln!(
            "visage reconcile: and {} more such prefixes",
            report.unattributed.len() - UNATTRIBUTED_SHOWN
        );
    }
    let outcome = if dry_run {
        format!("would erase {}", report.gone)
    } else {
        format!("erased {} ({} objects)", report.erased, report.objects)
    };
    println!(
        "visage reconcile: {} users asked, {} gone, {outcome}, {} failed, {} prefixes without an owner in {:.1} s",
        report.users,
        report.gone,
        report.failed,
        report.unattributed.len(),
        started.elapsed().as_secs_f64()
    );
    tracing::info!(?report, dry_run, "reconcile finished");
    if let Some(why) = report.stopped {
        return Err(StartError::ReconcileIncomplete(format!(
            "{why}; stopped early, run reconcile again"
        )));
    }
    if report.failed > 0 {
        return Err(StartError::ReconcileIncomplete(format!(
            "{} users failed; run reconcile again",
            report.failed
        )));
    }
    Ok(())
}
