//! The HTTP edge's request counter and latency histogram, with handles resolved once per worker.

use std::cell::RefCell;
use std::time::Duration;

use prometheus::{Histogram, IntCounter};

use super::Metrics;

/// The `method` label: the methods the service knows, anything else `other`, so that a client
/// inventing methods cannot grow the label set.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The request counter and latency histogram of each (route, method, status), resolved once per
/// worker on first use: a request then touches no label map and formats no status text.
/// One per worker thread (registered in the app factory), hence a `RefCell`, never shared.
pub struct HttpObserver {
    metrics: Metrics,
    /// A few dozen (route, method, status) at most, found by comparing: cheaper than hashing.
    responses: RefCell<Vec<ResponseHandles>>,
}

struct ResponseHandles {
    route: Box<str>,
    method: &'static str,
    status: u16,
    requests: IntCounter,
    latency: Histogram,
}

impl HttpObserver {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            responses: RefCell::new(Vec::new()),
        }
    }

    /// Counts one response. `route` is a route pattern (a bounded set), `method` a
    /// [`method_label`], so the map stays small.
    pub fn observe(&self, route: &str, method: &'static str, status: u16, latency: Duration) {
        let Ok(mut responses) = self.responses.try_borrow_mut() else {
            return;
        };
        let known = responses
            .iter()
            .position(|h| h.status == status && h.method == method && *h.route == *route);
        let index = known.unwrap_or_else(|| {
            let status_text = status.to_string();
            responses.push(ResponseHandles {
                route: route.into(),
                method,
                status,
                requests: self.metrics.http_requests.with_label_values(&[
                    route,
                    method,
                    &status_text,
                ]),
                latency: self
                    .metrics
                    .http_latency
                    .with_label_values(&[route, &status_text]),
            });
            responses.len() - 1
        });
        let handles = &responses[index];
        handles.requests.inc();
        handles.latency.observe(latency.as_secs_f64());
    }
}
