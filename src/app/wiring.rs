//! Settings turned into what each part needs: the domain services' small config structs and
//! the HTTP edge's own. The one place that reads `Settings` for them.

use std::time::Duration;

use crate::domain::avatar::AvatarConfig;
use crate::domain::directory::DirectoryConfig;
use crate::domain::image::PipelineLimits;
use crate::domain::import::{ImportConfig, PictureField};
use crate::domain::pictures::PictureConfig;
use crate::domain::upload::UploadConfig;
use crate::http::EdgeConfig;
use crate::settings::{MetadataField, Settings};

pub(super) fn pipeline_limits(settings: &Settings) -> PipelineLimits {
    let limits = &settings.limits;
    PipelineLimits {
        max_pixels: limits.max_pixels,
        min_edge: limits.min_edge,
        master_size: limits.master_size,
    }
}

/// Prefix of every picture URL handed out: `storage.public_base_url`, else the service's own.
pub(super) fn picture_base(settings: &Settings) -> String {
    settings
        .storage
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("{}/pictures/", settings.public_url()))
}

pub(super) fn upload(settings: &Settings) -> UploadConfig {
    UploadConfig {
        limits: pipeline_limits(settings),
        picture_base: picture_base(settings),
        write_back: settings.write_back_enabled(),
        cleanup_grace: Duration::from_secs(settings.storage.cleanup_grace_secs),
    }
}

pub(super) fn pictures(settings: &Settings) -> PictureConfig {
    PictureConfig {
        sizes: settings.pictures.sizes.clone(),
        master_size: settings.limits.master_size,
        store_variants: settings.pictures.store_variants,
    }
}

pub(super) fn avatar(settings: &Settings) -> AvatarConfig {
    let gravatar = &settings.gravatar;
    AvatarConfig {
        ttl_hit: Duration::from_secs(gravatar.ttl_hit),
        ttl_miss: Duration::from_secs(gravatar.ttl_miss),
        ttl_fallback: Duration::from_secs(gravatar.ttl_fallback),
        ttl_stale: Duration::from_secs(gravatar.ttl_stale),
        cache_bytes: gravatar.cache_bytes,
        breaker_failures: gravatar.breaker_failures,
        breaker_cooldown: Duration::from_secs(gravatar.breaker_cooldown_secs),
        upstream_sizes: gravatar.upstream_sizes.clone(),
        max_concurrent_requests: gravatar.max_concurrent_requests,
        requests_per_sec: gravatar.requests_per_sec,
        requests_burst: gravatar.requests_burst,
    }
}

pub(super) fn directory(settings: &Settings) -> DirectoryConfig {
    DirectoryConfig {
        current_ttl: Duration::from_secs(settings.pictures.current_max_age_secs),
        link_ttl: Duration::from_secs(settings.gravatar.upload_lookup_secs),
        cache_bytes: settings.pictures.directory_cache_bytes,
    }
}

pub(super) fn edge(settings: &Settings) -> EdgeConfig {
    EdgeConfig {
        dev: settings.server.dev,
        public_url: settings.public_url().to_owned(),
        public_base_url: settings.storage.public_base_url.clone(),
        picture_base: picture_base(settings),
        current_max_age: settings.pictures.current_max_age_secs,
        max_upload_bytes: settings.limits.max_upload_bytes,
        upload_body: Duration::from_secs(settings.limits.upload_body_secs),
        cors_allowed_origins: settings.server.cors_allowed_origins.clone(),
    }
}

/// Where the import looks for a user's picture first: where the write-back puts it.
pub(super) fn picture_field(settings: &Settings) -> PictureField {
    match settings.auth0.management.field {
        MetadataField::UserMetadata => PictureField::UserMetadata,
        MetadataField::AppMetadata => PictureField::AppMetadata,
        MetadataField::Root => PictureField::Root,
    }
}

pub(super) fn import(settings: &Settings, dry_run: bool) -> ImportConfig {
    ImportConfig {
        visage_bases: vec![
            format!("{}/", settings.public_url()),
            picture_base(settings),
        ],
        limits: pipeline_limits(settings),
        dry_run,
    }
}
