//! S3 credentials when `storage.s3.access_key_id` is unset: the standard AWS chain.
//!
//! `aws-config`'s default chain, in its order: the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), shared profiles (`~/.aws/credentials`,
//! `~/.aws/config`, `AWS_PROFILE`, `credential_process`), web identity (EKS IRSA:
//! `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), ECS/container credentials, then EC2 instance
//! metadata. Building the chain is async and the store is built synchronously, so the chain is
//! built on the first request; the SDK's identity cache then refreshes what it hands out before
//! it expires.

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::config::{Region, SharedHttpClient};
use tokio::sync::OnceCell;

#[derive(Debug)]
pub(super) struct StandardChain {
    region: Region,
    http: SharedHttpClient,
    chain: OnceCell<DefaultCredentialsChain>,
}

impl StandardChain {
    pub(super) fn new(region: Region, http: SharedHttpClient) -> Self {
        Self {
            region,
            http,
            chain: OnceCell::new(),
        }
    }

    async fn chain(&self) -> &DefaultCredentialsChain {
        self.chain
            .get_or_init(|| async {
                // The SDK's own HTTP client (one TLS stack) for STS and the metadata endpoints.
                let config = ProviderConfig::default()
                    .with_http_client(self.http.clone())
                    .with_region(Some(self.region.clone()));
                DefaultCredentialsChain::builder()
                    .configure(config)
                    .region(self.region.clone())
                    .build()
                    .await
            })
            .await
    }
}

impl ProvideCredentials for StandardChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(
            async move { self.chain().await.provide_credentials().await },
        )
    }
}
