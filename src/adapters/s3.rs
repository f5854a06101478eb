//! The S3 store through `aws-sdk-s3`: AWS, Garage, MinIO, R2 and other compatible stores.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

mod credentials;

use crate::ports::{ObjectKey, ObjectStore, StoreError, StoredObject};
use crate::settings::S3Storage;

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(settings: &S3Storage) -> Self {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(settings.operation_timeout_secs))
            .operation_attempt_timeout(Duration::from_secs(settings.attempt_timeout_secs))
            .connect_timeout(Duration::from_secs(settings.attempt_timeout_secs))
            .build();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .force_path_style(settings.force_path_style)
            .timeout_config(timeouts)
            .retry_config(retries(settings))
            // Newer SDK defaults add CRC checksums that several S3-compatible stores reject.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        let http = https_client();
        config = config.http_client(http.clone());
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            config = config.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "visage-settings",
            ));
        } else {
            config = config.credentials_provider(credentials::StandardChain::new(
                Region::new(settings.region.clone()),
                http,
            ));
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
        }
    }
}

/// hyper 1 and rustls 0.23 with ring: the one TLS stack and crypto provider of the whole binary
/// (reqwest uses the same), instead of the SDK's default aws-lc-rs.
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Every call is safe to repeat (content-addressed PUTs, reads, deletes of absent keys), so 5xx,
/// throttling, dropped connections and attempt timeouts are retried with the SDK's jittered
/// exponential backoff, within `operation_timeout_secs`: a replicated store that loses one node
/// still has its quorum, and the request that hit the node as it died just runs again.
fn retries(settings: &S3Storage) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(settings.max_attempts.max(1))
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2))
}

/// The object `health_check` asks for; it never exists. Its `NoSuchKey` needs the same read
/// quorum as any picture, so readiness follows whether the cluster can serve, not only whether
/// one node answers (a bucket HEAD can be answered from a node's local cache).
const HEALTH_PROBE_KEY: &str = "visage-readiness-probe";

/// Maps any SDK error to its meaning: not found, unavailable (retry later) or rejected.
fn classify<E>(err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::unavailable(err)
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            if status == 404 || matches!(code, "NoSuchKey" | "NotFound") {
                StoreError::NotFound
            } else if status >= 500 || status == 429 || code == "SlowDown" {
                StoreError::unavailable(err)
            } else {
                StoreError::rejected(err)
            }
        }
        _ => StoreError::rejected(err),
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            // Keys are content-addressed and never overwritten.
            .cache_control("public, max-age=31536000, immutable")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(classify)?;
        let data = object
            .body
            .collect()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(data.into_bytes())
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<StoredObject>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            for object in page.contents() {
                // Objects someone else put in the bucket under odd names are ignored.
                if let Some(key) = object.key().and_then(|k| ObjectKey::parse(k).ok()) {
                    // No time means "just written": never old enough to be cleaned up.
                    let modified = object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok())
                        .unwrap_or_else(SystemTime::now);
                    keys.push(StoredObject { key, modified });
                }
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(keys)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(StoreError::NotFound) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn health_check(&self) -> Result<(), StoreError> {
        let outcome = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(HEALTH_PROBE_KEY)
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            // Only "no such key" proves the bucket is there; a missing bucket is also a 404.
            Err(SdkError::ServiceError(service)) if service.err().is_no_such_key() => Ok(()),
            Err(err) => Err(match classify(err) {
                StoreError::NotFound => StoreError::rejected("the bucket does not exist"),
                other => other,
            }),
        }
    }
}
