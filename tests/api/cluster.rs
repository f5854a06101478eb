//! Several instances on a three-node Garage (replication 3, one zone per node) behind nginx:
//! racing uploads of one user through both instances and the balancer, a Garage node killed
//! while uploads run, an instance stopped with SIGTERM and restarted while a client reads.
//!
//! The cluster comes from `scripts/garage-cluster.sh` (started by `scripts/test`, which also sets
//! `VISAGE_TEST_REQUIRE_CLUSTER` so that these tests fail instead of skipping). The tests share
//! one cluster and kill its nodes, so they run one at a time.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;
use visage::ports::ObjectStore;

use crate::common::{self, TestApp};
use crate::upload::{fixture, user_path};

/// The cluster tests kill and restart nodes: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Distinct pictures (distinct masters, so distinct keys).
const PICTURES: [&str; 8] = [
    "orientation-1.jpg",
    "quadrants.webp",
    "progressive.jpg",
    "small-100.jpg",
    "greyscale.jpg",
    "grey-alpha.png",
    "opaque-rgba.png",
    "rgb16.png",
];

struct Cluster {
    endpoints: Vec<String>,
    dir: PathBuf,
    bucket: String,
    key_id: String,
    secret: String,
}

impl Cluster {
    /// The cluster of `scripts/garage-cluster.sh`, or `None` (skip) under plain `cargo test`.
    fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok();
        let Some(endpoints) = var("VISAGE_TEST_CLUSTER_S3_ENDPOINTS") else {
            assert!(
                var("VISAGE_TEST_REQUIRE_CLUSTER").is_none(),
                "VISAGE_TEST_REQUIRE_CLUSTER is set but no Garage cluster was started"
            );
            eprintln!("skipping cluster test: no Garage cluster (run scripts/test)");
            return None;
        };
        Some(Self {
            endpoints: endpoints.split(',').map(str::to_owned).collect(),
            dir: PathBuf::from(var("VISAGE_TEST_CLUSTER_DIR").expect("cluster dir")),
            bucket: var("VISAGE_TEST_CLUSTER_BUCKET").expect("bucket"),
            key_id: var("VISAGE_TEST_CLUSTER_ACCESS_KEY_ID").expect("key id"),
            secret: var("VISAGE_TEST_CLUSTER_SECRET_ACCESS_KEY").expect("secret"),
        })
    }

    /// Settings for an instance that talks to `node` (1-based).
    fn overrides(&self, node: usize) -> Vec<(&'static str, String)> {
        vec![
            ("storage.backend", "s3".to_owned()),
            ("storage.s3.endpoint", self.endpoints[node - 1].clone()),
            ("storage.s3.region", "garage".to_owned()),
            ("storage.s3.bucket", self.bucket.clone()),
            ("storage.s3.access_key_id", self.key_id.clone()),
            ("storage.s3.secret_access_key", self.secret.clone()),
            ("storage.s3.force_path_style", "true".to_owned()),
            ("storage.s3.attempt_timeout_secs", "2".to_owned()),
            ("storage.s3.operation_timeout_secs", "10".to_owned()),
        ]
    }

    fn store(&self, node: usize) -> Arc<dyn ObjectStore> {
        let pairs: Vec<(String, String)> = self
            .overrides(node)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let settings = common::settings_from(&pairs).expect("settings");
        Arc::new(visage::adapters::s3::S3Store::new(&settings.storage.s3))
    }

    /// Waits until every node answers a listing, i.e. reaches a quorum again: a restarted node
    /// reconnects to its peers some seconds after it serves, and the next test must not start
    /// on a half-connected cluster (it once listed through the restarted node and got
    /// "Could not reach quorum … Not connected").
    async fn await_quorum_on_every_node(&self, within: Duration) {
        let deadline = Instant::now() + within;
        for node in 1..=3 {
            let store = self.store(node);
            while let Err(err) = store.list("u/").await {
                assert!(
                    Instant::now() < deadline,
                    "node {node} reached no quorum within {within:?}: {err}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    fn node_dir(&self, node: usize) -> PathBuf {
        self.dir.join(format!("node{node}"))
    }

    /// SIGKILL, as a machine that loses power.
    fn kill_node(&self, node: usize) {
        let pid = std::fs::read_to_string(self.node_dir(node).join("garage.pid")).expect("pid");
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill node {node}");
    }

    /// Starts the node again on its folder; `scripts/garage-cluster.sh stop` stops it (by the
    /// pid file, so the child is not waited on here).
    #[allow(clippy::zombie_processes)]
    fn restart_node(&self, node: usize) {
        let dir = self.node_dir(node);
        let log = std::fs::File::options()
            .append(true)
            .create(true)
            .open(dir.join("garage.log"))
            .expect("log");
        let child = Command::new("garage")
            .arg("-c")
            .arg(dir.join("garage.toml"))
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("garage restarts");
        std::fs::write(dir.join("garage.pid"), child.id().to_string()).expect("pid file");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// nginx as the load balancer: its own prefix and config in a temporary folder, in the
/// foreground, stopped when dropped. A failed connection, a timeout or a 502/503 from one
/// instance sends an idempotent request to the other (`proxy_next_upstream`).
struct Nginx {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(port: u16, upstreams: &[String]) -> Self {
        let binary = std::env::var("VISAGE_TEST_NGINX").unwrap_or_else(|_| "nginx".into());
        let dir = tempfile::tempdir().expect("tempdir");
        // Workers drop root to `nobody`, which must reach the temporary folders inside.
        make_traversable(dir.path());
        let root = dir.path().display();
        let mut servers = String::new();
        for upstream in upstreams {
            servers.push_str("    server ");
            servers.push_str(upstream);
            servers.push_str(" max_fails=0;\n");
        }
        let config = format!(
            "worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream visage {{
{servers}    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 20m;
    location / {{
      proxy_pass http://visage;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host $host;
      proxy_connect_timeout 1s;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
    }}
  }}
}}
"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("nginx.conf");
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} starts (Debian nginx-light): {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_traversable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A fresh connection per request: a pooled keep-alive connection that the server (or nginx)
/// closes just as the next upload reuses it fails with `IncompleteMessage`, a client artifact
/// that says nothing about the pictures this suite checks.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    picture: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = client
        .post(format!("{base}{}", user_path(user)))
        .header("content-type", "image/jpeg")
        .body(fixture(picture));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("upload request")
}

async fn status_of(client: &reqwest::Client, url: &str) -> u16 {
    client
        .get(url)
        .send()
        .await
        .map_or(0, |res| res.status().as_u16())
}

/// Waits until `{base}/readyz` answers `want`, up to `within`; returns the last status.
async fn await_readiness(client: &reqwest::Client, base: &str, want: u16, within: Duration) -> u16 {
    let started = Instant::now();
    loop {
        let status = status_of(client, &format!("{base}/readyz")).await;
        if status == want || started.elapsed() > within {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn key_of_url(url: &str) -> String {
    url.split("/pictures/")
        .nth(1)
        .expect("a /pictures/ URL")
        .to_owned()
}

/// One user uploads through instance A, instance B and the balancer at once, round after round,
/// while the Management API stand-in applies the PATCHes in random order. After every round the
/// picture Auth0 accepted last answers 200 through both instances and the balancer; each round
/// starts once the previous round's objects are older than the grace, so the racing uploads'
/// cleanups really delete. At the end, the next upload after the grace leaves one object.
#[actix_web::test]
async fn racing_uploads_of_one_user_on_two_instances_keep_the_accepted_picture() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let tenant = common::auth0::FakeTenant::start().await;
    let mgmt = common::auth0_mgmt::MgmtStandIn::start();
    mgmt.set_random_latency(Duration::from_millis(400));
    let lb_port = free_port();
    let lb_base = format!("http://127.0.0.1:{lb_port}");
    let spawn = |node: usize| {
        let mut pairs = cluster.overrides(node);
        pairs.extend(tenant.overrides());
        pairs.extend(mgmt.overrides());
        pairs.extend([
            ("auth0.management.timeout_secs", "2".to_owned()),
            ("storage.cleanup_grace_secs", "3".to_owned()),
            // Every instance names pictures by the balancer's URL, as in production.
            ("server.public_url", lb_base.clone()),
        ]);
        async move { TestApp::spawn(&common::as_overrides(&pairs)).await }
    };
    let a = spawn(1).await;
    let b = spawn(2).await;
    let host = |app: &TestApp| app.base.trim_start_matches("http://").to_owned();
    let lb = Nginx::start(lb_port, &[host(&a), host(&b)]);
    // Letters and digits only besides `|`, so every encoder spells its path the same way.
    let user = format!("auth0|racer{}", uuid::Uuid::new_v4().simple());
    let encoded = utf8_percent_encode(&user, NON_ALPHANUMERIC).to_string();
    let token = tenant.token_for(&user);
    let http = client();
    let bases = [a.base.clone(), b.base.clone(), lb.base.clone()];

    for round in 0..3 {
        let uploads = PICTURES.iter().enumerate().map(|(i, picture)| {
            let base = bases[(i + round) % bases.len()].clone();
            let (http, user, token) = (http.clone(), user.clone(), token.clone());
            async move { post(&http, &base, &user, picture, Some(&token)).await }
        });
        for res in futures_util::future::join_all(uploads).await {
            assert_eq!(res.status(), StatusCode::CREATED, "round {round}");
        }
        let accepted = mgmt
            .accepted_picture(&encoded)
            .expect("a picture was accepted");
        assert!(accepted.starts_with(&lb_base), "{accepted}");
        let key = key_of_url(&accepted);
        for base in &bases {
            let url = format!("{base}/pictures/{key}");
            assert_eq!(status_of(&http, &url).await, 200, "round {round}: {url}");
        }
        // The grace (3 s) and a margin: with 0.3 s, one full run on a loaded machine kept an
        // object of the last round (cause not pinned down; S3 times objects to the second).
        tokio::time::sleep(Duration::from_millis(4500)).await;
    }

    // Orphans are bounded and collected: the next upload after the grace leaves one object.
    let res = post(&http, &lb.base, &user, "small-100.jpg", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let key = body["key"].as_str().expect("key");
    let prefix = format!("{}/", key.rsplit_once('/').expect("prefix").0);
    let left = cluster.store(3).list(&prefix).await.expect("list");
    assert_eq!(
        left.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [key.to_owned()]
    );
    drop(lb);
    a.stop().await;
    b.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// A Garage node dies (SIGKILL) while uploads run through two instances: within the write
/// quorum, every upload answers 201 and every answered picture stays readable through both.
/// Then a second node dies: no quorum, `/readyz` turns 503; both come back: 200 again.
#[actix_web::test]
async fn a_garage_node_killed_while_uploads_run_loses_nothing() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let spawn = |node: usize| {
        let mut pairs = cluster.overrides(node);
        pairs.push(("server.dev", "true".to_owned()));
        async move { TestApp::spawn(&common::as_overrides(&pairs)).await }
    };
    let a = spawn(1).await;
    let b = spawn(2).await;
    let http = client();
    for app in [&a, &b] {
        assert_eq!(
            await_readiness(&http, &app.base, 200, Duration::from_secs(20)).await,
            200
        );
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let uploads = (0..24).map(|i| {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let user = format!("auth0|node-loss-{run}-{i}");
        let http = http.clone();
        async move {
            // Spread over about three seconds, so that uploads run before, during and after.
            tokio::time::sleep(Duration::from_millis(120 * i)).await;
            let res = post(
                &http,
                &base,
                &user,
                PICTURES[i as usize % PICTURES.len()],
                None,
            )
            .await;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    });
    let killer = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.kill_node(3);
    };
    let (answers, ()) = futures_util::join!(futures_util::future::join_all(uploads), killer);
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    for (_, body) in &answers {
        let key = body["key"].as_str().expect("key");
        for app in [&a, &b] {
            let url = app.url(&format!("/pictures/{key}"));
            assert_eq!(status_of(&http, &url).await, 200, "{url}");
        }
    }
    assert_eq!(
        status_of(&http, &a.url("/readyz")).await,
        200,
        "two of three nodes: quorum"
    );

    cluster.kill_node(2);
    assert_eq!(
        await_readiness(&http, &a.base, 503, Duration::from_secs(15)).await,
        503,
        "one node of three has no quorum"
    );
    cluster.restart_node(2);
    cluster.restart_node(3);
    for app in [&a, &b] {
        assert_eq!(
            await_readiness(&http, &app.base, 200, Duration::from_secs(90)).await,
            200,
            "ready again once the nodes are back"
        );
    }
    cluster
        .await_quorum_on_every_node(Duration::from_secs(90))
        .await;
    let key = answers[0].1["key"].as_str().expect("key");
    assert_eq!(
        status_of(&http, &b.url(&format!("/pictures/{key}"))).await,
        200
    );
    a.stop().await;
    b.stop().await;
}

/// A real `visage` process on `port`, talking to `node`.
fn spawn_binary(cluster: &Cluster, node: usize, port: u16, log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_visage"));
    command
        .arg("--dev")
        .env("VISAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env(
            "VISAGE__SERVER__PUBLIC_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .env("VISAGE__SERVER__WORKERS", "1")
        .env("VISAGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "5")
        .env("VISAGE__STORAGE__HEALTH_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::options()
                .append(true)
                .create(true)
                .open(log)
                .expect("log"),
        );
    for (key, value) in cluster.overrides(node) {
        command.env(
            format!("VISAGE__{}", key.replace('.', "__").to_uppercase()),
            value,
        );
    }
    command.spawn().expect("visage starts")
}

/// Each instance in turn gets SIGTERM and is started again while a client reads a stored
/// picture through nginx without pause: not one read fails.
#[actix_web::test]
async fn instances_restarted_with_sigterm_behind_nginx_fail_no_read() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let logs = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port()];
    let log_of = |i: usize| logs.path().join(format!("visage-{i}.log"));
    let mut children = Instances(
        (0..2)
            .map(|i| Some(spawn_binary(&cluster, i + 1, ports[i], &log_of(i))))
            .collect(),
    );
    let http = client();
    for port in ports {
        let base = format!("http://127.0.0.1:{port}");
        assert_eq!(
            await_readiness(&http, &base, 200, Duration::from_secs(30)).await,
            200
        );
    }
    let lb = Nginx::start(free_port(), &ports.map(|p| format!("127.0.0.1:{p}")));
    let user = format!("auth0|reader-{}", uuid::Uuid::new_v4().simple());
    let res = post(&http, &lb.base, &user, "quadrants.webp", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let key = body["key"].as_str().expect("key").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let (stop, reads, failures) = (stop.clone(), reads.clone(), failures.clone());
        let urls = [
            format!("{}/pictures/{key}", lb.base),
            format!("{}/pictures/{key}?size=64", lb.base),
        ];
        let http = http.clone();
        actix_web::rt::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[i % urls.len()];
                i += 1;
                match http.get(url).send().await {
                    Ok(res) if res.status() == 200 => match res.bytes().await {
                        Ok(_) => {}
                        Err(err) => failures.lock().expect("failures").push(err.to_string()),
                    },
                    Ok(res) => failures
                        .lock()
                        .expect("failures")
                        .push(format!("{url}: {}", res.status())),
                    Err(err) => failures.lock().expect("failures").push(err.to_string()),
                }
                reads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    #[allow(clippy::needless_range_loop)] // the slot is refilled by index after the wait
    for i in 0..2 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut child = children.0[i].take().expect("running");
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(term.success());
        let exit = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        assert!(
            exit.success(),
            "instance {i} exits cleanly on SIGTERM: {exit:?}"
        );
        children.0[i] = Some(spawn_binary(&cluster, i + 1, ports[i], &log_of(i)));
        let base = format!("http://127.0.0.1:{}", ports[i]);
        assert_eq!(
            await_readiness(&http, &base, 200, Duration::from_secs(30)).await,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    reader.await.expect("reader");
    let failures = failures.lock().expect("failures").clone();
    let reads = reads.load(Ordering::Relaxed);
    assert!(reads > 50, "the reader kept reading: {reads}");
    assert!(
        failures.is_empty(),
        "{} of {reads} reads failed: {failures:?}",
        failures.len()
    );
    drop(children);
}

/// The running `visage` processes, killed when the test ends (also when it fails).
struct Instances(Vec<Option<Child>>);

impl Drop for Instances {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
