//! A local stand-in Auth0 tenant: its JWKS endpoint (requests counted, failure switchable) and
//! a token minter signing with the committed test keys (tests/fixtures/keys).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix_web::{HttpResponse, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The API identifier tokens are minted for.
pub const AUDIENCE: &str = "https://visage.test/api";
/// The `kid` the tenant publishes.
pub const KID: &str = "tenant-key-1";
/// The client id of the app users sign in to (their tokens' `azp`).
pub const SPA_CLIENT: &str = "spa-client-id";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(super::fixture("keys").join(name)).expect("test key")
}

/// What the stand-in's endpoints share with the test.
#[derive(Clone, Default)]
pub struct TenantState {
    pub jwks_requests: Arc<AtomicUsize>,
    pub jwks_fails: Arc<AtomicBool>,
}

pub struct FakeTenant {
    /// `http://127.0.0.1:PORT/`, with Auth0's trailing slash.
    pub issuer: String,
    pub state: TenantState,
    handle: actix_web::dev::ServerHandle,
}

impl FakeTenant {
    #[allow(clippy::unused_async)] // async like every other start-up in the tests
    pub async fn start() -> Self {
        let state = TenantState::default();
        let shared = state.clone();
        let (addr, handle) = super::spawn_standin(1, move |cfg| {
            cfg.app_data(web::Data::new(shared.clone()))
                .route("/.well-known/jwks.json", web::get().to(jwks));
        });
        Self {
            issuer: format!("http://{addr}/"),
            state,
            handle,
        }
    }

    /// Settings that make visage trust this tenant.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("auth.issuer", self.issuer.clone()),
            ("auth.audience", AUDIENCE.to_owned()),
        ]
    }

    /// Valid claims for `sub` as Auth0 issues them, an hour to live: a `{client}@clients`
    /// subject is a client-credentials grant of that client (`gty`, `azp` = the client), any
    /// other subject a user's login through the app [`SPA_CLIENT`].
    pub fn claims(&self, sub: &str) -> Value {
        match sub.strip_suffix("@clients") {
            Some(client) => {
                let mut claims = self.user_claims(sub);
                claims["azp"] = json!(client);
                claims["gty"] = json!("client-credentials");
                claims
            }
            None => self.user_claims(sub),
        }
    }

    /// A user's login whatever `sub` looks like: custom database and enterprise connections
    /// may give users ids that end in `@clients`.
    pub fn user_claims(&self, sub: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "azp": SPA_CLIENT, "iat": now, "exp": now + 3600})
    }

    /// A token for `sub` signed with the tenant's key.
    pub fn token_for(&self, sub: &str) -> String {
        sign(&self.claims(sub), KID)
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// RS256 with the tenant's key, under `kid`.
pub fn sign(claims: &Value, kid: &str) -> String {
    sign_with(claims, kid, &key_file("tenant.pem"))
}

/// RS256 with any PEM private key (e.g. `stranger.pem`).
pub fn sign_with(claims: &Value, kid: &str, pem: &[u8]) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(pem).expect("RSA key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

pub fn stranger_key() -> Vec<u8> {
    key_file("stranger.pem")
}

/// The tenant's public key PEM, as an attacker would use it for an HS256 confusion attack.
pub fn public_key_pem() -> Vec<u8> {
    key_file("tenant.pub.pem")
}

async fn jwks(state: web::Data<TenantState>) -> HttpResponse {
    state.jwks_requests.fetch_add(1, Ordering::SeqCst);
    if state.jwks_fails.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(key_file("tenant.jwks.json"))
}
