//! The upload pipeline's parts, built one way from the settings for every command that uploads:
//! `serve` (behind `POST /v1/…/picture`) and `import`.

use std::sync::Arc;
use std::time::Duration;

use super::{StartError, wiring};
use crate::adapters::auth0::Auth0Profiles;
use crate::adapters::no_profile::NoProfileStore;
use crate::adapters::timed::TimedProfiles;
use crate::domain::directory::Directory;
use crate::domain::image::PipelineRunner;
use crate::domain::lifecycle::Eraser;
use crate::domain::pictures::VariantCache;
use crate::domain::upload::UploadService;
use crate::metrics::Metrics;
use crate::ports::{ObjectStore, ProfileStore};
use crate::settings::Settings;

pub(super) struct UploadParts {
    /// The store `storage.backend` names, timed into `metrics`.
    pub(super) store: Arc<dyn ObjectStore>,
    /// One pool for all image work: uploads, variants, large renders and resizes.
    pub(super) runner: Arc<PipelineRunner>,
    pub(super) variants: VariantCache,
    /// Users' current pictures and the email links of uploads, which every upload records.
    pub(super) directory: Arc<Directory>,
    /// The one erase path (store, directory, variants, CDN purge) a replaced picture goes by.
    pub(super) eraser: Arc<Eraser>,
    pub(super) uploads: Arc<UploadService>,
}

impl UploadParts {
    pub(super) async fn build(settings: &Settings, metrics: &Metrics) -> Result<Self, StartError> {
        let store = super::open_timed_store(settings, metrics).await?;
        let profile: Arc<dyn ProfileStore> = if settings.write_back_enabled() {
            let auth0 = Auth0Profiles::from_settings(settings, metrics)?;
            Arc::new(TimedProfiles::new(auth0, metrics))
        } else {
            Arc::new(NoProfileStore)
        };
        let runner = Arc::new(PipelineRunner::new(
            settings.limits.pipeline_concurrency,
            Duration::from_secs(settings.limits.pipeline_timeout_secs),
        ));
        let variants = VariantCache::new(
            settings.pictures.cache_bytes,
            Duration::from_secs(settings.pictures.cache_ttl_secs),
        );
        let directory = Arc::new(Directory::new(wiring::directory(settings), store.clone()));
        let eraser = Arc::new(Eraser::new(
            store.clone(),
            directory.clone(),
            variants.clone(),
            super::lifecycle::purger(settings)?,
        ));
        let uploads = Arc::new(UploadService::new(
            wiring::upload(settings),
            store.clone(),
            profile,
            directory.clone(),
            eraser.clone(),
            runner.clone(),
            variants.clone(),
        ));
        Ok(Self {
            store,
            runner,
            variants,
            directory,
            eraser,
            uploads,
        })
    }
}
