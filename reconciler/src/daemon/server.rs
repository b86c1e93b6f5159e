//! The one HTTP server of the daemon, a router over the shared [`State`]: `/healthz` (the
//! process answers), `/readyz` (a sync succeeded, or this replica is a standby), `/metrics`
//! (OpenMetrics text), `/status` (JSON), and the webhooks `POST /hooks/{provider}` (checked by
//! [`webhook::receive`]).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::config::Provider;
use super::state::State;
use super::trigger::Trigger;
use super::webhook::{self, Answer};

/// Content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every endpoint and webhook path over `state`.
pub fn app(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/hooks/{provider}", post(hook))
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(AxumState(state): AxumState<Arc<State>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no sync has succeeded yet\n",
        )
            .into_response()
    }
}

async fn metrics(AxumState(state): AxumState<Arc<State>>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        state.metrics.encode(),
    )
        .into_response()
}

async fn status(AxumState(state): AxumState<Arc<State>>) -> Response {
    let body = serde_json::to_string_pretty(&state.status()).expect("the status serializes");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `POST /hooks/{provider}`: the answer of [`webhook::receive`]; an accepted one asks for a
/// sync. Counted and logged by outcome.
async fn hook(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(provider) = Provider::from_name(&name) else {
        return Answer::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no webhook provider {name:?}; use github, gitlab, gitea, bitbucket or generic"
            ),
        )
        .into_response();
    };
    let answer = webhook::receive(state.webhook(), provider, &headers, body).await;
    if answer.is_accepted() {
        state.trigger(Trigger::Webhook(provider));
    }
    state.metrics.webhook(provider.as_str(), answer.outcome);
    match answer.outcome {
        "accepted" => tracing::info!(
            provider = provider.as_str(),
            r#ref = answer.pushed_ref.as_deref().unwrap_or(""),
            "webhook accepted: sync requested"
        ),
        "unauthorized" => {
            tracing::warn!(provider = provider.as_str(), reason = %answer.message, "webhook refused")
        }
        outcome => {
            tracing::debug!(provider = provider.as_str(), outcome, reason = %answer.message, "webhook not acted on")
        }
    }
    answer.into_response()
}
