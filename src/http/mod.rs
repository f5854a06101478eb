//! The HTTP edge: the whole route table, the request observer and the JSON error shape.

pub mod auth;
pub mod avatar;
pub mod cors;
pub mod extract;
pub mod health;
pub mod image_response;
pub mod initials;
pub mod negotiate;
pub mod openapi;
pub mod page;
pub mod pictures;
pub mod upload;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlers, Next};
use actix_web::{Route, guard, web};
use tracing::Instrument;

use crate::error::{self, ApiError};
use crate::metrics::HttpObserver;
use crate::telemetry::access_log::{AccessLog, AccessRecord, Failure};

/// A route that answers GET and HEAD alike (the contract: HEAD works wherever GET does).
pub fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A resource named by its own pattern: the request log and metrics read the name
/// (`match_name`, no allocation) as the route label.
fn resource(pattern: &'static str) -> actix_web::Resource {
    web::resource(pattern).name(pattern)
}

/// An `<img src>` route: a path prefix, then the file (everything after the prefix's `/`), and
/// the route's label in metrics and logs.
#[derive(Clone, Copy)]
pub struct ImageRoute {
    pub prefix: &'static str,
    pub label: &'static str,
}

pub const AVATAR: ImageRoute = ImageRoute {
    prefix: "/avatar",
    label: "/avatar/{file}",
};
pub const INITIALS: ImageRoute = ImageRoute {
    prefix: "/initials",
    label: "/initials/{file}",
};
pub const PICTURES: ImageRoute = ImageRoute {
    prefix: "/pictures",
    label: "/pictures/{key}",
};
const IMAGE_ROUTES: [ImageRoute; 3] = [AVATAR, INITIALS, PICTURES];

impl ImageRoute {
    /// The file part of `path` (may be empty: `/avatar/`); `None` outside this route.
    pub fn file_of<'a>(&self, path: &'a str) -> Option<&'a str> {
        path.strip_prefix(self.prefix)?.strip_prefix('/')
    }
}

/// A scope for an image route. Its prefix compares as a string, where a `{file}` segment would
/// cost a regex match with captures on every request: on a cache hit, more than everything
/// visage's own code does (`bench/profile.sh`). Methods other than GET and HEAD never reach it:
/// the public routes' policy ([`cors::public_images`]) answers them 405.
fn image_route<F, Args>(
    route: ImageRoute,
    handler: F,
) -> impl actix_web::dev::HttpServiceFactory + 'static
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::scope(route.prefix).default_service(web::to(handler))
}

/// The label of the route that answered: the matched resource's name (its pattern), an image
/// route by prefix, else `unmatched`.
fn route_label(req: &actix_web::HttpRequest) -> &str {
    req.match_name()
        .or_else(|| {
            IMAGE_ROUTES
                .iter()
                .find(|route| route.file_of(req.path()).is_some())
                .map(|route| route.label)
        })
        .unwrap_or("unmatched")
}

/// The route table, shared by `main` and the tests; the upload routes take their CORS origins.
pub fn configure(cfg: &mut web::ServiceConfig, cors_allowed_origins: &[String]) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| error::query_error(&err)))
        .app_data(web::PathConfig::default().error_handler(|err, _| error::path_error(&err)))
        // The `<img src>` routes first: most traffic, and each route tried costs a match.
        .service(image_route(AVATAR, avatar::avatar))
        .service(image_route(INITIALS, initials::initials))
        .service(image_route(PICTURES, pictures::get_picture))
        .service(resource("/healthz").route(get_or_head().to(health::healthz)))
        .service(resource("/readyz").route(get_or_head().to(health::readyz)))
        .service(resource("/openapi.json").route(get_or_head().to(openapi::openapi_json)))
        .service(resource("/").route(get_or_head().to(page::index)))
        .service(resource("/static/{file}").route(get_or_head().to(page::asset)))
        .service(
            resource("/v1/me/picture")
                .wrap(actix_web::middleware::from_fn(upload::close_after_errors))
                .wrap(cors::uploads(cors_allowed_origins))
                .route(web::post().to(upload::upload_me))
                .route(web::delete().to(upload::delete_me)),
        )
        // `.*` so that an id with an encoded `/` (or a raw one) is one parameter.
        .service(
            resource("/v1/users/{user_id:.*}/picture")
                .wrap(actix_web::middleware::from_fn(upload::close_after_errors))
                .wrap(cors::uploads(cors_allowed_origins))
                .route(web::post().to(upload::upload_user))
                .route(web::delete().to(upload::delete_user)),
        )
        .default_service(web::to(not_found));
}

/// `/metrics`, on the public listener (`configure`) or on its own (`server.metrics_bind`).
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics").route(get_or_head().to(health::metrics)));
}

/// The metrics listener's table: `/metrics`, and the contract's 404 for anything else.
pub fn configure_metrics_listener(cfg: &mut web::ServiceConfig) {
    configure_metrics(cfg);
    cfg.default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource".into()))
}

/// Rewrites actix's own error responses (405, payload errors) into the contract's JSON.
pub fn error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(error::json_for_framework_errors)
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Per request: a request id, a tracing span for the events it causes, the public routes' policy
/// ([`cors::public_images`]), the Prometheus counters (handles resolved once per worker) and one
/// request-log line (see [`AccessLog`]).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let v = v.as_bytes();
            !v.is_empty() && v.len() <= 64 && v.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(next_request_id);
    let method = crate::metrics::method_label(req.method());
    let id = request_id.to_str().unwrap_or_default();
    // Events that belong to one request (auth, uploads, deletes) carry its id in a span. Reads
    // (GET/HEAD) get none: a span costs about as much as the rest of a cache hit, their failures
    // are in the request's own line below, and what happens upstream (one Gravatar call, one
    // resize) is shared by every request waiting for it.
    let span = if matches!(method, "GET" | "HEAD") {
        tracing::Span::none()
    } else {
        tracing::info_span!("request", request_id = id)
    };
    // The public routes' policy runs here rather than as a layer of its own: each `from_fn`
    // layer boxes a future per request.
    let mut res = cors::public_images(req, next)
        .instrument(span.clone())
        .await?;
    let latency = started.elapsed();
    let status = res.status().as_u16();
    let route = route_label(res.request());
    if let Some(observer) = res.request().app_data::<HttpObserver>() {
        observer.observe(route, method, status, latency);
    }
    let failure = (status >= 500).then(|| failure_of(&res));
    let log = AccessLog::global().filter(|_| AccessLog::enabled());
    if let Some(log) = log {
        log.record(&AccessRecord {
            request_id: id,
            method,
            route,
            status,
            latency,
            failure: failure.as_ref(),
        });
    } else if let Some(failure) = &failure {
        // No request log: a failure still reaches the log, with what the line would have said.
        span.in_scope(|| {
            tracing::error!(
                request_id = id,
                route,
                status,
                code = failure.code,
                cause = failure.cause.as_deref(),
                "request failed"
            );
        });
    }
    res.headers_mut().insert(REQUEST_ID.clone(), request_id);
    Ok(res)
}

/// The contract's error code and the underlying cause of a failed response (never sent to the
/// client, only logged).
fn failure_of<B>(res: &ServiceResponse<B>) -> Failure {
    match res.response().error() {
        Some(error) => match error.as_error::<ApiError>() {
            Some(api) => Failure {
                code: api.code(),
                cause: std::error::Error::source(api).map(ToString::to_string),
            },
            None => Failure {
                code: "internal",
                cause: Some(error.to_string()),
            },
        },
        None => Failure {
            code: "internal",
            cause: None,
        },
    }
}

/// A request id for a request that brought none: a random per-process prefix and a counter,
/// 32 hex digits like a UUID, unique across instances without a system call per request.
fn next_request_id() -> HeaderValue {
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut hex = [b'0'; 16];
        // 8 bytes always fit 16 hex digits.
        let _ = hex::encode_to_slice(rand::random::<u64>().to_be_bytes(), &mut hex);
        hex
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(prefix);
    hex::encode_to_slice(count.to_be_bytes(), &mut id[16..])
        .ok()
        .and_then(|()| HeaderValue::from_bytes(&id).ok())
        .unwrap_or_else(|| HeaderValue::from_static("unknown"))
}
