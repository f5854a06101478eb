//! The command line: `visage [serve | gc [--dry-run] | reconcile [--dry-run] | import … | healthcheck [--ready]] [--config FILE] [--dev]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::settings::{Settings, SettingsError};

/// visage: avatars for apps that sign users in with Auth0 (uploads, initials, a Gravatar proxy).
///
/// Settings come from config/default.toml (compiled in), then --config FILE, then environment
/// variables VISAGE__SECTION__KEY (e.g. VISAGE__STORAGE__BACKEND=s3).
#[derive(Debug, Parser)]
#[command(name = "visage", version, about, long_about)]
pub struct Cli {
    /// A TOML file whose keys override the defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Dev mode: uploads need no token (loopback only; see the README).
    #[arg(long, global = true)]
    pub dev: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Default, Clone, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    #[default]
    Serve,
    /// Delete replaced pictures older than storage.cleanup_grace_secs that no upload collected
    /// (every user's newest picture stays); safe to run while instances serve, e.g. daily.
    Gc {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Ask the Auth0 Management API about every user with pictures (reconcile.requests_per_sec,
    /// 429s honoured) and erase the pictures, records and email links of the users that no
    /// longer exist, then purge their CDN tags; the safety net for deletions the hook missed.
    /// Needs auth0.management.client_id with read:users. Progress on a terminal, a summary on
    /// stdout, exit 1 when a step failed; e.g. daily, after gc.
    Reconcile {
        /// Ask and count, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Ask this instance's /healthz (or /readyz) at server.bind; exit 0 when it answers 2xx,
    /// else 1. For container health checks in images without a shell or curl.
    Healthcheck {
        /// Ask /readyz (storage answers) instead of /healthz (the process serves).
        #[arg(long)]
        ready: bool,
    },
    /// Bring the pictures users already have: each user's picture from an Auth0 user export
    /// (the users-exports job's file: JSON Lines or a JSON array, gzipped or not) or a CSV with
    /// the header user_id,source goes through the upload pipeline and the write-back. One JSON
    /// line per user on stdout, a summary on stderr; exit 1 when any user failed. A rerun skips
    /// the users already done.
    Import {
        /// Fetch and check every picture, but store nothing and write nothing back.
        #[arg(long)]
        dry_run: bool,
        /// A host pictures may be fetched from, over HTTPS (plain HTTP only for a loopback
        /// host): HOST (any port), HOST:PORT or *.DOMAIN (its subdomains). Repeat for several.
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// Users imported at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// The export or CSV file.
        file: PathBuf,
    },
}

impl Cli {
    /// Loads the settings the command line points at, with `--dev` applied before validation.
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if self.dev {
            env.push(("VISAGE__SERVER__DEV".into(), "true".into()));
        }
        Settings::load_from(self.config.as_deref(), env)
    }
}
