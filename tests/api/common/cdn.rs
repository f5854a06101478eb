//! A local stand-in for the CDN purge APIs, each as its vendor documents it, recording every
//! call: Cloudflare's purge by cache tags (`POST /client/v4/zones/{zone_id}/purge_cache`,
//! `Authorization: Bearer {api token}`, `{"tags": [...]}`; answers `{"success", "errors",
//! "messages", "result": {"id"}}`), Fastly's purge by surrogate key (`POST
//! /service/{service_id}/purge/{key}`, `Fastly-Key: {token}`; answers `{"status": "ok", "id"}`),
//! and a plain webhook (`POST /purge`, `{"tags": [...]}`). Failures can be scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub const SERVICE: &str = "SU1Z0isxPaozGVKXdv0eY";
pub const TOKEN: &str = "cdn-token-5b1c0e2f9a8d";

/// One purge the stand-in accepted or refused.
#[derive(Clone, Debug)]
pub struct Purge {
    /// `cloudflare`, `fastly` or `webhook`.
    pub vendor: &'static str,
    pub tags: Vec<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    purges: Vec<Purge>,
    /// Statuses to answer the next calls with, before 200 again.
    script: VecDeque<u16>,
}

#[derive(Clone)]
pub struct CdnStandIn {
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl CdnStandIn {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (addr, handle) = super::spawn_standin(2, move |cfg| {
            cfg.app_data(web::Data::new(shared.clone()))
                .default_service(web::to(answer));
        });
        Self {
            base: format!("http://{addr}"),
            state,
            handle,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("cdn stand-in state")
    }

    /// Settings that point `cdn.purge = vendor` here.
    pub fn overrides(&self, vendor: &str) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("cdn.purge", vendor.to_owned()),
            ("cdn.timeout_secs", "5".to_owned()),
        ];
        match vendor {
            "cloudflare" => pairs.extend([
                ("cdn.cloudflare.zone_id", ZONE.to_owned()),
                ("cdn.cloudflare.api_token", TOKEN.to_owned()),
                (
                    "cdn.cloudflare.api_base",
                    format!("{}/client/v4", self.base),
                ),
            ]),
            "fastly" => pairs.extend([
                ("cdn.fastly.service_id", SERVICE.to_owned()),
                ("cdn.fastly.api_token", TOKEN.to_owned()),
                ("cdn.fastly.api_base", self.base.clone()),
            ]),
            _ => pairs.extend([
                ("cdn.webhook.url", format!("{}/purge", self.base)),
                ("cdn.webhook.token", TOKEN.to_owned()),
            ]),
        }
        pairs
    }

    /// The next calls answer these statuses (then 200 again).
    pub fn script(&self, statuses: &[u16]) {
        self.lock().script.extend(statuses);
    }

    pub fn purges(&self) -> Vec<Purge> {
        self.lock().purges.clone()
    }

    /// The tags of every accepted purge, in order.
    pub fn purged_tags(&self) -> Vec<String> {
        self.purges()
            .into_iter()
            .filter(|p| p.status == 200)
            .flat_map(|p| p.tags)
            .collect()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let tags_of_body = || -> Vec<String> {
        json["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let bearer_ok = header(&req, "authorization") == Some(format!("Bearer {TOKEN}").as_str());
    let cloudflare_path = format!("/client/v4/zones/{ZONE}/purge_cache");
    let fastly_prefix = format!("/service/{SERVICE}/purge/");
    let (vendor, tags, authorized) = if req.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed().finish();
    } else if path == cloudflare_path {
        ("cloudflare", tags_of_body(), bearer_ok)
    } else if let Some(key) = path.strip_prefix(&fastly_prefix) {
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned();
        (
            "fastly",
            vec![key],
            header(&req, "fastly-key") == Some(TOKEN),
        )
    } else if path == "/purge" {
        ("webhook", tags_of_body(), bearer_ok)
    } else {
        return HttpResponse::NotFound().finish();
    };
    let mut state = state.lock().expect("cdn stand-in state");
    let status = if authorized {
        state.script.pop_front().unwrap_or(200)
    } else {
        403
    };
    state.purges.push(Purge {
        vendor,
        tags: tags.clone(),
        status,
    });
    let code = actix_web::http::StatusCode::from_u16(status).expect("status");
    match (vendor, status) {
        ("cloudflare", 200) => HttpResponse::Ok().json(json!({
            "success": true, "errors": [], "messages": [], "result": {"id": ZONE},
        })),
        ("cloudflare", _) => HttpResponse::build(code).json(json!({
            "success": false,
            "errors": [{"code": 10000, "message": "Authentication error"}],
            "messages": [], "result": null,
        })),
        ("fastly", 200) => {
            HttpResponse::Ok().json(json!({"status": "ok", "id": "108-1391560174-974124"}))
        }
        ("fastly", _) => HttpResponse::build(code)
            .json(json!({"msg": "Provided credentials are missing or invalid"})),
        (_, 200) => HttpResponse::Ok().finish(),
        _ => HttpResponse::build(code).finish(),
    }
}
