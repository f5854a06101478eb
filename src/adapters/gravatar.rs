//! Gravatar adapter: one reqwest client (rustls, timeouts, no redirects) and a capped body read.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use crate::domain::image::sniff;
use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::settings::Gravatar as GravatarSettings;

pub struct GravatarClient {
    client: reqwest::Client,
    base_url: String,
    max_body_bytes: u64,
}

impl GravatarClient {
    /// Builds the one client: connect and total timeouts, redirects off (a 3xx is no picture).
    pub fn new(settings: &GravatarSettings) -> Result<Self, reqwest::Error> {
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
        let too_large =
            || UpstreamError::Rejected(format!("body larger than {} bytes", self.max_body_bytes));
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

fn unavailable(err: &reqwest::Error) -> UpstreamError {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "transfer failed"
    };
    UpstreamError::Unavailable(kind.into())
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
            return Err(UpstreamError::Unavailable(format!("status {status}")));
        }
        let bytes = self.read_capped(response).await?;
        // Only what an upload may be: the picture may be decoded for resizing.
        let format = sniff(&bytes)
            .map_err(|_| UpstreamError::Rejected("the body is not an image".into()))?;
        Ok(UpstreamAnswer::Picture { bytes, format })
    }
}
