//! Access tokens at the upload endpoints: the table of bad tokens, authorization by `sub` and
//! admin scope, and a JWKS cache that random `kid`s cannot turn into a fetch per request.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::auth0::{self, FakeTenant, KID};
use crate::common::{self, TestApp};
use crate::upload::{fixture, pictures_under, post_raw, user_path};
use visage::ports::ObjectStore;

const USER: &str = "auth0|5f7c8ec7c33c6c004bbafe82";

async fn app_for(tenant: &FakeTenant, extra: &[(&'static str, &str)]) -> TestApp {
    let overrides = tenant.overrides();
    let mut pairs = common::as_overrides(&overrides);
    pairs.extend_from_slice(extra);
    TestApp::spawn(&pairs).await
}

fn with(mut claims: Value, changes: Value) -> Value {
    let Value::Object(changes) = changes else {
        panic!("changes must be an object")
    };
    for (k, v) in changes {
        claims[k] = v;
    }
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Value::Object(map) = &mut claims {
        map.remove(key);
    }
    claims
}

fn unsigned(claims: &Value) -> String {
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": KID}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

fn hs256_with_public_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.to_owned());
    let key = EncodingKey::from_secret(&auth0::public_key_pem());
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

#[actix_web::test]
async fn token_table() {
    let tenant = FakeTenant::start().await;
    let app = app_for(&tenant, &[]).await;
    let now = auth0::now();
    let own = tenant.claims(USER);
    let admin_target = "samlp|corp/jane|doe";
    let cases: Vec<(&str, &str, Option<String>, StatusCode)> = vec![
        ("no token", USER, None, StatusCode::UNAUTHORIZED),
        (
            "garbage",
            USER,
            Some("garbage".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "three garbage segments",
            USER,
            Some("a.b.c".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "alg none",
            USER,
            Some(unsigned(&own)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "HS256 keyed with the RSA public key",
            USER,
            Some(hs256_with_public_key(&own)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"exp": now - 3600})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no exp",
            USER,
            Some(auth0::sign(&without(own.clone(), "exp"), KID)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "exp as a string (GHSA-h395-gr6q-cpjc)",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"exp": (now + 3600).to_string()})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "exp as null",
            USER,
            Some(auth0::sign(&with(own.clone(), json!({"exp": null})), KID)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired exp as a string",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"exp": (now - 3600).to_string()})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf in the future as a string (GHSA-h395-gr6q-cpjc)",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"nbf": (now + 3600).to_string()})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf as an object",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"nbf": {"n": 1}})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf in the future",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"nbf": now + 3600})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong aud",
            USER,
            Some(auth0::sign(
                &with(own.clone(), json!({"aud": "https://other.api"})),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "iss without its trailing slash",
            USER,
            Some(auth0::sign(
                &with(
                    own.clone(),
                    json!({"iss": tenant.issuer.trim_end_matches('/')}),
                ),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no sub",
            USER,
            Some(auth0::sign(
                &json!({"iss": tenant.issuer, "aud": auth0::AUDIENCE, "exp": now + 60}),
                KID,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown kid",
            USER,
            Some(auth0::sign(&own, "rotated-away")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a stranger's key under the tenant's kid",
            USER,
            Some(auth0::sign_with(&own, KID, &auth0::stranger_key())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another user's token",
            USER,
            Some(tenant.token_for("auth0|someone-else")),
            StatusCode::FORBIDDEN,
        ),
        (
            "machine token without the admin scope",
            USER,
            Some(tenant.token_for("abc123@clients")),
            StatusCode::FORBIDDEN,
        ),
        (
            "machine token with a different scope",
            USER,
            Some(auth0::sign(
                &with(
                    tenant.claims("abc123@clients"),
                    json!({"scope": "read:avatars"}),
                ),
                KID,
            )),
            StatusCode::FORBIDDEN,
        ),
        (
            "own token",
            USER,
            Some(tenant.token_for(USER)),
            StatusCode::CREATED,
        ),
        (
            "own token, aud as an array",
            USER,
            Some(auth0::sign(
                &with(
                    own.clone(),
                    json!({"aud": ["https://x.example/userinfo", auth0::AUDIENCE]}),
                ),
                KID,
            )),
            StatusCode::CREATED,
        ),
        (
            "admin scope (machine token) on an id with | and /",
            admin_target,
            Some(auth0::sign(
                &with(
                    tenant.claims("abc123@clients"),
                    json!({"scope": "read:x write:avatars"}),
                ),
                KID,
            )),
            StatusCode::CREATED,
        ),
        (
            "admin permission (user token) on another user",
            admin_target,
            Some(auth0::sign(
                &with(
                    tenant.claims("auth0|admin"),
                    json!({"permissions": ["write:avatars"]}),
                ),
                KID,
            )),
            StatusCode::CREATED,
        ),
    ];
    let jpeg = fixture("orientation-1.jpg");
    for (what, user, token, expected) in cases {
        let res = post_raw(
            &app,
            &user_path(user),
            "image/jpeg",
            jpeg.clone(),
            token.as_deref(),
        )
        .await;
        assert_eq!(res.status(), expected, "{what}");
        let body: Value = res.json().await.expect("json");
        if expected == StatusCode::CREATED {
            assert_eq!(body["user_id"], user, "{what}");
        } else {
            let code = if expected == StatusCode::FORBIDDEN {
                "forbidden"
            } else {
                "unauthorized"
            };
            assert_eq!(body["error"], code, "{what}: {body}");
        }
    }
    app.stop().await;
    tenant.stop().await;
}

#[actix_web::test]
async fn me_is_the_tokens_sub_and_machine_tokens_have_no_me() {
    let tenant = FakeTenant::start().await;
    let app = app_for(&tenant, &[]).await;
    let jpeg = fixture("orientation-1.jpg");
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        jpeg.clone(),
        Some(&tenant.token_for(USER)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user_id"], USER);
    let machine = auth0::sign(
        &with(
            tenant.claims("abc@clients"),
            json!({"scope": "write:avatars"}),
        ),
        KID,
    );
    let res = post_raw(&app, "/v1/me/picture", "image/jpeg", jpeg, Some(&machine)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Deleting someone else's picture is as forbidden as replacing it.
    let res = app
        .client
        .delete(app.url(&user_path("auth0|someone-else")))
        .bearer_auth(tenant.token_for(USER))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .delete(app.url("/v1/me/picture"))
        .bearer_auth(tenant.token_for(USER))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(pictures_under(app.data.path()).is_empty());
    app.stop().await;
    tenant.stop().await;
}

/// A user whose id ends in `@clients` (custom database and enterprise connections allow such
/// ids) asks for the admin scope at login, with RBAC off: a user token, so its `scope` grants
/// nothing. Only a client-credentials token whose `sub` is `{azp}@clients` is a machine's.
#[actix_web::test]
async fn a_user_whose_id_ends_in_at_clients_gets_no_admin_from_the_scope_she_asked_for() {
    let tenant = FakeTenant::start().await;
    let app = app_for(&tenant, &[]).await;
    let mallory = "auth0|mallory@clients";
    let bob = "auth0|bob";
    let jpeg = fixture("orientation-1.jpg");
    let asked =
        |claims: Value| auth0::sign(&with(claims, json!({"scope": "openid write:avatars"})), KID);
    let res = post_raw(
        &app,
        &user_path(bob),
        "image/jpeg",
        jpeg.clone(),
        Some(&tenant.token_for(bob)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bobs = pictures_under(app.data.path());
    // (what, token, allowed on bob)
    let cases = [
        (
            "mallory's user token",
            asked(tenant.user_claims(mallory)),
            false,
        ),
        (
            "a client-credentials token whose sub names another client",
            asked(with(
                tenant.claims("m2m-app@clients"),
                json!({"azp": "another-app"}),
            )),
            false,
        ),
        (
            "a token with sub {azp}@clients but another grant",
            asked(with(
                tenant.claims("m2m-app@clients"),
                json!({"gty": "password"}),
            )),
            false,
        ),
        (
            "the client-credentials token of m2m-app",
            asked(tenant.claims("m2m-app@clients")),
            true,
        ),
    ];
    for (what, token, allowed) in cases {
        let res = post_raw(
            &app,
            &user_path(bob),
            "image/png",
            fixture("grey-alpha.png"),
            Some(&token),
        )
        .await;
        let expected = if allowed {
            StatusCode::CREATED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(res.status(), expected, "upload for bob with {what}");
        if !allowed {
            assert_eq!(
                pictures_under(app.data.path()),
                bobs,
                "{what} changed bob's picture"
            );
            let res = app
                .client
                .delete(app.url(&user_path(bob)))
                .bearer_auth(&token)
                .send()
                .await
                .expect("delete");
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "delete of bob with {what}"
            );
            assert_eq!(
                pictures_under(app.data.path()),
                bobs,
                "{what} deleted bob's picture"
            );
        }
    }
    // Mallory is a user: her own picture is hers to change.
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        jpeg,
        Some(&asked(tenant.user_claims(mallory))),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user_id"], mallory);
    app.stop().await;
    tenant.stop().await;
}

/// The audit's hole, over HTTP: with RBAC off any user can put the admin scope in `scope`; only
/// `permissions` (users) or `scope` (machine tokens) grant it. Every combination of user/machine
/// × scope/permissions × own/other user, for upload and for delete; a refused request leaves
/// the target's picture as it was.
#[actix_web::test]
async fn admin_comes_from_user_permissions_or_machine_scope_never_from_a_user_scope() {
    let tenant = FakeTenant::start().await;
    let app = app_for(&tenant, &[]).await;
    let alice = "auth0|alice";
    let bob = "auth0|bob";
    let machine = "m2m-app@clients";
    let token = |sub: &str, grants: Value| auth0::sign(&with(tenant.claims(sub), grants), KID);
    // (what, caller's sub, claims that grant, target, allowed)
    let cases: Vec<(&str, &str, Value, &str, bool)> = vec![
        (
            "user, admin only in scope, own",
            alice,
            json!({"scope": "openid write:avatars"}),
            alice,
            true,
        ),
        (
            "user, admin only in scope, other",
            alice,
            json!({"scope": "openid write:avatars"}),
            bob,
            false,
        ),
        (
            "user, admin permission, own",
            alice,
            json!({"permissions": ["write:avatars"]}),
            alice,
            true,
        ),
        (
            "user, admin permission, other",
            alice,
            json!({"permissions": ["write:avatars"]}),
            bob,
            true,
        ),
        (
            "user, other permission, other",
            alice,
            json!({"scope": "write:avatars", "permissions": ["read:avatars"]}),
            bob,
            false,
        ),
        (
            "machine, admin scope, other",
            machine,
            json!({"scope": "write:avatars"}),
            bob,
            true,
        ),
        (
            "machine, admin only in permissions, other",
            machine,
            json!({"permissions": ["write:avatars"]}),
            bob,
            false,
        ),
        (
            "machine, no admin, other",
            machine,
            json!({"scope": "read:avatars"}),
            bob,
            false,
        ),
    ];
    let jpeg = fixture("orientation-1.jpg");
    let store = visage::adapters::fs::FolderStore::open(app.data.path())
        .await
        .expect("store");
    for (what, sub, grants, target, allowed) in cases {
        let bearer = token(sub, grants);
        let prefix = visage::domain::upload::user_prefix(target);
        // The target owns a picture before each case.
        let seeded = post_raw(
            &app,
            &user_path(target),
            "image/jpeg",
            jpeg.clone(),
            Some(&tenant.token_for(target)),
        )
        .await;
        assert_eq!(seeded.status(), StatusCode::CREATED, "{what}: seeding");
        let before = store.list(&prefix).await.expect("list");
        assert_eq!(before.len(), 1, "{what}: seeded");

        let upload = post_raw(
            &app,
            &user_path(target),
            "image/png",
            fixture("opaque-rgba.png"),
            Some(&bearer),
        )
        .await;
        let expected = if allowed {
            StatusCode::CREATED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(upload.status(), expected, "{what}: upload");
        if !allowed {
            let body: Value = upload.json().await.expect("json");
            assert_eq!(body["error"], "forbidden", "{what}: {body}");
            assert_eq!(
                store.list(&prefix).await.expect("list"),
                before,
                "{what}: a refused upload changes nothing"
            );
        }

        let delete = app
            .client
            .delete(app.url(&user_path(target)))
            .bearer_auth(&bearer)
            .send()
            .await
            .expect("delete");
        let expected = if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(delete.status(), expected, "{what}: delete");
        let left = store.list(&prefix).await.expect("list");
        if allowed {
            assert!(left.is_empty(), "{what}: deleted");
        } else {
            assert_eq!(left, before, "{what}: a refused delete keeps the picture");
            // Clean up as the owner for the next case.
            let res = app
                .client
                .delete(app.url(&user_path(target)))
                .bearer_auth(tenant.token_for(target))
                .send()
                .await
                .expect("delete");
            assert_eq!(
                res.status(),
                StatusCode::NO_CONTENT,
                "{what}: owner cleans up"
            );
        }
    }
    app.stop().await;
    tenant.stop().await;
}

#[actix_web::test]
async fn random_kids_cause_at_most_one_jwks_fetch_per_cooldown() {
    let tenant = FakeTenant::start().await;
    let app = app_for(
        &tenant,
        &[
            ("auth.jwks_unknown_kid_cooldown_secs", "3600"),
            ("auth.jwks_refresh_secs", "3600"),
        ],
    )
    .await;
    assert_eq!(tenant.jwks_requests(), 1, "fetched once at start");
    let claims = tenant.claims(USER);
    for i in 0..25 {
        let token = auth0::sign(&claims, &format!("random-kid-{i}"));
        let res = post_raw(
            &app,
            &user_path(USER),
            "image/jpeg",
            Vec::new(),
            Some(&token),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(tenant.jwks_requests(), 2, "one refresh for the whole burst");
    app.stop().await;
    tenant.stop().await;
}

#[actix_web::test]
async fn the_last_good_key_set_survives_a_failed_refresh() {
    let tenant = FakeTenant::start().await;
    let app = app_for(&tenant, &[("auth.jwks_refresh_secs", "1")]).await;
    tenant.state.jwks_fails.store(true, Ordering::SeqCst);
    // Wait (not a timing assertion) until the timer has tried, and failed, at least once.
    let before = tenant.jwks_requests();
    for _ in 0..50 {
        if tenant.jwks_requests() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(tenant.jwks_requests() > before, "the refresh timer ran");
    let res = post_raw(
        &app,
        &user_path(USER),
        "image/jpeg",
        fixture("orientation-1.jpg"),
        Some(&tenant.token_for(USER)),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "keys kept after a failed refresh"
    );
    app.stop().await;
    tenant.stop().await;
}
