//! The HTTP edge: the whole route table, the request observer and the JSON error shape.

mod auth0_events;
mod authorized;
mod avatar;
mod cors;
mod current;
pub mod extract;
mod health;
mod hooks;
mod image_response;
pub mod initials;
mod negotiate;
mod observe;
pub(crate) mod openapi;
mod page;
mod pictures;
mod upload;
pub mod upload_body;

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::middleware::ErrorHandlers;
use actix_web::{Route, guard, web};

use crate::error::{self, ApiError};
pub(crate) use hooks::HookConfig;
pub use observe::observe;

/// What the HTTP edge needs of the settings, read once by `app.rs`.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// Dev mode: uploads need no token (loopback origins only).
    pub dev: bool,
    /// `server.public_url` without its trailing slash.
    pub public_url: String,
    /// `storage.public_base_url`: where picture URLs point when not at this service.
    pub public_base_url: Option<String>,
    /// The prefix of every picture URL handed out (`public_base_url`, else ours + `/pictures/`).
    pub picture_base: String,
    /// `Cache-Control` max-age of `/u/{user_id}` (`pictures.current_max_age_secs`).
    pub current_max_age: u64,
    pub max_upload_bytes: u64,
    /// Time allowed for a whole upload body (`limits.upload_body_secs`).
    pub upload_body: Duration,
    /// Browser origins allowed to call the upload API.
    pub cors_allowed_origins: Vec<String>,
}

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
pub(crate) const CURRENT: ImageRoute = ImageRoute {
    prefix: "/u",
    label: "/u/{user_id}",
};
const IMAGE_ROUTES: [ImageRoute; 4] = [AVATAR, INITIALS, PICTURES, CURRENT];

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
pub(crate) fn route_label(req: &actix_web::HttpRequest) -> &str {
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
        .service(image_route(CURRENT, current::current))
        .service(resource("/healthz").route(get_or_head().to(health::healthz)))
        .service(resource("/readyz").route(get_or_head().to(health::readyz)))
        .service(resource("/openapi.json").route(get_or_head().to(openapi::openapi_json)))
        .service(resource("/").route(get_or_head().to(page::index)))
        .service(resource("/static/{file}").route(get_or_head().to(page::asset)))
        .service(resource("/editor.js").route(get_or_head().to(page::editor_js)))
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
        // Server to server (Auth0's streams): no CORS, no upload limits.
        .service(
            resource("/v1/hooks/auth0")
                .route(web::post().to(hooks::auth0_hook))
                .default_service(web::to(hooks::other_method)),
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
