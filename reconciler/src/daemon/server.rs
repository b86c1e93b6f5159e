//! The one HTTP server of the daemon, a router over the shared [`State`]: `/healthz` (the
//! process answers), `/readyz` (a sync succeeded, or this replica is a standby), `/metrics`
//! (OpenMetrics text), `/status` (JSON), the webhooks `POST /hooks/{provider}` (checked by
//! [`webhook::receive`]), and the web view: `/` and `/api/*` ([`ui::api`]).
//!
//! The listener is served by hand over hyper rather than with `axum::serve`, for bounds that a
//! client on the network cannot stretch ([`Limits`]): the time to send a request's headers
//! (which also closes idle keep-alive connections), the number of connections, and how long a
//! shutdown waits for the connections still open. The webhook body has its own read timeout
//! ([`webhook::settings::BODY_READ_TIMEOUT`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::config::Provider;
use super::state::State;
use super::trigger::Trigger;
use super::ui;
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
        .with_state(state.clone())
        .merge(ui::api::router(state))
}

/// How long a client may take to send a request's headers, counted from the connection's
/// start or, on a keep-alive connection, from the end of the previous response: slow headers
/// and idle connections are both closed after it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections are served at once; further clients wait in the listen queue until
/// one closes.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a shutdown waits for open connections to finish their request; then they are
/// closed.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// The bounds of the HTTP server; [`Limits::default`] holds the constants above, tests shorten
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read: Duration,
    /// [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// [`SHUTDOWN_DRAIN`].
    pub shutdown_drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            shutdown_drain: SHUTDOWN_DRAIN,
        }
    }
}

/// Serves [`app`] on `listener` with the default [`Limits`] until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app(state), Limits::default(), shutdown).await
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting, lets the open connections finish the request in flight for at most
/// `limits.shutdown_drain`, and closes those still open. Returns within that bound whatever
/// the clients do.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // A permit first: at the limit, clients wait in the kernel's queue, not in memory.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            router.clone(),
            limits,
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            drain_ms = limits.shutdown_drain.as_millis() as u64,
            "connections still open after the shutdown drain: closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One connection: HTTP/1.1 with the header timeout, closed gracefully (after the request in
/// flight) once `stop` is raised. Holds its `permit` until it ends.
async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let stopping = async move {
        // A dropped sender means the server is gone: stop too.
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
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
