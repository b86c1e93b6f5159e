//! `reconciler run`: the daemon against a simulated (or real) cluster and a real Git
//! repository: the first sync on start, a push announced by a signed webhook, a forged webhook
//! refused, `/status`, and a clean stop on SIGTERM.

use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cluster::TestCluster;
use super::sync::{D, component, domain};

/// A Git repository on branch `main` that the daemon follows by path.
struct Remote {
    dir: tempfile::TempDir,
    work: reconciler::git::WorkTree,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        let work = reconciler::git::WorkTree::init(dir.path()).unwrap();
        Remote { dir, work }
    }

    fn commit(&self, files: &[(&str, String)]) -> String {
        for (path, text) in files {
            self.work.write(path, text).unwrap();
        }
        self.work.commit("change").unwrap()
    }
}

fn server(weights: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: adder}}\nspec: {{id: adder, domain: {D}, versionWeights: {weights}}}\n"
    )
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(c: &TestCluster, remote: &Path, port: u16) -> std::path::PathBuf {
    let secret = c.dir.path().join("webhook-secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let path = c.dir.path().join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "instance: {ns}\nsource:\n  url: {url}\n  ref: main\n  path: src\n  cacheDir: {cache}\nschedule: \"0 0 1 1 *\"\nwebhook:\n  listen: 127.0.0.1:{port}\n  secretFile: {secret}\ncluster:\n  kubeconfig: {kc}\n  namespace: {ns}\nlog: {{format: json, level: info}}\n",
            ns = c.ns,
            url = remote.display(),
            cache = c.dir.path().join("cache").display(),
            secret = secret.display(),
            kc = c.kubeconfig.display(),
        ),
    )
    .unwrap();
    path
}

async fn status(http: &reqwest::Client, port: u16) -> serde_json::Value {
    let r = http
        .get(format!("http://127.0.0.1:{port}/status"))
        .send()
        .await
        .unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Waits (bounded) until `/status` reports a successful sync of `commit`.
async fn synced(http: &reqwest::Client, port: u16, commit: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            && let Ok(s) =
                serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap_or_default())
            // The sync of this commit, not the commit fetched while an earlier sync's success
            // is still the last one (`source.fetched` names a commit before its sync ends).
            && s["lastSync"]["revision"] == commit
            && s["lastSync"]["result"] == "success"
        {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no sync of {commit}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_syncs_on_start_and_on_a_signed_webhook() {
    let c = TestCluster::new("daemon_run").await;
    let remote = Remote::new();
    let first = remote.commit(&[
        ("src/domain.yaml", domain()),
        ("src/server.yaml", server("{1.0.0: 100}")),
        ("src/c1.yaml", component("1.0.0", "1.0.0")),
    ]);
    let port = free_port();
    let cfg = config(&c, remote.dir.path(), port);
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .env_remove("KUBECONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    synced(&http, port, &first).await;
    assert_eq!(c.names("components").await, ["adder-1-0-0"]);

    // A forged webhook is refused and starts nothing.
    let body = br#"{"ref":"refs/heads/main","after":"0000"}"#.to_vec();
    let forged = http
        .post(format!("http://127.0.0.1:{port}/hooks/github"))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", sign("wrong", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    // A new commit, announced by a signed webhook, is synced.
    let second = remote.commit(&[("src/c2.yaml", component("1.1.0", "1.1.0"))]);
    let accepted = http
        .post(format!("http://127.0.0.1:{port}/hooks/github"))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", sign("s3cret", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    synced(&http, port, &second).await;
    assert_eq!(c.names("components").await, ["adder-1-0-0", "adder-1-1-0"]);
    let s = status(&http, port).await;
    assert!(s.to_string().contains("webhook:github"), "{s}");

    // SIGTERM stops it cleanly.
    let pid = daemon.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(code) = daemon.try_wait().unwrap() {
            break code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the daemon did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut logs = String::new();
    use std::io::Read;
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(code.success(), "{logs}");
    assert!(!logs.contains("s3cret"), "a secret in the logs");
    c.cleanup().await;
}
