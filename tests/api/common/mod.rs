//! Test harness: the real app on a free port, settings from a table, and the Garage under test.

#![allow(dead_code)]

pub mod auth0;
pub mod auth0_mgmt;
pub mod cdn;
pub mod gate;
pub mod gravatar;
pub mod s3_relay;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use visage::Settings;
use visage::adapters::s3::S3Store;
use visage::ports::ObjectStore;

/// A running visage on a free loopback port, with its own storage folder.
pub struct TestApp {
    pub base: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Starts the app with the defaults plus `overrides` (`("storage.backend", "s3")`, ...).
    pub async fn spawn(overrides: &[(&str, &str)]) -> Self {
        visage::telemetry::init(visage::settings::LogFormat::Text);
        let data = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut env = vec![
            (
                "storage.fs.root".to_owned(),
                data.path().to_str().expect("utf-8").to_owned(),
            ),
            ("server.public_url".to_owned(), format!("http://{addr}")),
            ("server.workers".to_owned(), "2".to_owned()),
            ("server.shutdown_timeout_secs".to_owned(), "1".to_owned()),
            ("storage.health_interval_secs".to_owned(), "1".to_owned()),
            // Tables of uploads by one user would trip the per-user limit; tests/api/limits.rs
            // sets it low where the limit is what is tested.
            ("limits.uploads_per_minute".to_owned(), "100000".to_owned()),
        ];
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let settings = settings_from(&env).expect("valid test settings");
        let server = visage::serve(settings.clone(), listener)
            .await
            .expect("app starts");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://{addr}"),
            settings,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            data,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Settings from `("section.key", value)` pairs, through the same environment layer as production.
pub fn settings_from(
    pairs: &[(String, String)],
) -> Result<Settings, visage::settings::SettingsError> {
    let env = pairs.iter().map(|(k, v)| {
        (
            format!("VISAGE__{}", k.replace('.', "__").to_uppercase()),
            v.clone(),
        )
    });
    Settings::load_from(None, env)
}

/// Whether a missing dependency fails the test rather than skipping it: under `scripts/test`,
/// which sets `require_var` for everything it provides, and wherever `CI` is set (not to
/// `false` or `0`), since a CI run that skips proves nothing.
pub fn required(require_var: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    ci || std::env::var_os(require_var).is_some()
}

/// A test's dependency is missing: fails with `why` where it is [`required`], else says that
/// the test is skipped (plain `cargo test` on a machine without it).
pub fn missing(require_var: &str, why: &str) {
    assert!(
        !required(require_var),
        "{why}: this run requires it ({require_var} or CI is set; scripts/test provides it)"
    );
    eprintln!("skipping: {why} (scripts/test provides it)");
}

/// The Garage started by `scripts/test`, as settings overrides; `None` when the suite runs
/// without one (plain `cargo test`). Under `scripts/test` or CI a missing Garage fails the test.
pub fn garage() -> Option<Vec<(&'static str, String)>> {
    let var = |name: &str| std::env::var(name).ok();
    let Some(endpoint) = var("VISAGE_TEST_S3_ENDPOINT") else {
        missing(
            "VISAGE_TEST_REQUIRE_S3",
            "no Garage was started (VISAGE_TEST_S3_ENDPOINT unset)",
        );
        return None;
    };
    Some(vec![
        ("storage.backend", "s3".to_owned()),
        ("storage.s3.endpoint", endpoint),
        (
            "storage.s3.region",
            var("VISAGE_TEST_S3_REGION").unwrap_or_else(|| "garage".into()),
        ),
        (
            "storage.s3.bucket",
            var("VISAGE_TEST_S3_BUCKET").expect("bucket"),
        ),
        (
            "storage.s3.access_key_id",
            var("VISAGE_TEST_S3_ACCESS_KEY_ID").expect("key id"),
        ),
        (
            "storage.s3.secret_access_key",
            var("VISAGE_TEST_S3_SECRET_ACCESS_KEY").expect("secret"),
        ),
        ("storage.s3.force_path_style", "true".to_owned()),
        ("storage.s3.attempt_timeout_secs", "2".to_owned()),
        ("storage.s3.operation_timeout_secs", "4".to_owned()),
    ])
}

/// A store talking to the test Garage, for port-level tests.
pub fn garage_store() -> Option<Arc<dyn ObjectStore>> {
    let pairs: Vec<(String, String)> = garage()?
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let settings = settings_from(&pairs).expect("garage settings");
    Some(Arc::new(S3Store::new(&settings.storage.s3)))
}

/// Borrowed view for [`TestApp::spawn`].
pub fn as_overrides<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The Python that has Pillow: the suite's virtual environment (`VISAGE_TEST_PYTHON`, set by
/// `scripts/test`), else `python3`, which then must have Pillow itself.
pub fn python() -> String {
    std::env::var("VISAGE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Runs a Pillow `script` with `input` on its stdin and returns its stdout; panics with Pillow's
/// own words when the script fails (a picture it cannot read).
pub fn run_pillow(script: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs (scripts/test installs Pillow with AVIF into target/test-venv)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let output = child.wait_with_output().expect("pillow");
    assert!(
        output.status.success(),
        "Pillow cannot read the picture: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The repository's fixtures folder.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Starts a stand-in HTTP server (Auth0, Gravatar, a redirect target) on a free loopback port.
pub fn spawn_standin<F>(
    workers: usize,
    configure: F,
) -> (std::net::SocketAddr, actix_web::dev::ServerHandle)
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(workers)
            .listen(listener)
            .expect("listen")
            .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}
