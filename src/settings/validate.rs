//! `Settings::validate`: every value checked at start-up, refused with a sentence that names its
//! key, before anything starts.

use super::{Backend, PurgeVendor, Settings, SettingsError};
use crate::vocabulary::url::is_loopback_url;
use crate::vocabulary::{AVATAR_EDGES, PICTURE_EDGES};

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_server()?;
        self.validate_storage()?;
        self.validate_auth()?;
        self.validate_limits()?;
        self.validate_lifecycle()
    }

    /// The hook's token, the CDN purge the setting names, the reconcile pace.
    fn validate_lifecycle(&self) -> Result<(), SettingsError> {
        if self
            .hooks
            .auth0_token
            .as_ref()
            .is_some_and(|token| token.trim().is_empty())
        {
            return Err(invalid(
                "hooks.auth0_token",
                "is empty (unset it to turn the hook off, or use e.g. `openssl rand -hex 32`)",
            ));
        }
        positive("limits.max_hook_bytes", self.limits.max_hook_bytes)?;
        positive("cdn.timeout_secs", self.cdn.timeout_secs)?;
        positive("cdn.max_attempts", self.cdn.max_attempts.into())?;
        positive(
            "reconcile.requests_per_sec",
            self.reconcile.requests_per_sec.into(),
        )?;
        let cdn = &self.cdn;
        let required = |key: &str, value: &Option<String>| match value {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(invalid(
                key,
                format!("required when cdn.purge is \"{}\"", cdn.purge.as_str()),
            )),
        };
        match cdn.purge {
            PurgeVendor::None => {}
            PurgeVendor::Cloudflare => {
                required("cdn.cloudflare.zone_id", &cdn.cloudflare.zone_id)?;
                required("cdn.cloudflare.api_token", &cdn.cloudflare.api_token)?;
                check_url("cdn.cloudflare.api_base", &cdn.cloudflare.api_base)?;
            }
            PurgeVendor::Fastly => {
                required("cdn.fastly.service_id", &cdn.fastly.service_id)?;
                required("cdn.fastly.api_token", &cdn.fastly.api_token)?;
                check_url("cdn.fastly.api_base", &cdn.fastly.api_base)?;
            }
            PurgeVendor::Webhook => {
                required("cdn.webhook.url", &cdn.webhook.url)?;
                if let Some(url) = &cdn.webhook.url {
                    check_url("cdn.webhook.url", url)?;
                }
            }
        }
        Ok(())
    }

    fn validate_server(&self) -> Result<(), SettingsError> {
        let bind = self.bind_addr()?;
        self.metrics_bind_addr()?;
        check_url("server.public_url", &self.server.public_url)?;
        for origin in &self.server.cors_allowed_origins {
            check_url("server.cors_allowed_origins", origin)?;
        }
        if self.server.dev {
            if !bind.ip().is_loopback() {
                return Err(invalid(
                    "server.dev",
                    format!(
                        "dev mode only listens on a loopback address, but server.bind is {bind}"
                    ),
                ));
            }
            if !is_loopback_url(&self.server.public_url) {
                return Err(invalid(
                    "server.dev",
                    format!(
                        "dev mode only hands out loopback URLs, but server.public_url is {:?}",
                        self.server.public_url
                    ),
                ));
            }
            if self.auth.issuer.is_some() {
                return Err(invalid(
                    "server.dev",
                    "dev mode cannot be combined with auth.issuer: unset one of them",
                ));
            }
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), SettingsError> {
        match self.storage.backend {
            Backend::Fs => {}
            Backend::S3 => {
                let s3 = &self.storage.s3;
                if s3.bucket.is_empty() {
                    return Err(invalid(
                        "storage.s3.bucket",
                        "required when storage.backend is \"s3\"",
                    ));
                }
                if let Some(endpoint) = &s3.endpoint {
                    check_url("storage.s3.endpoint", endpoint)?;
                }
                if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                    return Err(invalid(
                        "storage.s3.secret_access_key",
                        "access_key_id and secret_access_key are set together or not at all",
                    ));
                }
            }
        }
        if let Some(url) = &self.storage.public_base_url {
            check_url("storage.public_base_url", url)?;
        }
        positive(
            "storage.health_interval_secs",
            self.storage.health_interval_secs,
        )?;
        positive(
            "storage.cleanup_grace_secs",
            self.storage.cleanup_grace_secs,
        )?;
        // An upload's write-back must be over before another instance may delete its object.
        if self.write_back_enabled()
            && self.storage.cleanup_grace_secs <= self.auth0.management.timeout_secs
        {
            return Err(invalid(
                "storage.cleanup_grace_secs",
                format!(
                    "must be longer than auth0.management.timeout_secs ({} s), got {}",
                    self.auth0.management.timeout_secs, self.storage.cleanup_grace_secs
                ),
            ));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), SettingsError> {
        if let Some(issuer) = &self.auth.issuer {
            check_url("auth.issuer", issuer)?;
            if self.auth.audience.is_none() {
                return Err(invalid("auth.audience", "required when auth.issuer is set"));
            }
        }
        if self.auth.leeway_secs > 60 {
            return Err(invalid(
                "auth.leeway_secs",
                format!("at most 60, got {}", self.auth.leeway_secs),
            ));
        }
        if let Some(url) = &self.auth0.management.base_url {
            check_url("auth0.management.base_url", url)?;
        }
        if let Some(url) = &self.auth0.management.audience {
            check_url("auth0.management.audience", url)?;
        }
        if self.auth0.management.client_id.is_some() {
            if self.auth0.management.client_secret.is_none() {
                return Err(invalid(
                    "auth0.management.client_secret",
                    "required when auth0.management.client_id is set",
                ));
            }
            if self.management_base_url().is_none() && !self.server.dev {
                return Err(invalid(
                    "auth0.management.base_url",
                    "required when auth0.management.client_id is set and auth.issuer is not",
                ));
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), SettingsError> {
        check_url("gravatar.base_url", &self.gravatar.base_url)?;
        if !self.gravatar.base_url.ends_with('/') {
            return Err(invalid(
                "gravatar.base_url",
                format!("must end with '/', got {:?}", self.gravatar.base_url),
            ));
        }
        positive("gravatar.timeout_ms", self.gravatar.timeout_ms)?;
        positive("gravatar.max_body_bytes", self.gravatar.max_body_bytes)?;
        let sizes = &self.gravatar.upstream_sizes;
        if sizes.is_empty() || sizes.iter().any(|s| !AVATAR_EDGES.contains(*s)) {
            return Err(invalid(
                "gravatar.upstream_sizes",
                format!("must list 1 or more sizes within {AVATAR_EDGES}, got {sizes:?}"),
            ));
        }
        positive(
            "gravatar.max_concurrent_requests",
            self.gravatar.max_concurrent_requests.into(),
        )?;
        positive(
            "gravatar.requests_per_sec",
            self.gravatar.requests_per_sec.into(),
        )?;
        positive(
            "gravatar.requests_burst",
            self.gravatar.requests_burst.into(),
        )?;
        positive(
            "gravatar.upload_lookup_secs",
            self.gravatar.upload_lookup_secs,
        )?;
        positive(
            "pictures.current_max_age_secs",
            self.pictures.current_max_age_secs,
        )?;
        positive("limits.max_upload_bytes", self.limits.max_upload_bytes)?;
        positive("import.fetch_timeout_secs", self.import.fetch_timeout_secs)?;
        positive(
            "import.write_back_timeout_secs",
            self.import.write_back_timeout_secs,
        )?;
        positive("limits.max_pixels", self.limits.max_pixels)?;
        positive("limits.upload_body_secs", self.limits.upload_body_secs)?;
        positive(
            "limits.uploads_per_minute",
            u64::from(self.limits.uploads_per_minute),
        )?;
        if !PICTURE_EDGES.contains(self.limits.master_size) {
            return Err(invalid(
                "limits.master_size",
                format!("expected {PICTURE_EDGES}, got {}", self.limits.master_size),
            ));
        }
        if self.pictures.sizes.is_empty()
            || !self
                .pictures
                .sizes
                .iter()
                .all(|s| PICTURE_EDGES.contains(*s))
        {
            return Err(invalid(
                "pictures.sizes",
                format!("expected a non-empty list of sizes in {PICTURE_EDGES}"),
            ));
        }
        for path in &self.fonts.extra {
            if !path.is_file() {
                return Err(invalid(
                    "fonts.extra",
                    format!("no font file at {}", path.display()),
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn invalid(key: &str, message: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid(format!("{key}: {message}"))
}

fn positive(key: &str, value: u64) -> Result<(), SettingsError> {
    if value == 0 {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(())
}

fn check_url(key: &str, value: &str) -> Result<(), SettingsError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("expected an http:// or https:// URL, got {value:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::{Settings, SettingsError};

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load_from(
            None,
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("VISAGE__STORAGE__BACKEND", "bogus")],
                "storage.backend: unknown variant `bogus`, expected `fs` or `s3`",
            ),
            (&[("VISAGE__SERVER__BIND", "nowhere")], "server.bind:"),
            (
                &[("VISAGE__LIMITS__MAX_PIXELS", "lots")],
                "limits.max_pixels:",
            ),
            (
                &[
                    ("VISAGE__SERVER__DEV", "true"),
                    ("VISAGE__SERVER__BIND", "0.0.0.0:8080"),
                ],
                "server.dev:",
            ),
            (
                &[
                    ("VISAGE__SERVER__DEV", "true"),
                    ("VISAGE__AUTH__ISSUER", "https://t.example/"),
                    ("VISAGE__AUTH__AUDIENCE", "a"),
                ],
                "server.dev:",
            ),
            (
                &[("VISAGE__AUTH__ISSUER", "https://t.example/")],
                "auth.audience:",
            ),
            (
                &[("VISAGE__AUTH0__MANAGEMENT__FIELD", "x")],
                "auth0.management.field: unknown variant `x`, expected one of `user_metadata`, `app_metadata`, `root`",
            ),
            (
                &[("VISAGE__SERVER__LOG_FORMAT", "pretty")],
                "server.log_format: unknown variant `pretty`, expected `json` or `text`",
            ),
            (
                &[("VISAGE__SERVER__DEV", "yes please")],
                "server.dev: expected true or false, got \"yes please\" (from VISAGE__SERVER__DEV)",
            ),
            (
                &[("VISAGE__PICTURES__SIZES", "16,big")],
                "pictures.sizes: expected a non-negative integer, got \"big\"",
            ),
        ];
        for (env, expected) in cases {
            let err = load(env).expect_err("must be refused").to_string();
            assert!(err.starts_with(expected), "{env:?}: {err}");
        }
    }

    #[test]
    fn lifecycle_settings_name_their_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("VISAGE__HOOKS__AUTH0_TOKEN", "  ")],
                "hooks.auth0_token: is empty",
            ),
            (
                &[("VISAGE__CDN__PURGE", "akamai")],
                "cdn.purge: unknown variant `akamai`",
            ),
            (
                &[("VISAGE__CDN__PURGE", "cloudflare")],
                "cdn.cloudflare.zone_id: required when cdn.purge is \"cloudflare\"",
            ),
            (
                &[
                    ("VISAGE__CDN__PURGE", "fastly"),
                    ("VISAGE__CDN__FASTLY__SERVICE_ID", "svc"),
                ],
                "cdn.fastly.api_token: required when cdn.purge is \"fastly\"",
            ),
            (
                &[
                    ("VISAGE__CDN__PURGE", "webhook"),
                    ("VISAGE__CDN__WEBHOOK__URL", "purger.internal"),
                ],
                "cdn.webhook.url: expected an http:// or https:// URL",
            ),
            (
                &[("VISAGE__RECONCILE__REQUESTS_PER_SEC", "0")],
                "reconcile.requests_per_sec: must be greater than 0",
            ),
        ];
        for (env, expected) in cases {
            let err = load(env).expect_err("must be refused").to_string();
            assert!(err.starts_with(expected), "{env:?}: {err}");
        }
        let s = load(&[
            ("VISAGE__CDN__PURGE", "webhook"),
            ("VISAGE__CDN__WEBHOOK__URL", "https://purger.example/purge"),
            ("VISAGE__HOOKS__AUTH0_TOKEN", "0123456789abcdef"),
        ])
        .expect("valid");
        assert_eq!(s.hooks.auth0_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn dev_mode_refuses_a_public_url_that_is_not_loopback() {
        let err = load(&[
            ("VISAGE__SERVER__DEV", "true"),
            ("VISAGE__SERVER__PUBLIC_URL", "https://avatars.example.com"),
        ])
        .expect_err("must be refused")
        .to_string();
        assert!(err.starts_with("server.dev:"), "{err}");
        assert!(
            load(&[
                ("VISAGE__SERVER__DEV", "true"),
                ("VISAGE__SERVER__PUBLIC_URL", "http://localhost:8080"),
            ])
            .is_ok()
        );
    }
}
