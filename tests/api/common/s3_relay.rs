//! An HTTP relay in front of an S3 endpoint (the test Garage) that can hold chosen requests at a
//! [`Gate`]: an instance stalled at a precise step (its listing, its deletion) while another
//! instance goes on; or that answers most requests with S3's own 500 `InternalError`. Everything
//! else goes through unchanged, the `Host` header too (the signature covers it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{HttpRequest, HttpResponse, web};

use super::gate::Gate;

/// Which S3 requests wait at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// `ListObjectsV2` (`GET ?list-type=2`).
    Listings,
    /// `DeleteObject`.
    Deletes,
    /// Nothing waits; every request but each third is answered 500 `InternalError`.
    NoneButTwoInThreeFail,
}

const S3_INTERNAL_ERROR: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>"#;

#[derive(Clone)]
struct Relay {
    upstream: String,
    client: reqwest::Client,
    held: Held,
    gate: Gate,
    requests: Arc<AtomicUsize>,
    injected: Arc<AtomicUsize>,
}

pub struct S3Relay {
    /// Give this to the instance as `storage.s3.endpoint`.
    pub endpoint: String,
    pub gate: Gate,
    requests: Arc<AtomicUsize>,
    injected: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl S3Relay {
    /// A relay to `upstream` (`http://host:port`) whose `held` requests wait at its gate while
    /// the gate is closed (it starts open).
    pub fn start(upstream: &str, held: Held) -> Self {
        let gate = Gate::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let injected = Arc::new(AtomicUsize::new(0));
        let state = Relay {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            held,
            gate: gate.clone(),
            requests: requests.clone(),
            injected: injected.clone(),
        };
        let (addr, handle) = super::spawn_standin(4, move |cfg| {
            cfg.app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(32 << 20))
                .default_service(web::to(relay));
        });
        Self {
            endpoint: format!("http://{addr}"),
            gate,
            requests,
            injected,
            handle,
        }
    }

    /// Requests received, and how many of them were answered with an injected 500.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.requests.load(Ordering::SeqCst),
            self.injected.load(Ordering::SeqCst),
        )
    }

    pub async fn stop(self) {
        self.gate.open();
        self.handle.stop(false).await;
    }
}

async fn relay(req: HttpRequest, body: web::Bytes, relay: web::Data<Relay>) -> HttpResponse {
    let n = relay.requests.fetch_add(1, Ordering::SeqCst);
    let held = match relay.held {
        Held::Listings => {
            req.method() == actix_web::http::Method::GET
                && req.query_string().contains("list-type=2")
        }
        Held::Deletes => req.method() == actix_web::http::Method::DELETE,
        Held::NoneButTwoInThreeFail => {
            if n % 3 != 2 {
                relay.injected.fetch_add(1, Ordering::SeqCst);
                return HttpResponse::InternalServerError()
                    .content_type("application/xml")
                    .body(S3_INTERNAL_ERROR);
            }
            false
        }
    };
    if held {
        relay.gate.pass().await;
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut forward = relay
        .client
        .request(method, format!("{}{}", relay.upstream, req.uri()));
    for (name, value) in req.headers() {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            forward = forward.header(name.as_str(), value.as_bytes());
        }
    }
    let Ok(answer) = forward.body(body).send().await else {
        return HttpResponse::BadGateway().finish();
    };
    let mut out = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status().as_u16()).expect("status"),
    );
    for (name, value) in answer.headers() {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            out.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    out.body(answer.bytes().await.unwrap_or_default())
}
