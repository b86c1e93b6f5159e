//! The daemon behind `reconciler run` (DESIGN section 9): the config file, the Git source, the
//! cron schedule, the webhook receiver, the HTTP endpoints, leader election on a Lease, and the
//! loop that runs one sync at a time. The sync itself is pluggable ([`runner::SyncFn`]): apart
//! from the Lease ([`lease`]) and the drift watch ([`drift`]), this module knows Git, time and
//! HTTP, not the cluster.
//!
//! The modules form layers without import cycles: `config`, `error` and the small leaves
//! (`schedule`, `knownhosts`, `metrics`, `time`) at the bottom; then `gitsource`, `trigger`,
//! `status` and `syncfn`; `webhook` (requests judged without the state); the shared `state`;
//! and on top `runner`, `server`, `lease` and `drift`; `ui` (the web view) sits beside the
//! state it reads. `docs/daemon.md` has the table.

pub mod config;
pub mod drift;
pub mod error;
pub mod gitsource;
pub mod knownhosts;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod runner;
pub mod schedule;
pub mod server;
pub mod state;
pub mod status;
pub mod syncfn;
pub mod time;
pub mod trigger;
pub mod ui;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

pub use crate::git::GitTree;
pub use crate::stop::StopSignal;
pub use config::{Config, Secret};
pub use drift::Drift;
pub use error::{Error, GitError, GitErrorKind};
pub use gitsource::{GitSource, Revision};
pub use runner::{Backoff, Runner};
pub use state::State;
pub use status::{Role, RolloutStatus};
pub use syncfn::{SyncError, SyncFn, SyncReport, SyncRequest, SyncResult};
pub use trigger::Trigger;

/// Runs the daemon of `config` until `shutdown` resolves: binds `webhook.listen`, serves the
/// endpoints and webhooks, and runs the sync loop with `sync`. On shutdown the current sync is
/// told to stop ([`SyncRequest::stop`]) and awaited; then the HTTP server stops, waiting at
/// most [`server::SHUTDOWN_DRAIN`] for open connections, so that a slow client cannot hold up
/// the release of the Lease that follows.
///
/// Logging is not set up here: call [`logging::init`] first. `on_start` receives the shared
/// state and the bound address once the server listens: leader election flips
/// [`State::set_role`] there, and a manual sync is [`State::trigger`].
pub async fn run(
    config: Config,
    sync: SyncFn,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_start: impl FnOnce(Arc<State>, std::net::SocketAddr),
) -> Result<(), Error> {
    run_with(config, sync, server::Limits::default(), shutdown, on_start).await
}

/// [`run`] with other bounds for the HTTP server than the defaults (tests shorten them).
pub async fn run_with(
    config: Config,
    sync: SyncFn,
    limits: server::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_start: impl FnOnce(Arc<State>, std::net::SocketAddr),
) -> Result<(), Error> {
    let source = Arc::new(GitSource::new(&config.source)?);
    let state = State::from_config(&config)?;
    let listener = tokio::net::TcpListener::bind(config.webhook.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.webhook.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: config.webhook.listen.to_string(),
        source,
    })?;
    tracing::info!(
        instance = %config.instance,
        listen = %addr,
        source = %source.display_url(),
        reference = %config.source.reference,
        path = %config.source.path,
        "daemon started"
    );
    on_start(state.clone(), addr);
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve_with(
        listener,
        server::app(state.clone()),
        limits,
        async move {
            let _ = server_stop_rx.await;
        },
    ));
    let runner = Runner::new(state, source, sync, config.schedule.clone());
    runner.run(shutdown).await;
    let _ = server_stop_tx.send(());
    match server.await {
        Ok(result) => result.map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        }),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C): the signals that ask the daemon to stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received: stopping"),
        () = term => tracing::info!("SIGTERM received: stopping"),
    }
}
