//! `/healthz`, `/readyz`, `/metrics` and `/status` through `oneshot`, over one shared state.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::imp::config::{Provider, RateLimit};
use super::imp::error::{GitError, GitErrorKind};
use super::imp::gitsource::Revision;
use super::imp::server::{OPENMETRICS, app};
use super::imp::state::{Role, RolloutStatus, State, SyncRecord};
use super::imp::webhook::WebhookSettings;

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
