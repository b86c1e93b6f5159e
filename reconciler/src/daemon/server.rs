//! The HTTP endpoints, merged with the webhook routes into one router over the shared
//! [`State`]: `/healthz` (the process answers), `/readyz` (a sync succeeded, or this replica
//! is a standby), `/metrics` (OpenMetrics text) and `/status` (JSON).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::state::State;
use super::webhook;

/// Content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every endpoint and webhook path over `state`.
pub fn app(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(state.clone())
        .merge(webhook::app(state))
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
