//! The webhook receiver through `oneshot`, without a port: each provider's signature and
//! payload, pings, other refs, limits, and the sync request an accepted push makes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::imp::config::{Provider, RateLimit, Secret};
use super::imp::runner::Trigger;
use super::imp::state::State;
use super::imp::webhook::{WebhookSettings, sign};

const SECRET: &str = "It's a Secret to Everybody";

fn state_with(
    providers: &[Provider],
    secret: Option<&str>,
    max_body: usize,
    limit: RateLimit,
) -> Arc<State> {
    State::new(
        "test",
        "https://git.example.org/r.git",
        "main",
        "",
        WebhookSettings::new(
            secret.map(Secret::new),
            providers.to_vec(),
            max_body,
            limit,
            "main",
        ),
    )
}

fn state() -> Arc<State> {
    state_with(
        &Provider::ALL,
        Some(SECRET),
        64 * 1024,
        RateLimit::default(),
    )
}

async fn send(
    state: &Arc<State>,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let response = super::imp::server::app(state.clone())
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn github(event: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-github-event", event.to_owned()),
        (
            "x-hub-signature-256",
            format!("sha256={}", sign(SECRET, body.as_bytes())),
        ),
        ("content-type", "application/json".to_owned()),
    ]
}

fn pending(state: &State) -> Option<(Trigger, u64)> {
    state.triggers().take()
}

fn count(state: &State, provider: &str, outcome: &str) -> u64 {
    let needle = format!(
        "reconciler_webhook_requests_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} "
    );
    state
        .metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |v| v.parse().unwrap())
}

const PUSH_MAIN: &str = r#"{"ref":"refs/heads/main","after":"abc"}"#;

#[tokio::test]
async fn github_push_of_the_tracked_branch_is_accepted() {
    let s = state();
    let (status, body) = send(&s, "/hooks/github", &github("push", PUSH_MAIN), PUSH_MAIN).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["outcome"], "accepted");
    assert_eq!(body["ref"], "refs/heads/main");
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Github), 1)));
    assert_eq!(count(&s, "github", "accepted"), 1);
}

#[tokio::test]
async fn github_pings_and_other_refs_are_acknowledged_without_a_sync() {
    let s = state();
    let ping = r#"{"zen":"Keep it logically awesome."}"#;
    let (status, body) = send(&s, "/hooks/github", &github("ping", ping), ping).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = r#"{"ref":"refs/heads/feature"}"#;
    let (status, body) = send(&s, "/hooks/github", &github("push", other), other).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "ignored");
    let tag = r#"{"ref":"refs/tags/main-backup"}"#;
    assert_eq!(
        send(&s, "/hooks/github", &github("push", tag), tag).await.0,
        StatusCode::OK
    );
    let issue = r#"{"action":"opened"}"#;
    assert_eq!(
        send(&s, "/hooks/github", &github("issues", issue), issue)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(pending(&s), None);
    assert_eq!(count(&s, "github", "ignored"), 4);
}

#[tokio::test]
async fn bad_or_missing_signatures_are_refused() {
    let s = state();
    let mut forged = github("push", PUSH_MAIN);
    forged[1].1 = format!("sha256={}", sign("guess", PUSH_MAIN.as_bytes()));
    assert_eq!(
        send(&s, "/hooks/github", &forged, PUSH_MAIN).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Signed for another body.
    let tampered = r#"{"ref":"refs/heads/main","after":"evil"}"#;
    assert_eq!(
        send(&s, "/hooks/github", &github("push", PUSH_MAIN), tampered)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let unsigned = vec![("x-github-event", "push".to_owned())];
    let (status, body) = send(&s, "/hooks/github", &unsigned, PUSH_MAIN).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing x-hub-signature-256"),
        "{body}"
    );
    let not_hex = vec![
        ("x-github-event", "push".to_owned()),
        ("x-hub-signature-256", "sha256=zz".to_owned()),
    ];
    assert_eq!(
        send(&s, "/hooks/github", &not_hex, PUSH_MAIN).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The old SHA-1 header alone is not enough.
    let sha1_only = vec![
        ("x-github-event", "push".to_owned()),
        ("x-hub-signature", format!("sha1={}", "0".repeat(40))),
    ];
    assert_eq!(
        send(&s, "/hooks/github", &sha1_only, PUSH_MAIN).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(pending(&s), None);
    assert_eq!(count(&s, "github", "unauthorized"), 5);
    assert!(!s.metrics.encode().contains(SECRET));
}

#[tokio::test]
async fn gitlab_compares_the_token() {
    let s = state();
    let push = r#"{"object_kind":"push","ref":"refs/heads/main"}"#;
    let h = |token: &str, event: &str| {
        vec![
            ("x-gitlab-token", token.to_owned()),
            ("x-gitlab-event", event.to_owned()),
        ]
    };
    assert_eq!(
        send(&s, "/hooks/gitlab", &h(SECRET, "Push Hook"), push)
            .await
            .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Gitlab), 1)));
    assert_eq!(
        send(&s, "/hooks/gitlab", &h("It's a secret", "Push Hook"), push)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&s, "/hooks/gitlab", &h("", "Push Hook"), push).await.0,
        StatusCode::UNAUTHORIZED
    );
    let tag = r#"{"object_kind":"tag_push","ref":"refs/tags/v9"}"#;
    assert_eq!(
        send(&s, "/hooks/gitlab", &h(SECRET, "Tag Push Hook"), tag)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&s, "/hooks/gitlab", &h(SECRET, "Merge Request Hook"), "{}")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(pending(&s), None);
}

#[tokio::test]
async fn gitea_signs_with_bare_hex() {
    let s = state();
    let h = |sig: String| {
        vec![
            ("x-gitea-event", "push".to_owned()),
            ("x-gitea-signature", sig),
        ]
    };
    let good = sign(SECRET, PUSH_MAIN.as_bytes());
    assert_eq!(
        send(&s, "/hooks/gitea", &h(good.clone()), PUSH_MAIN)
            .await
            .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Gitea), 1)));
    assert_eq!(
        send(&s, "/hooks/gitea", &h(format!("sha256={good}")), PUSH_MAIN)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&s, "/hooks/gitea", &h(good.to_uppercase()), PUSH_MAIN)
            .await
            .0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn bitbucket_server_refs_changed_and_ping() {
    let s = state();
    let h = |event: &str, body: &str| {
        vec![
            ("x-event-key", event.to_owned()),
            (
                "x-hub-signature",
                format!("sha256={}", sign(SECRET, body.as_bytes())),
            ),
        ]
    };
    let changed = r#"{"eventKey":"repo:refs_changed","changes":[
        {"ref":{"id":"refs/heads/feature","displayId":"feature","type":"BRANCH"},"refId":"refs/heads/feature","type":"UPDATE"},
        {"ref":{"id":"refs/heads/main","displayId":"main","type":"BRANCH"},"refId":"refs/heads/main","type":"UPDATE"}]}"#;
    let (status, body) = send(
        &s,
        "/hooks/bitbucket",
        &h("repo:refs_changed", changed),
        changed,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["ref"], "refs/heads/main");
    assert_eq!(
        pending(&s),
        Some((Trigger::Webhook(Provider::Bitbucket), 1))
    );
    let ping = r#"{"test":true}"#;
    assert_eq!(
        send(&s, "/hooks/bitbucket", &h("diagnostics:ping", ping), ping)
            .await
            .0,
        StatusCode::OK
    );
    let other = r#"{"changes":[{"ref":{"id":"refs/heads/dev"}}]}"#;
    assert_eq!(
        send(
            &s,
            "/hooks/bitbucket",
            &h("repo:refs_changed", other),
            other
        )
        .await
        .0,
        StatusCode::OK
    );
    let empty = r#"{"changes":[]}"#;
    assert_eq!(
        send(
            &s,
            "/hooks/bitbucket",
            &h("repo:refs_changed", empty),
            empty
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(pending(&s), None);
}

#[tokio::test]
async fn generic_hooks_sync_unless_they_name_another_ref() {
    let s = state();
    let h = |body: &str| {
        vec![(
            "x-signature",
            format!("sha256={}", sign(SECRET, body.as_bytes())),
        )]
    };
    assert_eq!(
        send(&s, "/hooks/generic", &h(""), "").await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Generic), 1)));
    assert_eq!(
        send(
            &s,
            "/hooks/generic",
            &h(r#"{"ref":"main"}"#),
            r#"{"ref":"main"}"#
        )
        .await
        .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        send(
            &s,
            "/hooks/generic",
            &h(r#"{"ref":"dev"}"#),
            r#"{"ref":"dev"}"#
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&s, "/hooks/generic", &h("not json"), "not json")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&s, "/hooks/generic", &h("x"), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Generic), 1)));
}

#[tokio::test]
async fn pushes_during_one_sync_fold_into_one_request() {
    let s = state();
    for _ in 0..50 {
        assert_eq!(
            send(&s, "/hooks/github", &github("push", PUSH_MAIN), PUSH_MAIN)
                .await
                .0,
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Github), 50)));
    assert_eq!(pending(&s), None);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let s = state_with(&Provider::ALL, Some(SECRET), 2048, RateLimit::default());
    let big = format!(
        r#"{{"ref":"refs/heads/main","pad":"{}"}}"#,
        "x".repeat(4096)
    );
    let (status, _) = send(&s, "/hooks/github", &github("push", &big), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length header too (a streamed body).
    let response = super::imp::server::app(s.clone())
        .oneshot(
            Request::post("/hooks/github")
                .header("x-github-event", "push")
                .body(Body::from_stream(futures_util::stream::iter(vec![Ok::<
                    _,
                    std::io::Error,
                >(
                    big.clone().into_bytes(),
                )])))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&s, "github", "too_large"), 2);
    assert_eq!(pending(&s), None);
}

#[tokio::test]
async fn over_the_rate_limit_requests_wait() {
    let limit = RateLimit {
        burst: 3,
        per_second: 1e-9,
    };
    let s = state_with(&Provider::ALL, Some(SECRET), 64 * 1024, limit);
    for _ in 0..3 {
        assert_eq!(
            send(&s, "/hooks/github", &github("push", PUSH_MAIN), PUSH_MAIN)
                .await
                .0,
            StatusCode::ACCEPTED
        );
    }
    let (status, body) = send(&s, "/hooks/github", &github("push", PUSH_MAIN), PUSH_MAIN).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Forged requests use up the same budget: they cannot be used to compute signatures.
    assert_eq!(
        send(&s, "/hooks/gitea", &[], "{}").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(count(&s, "github", "rate_limited"), 1);
}

#[tokio::test]
async fn disabled_and_unknown_providers_are_not_found() {
    let s = state_with(
        &[Provider::Github],
        Some(SECRET),
        64 * 1024,
        RateLimit::default(),
    );
    assert_eq!(
        send(&s, "/hooks/gitlab", &[], "{}").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&s, "/hooks/gogs", &[], "{}").await.0,
        StatusCode::NOT_FOUND
    );
    let no_secret = state_with(&Provider::ALL, None, 64 * 1024, RateLimit::default());
    let (status, body) = send(
        &no_secret,
        "/hooks/github",
        &github("push", PUSH_MAIN),
        PUSH_MAIN,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("webhook.secretFile"),
        "{body}"
    );
    assert_eq!(count(&no_secret, "github", "disabled"), 1);
    let get = super::imp::server::app(s.clone())
        .oneshot(Request::get("/hooks/github").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn tracked_refs() {
    let w = |r: &str| WebhookSettings::new(None, vec![], 1024, RateLimit::default(), r);
    assert!(w("main").tracks("refs/heads/main"));
    assert!(w("v1.2.0").tracks("refs/tags/v1.2.0"));
    assert!(!w("main").tracks("refs/heads/main2"));
    assert!(!w("main").tracks("refs/remotes/main"));
    assert!(w("refs/heads/release").tracks("refs/heads/release"));
    assert!(!w("refs/heads/release").tracks("refs/tags/release"));
    let commit = "0123456789012345678901234567890123456789";
    assert!(!w(commit).tracks("refs/heads/main"));
}

#[tokio::test]
async fn a_replayed_delivery_syncs_again() {
    let s = state();
    let id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    let mut delivery = github("push", PUSH_MAIN);
    delivery.push(("x-github-delivery", id.to_owned()));
    let (status, body) = send(&s, "/hooks/github", &delivery, PUSH_MAIN).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Github), 1)));
    let (status, body) = send(&s, "/hooks/github", &delivery, PUSH_MAIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "replayed");
    assert!(body["message"].as_str().unwrap().contains(id), "{body}");
    assert_eq!(pending(&s), None, "a replay asks for no sync");
    assert_eq!(count(&s, "github", "replayed"), 1);

    // A forged request does not make its id seen: the real delivery of that id still counts.
    let fresh = "0b54cbc4-3a1e-4a4c-9d0c-5e3f5a7f3c11";
    let mut forged = vec![
        ("x-github-event", "push".to_owned()),
        (
            "x-hub-signature-256",
            format!("sha256={}", sign("guess", PUSH_MAIN.as_bytes())),
        ),
    ];
    forged.push(("x-github-delivery", fresh.to_owned()));
    assert_eq!(
        send(&s, "/hooks/github", &forged, PUSH_MAIN).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut real = github("push", PUSH_MAIN);
    real.push(("x-github-delivery", fresh.to_owned()));
    assert_eq!(
        send(&s, "/hooks/github", &real, PUSH_MAIN).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(pending(&s), Some((Trigger::Webhook(Provider::Github), 1)));

    // The other providers' delivery ids.
    let gitea = vec![
        ("x-gitea-event", "push".to_owned()),
        ("x-gitea-signature", sign(SECRET, PUSH_MAIN.as_bytes())),
        ("x-gitea-delivery", "d-1".to_owned()),
    ];
    let gitlab = vec![
        ("x-gitlab-event", "Push Hook".to_owned()),
        ("x-gitlab-token", SECRET.to_owned()),
        ("x-gitlab-event-uuid", "d-1".to_owned()),
    ];
    let refs_changed = r#"{"changes":[{"ref":{"id":"refs/heads/main"}}]}"#;
    let bitbucket = vec![
        ("x-event-key", "repo:refs_changed".to_owned()),
        (
            "x-hub-signature",
            format!("sha256={}", sign(SECRET, refs_changed.as_bytes())),
        ),
        ("x-request-id", "d-1".to_owned()),
    ];
    let generic = vec![
        (
            "x-signature",
            format!("sha256={}", sign(SECRET, PUSH_MAIN.as_bytes())),
        ),
        ("x-delivery-id", "d-1".to_owned()),
    ];
    for (path, headers, body) in [
        ("/hooks/gitea", &gitea, PUSH_MAIN),
        ("/hooks/gitlab", &gitlab, PUSH_MAIN),
        ("/hooks/bitbucket", &bitbucket, refs_changed),
        ("/hooks/generic", &generic, PUSH_MAIN),
    ] {
        let (first, b) = send(&s, path, headers, body).await;
        assert_eq!(first, StatusCode::ACCEPTED, "{path}: {b}");
        let (again, b) = send(&s, path, headers, body).await;
        assert_eq!(again, StatusCode::OK, "{path}: {b}");
        assert_eq!(b["outcome"], "replayed", "{path}");
    }
    // Without an id, a generic webhook from a script syncs every time, as documented.
    let script = vec![(
        "x-signature",
        format!("sha256={}", sign(SECRET, PUSH_MAIN.as_bytes())),
    )];
    for _ in 0..2 {
        assert_eq!(
            send(&s, "/hooks/generic", &script, PUSH_MAIN).await.0,
            StatusCode::ACCEPTED
        );
    }
}
