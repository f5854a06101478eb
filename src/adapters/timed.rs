//! Upstream latency for every port that leaves the process: each decorator times the call it
//! forwards into `visage_upstream_request_duration_seconds{upstream, operation, outcome}`.
//! The adapters stay unaware of metrics; `app.rs` wraps them.

use async_trait::async_trait;
use bytes::Bytes;

use crate::metrics::Metrics;
use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::ports::{
    EmailFacts, ObjectKey, ObjectStore, ProfileError, ProfileStore, StoreError, StoredObject,
};

fn store_outcome<T>(result: &Result<T, StoreError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::NotFound) => "not_found",
        Err(StoreError::Unavailable(_)) => "unavailable",
        Err(StoreError::Rejected(_)) => "rejected",
    }
}

fn profile_outcome<T>(result: &Result<T, ProfileError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ProfileError::Rejected(_)) => "rejected",
        Err(ProfileError::Unavailable(_)) => "unavailable",
    }
}

/// An object store (label `s3` or `fs`) whose calls are timed.
pub(crate) struct TimedStore<S> {
    inner: S,
    upstream: &'static str,
    metrics: Metrics,
}

impl<S> TimedStore<S> {
    pub(crate) fn new(inner: S, upstream: &'static str, metrics: &Metrics) -> Self {
        Self {
            inner,
            upstream,
            metrics: metrics.clone(),
        }
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for TimedStore<S> {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "put");
        let result = self.inner.put(key, bytes, content_type).await;
        timer.finish(store_outcome(&result));
        result
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "get");
        let result = self.inner.get(key).await;
        timer.finish(store_outcome(&result));
        result
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "exists");
        let result = self.inner.exists(key).await;
        timer.finish(store_outcome(&result));
        result
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<StoredObject>, StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "list");
        let result = self.inner.list_objects(prefix).await;
        timer.finish(store_outcome(&result));
        result
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "delete");
        let result = self.inner.delete(key).await;
        timer.finish(store_outcome(&result));
        result
    }

    async fn health_check(&self) -> Result<(), StoreError> {
        let timer = self.metrics.upstream_timer(self.upstream, "health_check");
        let result = self.inner.health_check().await;
        timer.finish(store_outcome(&result));
        result
    }
}

/// The Auth0 write-back (label `auth0`), timed from the first token request to the landed PATCH.
pub(crate) struct TimedProfiles<P> {
    inner: P,
    metrics: Metrics,
}

impl<P> TimedProfiles<P> {
    pub(crate) fn new(inner: P, metrics: &Metrics) -> Self {
        Self {
            inner,
            metrics: metrics.clone(),
        }
    }
}

#[async_trait]
impl<P: ProfileStore> ProfileStore for TimedProfiles<P> {
    async fn set_picture(
        &self,
        user_id: &str,
        picture: Option<&str>,
    ) -> Result<EmailFacts, ProfileError> {
        let timer = self.metrics.upstream_timer("auth0", "set_picture");
        let result = self.inner.set_picture(user_id, picture).await;
        timer.finish(profile_outcome(&result));
        result
    }

    async fn user_exists(&self, user_id: &str) -> Result<bool, ProfileError> {
        let timer = self.metrics.upstream_timer("auth0", "user_exists");
        let result = self.inner.user_exists(user_id).await;
        timer.finish(profile_outcome(&result));
        result
    }
}

/// The Gravatar upstream (label `gravatar`).
pub(crate) struct TimedUpstream<U> {
    inner: U,
    metrics: Metrics,
}

impl<U> TimedUpstream<U> {
    pub(crate) fn new(inner: U, metrics: &Metrics) -> Self {
        Self {
            inner,
            metrics: metrics.clone(),
        }
    }
}

#[async_trait]
impl<U: AvatarUpstream> AvatarUpstream for TimedUpstream<U> {
    async fn fetch(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let timer = self.metrics.upstream_timer("gravatar", "fetch");
        let result = self.inner.fetch(request).await;
        timer.finish(match &result {
            Ok(UpstreamAnswer::Picture { .. }) => "picture",
            Ok(UpstreamAnswer::NoPicture) => "no_picture",
            Err(UpstreamError::Unavailable(_)) => "unavailable",
            Err(UpstreamError::Rejected(_)) => "rejected",
        });
        result
    }
}
