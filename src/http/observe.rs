//! The request observer: a request id, a tracing span for the events a write causes, the public
//! routes' policy, the Prometheus counters and one request-log line with a failure's whole cause.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::{cors, route_label};
use crate::error::ApiError;
use crate::metrics::HttpObserver;
use crate::telemetry::access_line::{AccessRecord, Failure};
use crate::telemetry::access_log::AccessLog;
use crate::vocabulary::ErrorChain;

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
                cause: std::error::Error::source(api).map(|cause| ErrorChain(cause).to_string()),
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
