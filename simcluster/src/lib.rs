//! A Kubernetes API stand-in on loopback that serves the Vimana CRDs, with a simulated Vimana
//! operator and fault injection (DESIGN section 10).
//!
//! [`SimCluster::start`] serves a fresh, empty cluster on a loopback port and returns a
//! [`Handle`]: its URL and kubeconfig for clients (the kube crate, `kubectl`), request counters,
//! knobs for faults and the operator, and [`Handle::shutdown`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), simcluster::Error> {
//! let cluster = simcluster::SimCluster::start(simcluster::Config::default()).await?;
//! std::fs::write("/tmp/kubeconfig", cluster.kubeconfig()).unwrap();
//! println!("serving {}", cluster.url());
//! cluster.shutdown().await
//! # }
//! ```
//!
//! Code map: `api` (HTTP: `route`, `request`, `protobuf`, `objects`, `write`, `list`,
//! `watch`, `respond`, `injected` faults) → `store` (objects and resourceVersion in `mod.rs`;
//! `read`, `write`, `apply`, all ending in the write `pipeline`; `validation`, `builtin`,
//! `seed`, `types`) → `managed` (server-side apply and managedFields) over `fieldpath`;
//! `schema` validates and prunes against the CRD schemas that `resources` loads from
//! `deploy/crds`; `operator` writes statuses; `inflight` (the max-in-flight limit), `faults`
//! and `metrics` wrap every request;
//! `time` formats timestamps.

mod api;
pub mod error;
pub mod faults;
pub mod fieldpath;
pub mod inflight;
pub mod jsonpath;
pub mod kubeconfig;
pub mod managed;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod status;
pub mod store;
pub mod table;
pub mod time;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::Error;
pub use faults::FaultRule;
pub use metrics::LogEntry;
pub use operator::{OPERATOR_MANAGER, OperatorSettings};
pub use resources::CRD_FILES;
pub use status::Status;
pub use store::Store;

/// How to run a simulated cluster.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Bearer token clients must send; `None` generates one.
    pub token: Option<String>,
    /// How long the operator waits before it sets `Available` after a change.
    pub operator_delay: Duration,
    /// Component versions that never become Available.
    pub unavailable_versions: BTreeSet<String>,
    /// Fault rules, in force from the start.
    pub faults: Vec<FaultRule>,
    /// Seed of the fault dice, for reproducible runs.
    pub fault_seed: u64,
    /// Read-only and mutating requests served at once, over which a request gets 429 with
    /// `Retry-After` (kube-apiserver's `--max-requests-inflight` and
    /// `--max-mutating-requests-inflight`). Default: no limit.
    pub max_in_flight: inflight::Limits,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// How long past events are kept: a watch from a resourceVersion that missed a dropped
    /// event of its type gets 410 Gone, as from kube-apiserver's watch cache. Default
    /// [`store::DEFAULT_WATCH_HISTORY`] (5 s, shorter than the API server's 75 s, so that
    /// clients' re-list paths run in tests).
    pub watch_history: Duration,
    /// Print each request log line to standard error.
    pub log_requests: bool,
    /// Namespace of the kubeconfig context.
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            operator_delay: Duration::from_secs(1),
            unavailable_versions: BTreeSet::new(),
            faults: Vec::new(),
            fault_seed: 0x5eed,
            max_in_flight: inflight::Limits::default(),
            bookmark_interval: Duration::from_secs(60),
            watch_history: store::DEFAULT_WATCH_HISTORY,
            log_requests: false,
            namespace: "default".into(),
        }
    }
}

/// The simulated cluster; [`SimCluster::start`] serves one.
#[derive(Debug)]
pub struct SimCluster;

impl SimCluster {
    /// Binds, starts the API server and the operator on the current tokio runtime, and returns
    /// once requests are accepted.
    pub async fn start(config: Config) -> Result<Handle, Error> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(Error::Serve)?;
        let registry = Arc::new(resources::Registry::new());
        let store = Arc::new(Store::new(registry));
        store.set_watch_history(config.watch_history);
        let token = config
            .token
            .clone()
            .unwrap_or_else(|| format!("simcluster-{}", store.new_uid().replace('-', "")));
        let metrics = Arc::new(metrics::Metrics::new(config.log_requests));
        let faults = Arc::new(faults::Faults::new(
            config.faults.clone(),
            config.fault_seed,
        ));
        let in_flight = Arc::new(inflight::InFlight::new(config.max_in_flight));
        let operator = Arc::new(OperatorSettings::new(
            config.operator_delay,
            config.unavailable_versions.clone(),
        ));
        let mut handle = Handle {
            url: format!("http://{addr}"),
            addr,
            token,
            namespace: config.namespace,
            bookmark_interval: config.bookmark_interval,
            store,
            metrics,
            faults,
            in_flight,
            operator,
            shutdown: watch::channel(false).0,
            server: None,
            operator_task: None,
        };
        handle.serve(listener);
        Ok(handle)
    }
}

/// Runs a simulated cluster on a runtime of its own until SIGINT or SIGTERM, then shuts it down
/// gracefully. `ready` is called once requests are accepted (to print the URL, write the
/// kubeconfig); an error from it stops the cluster and is returned.
pub fn run_until_signal(
    config: Config,
    ready: impl FnOnce(&Handle) -> Result<(), Error>,
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Serve)?;
    runtime.block_on(async move {
        let handle = SimCluster::start(config).await?;
        if let Err(e) = ready(&handle) {
            let _ = handle.shutdown().await;
            return Err(e);
        }
        wait_for_signal().await?;
        handle.shutdown().await
    })
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Serve)?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(Error::Serve),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), Error> {
    tokio::signal::ctrl_c().await.map_err(Error::Serve)
}

/// A running simulated cluster. Dropping it stops the server in the background;
/// [`Handle::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct Handle {
    url: String,
    addr: SocketAddr,
    token: String,
    namespace: String,
    bookmark_interval: Duration,
    store: Arc<Store>,
    metrics: Arc<metrics::Metrics>,
    faults: Arc<faults::Faults>,
    in_flight: Arc<inflight::InFlight>,
    operator: Arc<OperatorSettings>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    operator_task: Option<JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address (with the port chosen when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token API requests must carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig (YAML) for this cluster, accepted by `kubectl` and the kube crate.
    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(&self.url, &self.token, &self.namespace)
    }

    /// Writes [`Handle::kubeconfig`] to `path` (mode 0600 on Unix: it holds the token).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        let err = |source| Error::Kubeconfig {
            path: path.to_owned(),
            source,
        };
        std::fs::write(path, self.kubeconfig()).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
        Ok(())
    }

    /// How many requests with this verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `apply`, `delete`, `deletecollection`, `discovery`) and resource (`components`,
    /// `components/status`, empty for discovery) arrived so far.
    pub fn requests(&self, verb: &str, resource: &str) -> u64 {
        self.metrics.requests(verb, resource)
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    /// The request log, oldest first (the last 10,000 requests).
    pub fn request_log(&self) -> Vec<LogEntry> {
        self.metrics.request_log()
    }

    /// Replaces the fault rules; requests from now on follow the new rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.faults.set(rules);
    }

    /// Replaces the versions whose Components never become Available; statuses follow.
    pub fn set_unavailable_versions(&self, versions: BTreeSet<String>) {
        self.operator.set_unavailable(versions);
    }

    /// Changes the operator delay for changes from now on.
    pub fn set_operator_delay(&self, delay: Duration) {
        self.operator.set_delay(delay);
    }

    /// The object store, for in-process access (seeding benchmarks, inspecting state).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Inserts objects of the type served at `group/version/plural` without going through the
    /// API (no validation, no managedFields): fast seeding for benchmarks. Returns how many
    /// were stored, or `None` when the type is not served.
    pub fn seed(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        objects: impl IntoIterator<Item = serde_json::Value>,
    ) -> Option<usize> {
        let type_id = self.store.registry().find(group, version, plural)?;
        Some(self.store.seed(type_id, objects))
    }

    /// Stops accepting requests, ends open watches, and waits for the server and the operator.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop().await
    }

    /// Restarts the API server as a real one restarts: every connection and watch ends, the
    /// objects stay (they live in etcd), and the new watch cache starts at the current
    /// resourceVersion, so a watch resumed from an older one gets 410 Gone and lists again.
    /// The same address serves again once this returns.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.stop().await?;
        self.store.forget_history();
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: self.addr.to_string(),
                source,
            })?;
        self.serve(listener);
        Ok(())
    }

    /// Serves the API and runs the operator on `listener` until [`Handle::stop`].
    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = Arc::new(api::AppState {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            faults: self.faults.clone(),
            in_flight: self.in_flight.clone(),
            token: self.token.clone(),
            bookmark_interval: self.bookmark_interval,
            shutdown: shutdown_rx.clone(),
        });
        let mut server_shutdown = shutdown_rx.clone();
        self.server = Some(tokio::spawn(async move {
            axum::serve(listener, api::app(state))
                .with_graceful_shutdown(async move {
                    // Either a `true` or a dropped sender ends the server.
                    let _ = server_shutdown.wait_for(|stop| *stop).await;
                })
                .await
        }));
        self.operator_task = Some(tokio::spawn(operator::run(
            self.store.clone(),
            self.operator.clone(),
            shutdown_rx,
        )));
        self.shutdown = shutdown_tx;
    }

    /// Ends the server and the operator and waits for both.
    async fn stop(&mut self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        if let Some(op) = self.operator_task.take() {
            let _ = op.await;
        }
        match self.server.take() {
            Some(server) => match server.await {
                Ok(result) => result.map_err(Error::Serve),
                Err(join) => Err(Error::Serve(std::io::Error::other(join))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
