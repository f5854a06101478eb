//! What `visage import` meets in these tests: a legacy picture host (real fixture files, a 404,
//! a 500, a PDF, pictures over the byte limit, redirects within the host and to another one, a
//! stall), another host that must never be asked, and the real binary run against them.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::common;

/// Every path a stand-in was asked for, in order.
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<Vec<String>>>);

impl Hits {
    fn record(&self, path: &str) {
        self.0.lock().expect("hits").push(path.to_owned());
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().expect("hits").clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.all().iter().filter(|p| *p == path).count()
    }
}

/// The legacy host on 127.0.0.1 and a host that is not allowed on 127.0.0.2 (another loopback
/// address: another host, as far as the allow-list and the redirect rule can tell).
pub struct Legacy {
    pub base: String,
    pub elsewhere: String,
    pub hits: Hits,
    pub elsewhere_hits: Hits,
    handles: Vec<actix_web::dev::ServerHandle>,
}

impl Legacy {
    pub fn start() -> Self {
        let (elsewhere_addr, elsewhere_handle, elsewhere_hits) = serve("127.0.0.2", None);
        let elsewhere = format!("http://{elsewhere_addr}");
        let (addr, handle, hits) = serve("127.0.0.1", Some(elsewhere.clone()));
        Self {
            base: format!("http://{addr}"),
            elsewhere,
            hits,
            elsewhere_hits,
            handles: vec![handle, elsewhere_handle],
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(self) {
        for handle in self.handles {
            handle.stop(false).await;
        }
    }
}

fn serve(
    ip: &str,
    elsewhere: Option<String>,
) -> (std::net::SocketAddr, actix_web::dev::ServerHandle, Hits) {
    let hits = Hits::default();
    let recorded = hits.clone();
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = actix_web::HttpServer::new(move || {
        let hits = recorded.clone();
        let elsewhere = elsewhere.clone();
        actix_web::App::new().default_service(web::to(move |req: HttpRequest| {
            let hits = hits.clone();
            let elsewhere = elsewhere.clone();
            async move {
                hits.record(req.path());
                answer(req.path(), elsewhere.as_deref()).await
            }
        }))
    })
    .workers(4)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle, hits)
}

fn picture(name: &str) -> HttpResponse {
    let bytes = std::fs::read(common::fixture(name)).expect("fixture");
    HttpResponse::Ok().content_type("image/jpeg").body(bytes)
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", to))
        .finish()
}

async fn answer(path: &str, elsewhere: Option<&str>) -> HttpResponse {
    let Some(elsewhere) = elsewhere else {
        // The host that is not allowed answers a real picture: fetching it would import it.
        return picture("small-100.jpg");
    };
    if let Some(rest) = path.strip_prefix("/pics/") {
        let name = rest.rsplit('/').next().unwrap_or_default();
        return picture(name);
    }
    if let Some(rest) = path.strip_prefix("/hop/") {
        return redirect(&format!("/pics/{rest}"));
    }
    match path {
        // `/missing.jpg` and any other path: 404.
        "/broken.jpg" => HttpResponse::InternalServerError().finish(),
        // A PDF that says it is a JPEG: the format is sniffed, never taken from the header.
        "/document.jpg" => picture("document.pdf"),
        // 72 KB, over the tests' 50 000-byte limit, with a Content-Length …
        "/big.jpg" => picture("photo-coffee.jpg"),
        // … and without one (chunked), so the cap must hold while streaming.
        "/big-chunked.jpg" => {
            let bytes = std::fs::read(common::fixture("photo-coffee.jpg")).expect("fixture");
            let chunks: Vec<Result<web::Bytes, std::io::Error>> = bytes
                .chunks(8192)
                .map(|c| Ok(web::Bytes::copy_from_slice(c)))
                .collect();
            HttpResponse::Ok()
                .content_type("image/jpeg")
                .streaming(futures_util::stream::iter(chunks))
        }
        "/away.jpg" => redirect(&format!("{elsewhere}/stolen.jpg")),
        "/loop.jpg" => redirect("/loop.jpg"),
        "/slow.jpg" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            picture("small-100.jpg")
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// What one run printed and how it ended.
pub struct Run {
    pub status: Option<i32>,
    /// The JSON lines, by user id (a user printed twice fails the test).
    pub lines: BTreeMap<String, Value>,
    pub stderr: String,
}

impl Run {
    /// The user ids whose line has `status`.
    pub fn with_status(&self, status: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(_, line)| line["status"] == status)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn code_of(&self, user_id: &str) -> String {
        code(&self.lines[user_id])
    }
}

/// A line's reason code (the part before `: `), or its status for an import without a reason.
pub fn code(line: &Value) -> String {
    match line["reason"].as_str() {
        Some(reason) => reason.split(": ").next().unwrap_or(reason).to_owned(),
        None => line["status"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Runs `visage import ARGS FILE` with `env` (`section.key` pairs) on a blocking thread, so the
/// stand-ins of this test keep answering.
pub async fn run_import(env: &[(&str, String)], args: &[&str], file: &Path) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_visage"));
    command.arg("import").args(args).arg(file);
    command.env("VISAGE__SERVER__LOG_FORMAT", "text");
    for (key, value) in env {
        command.env(
            format!("VISAGE__{}", key.replace('.', "__").to_uppercase()),
            value,
        );
    }
    let output = actix_web::rt::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("visage import runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
    // The summary, for whoever reads the test's output.
    if let Some(summary) = stderr.lines().find(|l| l.starts_with("visage import")) {
        eprintln!("{summary}");
    }
    let mut lines = BTreeMap::new();
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{stderr}"));
        let keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["picture", "reason", "status", "user_id"], "{line}");
        let user = value["user_id"].as_str().expect("user_id").to_owned();
        assert!(
            lines.insert(user, value).is_none(),
            "a user printed twice: {line}"
        );
    }
    Run {
        status: output.status.code(),
        lines,
        stderr,
    }
}
