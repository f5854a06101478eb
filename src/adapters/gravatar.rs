//! Gravatar adapter: one reqwest client (rustls, timeouts, no redirects) and a capped body read.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::settings::Gravatar as GravatarSettings;
use crate::vocabulary::{NotAnUpload, sniff_upload};

pub(crate) struct GravatarClient {
    client: reqwest::Client,
    base_url: String,
    max_body_bytes: u64,
}

impl GravatarClient {
    /// Builds the one client: connect and total timeouts, redirects off (a 3xx is no picture).
    pub(crate) fn new(settings: &GravatarSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("visage/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            base_url: settings.base_url.clone(),
            max_body_bytes: settings.max_body_bytes,
        })
    }

    /// The upstream URL, from validated parts only.
    fn url(&self, request: &UpstreamRequest) -> String {
        let force = if request.force_default { "&f=y" } else { "" };
        format!(
            "{}{}?s={}&d={}&r={}{force}",
            self.base_url, request.hash, request.size, request.default, request.rating
        )
    }

    /// Reads the body chunk by chunk and stops as soon as it passes the cap. The bytes returned
    /// are exactly sized: they are kept in a cache, which must not keep growth slack alive.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Bytes, UpstreamError> {
        let too_large = || UpstreamError::Rejected(Arc::new(Fault::TooLarge(self.max_body_bytes)));
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes)
        {
            return Err(too_large());
        }
        let declared = response.content_length().unwrap_or(0);
        let mut body = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(&e))? {
            if (body.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if body.capacity() == body.len() {
            Ok(body.freeze())
        } else {
            Ok(Bytes::copy_from_slice(&body))
        }
    }
}

/// What went wrong with one Gravatar call. Named by kind only: a client error's text would
/// carry the request URL, hash included.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("timed out")]
    Timeout,
    #[error("connection failed")]
    Connect,
    #[error("transfer failed")]
    Transfer,
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    #[error("the body is not an image")]
    NotAnImage(#[source] NotAnUpload),
}

fn unavailable(err: &reqwest::Error) -> UpstreamError {
    let fault = if err.is_timeout() {
        Fault::Timeout
    } else if err.is_connect() {
        Fault::Connect
    } else {
        Fault::Transfer
    };
    UpstreamError::Unavailable(Arc::new(fault))
}

#[async_trait]
impl AvatarUpstream for GravatarClient {
    async fn fetch(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let response = self
            .client
            .get(self.url(request))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let status = response.status();
        if status.is_redirection() || status == StatusCode::NOT_FOUND {
            return Ok(UpstreamAnswer::NoPicture);
        }
        if status != StatusCode::OK {
            return Err(UpstreamError::Unavailable(Arc::new(Fault::Status(status))));
        }
        let bytes = self.read_capped(response).await?;
        // Only what an upload may be: the picture may be decoded for resizing.
        let format = sniff_upload(&bytes)
            .map_err(|refusal| UpstreamError::Rejected(Arc::new(Fault::NotAnImage(refusal))))?;
        Ok(UpstreamAnswer::Picture { bytes, format })
    }
}
