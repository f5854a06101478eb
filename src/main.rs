//! The `visage` binary: parse the command line, load settings, init logs, serve.

use clap::Parser;
use visage::cli::{Cli, Command};

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!(
                "visage: invalid settings: {}",
                visage::vocabulary::ErrorChain(&err)
            );
            return std::process::ExitCode::from(2);
        }
    };
    visage::telemetry::init(settings.server.log_format);
    let outcome = match cli.command.unwrap_or_default() {
        Command::Serve => visage::app::run(settings).await,
        Command::Gc { dry_run } => visage::app::gc(settings, dry_run).await,
    };
    let code = match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %visage::vocabulary::ErrorChain(&err), "visage stopped");
            std::process::ExitCode::FAILURE
        }
    };
    visage::telemetry::flush();
    code
}
