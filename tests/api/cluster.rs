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

use crate::common::s3_relay::{Held, S3Relay};
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
            common::missing(
                "VISAGE_TEST_REQUIRE_CLUSTER",
                "no Garage cluster was started (VISAGE_TEST_CLUSTER_S3_ENDPOINTS unset)",
            );
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

/// nginx as a load balancer: its own prefix and config in a temporary folder, in the
/// foreground. [`Nginx::stop`] stops it gracefully and checks that no worker outlives it (the
/// suite must leave nothing running); dropping it does the same, without the check.
struct Nginx {
    child: Option<Child>,
    base: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// The balancer in front of visage instances (`host:port` each), as DEPLOY.md configures
    /// it: a failed connection, a timeout or a 502/503 from one instance sends an idempotent
    /// request to the other (`proxy_next_upstream`).
    fn start(port: u16, upstreams: &[String]) -> Self {
        Self::start_with(
            port,
            upstreams,
            "max_fails=0",
            "keepalive 16;",
            "proxy_set_header Host $host;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;",
        )
    }

    /// A local balancer in front of Garage nodes, as DEPLOY.md suggests for an instance's S3
    /// endpoint: a refused connection or a timeout sends the request to the next node (S3
    /// requests are signed with the `Host` they name, so it is passed on with its port).
    fn start_s3(port: u16, endpoints: &[String]) -> Self {
        let nodes: Vec<String> = endpoints
            .iter()
            .map(|e| e.trim_start_matches("http://").to_owned())
            .collect();
        Self::start_with(
            port,
            &nodes,
            "max_fails=1 fail_timeout=5s",
            "",
            "proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;",
        )
    }

    fn start_with(
        port: u16,
        upstreams: &[String],
        server_flags: &str,
        upstream_extra: &str,
        location_extra: &str,
    ) -> Self {
        let binary = std::env::var("VISAGE_TEST_NGINX").unwrap_or_else(|_| "nginx".into());
        let dir = tempfile::tempdir().expect("tempdir");
        // Workers drop root to `nobody`, which must reach the temporary folders inside.
        make_traversable(dir.path());
        let root = dir.path().display();
        let mut servers = String::new();
        for upstream in upstreams {
            servers.push_str("    server ");
            servers.push_str(upstream);
            servers.push(' ');
            servers.push_str(server_flags);
            servers.push_str(";\n");
        }
        let config = format!(
            "worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
# A graceful stop waits for open requests at most this long.
worker_shutdown_timeout 10s;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream backends {{
{servers}    {upstream_extra}
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 20m;
    location / {{
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_connect_timeout 1s;
      {location_extra}
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
        let mut nginx = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                let log = std::fs::read_to_string(nginx.dir.path().join("error.log"));
                nginx.shut_down();
                panic!("nginx did not listen: {}", log.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    /// Stops nginx gracefully and fails the test if a process of it is still running after.
    fn stop(mut self) {
        let survivors = self.shut_down();
        // Ended before the test fails, so that the failure does not leave them running either.
        kill_all(&survivors);
        assert!(
            survivors.is_empty(),
            "nginx processes outlived their master: {survivors:?}"
        );
    }

    /// SIGQUIT to the master (graceful: workers finish their requests, then the master reaps
    /// them and exits), waited for; SIGKILL only past a deadline. Returns the workers still
    /// alive after the master is gone.
    fn shut_down(&mut self) -> Vec<u32> {
        let Some(mut master) = self.child.take() else {
            return Vec::new();
        };
        let workers = children_of(master.id());
        let signalled = Command::new("kill")
            .args(["-QUIT", &master.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while signalled && Instant::now() < deadline {
            if matches!(master.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(master.try_wait(), Ok(Some(_))) {
            let _ = master.kill();
            let _ = master.wait();
        }
        workers.into_iter().filter(|pid| is_running(*pid)).collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        kill_all(&self.shut_down());
    }
}

fn kill_all(pids: &[u32]) {
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| stat_of(*candidate).is_some_and(|(_, parent)| parent == pid))
        .collect()
}

/// State letter and parent pid of a process, from /proc/PID/stat.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields follow the last `)`.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Alive and not a zombie.
fn is_running(pid: u32) -> bool {
    stat_of(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
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
    let prefix = visage::domain::upload::user_prefix(&user);
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
        // Every object of the round older than the grace by the store's clock, so the next
        // round's cleanups really delete.
        let objects = cluster.store(3).list_objects(&prefix).await.expect("list");
        let newest = objects.iter().max_by_key(|o| o.modified).expect("objects");
        await_older_than_grace(newest, Duration::from_secs(3)).await;
    }

    // Orphans are bounded and collected: the next upload after the grace leaves one object.
    let sent = std::time::SystemTime::now();
    let res = post(&http, &lb.base, &user, "small-100.jpg", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let key = body["key"].as_str().expect("key");
    let store = cluster.store(3);
    // On a loaded machine Garage's listing can still show an object for a moment after its
    // delete (seen: 3 of 21 runs beside three CPU hogs; a GET of it already said "no object"
    // and a listing 2 s later was right): wait for the listing to settle, up to 10 s.
    let settled_by = Instant::now() + Duration::from_secs(10);
    let mut left = store.list_objects(&prefix).await.expect("list");
    while left.len() != 1 && Instant::now() < settled_by {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = store.list_objects(&prefix).await.expect("list");
    }
    // Each object left with its age when the last upload was sent (an old one: a cleanup that
    // missed it; a young one: a write that came after) and what a GET of it answers.
    let mut ages = Vec::new();
    for object in left.iter().filter(|object| object.key.as_str() != key) {
        let age = sent.duration_since(object.modified).map_or_else(
            |ahead| format!("-{:?}", ahead.duration()),
            |age| format!("{age:?}"),
        );
        let get = match store.get(&object.key).await {
            Ok(_) => "found".to_owned(),
            Err(error) => format!("{error}"),
        };
        ages.push(format!("{} ({age} old, GET: {get})", object.key));
    }
    assert_eq!(
        left.iter()
            .map(|object| object.key.to_string())
            .collect::<Vec<_>>(),
        [key.to_owned()],
        "objects left: {ages:?}"
    );
    lb.stop();
    a.stop().await;
    b.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// The Garage node that an instance uses as its endpoint dies (SIGKILL) while uploads run,
/// in the two setups DEPLOY.md offers: instance A talks to node 1 directly ("a nearby node"),
/// instance B to a local nginx over all three nodes. What it shows: B answers every upload
/// 201; A answers 201 until its node dies, then 503 `storage_unavailable` (never a 500, never a
/// 201 for a picture that is not there) and its `/readyz` turns 503, so a balancer that reads
/// readiness stops sending it requests; every answered picture stays readable through B. Then a
/// second node dies: B loses its quorum (503); both come back: both are ready again.
#[actix_web::test]
async fn the_endpoint_node_of_an_instance_killed_while_uploads_run_loses_nothing() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let s3_balancer = Nginx::start_s3(free_port(), &cluster.endpoints);
    let spawn = |endpoint: String| {
        let mut pairs = cluster.overrides(1);
        pairs.retain(|(k, _)| *k != "storage.s3.endpoint");
        pairs.push(("storage.s3.endpoint", endpoint));
        pairs.push(("server.dev", "true".to_owned()));
        async move { TestApp::spawn(&common::as_overrides(&pairs)).await }
    };
    let a = spawn(cluster.endpoints[0].clone()).await;
    let b = spawn(s3_balancer.base.clone()).await;
    let http = client();
    for app in [&a, &b] {
        assert_eq!(
            await_readiness(&http, &app.base, 200, Duration::from_secs(20)).await,
            200
        );
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let upload = |i: usize| {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let user = format!("auth0|endpoint-loss-{run}-{i}");
        let http = http.clone();
        async move {
            let res = post(&http, &base, &user, PICTURES[i % PICTURES.len()], None).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (i, status, body)
        }
    };
    // Uploads through both before the kill, then while node 1 dies, then after.
    let mut answers = futures_util::future::join_all((0..8).map(upload)).await;
    let during = futures_util::future::join_all((8..16).map(upload));
    let killer = async { cluster.kill_node(1) };
    let (during, ()) = futures_util::join!(during, killer);
    answers.extend(during);
    answers.extend(futures_util::future::join_all((16..24).map(upload)).await);

    let mut refused_by_a = 0;
    for (i, status, body) in &answers {
        let through = if i % 2 == 0 {
            "A (node 1)"
        } else {
            "B (balancer)"
        };
        match (i % 2, status.as_u16()) {
            (_, 201) => {
                let key = body["key"].as_str().expect("key");
                let url = b.url(&format!("/pictures/{key}"));
                assert_eq!(
                    status_of(&http, &url).await,
                    200,
                    "upload {i} through {through}: {url}"
                );
            }
            (0, 503) => {
                assert_eq!(body["error"], "storage_unavailable", "upload {i}: {body}");
                refused_by_a += 1;
            }
            (_, other) => panic!("upload {i} through {through}: {other} {body}"),
        }
    }
    // After the kill, every upload through A found its node gone.
    assert!(
        refused_by_a >= 4,
        "A refused {refused_by_a} uploads: {answers:?}"
    );
    assert_eq!(
        await_readiness(&http, &a.base, 503, Duration::from_secs(30)).await,
        503,
        "A's endpoint is gone"
    );
    assert_eq!(
        status_of(&http, &b.url("/readyz")).await,
        200,
        "two of three nodes: quorum"
    );

    cluster.kill_node(2);
    assert_eq!(
        await_readiness(&http, &b.base, 503, Duration::from_secs(30)).await,
        503,
        "one node of three has no quorum"
    );
    cluster.restart_node(1);
    cluster.restart_node(2);
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
    let (_, _, first) = &answers[0];
    let key = first["key"].as_str().expect("key");
    assert_eq!(
        status_of(&http, &a.url(&format!("/pictures/{key}"))).await,
        200
    );
    a.stop().await;
    b.stop().await;
    s3_balancer.stop();
}

/// Two instances, a user's upload on A and the user's `DELETE` on B, in the two orders that
/// DEPLOY.md discusses, each forced with gates (the Management API stand-in holds the upload's
/// write-back; an S3 relay holds B's deletion):
///
/// 1. The delete clears the profile and lists the user's objects; the upload's write-back lands
///    (the profile names its picture) and its cleanup still finds the object; then the delete
///    removes it. Before the fix this left the profile naming a missing picture; now the delete
///    clears the profile again once its objects are gone: no picture, no object.
/// 2. The whole delete runs while the upload's write-back waits; the write-back lands after:
///    the upload's cleanup finds its object gone and stores it again: the picture is there.
///
/// Either way the profile never names a picture that answers 404.
#[actix_web::test]
async fn a_delete_racing_an_upload_on_another_instance_never_leaves_a_missing_picture() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let tenant = common::auth0::FakeTenant::start().await;
    let mgmt = common::auth0_mgmt::MgmtStandIn::start();
    let relay = S3Relay::start(&cluster.endpoints[1], Held::Deletes);
    let spawn = |endpoint: String| {
        let mut pairs = cluster.overrides(1);
        pairs.retain(|(k, _)| *k != "storage.s3.endpoint");
        pairs.push(("storage.s3.endpoint", endpoint));
        pairs.extend(tenant.overrides());
        pairs.extend(mgmt.overrides());
        // Gates hold a write-back for a while; its bound must not end it.
        pairs.push(("auth0.management.timeout_secs", "30".to_owned()));
        pairs.push(("storage.cleanup_grace_secs", "60".to_owned()));
        async move { TestApp::spawn(&common::as_overrides(&pairs)).await }
    };
    let a = spawn(cluster.endpoints[0].clone()).await;
    let b = spawn(relay.endpoint.clone()).await;
    let http = client();
    let store = cluster.store(3);
    let within = Duration::from_secs(30);

    for order in [
        "delete lists, write-back lands, delete removes",
        "delete, then write-back",
    ] {
        // Letters and digits besides `|`, so every encoder spells its path the same way.
        let user = format!("auth0|race{}", uuid::Uuid::new_v4().simple());
        let encoded = utf8_percent_encode(&user, NON_ALPHANUMERIC).to_string();
        let token = tenant.token_for(&user);
        mgmt.picture_gate.close();
        let upload = {
            let (http, base, user, token) =
                (http.clone(), a.base.clone(), user.clone(), token.clone());
            actix_web::rt::spawn(async move {
                post(&http, &base, &user, "quadrants.webp", Some(&token)).await
            })
        };
        let arrived = mgmt.picture_gate.arrived();
        mgmt.picture_gate
            .await_arrivals(arrived + 1, within, "the upload's write-back")
            .await;
        let first_order = order.starts_with("delete lists");
        if first_order {
            relay.gate.close();
        }
        let delete = {
            let (http, url, token) = (http.clone(), b.url(&user_path(&user)), token.clone());
            actix_web::rt::spawn(async move {
                http.delete(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("delete")
            })
        };
        if first_order {
            let arrived = relay.gate.arrived();
            relay
                .gate
                .await_arrivals(arrived + 1, within, "the delete's removal")
                .await;
            mgmt.picture_gate.open();
            let res = upload.await.expect("upload task");
            assert_eq!(res.status(), StatusCode::CREATED, "{order}");
            relay.gate.open();
            let res = delete.await.expect("delete task");
            assert_eq!(res.status(), StatusCode::NO_CONTENT, "{order}");
        } else {
            let res = delete.await.expect("delete task");
            assert_eq!(res.status(), StatusCode::NO_CONTENT, "{order}");
            mgmt.picture_gate.open();
            let res = upload.await.expect("upload task");
            assert_eq!(res.status(), StatusCode::CREATED, "{order}");
        }
        let prefix = visage::domain::upload::user_prefix(&user);
        let left = store.list(&prefix).await.expect("list");
        let patches: Vec<(u16, Value)> = mgmt
            .patches()
            .into_iter()
            .filter(|p| p.raw_path.ends_with(&encoded))
            .map(|p| (p.status, p.body))
            .collect();
        match mgmt.accepted_picture(&encoded) {
            Some(picture) => {
                // The store itself, and B (the deleting instance forgot its cached variants):
                // A may still hold the picture it uploaded in its memory cache.
                let key = key_of_url(&picture);
                assert!(
                    left.iter().any(|k| k.as_str() == key),
                    "{order}: the profile names {picture}, which is not stored (objects: {left:?}; PATCHes: {patches:?})"
                );
                assert_eq!(
                    status_of(&http, &b.url(&format!("/pictures/{key}"))).await,
                    200,
                    "{order}: {picture} through B"
                );
                assert!(
                    order == "delete, then write-back",
                    "{order}: the delete was undone"
                );
            }
            None => assert!(
                left.is_empty(),
                "{order}: no picture, yet objects left: {left:?} (PATCHes: {patches:?})"
            ),
        }
    }
    a.stop().await;
    b.stop().await;
    relay.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// An instance stalls between its write-back and its cleanup (an S3 relay holds its listing)
/// for longer than the grace, while another instance uploads a newer picture of the same user
/// and that one's cleanup removes the stalled upload's object. When the stalled cleanup goes on,
/// its cutoff is the one fixed before its write-back, so it deletes nothing younger: the
/// picture Auth0 accepted last stays. (It also finds its own object gone and stores it again:
/// an orphan, collected by a later upload or `visage gc` once older than the grace.)
#[actix_web::test]
async fn an_instance_stalled_between_write_back_and_cleanup_deletes_no_newer_picture() {
    const GRACE: Duration = Duration::from_secs(3);
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let tenant = common::auth0::FakeTenant::start().await;
    let mgmt = common::auth0_mgmt::MgmtStandIn::start();
    let relay = S3Relay::start(&cluster.endpoints[0], Held::Listings);
    let spawn = |endpoint: String| {
        let mut pairs = cluster.overrides(1);
        pairs.retain(|(k, _)| *k != "storage.s3.endpoint");
        pairs.push(("storage.s3.endpoint", endpoint));
        pairs.extend(tenant.overrides());
        pairs.extend(mgmt.overrides());
        pairs.push(("auth0.management.timeout_secs", "2".to_owned()));
        pairs.push(("storage.cleanup_grace_secs", GRACE.as_secs().to_string()));
        // The held listing must wait at the gate, not time out and skip the cleanup.
        pairs.push(("storage.s3.attempt_timeout_secs", "60".to_owned()));
        pairs.push(("storage.s3.operation_timeout_secs", "60".to_owned()));
        async move { TestApp::spawn(&common::as_overrides(&pairs)).await }
    };
    let a = spawn(relay.endpoint.clone()).await;
    let b = spawn(cluster.endpoints[1].clone()).await;
    let http = client();
    let store = cluster.store(3);
    let user = format!("auth0|stall{}", uuid::Uuid::new_v4().simple());
    let encoded = utf8_percent_encode(&user, NON_ALPHANUMERIC).to_string();
    let token = tenant.token_for(&user);
    let prefix = visage::domain::upload::user_prefix(&user);
    let within = Duration::from_secs(30);

    relay.gate.close();
    let stalled = {
        let (http, base, user, token) = (http.clone(), a.base.clone(), user.clone(), token.clone());
        actix_web::rt::spawn(
            async move { post(&http, &base, &user, PICTURES[0], Some(&token)).await },
        )
    };
    relay
        .gate
        .await_arrivals(1, within, "A's cleanup listing")
        .await;
    let first = store.list_objects(&prefix).await.expect("list");
    assert_eq!(first.len(), 1, "A stored its picture: {first:?}");
    await_older_than_grace(&first[0], GRACE).await;

    let res = post(&http, &b.base, &user, PICTURES[1], Some(&token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let newer = body["key"].as_str().expect("key").to_owned();
    // B's cleanup removes A's older picture (its write-back landed first); either way, A's
    // cleanup must resume only once B's picture too is older than the grace.
    let objects = store.list_objects(&prefix).await.expect("list");
    let b_object = objects
        .iter()
        .find(|o| o.key.as_str() == newer)
        .expect("B's picture is stored");
    // A cutoff taken now (not before A's write-back) would then delete it.
    await_older_than_grace(b_object, GRACE).await;
    relay.gate.open();
    let res = stalled.await.expect("upload task");
    assert_eq!(res.status(), StatusCode::CREATED);

    let body: Value = res.json().await.expect("json");
    let stalled_key = body["key"].as_str().expect("key").to_owned();
    let left = store.list(&prefix).await.expect("list");
    let accepted = mgmt
        .accepted_picture(&encoded)
        .expect("a picture was accepted");
    assert_eq!(key_of_url(&accepted), newer, "B's write-back landed last");
    assert!(
        left.iter().any(|k| k.as_str() == newer),
        "the stalled cleanup deleted the accepted picture {newer}: left {left:?}"
    );
    // Proof that the stalled cleanup ran: its listing missed its own object, which it stored again.
    assert!(
        left.iter().any(|k| k.as_str() == stalled_key),
        "the stalled cleanup did not run to its end: left {left:?}"
    );
    for app in [&a, &b] {
        let url = app.url(&format!("/pictures/{newer}"));
        assert_eq!(
            status_of(&http, &url).await,
            200,
            "the accepted picture: {url}"
        );
    }
    a.stop().await;
    b.stop().await;
    relay.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// Waits until `object` is older than `grace` by the store's clock (to the second) and ours.
async fn await_older_than_grace(object: &visage::ports::StoredObject, grace: Duration) {
    // The store times objects to the second: one more second, and the cutoff of any cleanup
    // that starts from now is past it.
    let past = object.modified + grace + Duration::from_millis(1500);
    while std::time::SystemTime::now() < past {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

    // Reads go on before, between and after the restarts: each step waits for 20 more reads.
    let more_reads = |reads: Arc<AtomicUsize>| async move {
        let from = reads.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while reads.load(Ordering::Relaxed) < from + 20 {
            assert!(Instant::now() < deadline, "the reader stopped reading");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    #[allow(clippy::needless_range_loop)] // the slot is refilled by index after the wait
    for i in 0..2 {
        more_reads(reads.clone()).await;
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
    more_reads(reads.clone()).await;
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
    lb.stop();
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
