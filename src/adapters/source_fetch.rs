//! Fetches `visage import`'s source pictures: reqwest with rustls, redirects followed by hand
//! and only within the first URL's host while the allow-list still permits them, a byte cap
//! while streaming, one time bound over every hop; local files under the same cap.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::header::LOCATION;
use tokio::io::AsyncReadExt;
use url::Url;

use crate::ports::source::{AllowedHosts, FetchError, PictureSource, Source};

/// Redirects followed within one host before giving up (browsers stop at 20, curl at 50; a
/// picture URL needs one or two).
pub(crate) const MAX_REDIRECTS: usize = 5;

pub(crate) struct SourceFetcher {
    client: reqwest::Client,
    allowed: AllowedHosts,
    max_bytes: u64,
    bound: Duration,
}

impl SourceFetcher {
    /// `max_bytes` is `limits.max_upload_bytes`; `bound` covers every hop and the whole body.
    pub(crate) fn new(
        allowed: AllowedHosts,
        max_bytes: u64,
        bound: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(bound.min(Duration::from_secs(5)))
            .timeout(bound)
            .user_agent(concat!("visage-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allowed,
            max_bytes,
            bound,
        })
    }

    async fn fetch_url(&self, first: &Url) -> Result<Bytes, FetchError> {
        self.allowed.check(first).map_err(FetchError::Refused)?;
        let origin_host = first.host_str().unwrap_or_default().to_owned();
        let mut url = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            let host = url.host_str().unwrap_or_default().to_owned();
            let response = self
                .client
                .get(url.clone())
                .send()
                .await
                .map_err(|err| self.failed(&host, &err))?;
            let status = response.status();
            if status.is_redirection() {
                url = self.redirect_target(&url, &origin_host, &response)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    host,
                    status: status.as_u16(),
                });
            }
            return self.read_capped(response, &host).await;
        }
        Err(FetchError::TooManyRedirects(MAX_REDIRECTS))
    }

    /// The next URL of a redirect, if it stays on the first URL's host and is still allowed.
    fn redirect_target(
        &self,
        from: &Url,
        origin_host: &str,
        response: &reqwest::Response,
    ) -> Result<Url, FetchError> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| from.join(value).ok())
            .ok_or_else(|| FetchError::Status {
                host: from.host_str().unwrap_or_default().to_owned(),
                status: response.status().as_u16(),
            })?;
        let to = location.host_str().unwrap_or_default().to_owned();
        if !to.eq_ignore_ascii_case(origin_host) {
            return Err(FetchError::RedirectRefused {
                to,
                why: "another host".into(),
            });
        }
        self.allowed
            .check(&location)
            .map_err(|refusal| FetchError::RedirectRefused {
                to,
                why: refusal.to_string(),
            })?;
        Ok(location)
    }

    /// Refuses a declared length over the cap before reading, then stops as soon as the
    /// streamed body passes it.
    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        host: &str,
    ) -> Result<Bytes, FetchError> {
        let too_large = || FetchError::TooLarge {
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.failed(host, &err))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    fn failed(&self, host: &str, err: &reqwest::Error) -> FetchError {
        if err.is_timeout() {
            FetchError::TimedOut {
                secs: self.bound.as_secs(),
            }
        } else {
            unreachable(host, err)
        }
    }

    async fn read_file(&self, path: &std::path::Path) -> Result<Bytes, FetchError> {
        let failed = |cause: &dyn std::fmt::Display| FetchError::File {
            path: path.display().to_string(),
            cause: cause.to_string(),
        };
        let file = tokio::fs::File::open(path).await.map_err(|e| failed(&e))?;
        let metadata = file.metadata().await.map_err(|e| failed(&e))?;
        if !metadata.is_file() {
            return Err(failed(&"not a file"));
        }
        if metadata.len() > self.max_bytes {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        // One byte more than the cap: a file that grew since its metadata was read is caught.
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        file.take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| failed(&e))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(Bytes::from(bytes))
    }
}

/// A reqwest failure named by kind and host only: its own text would carry the URL.
fn unreachable(host: &str, err: &reqwest::Error) -> FetchError {
    let cause = if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    FetchError::Unreachable {
        host: host.to_owned(),
        cause: cause.to_owned(),
    }
}

#[async_trait]
impl PictureSource for SourceFetcher {
    async fn fetch(&self, source: &Source) -> Result<Bytes, FetchError> {
        let work = async {
            match source {
                Source::Url(url) => self.fetch_url(url).await,
                Source::File(path) => self.read_file(path).await,
            }
        };
        tokio::time::timeout(self.bound, work)
            .await
            .unwrap_or(Err(FetchError::TimedOut {
                secs: self.bound.as_secs(),
            }))
    }
}
