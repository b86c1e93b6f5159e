//! The web view (issue 20) in a real browser: headless Chromium, driven over WebDriver
//! (chromedriver on loopback), against a daemon of this process on a simulated cluster. The
//! tree shows the fixtures' objects, a rollout's bars move with its steps, an abort shows its
//! reason, a drift appears, and the page turns stale when the daemon stops. Without Chromium
//! these tests say so and pass, except under `CI=true`, where they fail.
//!
//! `UI_SCREENSHOTS=1` saves the moments as `docs/ui/*.png`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use kube::api::{Patch, PatchParams};
use reconciler::cluster::Cluster;
use reconciler::commands::run;
use reconciler::daemon::{Config, State, Trigger};
use serde_json::{Value, json};

use crate::cluster::TestCluster;
use crate::sync::{D, component, domain, server};

/// The longest a moment of the page may take to show.
const WITHIN: Duration = Duration::from_secs(20);

/// A Git repository on branch `main` that the daemon follows by path.
struct Upstream {
    dir: tempfile::TempDir,
    work: reconciler::git::WorkTree,
}

impl Upstream {
    fn new() -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        let work = reconciler::git::WorkTree::init(dir.path()).unwrap();
        Upstream { dir, work }
    }

    fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, text) in files {
            self.work.write(path, text).unwrap();
        }
        self.work.commit(message).unwrap()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a loopback port, with a fresh Chromium profile; stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver, or `None` (after saying so) when Chromium is not installed
    /// outside CI; under `CI=true` a missing Chromium fails the test.
    fn start() -> Option<Driver> {
        let found = |p: &str| std::path::Path::new(p).exists();
        if !found("/usr/bin/chromedriver") || !found("/usr/bin/chromium") {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
            );
            eprintln!(
                "skipped: this test needs chromium and chromium-driver (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Driver {
            child,
            port,
            _profile: tempfile::tempdir().unwrap(),
        })
    }

    /// A headless Chromium session.
    async fn browser(&self) -> Client {
        let profile = self._profile.path().display().to_string();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1200,900",
                    format!("--user-data-dir={profile}"),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon of this process following an upstream repository.
struct Daemon {
    c: TestCluster,
    up: Upstream,
    state: Arc<State>,
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn files(weights: &str, annotations: &str) -> Vec<(&'static str, String)> {
    vec![
        ("src/domain.yaml", domain()),
        (
            "src/server.yaml",
            server(weights, "calc.v1.Adder").replace(
                "metadata: {name: adder}",
                &format!("metadata: {{name: adder, annotations: {{{annotations}}}}}"),
            ),
        ),
        ("src/c1.yaml", component("1.0.0", "1.0.0")),
        ("src/c2.yaml", component("1.1.0", "1.1.0")),
    ]
}

impl Daemon {
    async fn start(test: &str, extra: &str) -> Daemon {
        let c = TestCluster::new(test).await;
        let up = Upstream::new();
        let first = files("{1.0.0: 100}", "");
        let refs: Vec<(&str, &str)> = first.iter().map(|(p, t)| (*p, t.as_str())).collect();
        up.commit(&refs, "sources");
        let path = c.dir.path().join("config.yaml");
        std::fs::write(
            &path,
            format!(
                "instance: {ns}\nsource: {{ url: {bare}, ref: main, path: src, cacheDir: {cache} }}\nschedule: \"off\"\nwebhook: {{ listen: \"127.0.0.1:0\" }}\ncluster: {{ kubeconfig: {kc}, namespace: {ns}, leaderElection: {{ enabled: false }} }}\napply: {{ drift: detect }}\n{extra}",
                ns = c.ns,
                bare = up.dir.path().display(),
                cache = c.dir.path().join("cache").display(),
                kc = c.kubeconfig.display(),
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let cluster = Arc::new(Cluster::connect(&run::cluster_args(&config)).await.unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, state) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            run::serve(config, cluster, shutdown, move |state, addr| {
                let _ = started.send((state, addr));
            })
            .await
            .unwrap();
        });
        let (state, addr) = state.await.unwrap();
        let start = Instant::now();
        while state.ui.snapshot().taken.is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "no first pass");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Daemon {
            c,
            up,
            state,
            addr,
            stop,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    async fn patch(&self, manager: &str, patch: Value) {
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..PatchParams::default()
        };
        self.c
            .api("servers")
            .patch("adder", &params, &Patch::Merge(patch))
            .await
            .unwrap();
    }

    async fn stop(self) -> TestCluster {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the daemon stopped")
            .unwrap();
        drop(self.up);
        self.c
    }
}

/// Polls the page until `script` (a JavaScript expression) is true, at most [`WITHIN`].
async fn until(page: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        let v = page
            .execute(&format!("return !!({script});"), vec![])
            .await
            .unwrap();
        if v == json!(true) {
            return;
        }
        if start.elapsed() > WITHIN {
            let body = page
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap();
            panic!(
                "{what}: not within {WITHIN:?}; the page says:\n{}",
                body.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The weight the live bar of the Server `adder` shows for `version`.
fn live_weight(ns: &str, version: &str) -> String {
    format!(
        "((document.querySelector('.rollout[data-server=\"{ns}/adder\"] .bar[data-which=\"live\"] .seg[data-version=\"{version}\"]') || {{dataset: {{}}}}).dataset.weight)"
    )
}

async fn screenshot(page: &Client, name: &str) {
    if std::env::var_os("UI_SCREENSHOTS").is_none() {
        return;
    }
    let png = page.screenshot().await.unwrap();
    let dir: PathBuf = crate::root().join("docs/ui");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_tree_a_moving_rollout_its_abort_a_drift_and_goes_stale() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let d = Daemon::start("ui_page", "").await;
    let head = d.state.status().revision.unwrap();
    let ns = d.c.ns.clone();
    let page = driver.browser().await;
    page.goto(&d.url()).await.unwrap();

    // The tree: the fixtures' Domain, Server and both Components, and the source.
    until(&page, "the tree", &format!(
        "document.querySelector('[data-key=\"Component/{ns}/adder-1-1-0\"]') && document.querySelector('[data-key=\"Domain/{ns}/calc\"]') && document.querySelector('[data-key=\"Server/{ns}/adder\"]')"
    ))
    .await;
    until(
        &page,
        "the revision",
        &format!(
            "document.getElementById('src-rev').textContent === '{}'",
            head
        ),
    )
    .await;
    let role = page
        .find(Locator::Id("role"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(role, "leader");
    screenshot(&page, "tree").await;

    // A rollout to 1.1.0 in two steps of 4 s: the live bar moves to 50, then to 100.
    let next = files(
        "{1.1.0: 100}",
        "rollout.vimana.host/steps: \"50,100\", rollout.vimana.host/interval: 4s",
    );
    let refs: Vec<(&str, &str)> = next.iter().map(|(p, t)| (*p, t.as_str())).collect();
    d.up.commit(&refs, "roll out 1.1.0");
    d.state.trigger(Trigger::Manual);
    until(
        &page,
        "the first step's bar",
        &format!("{} === '50'", live_weight(&ns, "1.1.0")),
    )
    .await;
    until(
        &page,
        "the step shown",
        "document.querySelector('.rollout .step').textContent.startsWith('step 1 of 2')",
    )
    .await;
    screenshot(&page, "rollout").await;
    until(
        &page,
        "the last step's bar",
        &format!("{} === '100'", live_weight(&ns, "1.1.0")),
    )
    .await;
    until(
        &page,
        "the rollout's success",
        "document.querySelector('.rollout .phase').textContent === 'Succeeded'",
    )
    .await;

    // Back to 1.0.0 in steps of an hour, aborted by hand: the reason shows.
    let back = files(
        "{1.0.0: 100}",
        "rollout.vimana.host/steps: \"50,100\", rollout.vimana.host/interval: 1h",
    );
    let refs: Vec<(&str, &str)> = back.iter().map(|(p, t)| (*p, t.as_str())).collect();
    d.up.commit(&refs, "back to 1.0.0");
    d.state.trigger(Trigger::Manual);
    until(
        &page,
        "the step back",
        &format!("{} === '50'", live_weight(&ns, "1.0.0")),
    )
    .await;
    d.patch(
        "reconciler-rollout-cli",
        json!({"metadata": {"annotations": {"reconciler.vimana.host/rollout-request": "abort@ui-test"}}}),
    )
    .await;
    until(&page, "the abort's reason", "document.querySelector('.rollout .reason') && document.querySelector('.rollout .phase').textContent === 'Aborted'").await;
    screenshot(&page, "abort").await;

    // A drift (apply.drift: detect): the Server's services patched by someone else.
    d.patch(
        "kubectl-patch",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    until(&page, "the drift", &format!(
        "document.querySelector('#drift li[data-key=\"Server/{ns}/adder\"]') && document.querySelector('#tree [data-key=\"Server/{ns}/adder\"]').dataset.state === 'drifted'"
    ))
    .await;
    screenshot(&page, "drift").await;

    // The syncs list the diffs of what they changed.
    let diffs = page
        .execute("return [...document.querySelectorAll('#syncs .sync summary')].map(s => s.textContent);", vec![])
        .await
        .unwrap();
    assert!(
        diffs.to_string().contains(&format!("Server/{ns}/adder")),
        "{diffs}"
    );

    // The daemon stops: the page says it is stale.
    let c = d.stop().await;
    until(
        &page,
        "the stale state",
        "!document.getElementById('stale').hidden && document.body.classList.contains('stale')",
    )
    .await;
    screenshot(&page, "stale").await;
    page.close().await.unwrap();
    c.cleanup().await;
    let _ = D;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_endpoints_answer_only_its_bearer_and_the_page_moves_it_out_of_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("ui-token");
    std::fs::write(&token, "t0ken-for-the-view\n").unwrap();
    let d = Daemon::start(
        "ui_token",
        &format!("ui: {{ tokenFile: {} }}\n", token.display()),
    )
    .await;
    let http = reqwest::Client::new();
    let api = format!("http://{}/api/tree", d.addr);
    assert_eq!(http.get(&api).send().await.unwrap().status().as_u16(), 401);
    let wrong = http.get(&api).bearer_auth("t0ken").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = http
        .get(&api)
        .bearer_auth("t0ken-for-the-view")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    let tree: Value = serde_json::from_str(&right.text().await.unwrap()).unwrap();
    assert_eq!(tree["counts"]["Component"], 2, "{tree}");
    // The page's shell holds no data: it is served without the token, and says no secret.
    let page = http.get(d.url()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    // Nothing of the page writes: a POST is refused.
    let post = http
        .post(&api)
        .bearer_auth("t0ken-for-the-view")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);

    if let Some(driver) = Driver::start() {
        let browser = driver.browser().await;
        browser
            .goto(&format!("{}?token=t0ken-for-the-view", d.url()))
            .await
            .unwrap();
        until(
            &browser,
            "the tree behind the token",
            "document.querySelector('[data-key^=\"Server/\"]')",
        )
        .await;
        let url = browser.current_url().await.unwrap();
        assert!(!url.as_str().contains("t0ken"), "{url}");
        let body = browser
            .execute("return document.documentElement.outerHTML;", vec![])
            .await
            .unwrap();
        assert!(
            !body.to_string().contains("t0ken"),
            "the token is not on the page"
        );
        browser.close().await.unwrap();
    }
    d.stop().await.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keep_serves_the_page_after_the_story_until_ctrl_c() {
    use std::io::BufRead;
    let mut demo = Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(["demo", "--keep"])
        .current_dir(crate::root())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("The web view: ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("the demo prints the page's address");
    let http = reqwest::Client::new();
    let tree: Value = serde_json::from_str(
        &http
            .get(format!("{url}api/tree"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(tree["counts"]["Server"].as_u64().unwrap() >= 2, "{tree}");
    if let Some(driver) = Driver::start() {
        let page = driver.browser().await;
        page.goto(&url).await.unwrap();
        until(&page, "the demo's tree and traffic", "document.querySelector('[data-key^=\"Vimana/\"]') && document.querySelector('.rollout .bar[data-which=\"live\"] .seg')").await;
        screenshot(&page, "demo").await;
        // The search box narrows the tree to what matches.
        page.find(Locator::Id("search"))
            .await
            .unwrap()
            .send_keys("catalog")
            .await
            .unwrap();
        until(
            &page,
            "only the catalog Server",
            "document.querySelectorAll('#tree [data-server]').length === 1 && document.querySelector('#tree [data-server$=\"/catalog\"]')",
        )
        .await;
        page.close().await.unwrap();
    }
    // Still running: Ctrl-C stops it cleanly.
    assert!(demo.try_wait().unwrap().is_none(), "the demo kept running");
    let status = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(s) = demo.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the demo did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "{code:?}");
}

#[test]
fn a_tree_of_a_thousand_servers_is_built_in_well_under_a_second_with_every_state_counted() {
    use reconciler::daemon::ui::build::{Input, snapshot};
    let mut desired = Vec::new();
    let mut live = std::collections::BTreeMap::new();
    for d in 0..20 {
        let id = format!("{d:032x}");
        desired.push(object(json!({"apiVersion": "api.vimana.host/v1alpha1", "kind": "Domain", "metadata": {"name": format!("d{d}"), "namespace": "vimana"}, "spec": {"id": id}})));
        for s in 0..50 {
            let server = object(
                json!({"apiVersion": "api.vimana.host/v1alpha1", "kind": "Server", "metadata": {"name": format!("s{d}-{s}"), "namespace": "vimana"}, "spec": {"id": format!("s{s}"), "domain": id, "versionWeights": {"1.0.0": 100}}}),
            );
            let component = object(
                json!({"apiVersion": "api.vimana.host/v1alpha1", "kind": "Component", "metadata": {"name": format!("s{d}-{s}-1-0-0"), "namespace": "vimana"}, "spec": {"domain": id, "server": format!("s{s}"), "version": "1.0.0", "image": "x:1"}}),
            );
            // Every other Component is live and Available; the rest are not live yet.
            if s % 2 == 0 {
                let mut raw = component.to_value();
                raw["metadata"]["generation"] = json!(1);
                raw["status"] = json!({"conditions": [{"type": "Available", "status": "True", "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "Ok", "message": ""}]});
                live.insert(component.key(), raw);
            }
            desired.push(server);
            desired.push(component);
        }
    }
    let none = std::collections::BTreeMap::new();
    let started = Instant::now();
    let tree = snapshot(&Input {
        desired: &desired,
        live: &live,
        failed: &none,
        wakes: &std::collections::BTreeMap::new(),
        revision: Some("abc"),
        taken: chrono::Utc::now(),
    });
    let text = serde_json::to_string(&tree).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(tree.counts["Server"], 1000);
    assert_eq!(tree.counts["in-sync"], 500, "{:?}", tree.counts);
    assert_eq!(tree.counts["pending"], 1520, "{:?}", tree.counts);
    assert_eq!(tree.vimanas.len(), 1, "Domains of no Vimana, together");
    assert_eq!(tree.vimanas[0].domains.len(), 20);
    assert!(text.len() < 2_000_000, "{} bytes", text.len());
}

fn object(v: Value) -> model::Object {
    model::Object::from_value(v).unwrap()
}

#[test]
fn a_ui_token_file_that_is_missing_is_a_mistake_of_the_config() {
    let err = Config::parse(
        "source: { url: https://git.example.org/x.git }\nui: { tokenFile: /nonexistent/ui-token }\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ui.tokenFile"), "{err}");
    let err = Config::parse(
        "source: { url: https://git.example.org/x.git }\nui: { token: x }\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("tokenFile"), "{err}");
}

#[tokio::test]
async fn the_endpoints_show_the_source_url_without_its_password_and_the_tree_answers_304_when_unchanged()
 {
    use axum::body::Body;
    use axum::http::Request;
    use reconciler::daemon::config::{Provider, RateLimit};
    use reconciler::daemon::webhook::settings::WebhookSettings;
    use tower::ServiceExt;
    let state = State::new(
        "prod-eu",
        "https://bot:hunter2@git.example.org/r.git?private_token=s3cret",
        "main",
        "clusters/prod",
        WebhookSettings::new(
            None,
            Provider::ALL.to_vec(),
            1024,
            RateLimit::default(),
            "main",
        ),
    );
    let app = reconciler::daemon::server::app(state);
    let mut all = String::new();
    let mut etag = String::new();
    for path in [
        "/",
        "/ui/app.js",
        "/api/summary",
        "/api/tree",
        "/api/rollouts",
        "/api/syncs",
        "/api/drift",
    ] {
        let r = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        if path == "/api/tree" {
            etag = r.headers()["etag"].to_str().unwrap().to_owned();
        }
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        all.push_str(&String::from_utf8_lossy(&body));
    }
    assert!(all.contains("git.example.org"), "the source shows");
    assert!(!all.contains("hunter2") && !all.contains("s3cret"), "{all}");
    let again = app
        .oneshot(
            Request::get("/api/tree")
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
}
