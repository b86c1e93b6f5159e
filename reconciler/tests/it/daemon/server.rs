//! `/healthz`, `/readyz`, `/metrics` and `/status` through `oneshot`, over one shared state;
//! then the server on a loopback port against clients that are slow on purpose: its timeouts,
//! its bound on connections, and a shutdown that ends in bounded time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::imp::config::{Provider, RateLimit, Secret};
use super::imp::error::{GitError, GitErrorKind};
use super::imp::gitsource::Revision;
use super::imp::server::{Limits, OPENMETRICS, app, serve_with};
use super::imp::state::{Role, RolloutStatus, State, SyncRecord};
use super::imp::webhook::{WebhookSettings, sign};

fn state() -> Arc<State> {
    State::new(
        "prod-eu",
        "https://bot:hunter2@git.example.org/r.git",
        "main",
        "clusters/prod",
        WebhookSettings::new(
            None,
            Provider::ALL.to_vec(),
            1024,
            RateLimit::default(),
            "main",
        ),
    )
}

async fn get(state: &Arc<State>, path: &str) -> (StatusCode, String, String) {
    let response = app(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn record(result: &str, revision: &str) -> SyncRecord {
    SyncRecord {
        trigger: "webhook:github".into(),
        revision: revision.into(),
        started: "2025-03-14T12:00:00.000Z".into(),
        finished: "2025-03-14T12:00:01.500Z".into(),
        duration_seconds: 1.5,
        result: result.into(),
        message: (result == "failure").then(|| "the cluster is unreachable".into()),
        errors: Vec::new(),
        objects: 15,
        applied: 3,
        pruned: 1,
    }
}

#[tokio::test]
async fn health_is_always_ok_and_readiness_waits_for_a_sync() {
    let s = state();
    assert_eq!(get(&s, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    s.sync_finished(record("failure", "aaaa"), None);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    s.sync_finished(record("success", "bbbb"), None);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::OK);
    // A later failure does not make a synced daemon unready: the last good state stays live.
    s.sync_finished(record("failure", "cccc"), None);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_standby_is_ready() {
    let s = state();
    s.set_role(Role::Standby);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::OK);
    assert!(!s.triggers().is_pending());
    s.set_role(Role::Leader);
    assert_eq!(get(&s, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(s.triggers().is_pending(), "a new leader syncs");
}

#[tokio::test]
async fn metrics_in_openmetrics_text() {
    let s = state();
    s.sync_finished(
        record("success", "bbbb"),
        Some(vec![RolloutStatus {
            server: "adder".into(),
            phase: "progressing".into(),
            step: Some(25),
            message: None,
        }]),
    );
    s.sync_finished(record("failure", "cccc"), None);
    s.fetch_failed(&GitError::new(GitErrorKind::Unreachable, "down"), None);
    s.metrics.webhook("github", "accepted");
    s.trigger(super::imp::runner::Trigger::Manual);
    let (status, content_type, text) = get(&s, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, OPENMETRICS);
    for line in [
        "reconciler_syncs_total{result=\"success\"} 1",
        "reconciler_syncs_total{result=\"failure\"} 1",
        "reconciler_sync_duration_seconds_count 2",
        "reconciler_objects_applied_total 3",
        "reconciler_objects_pruned_total 1",
        "reconciler_objects_managed 15",
        "reconciler_rollouts{phase=\"progressing\"} 1",
        "reconciler_webhook_requests_total{provider=\"github\",outcome=\"accepted\"} 1",
        "reconciler_git_fetches_total 1",
        "reconciler_git_fetch_errors_total{kind=\"unreachable\"} 1",
        "reconciler_sync_triggers_total{trigger=\"manual\"} 1",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    // A finished rollout leaves its phase at zero rather than stale.
    s.set_rollouts(vec![]);
    let (_, _, text) = get(&s, "/metrics").await;
    assert!(
        text.lines()
            .any(|l| l == "reconciler_rollouts{phase=\"progressing\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn status_shows_revision_sync_errors_objects_and_rollouts() {
    let s = state();
    let (_, content_type, text) = get(&s, "/status").await;
    assert_eq!(content_type, "application/json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["instance"], "prod-eu");
    assert_eq!(v["ready"], false);
    assert_eq!(v["role"], "leader");
    assert_eq!(
        v["source"]["url"],
        "https://bot:<redacted>@git.example.org/r.git"
    );
    assert_eq!(v["source"]["ref"], "main");
    assert_eq!(v["source"]["path"], "clusters/prod");
    assert!(v.get("revision").is_none());

    s.fetch_succeeded(&Revision {
        commit: "bbbb".into(),
        reference: "refs/heads/main".into(),
        summary: "bump adder".into(),
    });
    s.sync_finished(
        record("success", "bbbb"),
        Some(vec![RolloutStatus {
            server: "0123:adder".into(),
            phase: "progressing".into(),
            step: Some(25),
            message: None,
        }]),
    );
    s.sync_finished(record("failure", "cccc"), None);
    s.fetch_failed(
        &GitError::new(
            GitErrorKind::Unreachable,
            "cannot fetch: connection refused",
        ),
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&get(&s, "/status").await.2).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(
        v["revision"], "bbbb",
        "the cluster holds the last successful revision"
    );
    assert_eq!(v["lastSync"]["result"], "failure");
    assert_eq!(v["lastSync"]["message"], "the cluster is unreachable");
    assert_eq!(v["lastSync"]["trigger"], "webhook:github");
    assert_eq!(v["lastSuccessfulSync"]["revision"], "bbbb");
    assert_eq!(v["lastSuccessfulSync"]["objects"], 15);
    assert_eq!(v["lastSuccessfulSync"]["applied"], 3);
    assert_eq!(v["lastSuccessfulSync"]["pruned"], 1);
    assert_eq!(v["rollouts"][0]["server"], "0123:adder");
    assert_eq!(v["rollouts"][0]["step"], 25);
    assert_eq!(v["source"]["fetched"]["summary"], "bump adder");
    assert_eq!(v["source"]["fetchError"]["kind"], "unreachable");
    assert_eq!(v["source"]["fetchError"]["consecutiveFailures"], 1);
    assert!(!text.contains("hunter2"));
}

/// The longest any wait of the tests below may take before the test is declared stuck.
const STUCK: Duration = Duration::from_secs(30);

/// Short bounds, so that the tests take a fraction of a second each.
fn short_limits() -> Limits {
    Limits {
        header_read: Duration::from_millis(300),
        max_connections: 1024,
        shutdown_drain: Duration::from_millis(300),
    }
}

/// A server on a loopback port over `state`: its address, the sender that stops it, and its
/// task.
struct Served {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(state: Arc<State>, limits: Limits) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, app(state), limits, async move {
        let _ = stopped.await;
    }));
    Served {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Served {
    /// Stops the server; how long it took to return.
    async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(STUCK, self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

/// Reads until the server closes the connection; what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(STUCK, stream.read_to_end(&mut got))
        .await
        .expect("the server closes the connection");
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_headers_hold_a_connection_open() {
    let served = serve(state(), short_limits()).await;
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, closed_after) = until_closed(&mut slow).await;
    assert!(
        closed_after >= Duration::from_millis(250),
        "{closed_after:?}"
    );
    // A client that never sends a byte is cut off just the same.
    let mut silent = TcpStream::connect(served.addr).await.unwrap();
    until_closed(&mut silent).await;
    served.shutdown().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_stay_open() {
    let served = serve(state(), short_limits()).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    served.shutdown().await;
}

#[tokio::test]
async fn a_slow_webhook_body_holds_a_connection_open() {
    let secret = "hook-secret";
    let state = State::new(
        "test",
        "https://git.example.org/r.git",
        "main",
        "",
        WebhookSettings::new(
            Some(Secret::new(secret)),
            Provider::ALL.to_vec(),
            64 * 1024,
            RateLimit::default(),
            "main",
        )
        .with_body_timeout(Duration::from_millis(300)),
    );
    let served = serve(state.clone(), short_limits()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    let head = format!(
        "POST /hooks/generic HTTP/1.1\r\nHost: x\r\nX-Signature: sha256={}\r\nContent-Length: {}\r\n\r\n",
        sign(secret, body.as_bytes()),
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body.as_bytes()[..5]).await.unwrap();
    let (answer, after) = until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"outcome\":\"timeout\""), "{answer}");
    assert!(after >= Duration::from_millis(250), "{after:?}");
    assert!(!state.triggers().is_pending(), "nothing was synced");
    served.shutdown().await;
}

#[tokio::test]
async fn connections_are_not_bounded() {
    let limits = Limits {
        header_read: STUCK,
        max_connections: 2,
        ..short_limits()
    };
    let served = serve(state(), limits).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(served.addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    // The kernel accepts the third connection, the server does not serve it yet.
    let mut third = TcpStream::connect(served.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the bound of 2 connections");
    drop(held.pop());
    let (answer, _) = until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    served.shutdown().await;
}

#[tokio::test]
async fn a_stalled_client_blocks_shutdown() {
    let limits = Limits {
        header_read: STUCK,
        ..short_limits()
    };
    let served = serve(state(), limits).await;
    let addr = served.addr;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /status HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // Wait until the server has accepted it: an answered request on another connection.
    let mut probe = TcpStream::connect(addr).await.unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut probe).await;
    let took = served.shutdown().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let (_, _) = until_closed(&mut stalled).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}
