//! A local stand-in for Auth0's Management API: `/oauth/token`, `PATCH /api/v2/users/{id}` and
//! `GET /api/v2/users/{id}` (200, or Auth0's 404 `inexistent_user` for a user it does not know),
//! with scripted failures and every request recorded as it arrived (raw path, token, body).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::gate::Gate;

/// What the stand-in answers to the next PATCH (before the scripted list runs out and it
/// answers 200 again).
#[derive(Clone, Debug)]
pub enum Scripted {
    /// Any status with an empty JSON error body.
    Status(u16),
    /// 429 with `x-ratelimit-reset` this many seconds from now.
    RateLimitedUntil { secs_from_now: u64 },
    /// 429 with `Retry-After: secs`.
    RetryAfter { secs: u64 },
}

#[derive(Clone, Debug)]
pub struct RecordedPatch {
    /// The path exactly as sent (still percent-encoded).
    pub raw_path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub status: u16,
    pub at: SystemTime,
}

/// One `GET /api/v2/users/{id}`.
#[derive(Clone, Debug)]
pub struct RecordedGet {
    /// The decoded user id.
    pub user_id: String,
    /// The query as sent (`fields=user_id&include_fields=true`).
    pub query: String,
    pub status: u16,
    pub at: SystemTime,
}

#[derive(Default)]
struct State {
    token_requests: Vec<Value>,
    patches: Vec<RecordedPatch>,
    gets: Vec<RecordedGet>,
    /// The users that exist (a GET of any other is 404); `None`: every user exists.
    known: Option<HashSet<String>>,
    script: VecDeque<Scripted>,
    /// Answer every PATCH with this status (after the token check).
    always: Option<u16>,
    /// Refuse every token, fresh or not.
    refuse_all_tokens: bool,
    issued: u32,
    valid: HashSet<String>,
    expires_in: u64,
    /// The earliest moment a retry is allowed after a scripted 429.
    not_before: Option<SystemTime>,
    /// The Management API identifier a token request must name as `audience` (else 403, as
    /// Auth0 answers "Service not found"); default `{base}/api/v2/`.
    identifier: String,
    /// Each PATCH waits a random time up to this before it is applied, so concurrent writes
    /// land in random order (the recorded order is the order they were applied in).
    max_latency: Option<Duration>,
    /// Users' emails (by decoded user id) and whether each is verified, as Auth0's user object
    /// carries them in the answer to a PATCH.
    emails: HashMap<String, (String, bool)>,
}

#[derive(Clone)]
pub struct MgmtStandIn {
    pub base: String,
    /// PATCHes that set a picture wait here, before they are applied, while it is closed
    /// (clears never wait): a write-back landing when the test says.
    pub picture_gate: Gate,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl MgmtStandIn {
    /// Starts on a free loopback port; tokens live a day unless [`MgmtStandIn::set_expires_in`].
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            expires_in: 86_400,
            ..State::default()
        }));
        let shared = state.clone();
        let picture_gate = Gate::default();
        let gate = picture_gate.clone();
        // Several workers: a PATCH held at the gate must not hold up the others.
        let (addr, handle) = super::spawn_standin(4, move |cfg| {
            cfg.app_data(web::Data::new(shared.clone()))
                .app_data(web::Data::new(gate.clone()))
                .default_service(web::to(answer));
        });
        state.lock().expect("stand-in state").identifier = format!("http://{addr}/api/v2/");
        Self {
            base: format!("http://{addr}"),
            picture_gate,
            state,
            handle,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("stand-in state")
    }

    /// Settings that point write-back at this stand-in.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("auth0.management.base_url", self.base.clone()),
            ("auth0.management.client_id", "visage-test-client".into()),
            (
                "auth0.management.client_secret",
                "visage-test-secret".into(),
            ),
        ]
    }

    pub fn script(&self, answers: &[Scripted]) {
        self.lock().script.extend(answers.iter().cloned());
    }

    pub fn always(&self, status: u16) {
        self.lock().always = Some(status);
    }

    /// Back to answering 200.
    pub fn heal(&self) {
        let mut state = self.lock();
        state.always = None;
        state.script.clear();
    }

    /// Forgets every issued token, as when Auth0 rotates its keys or the grant is revoked.
    pub fn revoke_tokens(&self) {
        self.lock().valid.clear();
    }

    pub fn refuse_all_tokens(&self) {
        self.lock().refuse_all_tokens = true;
    }

    /// The Management API identifier, as a tenant behind a custom domain keeps
    /// `https://TENANT.auth0.com/api/v2/` whatever host the token is asked from.
    pub fn set_identifier(&self, identifier: &str) {
        identifier.clone_into(&mut self.lock().identifier);
    }

    /// The user's email as the answers to their PATCHes will carry it.
    pub fn set_email(&self, user_id: &str, email: &str, verified: bool) {
        self.lock()
            .emails
            .insert(user_id.to_owned(), (email.to_owned(), verified));
    }

    /// The user has no email any more (a PATCH answer without one).
    pub fn remove_email(&self, user_id: &str) {
        self.lock().emails.remove(user_id);
    }

    /// PATCHes are applied after a random delay of up to `max` each (random landing order).
    pub fn set_random_latency(&self, max: Duration) {
        self.lock().max_latency = Some(max);
    }

    /// The picture Auth0 last accepted for the user whose raw (percent-encoded) path ends with
    /// `encoded_id`: the last 200 PATCH in the order they were applied; `None` when cleared.
    pub fn accepted_picture(&self, encoded_id: &str) -> Option<String> {
        self.lock()
            .patches
            .iter()
            .rev()
            .find(|p| p.status == 200 && p.raw_path.ends_with(encoded_id))
            .and_then(|p| {
                p.body["user_metadata"]["picture"]
                    .as_str()
                    .map(str::to_owned)
            })
    }

    pub fn set_expires_in(&self, secs: u64) {
        self.lock().expires_in = secs;
    }

    pub fn token_requests(&self) -> Vec<Value> {
        self.lock().token_requests.clone()
    }

    pub fn patches(&self) -> Vec<RecordedPatch> {
        self.lock().patches.clone()
    }

    pub fn gets(&self) -> Vec<RecordedGet> {
        self.lock().gets.clone()
    }

    /// From now on only these users exist: a GET of any other answers Auth0's 404.
    pub fn set_known_users(&self, users: impl IntoIterator<Item = String>) {
        self.lock().known = Some(users.into_iter().collect());
    }

    /// The earliest moment a retry was allowed by the last scripted 429, if any.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.lock().not_before
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
    gate: web::Data<Gate>,
) -> HttpResponse {
    if req.method() == actix_web::http::Method::PATCH && sets_a_picture(&body) {
        gate.pass().await;
    }
    let max_latency = state.lock().expect("stand-in state").max_latency;
    if let Some(max) = max_latency.filter(|_| req.method() == actix_web::http::Method::PATCH) {
        let millis = rand::random_range(0..=max.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    let mut state = state.lock().expect("stand-in state");
    let path = req.uri().path().to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (req.method().as_str(), path.as_str()) {
        ("POST", "/oauth/token") => {
            let audience_ok = json["audience"].as_str() == Some(state.identifier.as_str());
            state.token_requests.push(json);
            if !audience_ok {
                return HttpResponse::Forbidden().json(json!({
                    "error": "access_denied",
                    "error_description": "Service not found",
                }));
            }
            state.issued += 1;
            let token = format!("token-{}", state.issued);
            state.valid.insert(token.clone());
            HttpResponse::Ok().json(json!({
                "access_token": token,
                "expires_in": state.expires_in,
                "scope": "update:users",
                "token_type": "Bearer",
            }))
        }
        ("GET", p) if p.starts_with("/api/v2/users/") => {
            let token_ok = bearer_ok(&state, &req);
            let user_id = percent_encoding::percent_decode_str(&path["/api/v2/users/".len()..])
                .decode_utf8_lossy()
                .into_owned();
            let response = if !token_ok {
                HttpResponse::Unauthorized()
                    .json(json!({"statusCode": 401, "error": "Unauthorized"}))
            } else if let Some(failure) = scripted_failure(&mut state) {
                failure
            } else if state
                .known
                .as_ref()
                .is_none_or(|known| known.contains(&user_id))
            {
                HttpResponse::Ok().json(json!({ "user_id": user_id }))
            } else {
                // Auth0's own answer for a user that does not exist.
                HttpResponse::NotFound().json(json!({
                    "statusCode": 404,
                    "error": "Not Found",
                    "message": "The user does not exist.",
                    "errorCode": "inexistent_user",
                }))
            };
            state.gets.push(RecordedGet {
                user_id,
                query: req.query_string().to_owned(),
                status: response.status().as_u16(),
                at: SystemTime::now(),
            });
            response
        }
        ("PATCH", p) if p.starts_with("/api/v2/users/") => {
            let authorization = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let token_ok = !state.refuse_all_tokens
                && authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .is_some_and(|t| state.valid.contains(t));
            let response = if token_ok {
                let user_id = percent_encoding::percent_decode_str(&path["/api/v2/users/".len()..])
                    .decode_utf8_lossy()
                    .into_owned();
                scripted_answer(&mut state, &user_id, &json)
            } else {
                HttpResponse::Unauthorized()
                    .json(json!({"statusCode": 401, "error": "Unauthorized"}))
            };
            state.patches.push(RecordedPatch {
                raw_path: path,
                authorization,
                body: json,
                status: response.status().as_u16(),
                at: SystemTime::now(),
            });
            response
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// Whether a PATCH body writes a picture URL (in any of the fields visage may write).
fn sets_a_picture(body: &[u8]) -> bool {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    [
        &json["user_metadata"]["picture"],
        &json["app_metadata"]["picture"],
        &json["picture"],
    ]
    .iter()
    .any(|picture| picture.is_string())
}

/// Auth0 answers a user update with the whole user object: its id, its email (when it has one)
/// and the metadata as merged.
fn user_object(state: &State, user_id: &str, body: &Value) -> Value {
    let mut user = json!({"user_id": user_id, "user_metadata": body["user_metadata"]});
    if let Some((email, verified)) = state.emails.get(user_id) {
        user["email"] = json!(email);
        user["email_verified"] = json!(verified);
    }
    user
}

/// Whether the request carries a token this stand-in issued and still honours.
fn bearer_ok(state: &State, req: &HttpRequest) -> bool {
    !state.refuse_all_tokens
        && req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| state.valid.contains(t))
}

fn scripted_answer(state: &mut State, user_id: &str, body: &Value) -> HttpResponse {
    scripted_failure(state)
        .unwrap_or_else(|| HttpResponse::Ok().json(user_object(state, user_id, body)))
}

/// The scripted failure for this request, if any (`always` first, then the script).
fn scripted_failure(state: &mut State) -> Option<HttpResponse> {
    if let Some(status) = state.always {
        return Some(error(status));
    }
    Some(match state.script.pop_front()? {
        Scripted::Status(status) => error(status),
        Scripted::RateLimitedUntil { secs_from_now } => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            let reset = now + secs_from_now;
            state.not_before = Some(UNIX_EPOCH + Duration::from_secs(reset));
            HttpResponse::TooManyRequests()
                .insert_header(("x-ratelimit-limit", "2"))
                .insert_header(("x-ratelimit-remaining", "0"))
                .insert_header(("x-ratelimit-reset", reset.to_string()))
                .json(json!({"statusCode": 429, "error": "Too Many Requests"}))
        }
        Scripted::RetryAfter { secs } => {
            state.not_before = Some(SystemTime::now() + Duration::from_secs(secs));
            HttpResponse::TooManyRequests()
                .insert_header(("retry-after", secs.to_string()))
                .json(json!({"statusCode": 429, "error": "Too Many Requests"}))
        }
    })
}

fn error(status: u16) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).expect("status");
    HttpResponse::build(status).json(json!({"statusCode": status.as_u16(), "error": "scripted"}))
}
