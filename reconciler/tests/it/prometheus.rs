//! A real Prometheus (Debian's `prometheus` package) for rollout analysis tests, scraping a
//! small exporter whose values the test sets. Outside CI a machine without Prometheus skips
//! those tests with a message; in CI (`CI=true`, where `.ci/run` installs it) it is required.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where Debian installs the server.
pub const BINARY: &str = "/usr/bin/prometheus";

/// An exporter serving `/metrics` with the text the test sets.
pub struct Exporter {
    /// Its address.
    pub addr: SocketAddr,
    text: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Exporter {
    /// Serves `text` on a free loopback port.
    pub async fn start(text: &str) -> Exporter {
        let text = Arc::new(Mutex::new(text.to_owned()));
        let shared = text.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = shared.lock().unwrap().clone();
                async move { body }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Exporter { addr, text, task }
    }

    /// Replaces the exposed text.
    pub fn set(&self, text: &str) {
        *self.text.lock().unwrap() = text.to_owned();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Prometheus server scraping one exporter every 500 ms.
pub struct Prometheus {
    child: Child,
    /// Base URL of its HTTP API.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus, or returns `None` (with a message) where it is not installed outside CI.
pub async fn start(target: SocketAddr) -> Option<Prometheus> {
    if !std::path::Path::new(BINARY).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "{BINARY} is missing in CI: .ci/run installs Debian's prometheus package"
        );
        eprintln!("skipped: {BINARY} is not installed (apt-get install prometheus)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 500ms, evaluation_interval: 500ms}}\nscrape_configs:\n  - job_name: test\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BINARY)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    Some(Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    })
}

impl Prometheus {
    /// Waits (at most 60 s) until `query` returns a sample.
    pub async fn wait_for(&self, query: &str) {
        let http = reqwest::Client::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let answer = http
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", query)])
                .send()
                .await;
            if let Ok(r) = answer
                && let Ok(text) = r.text().await
                && text.contains("\"value\"")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "Prometheus at {} has no data for {query} after 60 s",
            self.url
        );
    }
}
