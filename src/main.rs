//! The `visage` binary: parse the command line, load settings, run the command (serve by default).

use std::future::Future;
use std::process::ExitCode;

use clap::Parser;
use visage::app::StartError;
use visage::cli::{Cli, Command};
use visage::settings::LogFormat;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.clone().unwrap_or_default();
    let settings = match cli.settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!(
                "visage: invalid settings: {}",
                visage::vocabulary::ErrorChain(&err)
            );
            // A health check answers 0 or 1 only: container runtimes reserve other statuses.
            let code = if matches!(command, Command::Healthcheck { .. }) {
                1
            } else {
                2
            };
            return ExitCode::from(code);
        }
    };
    let format = settings.server.log_format;
    match command {
        // Boxed: the server's future is large (every service's setup).
        Command::Serve => logged(format, Box::pin(visage::app::run(settings))).await,
        Command::Gc { dry_run } => logged(format, visage::app::gc(settings, dry_run)).await,
        Command::Import {
            dry_run,
            allow_hosts,
            concurrency,
            file,
        } => {
            let options = visage::app::ImportOptions {
                file,
                allow_hosts,
                concurrency: usize::from(concurrency),
                dry_run,
            };
            visage::telemetry::init_with_default(format, "warn");
            logged(format, visage::app::import(settings, options)).await
        }
        Command::Reconcile { dry_run } => {
            logged(format, visage::app::reconcile(settings, dry_run)).await
        }
        // No log writer: a health check runs every few seconds and prints one line.
        Command::Healthcheck { ready } => healthcheck(&settings, ready),
    }
}

/// Runs `work` with logs on, and flushes them before the exit status.
async fn logged(format: LogFormat, work: impl Future<Output = Result<(), StartError>>) -> ExitCode {
    visage::telemetry::init(format);
    let code = match work.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %visage::vocabulary::ErrorChain(&err), "visage stopped");
            ExitCode::FAILURE
        }
    };
    visage::telemetry::flush();
    code
}

fn healthcheck(settings: &visage::Settings, ready: bool) -> ExitCode {
    match visage::healthcheck::check(settings, ready) {
        Ok(seen) => {
            println!(
                "visage healthcheck: {} at {} answered {}",
                seen.path, seen.addr, seen.status
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("visage healthcheck: {err}");
            ExitCode::FAILURE
        }
    }
}
