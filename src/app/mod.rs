//! The one place that knows both sides: reads the settings, builds the adapters, hands
//! `Arc<dyn Port>`s to the domain, and starts the HTTP server.

mod import;
mod lifecycle;
mod parts;
mod wiring;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::adapters::gravatar::GravatarClient;
use crate::adapters::timed::{TimedStore, TimedUpstream};
use crate::adapters::{fs::FolderStore, jwks::JwksVerifier, s3::S3Store};
use crate::domain::access::AccessGate;
use crate::domain::avatar::{AvatarService, UploadsFirst};
use crate::domain::cleanup;
use crate::domain::directory::Directory;
use crate::domain::lifecycle::hook::HookService;
use crate::domain::pictures::PictureService;
use crate::domain::placeholder::InitialsService;
use crate::domain::readiness::Readiness;
use crate::domain::render::{RenderError, Renderer};
use crate::domain::upload::UploadService;
use crate::http::{EdgeConfig, HookConfig};
use crate::metrics::Metrics;
use crate::ports::tokens::TokenVerifier;
use crate::ports::{ObjectStore, StoreError};
use crate::settings::{Backend, Settings};
pub use import::{ImportError, ImportOptions, InputError, import};
use parts::UploadParts;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open storage")]
    Storage(#[from] StoreError),
    #[error("cannot set up metrics")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot listen")]
    Io(#[from] std::io::Error),
    #[error("invalid settings")]
    Settings(#[from] crate::settings::SettingsError),
    #[error("cannot load the fonts")]
    Fonts(#[from] RenderError),
    #[error("cannot set up the Auth0 Management API client")]
    Auth0(#[from] crate::adapters::auth0::Auth0SetupError),
    #[error("cannot set up the token verifier")]
    Tokens(#[source] reqwest::Error),
    #[error("cannot set up the Gravatar client")]
    Gravatar(#[source] reqwest::Error),
    #[error("{failed} deletions failed; run gc again")]
    GcIncomplete { failed: usize },
    #[error("cannot set up the CDN purge")]
    Cdn(#[from] crate::adapters::cdn::CdnSetupError),
    #[error("reconcile did not finish: {0}")]
    ReconcileIncomplete(String),
    #[error(transparent)]
    Import(#[from] ImportError),
}
pub use lifecycle::reconcile;

/// Everything the handlers share; cloned once per worker (all fields are cheap handles).
#[derive(Clone)]
pub struct AppContext {
    pub edge: Arc<EdgeConfig>,
    pub readiness: Arc<Readiness>,
    pub metrics: Metrics,
    pub initials: Arc<InitialsService>,
    /// `None` when `auth.issuer` is unset (uploads answer 401, dev mode aside).
    pub tokens: Option<Arc<dyn TokenVerifier>>,
    /// Who may change whose picture, and how often (per instance).
    pub gate: Arc<AccessGate>,
    pub uploads: Arc<UploadService>,
    pub pictures: Arc<PictureService>,
    pub avatars: Arc<AvatarService>,
    /// Users' current pictures and the email links of uploads.
    pub directory: Arc<Directory>,
    /// The Auth0 lifecycle hook and its settings.
    pub hooks: Arc<HookService>,
    pub(crate) hook_config: Arc<HookConfig>,
}

/// The store `storage.backend` names, timed for the metrics: for the server.
async fn open_timed_store(
    settings: &Settings,
    metrics: &Metrics,
) -> Result<Arc<dyn ObjectStore>, StartError> {
    Ok(match settings.backend() {
        Backend::Fs => Arc::new(TimedStore::new(
            FolderStore::open(&settings.storage.fs.root).await?,
            "fs",
            metrics,
        )),
        Backend::S3 => Arc::new(TimedStore::new(
            S3Store::new(&settings.storage.s3),
            "s3",
            metrics,
        )),
    })
}

/// The store `storage.backend` names, unwrapped: for commands that run without metrics.
async fn open_store(settings: &Settings) -> Result<Arc<dyn ObjectStore>, StoreError> {
    Ok(match settings.backend() {
        Backend::Fs => Arc::new(FolderStore::open(&settings.storage.fs.root).await?),
        Backend::S3 => Arc::new(S3Store::new(&settings.storage.s3)),
    })
}

impl AppContext {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let metrics = Metrics::new()?;
        let UploadParts {
            store,
            runner,
            variants,
            directory,
            eraser,
            uploads,
        } = UploadParts::build(&settings, &metrics).await?;
        let interval = Duration::from_secs(settings.storage.health_interval_secs);
        let readiness = Readiness::start(store.clone(), interval).await;
        let renderer = Arc::new(Renderer::new(&settings.fonts.extra)?);
        let initials = Arc::new(InitialsService::new(
            renderer,
            runner.clone(),
            settings.initials.cache_bytes,
        ));
        let cache = initials.cache().clone();
        metrics.watch_initials(initials.cache().lookups(), move || cache.usage());
        let tokens: Option<Arc<dyn TokenVerifier>> = match &settings.auth.issuer {
            Some(issuer) => Some(
                JwksVerifier::start(&settings.auth, issuer)
                    .await
                    .map_err(StartError::Tokens)?,
            ),
            None => None,
        };
        let cache = variants.cache().clone();
        metrics.watch_variants(variants.cache().lookups(), move || cache.usage());
        let watched = directory.clone();
        metrics.watch_directory(directory.lookups(), move || watched.usage());
        let hooks = Arc::new(HookService::new(eraser.clone(), directory.clone()));
        metrics.watch_lifecycle(hooks.counts(), eraser.purger().counts());
        let pictures = Arc::new(PictureService::new(
            wiring::pictures(&settings),
            store,
            runner.clone(),
            variants,
        ));
        let uploads_first = settings.gravatar.prefer_uploads.then(|| UploadsFirst {
            directory: directory.clone(),
            pictures: pictures.clone(),
            max_age: settings.gravatar.upload_lookup_secs,
        });
        let gravatar = GravatarClient::new(&settings.gravatar).map_err(StartError::Gravatar)?;
        let avatars = Arc::new(AvatarService::new(
            &wiring::avatar(&settings),
            Arc::new(TimedUpstream::new(gravatar, &metrics)),
            initials.clone(),
            runner,
            uploads_first,
        ));
        let watched = avatars.clone();
        metrics.watch_gravatar(avatars.lookups(), avatars.stats(), move || watched.usage());
        let gate = Arc::new(AccessGate::new(
            settings.auth.admin_scope.clone(),
            settings.limits.uploads_per_minute,
        ));
        Ok(Self {
            hook_config: Arc::new(HookConfig::new(
                settings.hooks.auth0_token.as_deref(),
                settings.limits.max_hook_bytes,
            )),
            hooks,
            edge: Arc::new(wiring::edge(&settings)),
            readiness,
            metrics,
            initials,
            tokens,
            gate,
            uploads,
            pictures,
            avatars,
            directory,
        })
    }

    /// Registers every shared service for the handlers' extractors.
    pub fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self.edge.clone()))
            .app_data(web::Data::from(self.readiness.clone()))
            .app_data(web::Data::new(self.metrics.clone()))
            .app_data(crate::metrics::HttpObserver::new(self.metrics.clone()))
            .app_data(web::Data::from(self.initials.clone()))
            .app_data(web::Data::new(self.tokens.clone()))
            .app_data(web::Data::from(self.gate.clone()))
            .app_data(web::Data::from(self.uploads.clone()))
            .app_data(web::Data::from(self.pictures.clone()))
            .app_data(web::Data::from(self.avatars.clone()))
            .app_data(web::Data::from(self.directory.clone()))
            .app_data(web::Data::from(self.hooks.clone()))
            .app_data(web::Data::from(self.hook_config.clone()));
    }
}

/// Builds the service on an already bound listener and returns the running server.
pub async fn serve(settings: Settings, listener: TcpListener) -> Result<Server, StartError> {
    if settings.server.dev {
        tracing::warn!(
            "dev mode: uploads need no token and are attributed to the path's user; never expose this"
        );
    }
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        n => n,
    };
    let shutdown = settings.server.shutdown_timeout_secs;
    let metrics_listener = match settings.metrics_bind_addr()? {
        Some(addr) => Some(TcpListener::bind(addr)?),
        None => None,
    };
    let context = AppContext::build(settings).await?;
    let metrics_server = match metrics_listener {
        Some(listener) => Some(Arc::new(serve_metrics(&context.metrics, listener)?)),
        None => None,
    };
    let server = HttpServer::new(move || {
        let context = context.clone();
        // Owned by every copy of this factory, so the metrics listener lives as long as this
        // server (see `MetricsServer`).
        let metrics_server = metrics_server.clone();
        App::new()
            .configure(|cfg| context.register(cfg))
            .configure(|cfg| {
                crate::http::configure(cfg, &context.edge.cors_allowed_origins);
                if metrics_server.is_none() {
                    crate::http::configure_metrics(cfg);
                }
            })
            .wrap(crate::http::error_handlers())
            .wrap(actix_web::middleware::from_fn(crate::http::observe))
    })
    .workers(workers)
    .shutdown_timeout(shutdown)
    .listen(listener)?
    .run();
    Ok(server)
}

/// The `server.metrics_bind` listener. It takes no signals of its own: it stops when the last
/// copy of the main server's app factory drops it, after that server's graceful shutdown, so
/// scrapes still see a draining instance.
struct MetricsServer(actix_web::dev::ServerHandle);

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // `stop` sends its command at once; its future only waits for the completion.
        drop(self.0.stop(true));
    }
}

fn serve_metrics(metrics: &Metrics, listener: TcpListener) -> Result<MetricsServer, StartError> {
    let addr = listener.local_addr()?;
    let metrics = metrics.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(metrics.clone()))
            .configure(crate::http::configure_metrics_listener)
            .wrap(crate::http::error_handlers())
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    tracing::info!(%addr, "metrics listening");
    Ok(MetricsServer(handle))
}

/// `visage gc`: one pass of [`cleanup::collect`] over every user, then a summary on stdout.
pub async fn gc(settings: Settings, dry_run: bool) -> Result<(), StartError> {
    let store = open_store(&settings).await?;
    let policy = cleanup::GcPolicy {
        grace: Duration::from_secs(settings.storage.cleanup_grace_secs),
        write_back: settings.write_back_enabled(),
        dry_run,
    };
    let root = format!("{}/", crate::domain::upload::KEY_PREFIX);
    let purger = lifecycle::purger(&settings)?;
    let report = cleanup::collect(store.as_ref(), &root, policy, &purger).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    println!(
        "visage gc: {} users, {} objects, {verb} {}, {} failed",
        report.users, report.objects, report.deleted, report.failed
    );
    tracing::info!(?report, dry_run, "gc finished");
    if report.failed > 0 {
        return Err(StartError::GcIncomplete {
            failed: report.failed,
        });
    }
    Ok(())
}

/// Binds `server.bind` and serves until SIGTERM or SIGINT, then finishes in-flight requests.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let addr = settings.bind_addr()?;
    let listener = TcpListener::bind(addr)?;
    tracing::info!(%addr, backend = %settings.storage.backend, "visage listening");
    serve(settings, listener).await?.await?;
    tracing::info!("visage stopped");
    Ok(())
}
