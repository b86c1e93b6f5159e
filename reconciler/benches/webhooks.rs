//! Benchmark of the daemon's webhook path: latency from a signed push webhook to the start of
//! its sync (p50/p99 over sequential webhooks), and how many syncs a burst of 1,000 webhooks
//! causes. Each webhook announces a new commit (a burst announces one). The sync is a stand-in
//! that takes 20 ms, so the figures are those of the daemon's own path: HTTP, signature check,
//! trigger, coalescing, Git fetch of a local repository.
//!
//! Run: `cargo bench -p reconciler --bench webhooks`. Figures: docs/daemon.md.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reconciler::daemon::{self, Config, SyncReport, SyncRequest};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SEQUENTIAL: usize = 300;
const BURST: usize = 1000;

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Commits a change to `README.md` (each push the webhooks announce is a new commit).
fn push(work: &reconciler::git::WorkTree, n: usize) {
    work.write("README.md", &format!("bench {n}"))
        .expect("write");
    work.commit("bench").expect("commit");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let git = reconciler::git::WorkTree::init(&repo).expect("git init");
    push(&git, 0);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let config = Config::parse(
        &format!(
            "source:\n  url: {}\n  cacheDir: {}\nschedule: \"off\"\nwebhook:\n  listen: 127.0.0.1:0\n  secretFile: {}\n  rateLimit: {{burst: 100000, perSecond: 100000}}\n",
            repo.display(),
            dir.path().join("cache").display(),
            secret.display()
        ),
        None,
    )
    .expect("config");

    let starts: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let recorded = starts.clone();
    let sync = daemon::runner::sync_fn(move |_req: SyncRequest| {
        let recorded = recorded.clone();
        async move {
            recorded.lock().expect("not poisoned").push(Instant::now());
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(SyncReport::default())
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(daemon::run(
        config,
        sync,
        async move {
            let _ = stop_rx.await;
        },
        move |_, addr| {
            let _ = addr_tx.send(addr);
        },
    ));
    let addr = addr_rx.await.expect("daemon listens");
    let url = format!("http://{addr}/hooks/github");
    let http = reqwest::Client::new();
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let signature = sign(&body);
    let count = || starts.lock().expect("not poisoned").len();
    let settle = |n: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while count() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    settle(1).await; // the sync on start
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 1..=SEQUENTIAL {
        push(&git, n);
        let before = count();
        let sent = Instant::now();
        let r = http
            .post(&url)
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", &signature)
            .body(body.clone())
            .send()
            .await
            .expect("webhook");
        assert_eq!(r.status().as_u16(), 202);
        settle(before + 1).await;
        let started = starts.lock().expect("not poisoned")[before];
        latencies.push(started - sent);
        // Let the sync finish so that the next webhook starts a sync of its own.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    latencies.sort();

    tokio::time::sleep(Duration::from_millis(200)).await;
    push(&git, SEQUENTIAL + 1);
    let before = count();
    let burst_start = Instant::now();
    let mut tasks = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        let (http, url, body, signature) =
            (http.clone(), url.clone(), body.clone(), signature.clone());
        tasks.push(tokio::spawn(async move {
            http.post(&url)
                .header("X-GitHub-Event", "push")
                .header("X-Hub-Signature-256", &signature)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        if matches!(t.await, Ok(Ok(202))) {
            accepted += 1;
        }
    }
    let burst_time = burst_start.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let burst_syncs = count() - before;
    let _ = stop_tx.send(());
    let _ = daemon.await;

    println!("webhook → sync start, {SEQUENTIAL} sequential signed GitHub push webhooks:");
    println!(
        "  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().expect("measured").as_secs_f64() * 1e3
    );
    println!(
        "burst of {BURST} webhooks for one push: {accepted} accepted in {:.0} ms, {burst_syncs} sync(s) started",
        burst_time.as_secs_f64() * 1e3
    );
}
