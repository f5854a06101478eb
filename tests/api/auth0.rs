//! Write-back to Auth0's Management API, against a local stand-in: token caching and refresh,
//! rate limits, server errors past the bound, the exact requests sent.

use std::sync::Arc;

use serde_json::{Value, json};
use visage::adapters::auth0::Auth0Profiles;
use visage::metrics::Metrics;
use visage::ports::{ProfileError, ProfileStore};

use crate::common::auth0::{FakeTenant, KID, sign};
use crate::common::auth0_mgmt::{MgmtStandIn, Scripted};
use crate::common::{TestApp, as_overrides, settings_from};
use crate::upload::{fixture, post_raw, user_path};

/// The adapter as production builds it, pointed at `mgmt`, plus its metrics registry.
fn adapter(mgmt: &MgmtStandIn, extra: &[(&str, &str)]) -> (Arc<Auth0Profiles>, Metrics) {
    let mut pairs: Vec<(String, String)> = mgmt
        .overrides()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = settings_from(&pairs).expect("settings");
    let metrics = Metrics::new().expect("metrics");
    let profiles = Auth0Profiles::from_settings(&settings, &metrics).expect("adapter");
    (Arc::new(profiles), metrics)
}

const USER: &str = "auth0|5f7c8ec7c33c6c004bbafe82";
const PICTURE: &str = "https://visage.example.com/pictures/u/abc.jpg";

#[actix_web::test]
async fn the_token_is_fetched_once_and_shared_by_every_write() {
    let mgmt = MgmtStandIn::start();
    let (profiles, metrics) = adapter(&mgmt, &[]);
    // Concurrent first writes wait for one refresh instead of each fetching a token.
    let writes = (0..5).map(|i| {
        let profiles = profiles.clone();
        async move {
            let picture = format!("{PICTURE}?{i}");
            profiles.set_picture(USER, Some(&picture)).await
        }
    });
    for result in futures_util::future::join_all(writes).await {
        result.expect("write lands");
    }
    profiles
        .set_picture(USER, None)
        .await
        .expect("delete lands");

    let tokens = mgmt.token_requests();
    assert_eq!(tokens.len(), 1, "one token for six writes");
    assert_eq!(
        tokens[0],
        json!({
            "grant_type": "client_credentials",
            "client_id": "visage-test-client",
            "client_secret": "visage-test-secret",
            "audience": format!("{}/api/v2/", mgmt.base),
        })
    );
    let patches = mgmt.patches();
    assert_eq!(patches.len(), 6);
    assert!(
        patches
            .iter()
            .all(|p| p.authorization.as_deref() == Some("Bearer token-1"))
    );
    let debug = format!("{profiles:?}");
    assert!(
        debug.contains("visage-test-client") && !debug.contains("visage-test-secret"),
        "the secret never shows: {debug}"
    );
    let text = metrics.render().expect("metrics");
    assert!(
        text.contains(r#"visage_auth0_management_calls_total{call="patch",outcome="ok"} 6"#),
        "{text}"
    );
    assert!(text.contains(r#"visage_auth0_management_calls_total{call="token",outcome="ok"} 1"#));
    mgmt.stop().await;
}

#[actix_web::test]
async fn the_patch_carries_only_the_picture_under_the_configured_field() {
    struct Case {
        field: &'static str,
        user_id: &'static str,
        picture: Option<&'static str>,
        path: &'static str,
    }
    let cases = [
        Case {
            field: "user_metadata",
            user_id: USER,
            picture: Some(PICTURE),
            path: "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82",
        },
        Case {
            field: "user_metadata",
            user_id: USER,
            picture: None,
            path: "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82",
        },
        Case {
            field: "app_metadata",
            user_id: "google-oauth2|104242424242424242424",
            picture: Some(PICTURE),
            path: "/api/v2/users/google-oauth2%7C104242424242424242424",
        },
        Case {
            field: "app_metadata",
            user_id: "samlp|corp/jane.doe",
            picture: None,
            path: "/api/v2/users/samlp%7Ccorp%2Fjane.doe",
        },
        Case {
            field: "user_metadata",
            user_id: "oidc|https://idp.example/u/7?x=1#f",
            picture: Some(PICTURE),
            path: "/api/v2/users/oidc%7Chttps%3A%2F%2Fidp.example%2Fu%2F7%3Fx%3D1%23f",
        },
    ];
    for case in cases {
        let mgmt = MgmtStandIn::start();
        let (profiles, _) = adapter(&mgmt, &[("auth0.management.field", case.field)]);
        profiles
            .set_picture(case.user_id, case.picture)
            .await
            .expect("write lands");
        let patches = mgmt.patches();
        assert_eq!(patches.len(), 1, "{}", case.user_id);
        assert_eq!(patches[0].raw_path, case.path);
        assert_eq!(
            patches[0].body,
            json!({ case.field: { "picture": case.picture } }),
            "{} {:?}",
            case.field,
            case.picture
        );
        mgmt.stop().await;
    }
}

#[actix_web::test]
async fn field_root_sets_and_removes_the_root_picture_attribute() {
    let mgmt = MgmtStandIn::start();
    let (profiles, _) = adapter(&mgmt, &[("auth0.management.field", "root")]);
    profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect("write lands");
    profiles
        .set_picture(USER, None)
        .await
        .expect("delete lands");
    let bodies: Vec<Value> = mgmt.patches().into_iter().map(|p| p.body).collect();
    // Auth0: "Setting any value to null will remove the attribute for the user."
    assert_eq!(
        bodies,
        vec![json!({ "picture": PICTURE }), json!({ "picture": null })]
    );
    mgmt.stop().await;
}

#[actix_web::test]
async fn a_custom_domain_tenant_gets_its_token_for_the_configured_audience() {
    const TENANT_API: &str = "https://tenant.eu.auth0.com/api/v2/";
    let mgmt = MgmtStandIn::start();
    mgmt.set_identifier(TENANT_API);

    // Without `audience`, the default `{base}/api/v2/` names no API of this tenant: refused.
    let (profiles, _) = adapter(&mgmt, &[]);
    let err = profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect_err("token refused");
    assert!(matches!(err, ProfileError::Rejected(_)), "{err:?}");
    assert!(mgmt.patches().is_empty());

    let (profiles, _) = adapter(&mgmt, &[("auth0.management.audience", TENANT_API)]);
    profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect("write lands");
    let tokens = mgmt.token_requests();
    assert_eq!(
        tokens.last().map(|t| t["audience"].clone()),
        Some(json!(TENANT_API))
    );
    assert_eq!(mgmt.patches().len(), 1);
    mgmt.stop().await;
}

#[actix_web::test]
async fn a_rate_limited_write_waits_for_the_reset_then_lands() {
    let answers = [
        Scripted::RateLimitedUntil { secs_from_now: 1 },
        Scripted::RetryAfter { secs: 1 },
    ];
    for answer in answers {
        let mgmt = MgmtStandIn::start();
        mgmt.script(std::slice::from_ref(&answer));
        let (profiles, metrics) = adapter(&mgmt, &[]);
        profiles
            .set_picture(USER, Some(PICTURE))
            .await
            .expect("write lands after the 429");
        let patches = mgmt.patches();
        let statuses: Vec<u16> = patches.iter().map(|p| p.status).collect();
        assert_eq!(statuses, [429, 200], "{answer:?}");
        let not_before = mgmt.not_before().expect("a 429 was sent");
        assert!(
            patches[1].at >= not_before,
            "{answer:?}: the retry came before the server allowed it"
        );
        assert_eq!(mgmt.token_requests().len(), 1);
        assert!(metrics.render().expect("metrics").contains(
            r#"visage_auth0_management_calls_total{call="patch",outcome="rate_limited"} 1"#
        ));
        mgmt.stop().await;
    }
}

#[actix_web::test]
async fn server_errors_and_dead_hosts_are_retried_then_unavailable_after_the_bound() {
    // A few 5xx then success: retried with backoff and lands.
    let mgmt = MgmtStandIn::start();
    mgmt.script(&[Scripted::Status(503), Scripted::Status(500)]);
    let (profiles, _) = adapter(&mgmt, &[]);
    profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect("lands after two 5xx");
    let statuses: Vec<u16> = mgmt.patches().iter().map(|p| p.status).collect();
    assert_eq!(statuses, [503, 500, 200]);
    mgmt.stop().await;

    // 503 for longer than the bound.
    let mgmt = MgmtStandIn::start();
    mgmt.always(503);
    let (profiles, _) = adapter(&mgmt, &[("auth0.management.timeout_secs", "1")]);
    let err = profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect_err("never lands");
    assert!(matches!(err, ProfileError::Unavailable(_)), "{err:?}");
    assert!(mgmt.patches().len() >= 2, "5xx are retried");
    mgmt.stop().await;

    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let settings = settings_from(&[
        ("auth0.management.base_url".into(), dead),
        ("auth0.management.client_id".into(), "id".into()),
        ("auth0.management.client_secret".into(), "secret".into()),
        ("auth0.management.timeout_secs".into(), "1".into()),
    ])
    .expect("settings");
    let metrics = Metrics::new().expect("metrics");
    let profiles = Auth0Profiles::from_settings(&settings, &metrics).expect("adapter");
    let err = profiles
        .set_picture(USER, None)
        .await
        .expect_err("no server");
    assert!(matches!(err, ProfileError::Unavailable(_)), "{err:?}");
    assert!(
        metrics.render().expect("metrics").contains(
            r#"visage_auth0_management_calls_total{call="token",outcome="network_error"}"#
        )
    );
}

#[actix_web::test]
async fn a_refused_token_is_replaced_once() {
    // A 401 that a fresh token cures: two token requests, the retry carries the new token.
    let mgmt = MgmtStandIn::start();
    let (profiles, _) = adapter(&mgmt, &[]);
    profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect("first write");
    mgmt.revoke_tokens();
    profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect("lands with a fresh token");
    assert_eq!(mgmt.token_requests().len(), 2);
    let seen: Vec<(u16, Option<String>)> = mgmt
        .patches()
        .into_iter()
        .map(|p| (p.status, p.authorization))
        .collect();
    assert_eq!(
        seen,
        [
            (200, Some("Bearer token-1".to_owned())),
            (401, Some("Bearer token-1".to_owned())),
            (200, Some("Bearer token-2".to_owned())),
        ]
    );
    mgmt.stop().await;

    // A 401 that a fresh token does not cure is final: no loop of token requests.
    let mgmt = MgmtStandIn::start();
    mgmt.refuse_all_tokens();
    let (profiles, _) = adapter(&mgmt, &[]);
    let err = profiles
        .set_picture(USER, Some(PICTURE))
        .await
        .expect_err("refused");
    assert!(matches!(err, ProfileError::Rejected(_)), "{err:?}");
    assert_eq!(mgmt.token_requests().len(), 2);
    assert_eq!(mgmt.patches().len(), 2);
    mgmt.stop().await;
}

#[actix_web::test]
async fn other_client_errors_are_final_and_not_retried() {
    for status in [400, 403, 404, 409] {
        let mgmt = MgmtStandIn::start();
        mgmt.always(status);
        let (profiles, _) = adapter(&mgmt, &[]);
        let err = profiles
            .set_picture(USER, Some(PICTURE))
            .await
            .expect_err("refused");
        assert!(
            matches!(err, ProfileError::Rejected(_)),
            "{status}: {err:?}"
        );
        assert_eq!(mgmt.patches().len(), 1, "{status} is not retried");
        mgmt.stop().await;
    }
}

#[actix_web::test]
async fn a_token_is_reused_only_while_auth0_says_it_lives() {
    // (expires_in, the tokens the three writes carry): 0 s is never reused; an absurd lifetime
    // is capped instead of overflowing the clock.
    let cases: [(u64, [&str; 3]); 2] = [
        (0, ["token-1", "token-2", "token-3"]),
        (u64::MAX, ["token-1", "token-1", "token-1"]),
    ];
    for (expires_in, expected) in cases {
        let mgmt = MgmtStandIn::start();
        mgmt.set_expires_in(expires_in);
        let (profiles, _) = adapter(&mgmt, &[]);
        for _ in 0..3 {
            profiles
                .set_picture(USER, Some(PICTURE))
                .await
                .expect("write lands");
        }
        let tokens: Vec<Option<String>> = mgmt
            .patches()
            .into_iter()
            .map(|p| p.authorization)
            .collect();
        assert_eq!(
            tokens,
            expected.map(|t| Some(format!("Bearer {t}"))),
            "expires_in {expires_in}"
        );
        mgmt.stop().await;
    }
}

/// visage trusting a stand-in tenant and writing back to a stand-in Management API.
async fn app_with_write_back(mgmt: &MgmtStandIn, extra: &[(&str, &str)]) -> (TestApp, FakeTenant) {
    let tenant = FakeTenant::start().await;
    let mut pairs = tenant.overrides();
    pairs.extend(mgmt.overrides());
    let mut overrides = as_overrides(&pairs);
    overrides.extend_from_slice(extra);
    (TestApp::spawn(&overrides).await, tenant)
}

#[actix_web::test]
async fn uploads_and_deletes_write_the_picture_back_over_http() {
    let mgmt = MgmtStandIn::start();
    let (app, tenant) = app_with_write_back(&mgmt, &[]).await;
    let token = tenant.token_for(USER);
    let mut pictures = Vec::new();
    for name in ["small-100.jpg", "progressive.jpg"] {
        let res = post_raw(
            &app,
            "/v1/me/picture",
            "image/jpeg",
            fixture(name),
            Some(&token),
        )
        .await;
        assert_eq!(res.status(), 201, "{name}");
        let body: Value = res.json().await.expect("json");
        pictures.push(body["picture"].as_str().expect("picture").to_owned());
    }
    // An admin writes the picture of a user whose id holds `|` and `/`.
    let admin_target = "samlp|corp/jane.doe";
    let mut claims = tenant.claims("ops-client@clients");
    claims["scope"] = json!("write:avatars");
    let admin = sign(&claims, KID);
    let res = post_raw(
        &app,
        &user_path(admin_target),
        "image/jpeg",
        fixture("small-100.jpg"),
        Some(&admin),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    let admin_picture = body["picture"].as_str().expect("picture").to_owned();
    let res = app
        .client
        .delete(app.url("/v1/me/picture"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);

    assert_eq!(mgmt.token_requests().len(), 1, "one token for every write");
    let seen: Vec<(String, Value)> = mgmt
        .patches()
        .into_iter()
        .map(|p| (p.raw_path, p.body))
        .collect();
    let me = "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82".to_owned();
    assert_eq!(
        seen,
        [
            (
                me.clone(),
                json!({"user_metadata": {"picture": pictures[0]}})
            ),
            (
                me.clone(),
                json!({"user_metadata": {"picture": pictures[1]}})
            ),
            (
                "/api/v2/users/samlp%7Ccorp%2Fjane.doe".to_owned(),
                json!({"user_metadata": {"picture": admin_picture}})
            ),
            // A delete clears the profile before removing the objects, and again after
            // (an upload racing it must not leave the profile naming a removed picture).
            (me.clone(), json!({"user_metadata": {"picture": null}})),
            (me, json!({"user_metadata": {"picture": null}})),
        ]
    );
    app.stop().await;
    tenant.stop().await;
    mgmt.stop().await;
}

#[actix_web::test]
async fn a_write_back_that_never_lands_answers_502_with_the_stored_picture() {
    let mgmt = MgmtStandIn::start();
    mgmt.always(503);
    let (app, tenant) = app_with_write_back(&mgmt, &[("auth0.management.timeout_secs", "1")]).await;
    let token = tenant.token_for(USER);
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        fixture("small-100.jpg"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "metadata_update_failed");
    let picture = body["picture"].as_str().expect("the stored picture's URL");
    assert!(
        !body["message"].as_str().expect("message").contains("503"),
        "no Auth0 detail in the answer: {body}"
    );
    // The object is kept and served.
    let path = picture
        .strip_prefix(&app.base)
        .expect("a URL of this visage");
    assert_eq!(app.get(path).await.status(), 200);
    assert!(mgmt.patches().len() >= 2, "retried within the bound");

    // Once Auth0 answers again, the same upload lands and names the same picture.
    mgmt.heal();
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        fixture("small-100.jpg"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["picture"], picture);
    let last = mgmt.patches().pop().expect("a patch");
    assert_eq!(
        (last.status, last.body),
        (200, json!({"user_metadata": {"picture": picture}}))
    );
    app.stop().await;
    tenant.stop().await;
    mgmt.stop().await;
}
