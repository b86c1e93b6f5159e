//! `reconciler run --config FILE`: the daemon. Fetches the Git source on start, on the cron
//! schedule and on webhooks, renders the revision from Git objects, and runs one sync pass at a
//! time; rollouts in progress are looked at again when their next step is due.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs, ClusterKind};
use crate::daemon::lease;
use crate::daemon::{
    self, Config, Drift, RolloutStatus, State, SyncError, SyncReport, SyncRequest, Trigger,
};
use crate::notify::{self, Notifier};
use crate::rollout::Status;
use crate::sync;
use crate::verb::Verb;

/// Arguments of `reconciler run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The configuration file (see docs/daemon.md).
    #[arg(long, value_name = "FILE", env = "RECONCILER_CONFIG")]
    pub config: PathBuf,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let config = Config::load(&args.config)?;
    daemon::logging::init(&config.log)?;
    crate::commands::sync::runtime()?.block_on(async {
        let cluster = Arc::new(Cluster::connect(&cluster_args(&config)).await?);
        // Leader election on a Lease: a standby never writes; the Lease is released on stop so
        // that a standby takes over at once.
        let elector = lease::Elector::new(
            cluster.client.clone(),
            lease::Settings::from_config(&config),
        );
        let starter = elector.clone();
        let served = serve(
            config,
            cluster,
            daemon::shutdown_signal(),
            move |state, _| starter.start(state),
        )
        .await;
        // Released whether the daemon stopped cleanly or failed after it started: a standby
        // should not wait out the Lease of a replica that is gone.
        if let Err(e) = elector.release().await {
            tracing::warn!(error = %e, "the Lease was not released; it expires on its own");
        }
        served?;
        anyhow::Ok(Outcome::Success)
    })
}

/// Cluster selection from the `cluster` section of the configuration.
pub fn cluster_args(config: &Config) -> ClusterArgs {
    ClusterArgs {
        kubeconfig: config.cluster.kubeconfig.clone(),
        context: config.cluster.context.clone(),
        cluster: config.cluster.embedded.then_some(ClusterKind::Embedded),
        request_timeout: Duration::from_secs(30),
        max_in_flight: Some(config.apply.concurrency as usize),
    }
}

/// The sync options of a configuration (the revision is set per sync).
pub fn options(config: &Config) -> sync::Options {
    sync::Options {
        instance: config.instance.clone(),
        namespace: config.cluster.namespace.clone(),
        prune: config.apply.prune,
        allow_empty: config.apply.allow_empty,
        concurrency: usize::try_from(config.apply.concurrency)
            .unwrap_or(8)
            .max(1),
        create_namespace: false,
        revision: None,
        rollout: config.rollout.defaults.clone(),
        analyses: config.rollout.analyses.clone(),
        notify: config.notify.iter().map(|n| n.url.clone()).collect(),
        stop: None,
    }
}

/// Runs the daemon of `config` against `cluster` until `shutdown`; `on_start` gets the shared
/// state and the address of the HTTP server once it listens.
pub async fn serve(
    config: Config,
    cluster: Arc<Cluster>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_start: impl FnOnce(Arc<State>, std::net::SocketAddr),
) -> Result<(), daemon::Error> {
    let base = options(&config);
    let limits = config.render.limits;
    // One render cache per daemon: a pass re-renders the files its commit changed.
    let renders = Arc::new(Mutex::new(render::Incremental::new()));
    let state_slot: Arc<OnceLock<Arc<State>>> = Arc::new(OnceLock::new());
    let slot = state_slot.clone();
    let notifier = Notifier::new(base.notify.clone());
    // Started with the first pass, from its LISTs; judged by a task of its own.
    let drift = Drift::new(
        cluster.clone(),
        &config.instance,
        config.apply.drift,
        notifier.clone(),
    );
    let drift_loop = drift.clone();
    let (ui_cluster, ui_options) = (cluster.clone(), base.clone());
    let sync_fn = daemon::runner::sync_fn(move |req: SyncRequest| {
        let cluster = cluster.clone();
        let mut options = base.clone();
        let slot = slot.clone();
        let notifier = notifier.clone();
        let drift = drift.clone();
        let renders = renders.clone();
        async move {
            options.revision = Some(req.revision.commit.clone());
            options.stop = Some(req.stop.clone());
            let state = slot.get().cloned();
            let render = (&limits, renders);
            let result = pass(&cluster, &req, &options, render, &drift, state.as_deref()).await;
            if let Err(e) = &result {
                let event = notify::Event {
                    kind: notify::EventKind::SyncFailed,
                    instance: options.instance.clone(),
                    revision: options.revision.clone(),
                    object: None,
                    message: e.message.clone(),
                    time: crate::rollout::time_text(chrono::Utc::now()),
                };
                for failure in notifier.send(&event).await {
                    tracing::warn!(%failure, "notification not delivered");
                }
            }
            if let Ok((_, Some(wake))) = &result
                && let Some(state) = slot.get().cloned()
            {
                let wake = *wake;
                tokio::spawn(async move {
                    let pause = (wake - chrono::Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(pause + Duration::from_millis(50)).await;
                    state.trigger(Trigger::Rollout);
                });
            }
            result.map(|(report, _)| report)
        }
    });
    daemon::run(config, sync_fn, shutdown, move |state, addr| {
        let _ = state_slot.set(state.clone());
        tokio::spawn(ui_refresh(ui_cluster, ui_options, state.clone()));
        tokio::spawn(drift_loop.run(state.clone()));
        on_start(state, addr);
    })
    .await
}

/// One pass for a fetched revision: render it from Git objects within `limits`
/// (`render.limits`), reusing what the daemon's cache made of the files the revision did not
/// change, then sync. Returns the report and when a rollout wants to be looked at
/// again.
async fn pass(
    cluster: &Cluster,
    req: &SyncRequest,
    options: &sync::Options,
    (limits, renders): (&render::Limits, Arc<Mutex<render::Incremental>>),
    drift: &Drift,
    state: Option<&State>,
) -> Result<(SyncReport, Option<chrono::DateTime<chrono::Utc>>), SyncError> {
    let started = chrono::Utc::now();
    let render_options = render::Options {
        path: req.path.clone(),
        instance: options.instance.clone(),
        namespace: options.namespace.clone(),
        limits: *limits,
    };
    let request = req.clone();
    let cache = Arc::clone(&renders);
    let output = tokio::task::spawn_blocking(move || {
        // A render that panicked may have left the cache half filled: start it again.
        let mut cache = cache.lock().unwrap_or_else(|poisoned| {
            cache.clear_poison();
            let mut cache = poisoned.into_inner();
            *cache = render::Incremental::new();
            cache
        });
        let output = request.with_tree(|tree| cache.render(tree, &render_options));
        tracing::debug!(files = cache.rerendered(), "rendered afresh");
        output
    })
    .await
    .map_err(|e| SyncError {
        message: format!("the render stopped: {e}"),
        errors: Vec::new(),
        retry: true,
    })?
    .map_err(|e| SyncError::from(&crate::Error::Git(e)))?;
    if output.diagnostics.has_errors() {
        let n = output.diagnostics.error_count();
        return Err(SyncError {
            message: format!(
                "{n} error(s) in the sources at {}; nothing was applied and the last good state stays live",
                short(&req.revision.commit)
            ),
            errors: one_text_each(&output.diagnostics),
            retry: false,
        });
    }
    let objects = output.manifests.len();
    if req.stop.is_stopping() {
        return Err(SyncError {
            message: "stopping: the sync was not started".into(),
            errors: Vec::new(),
            retry: false,
        });
    }
    let applied: Vec<model::Object> = output.manifests.iter().map(|m| m.object.clone()).collect();
    let (result, manifests) = sync::sync_returning(cluster, output.manifests, options).await;
    // The cache takes the objects back, so that the next render moves those of the unchanged
    // files rather than copying them.
    if let Ok(mut cache) = renders.lock() {
        cache.give_back(manifests);
    }
    if let Some(state) = state {
        ui_record(cluster, options, state, req, &applied, &result, started).await;
    }
    match result {
        Ok(outcome) => {
            drift.passed(applied, &outcome.versions, options.revision.clone());
            let rollouts = outcome
                .rollouts
                .iter()
                .filter(|d| d.advance.status != Status::Idle)
                .map(|d| RolloutStatus {
                    server: format!("{}/{}", d.key.namespace, d.key.name),
                    phase: d.advance.status.name().into(),
                    step: d
                        .advance
                        .state
                        .as_ref()
                        .and_then(|s| s.step.map(|i| s.steps[i])),
                    message: d.advance.status.reason().map(str::to_owned),
                })
                .collect();
            let wake = outcome
                .rollouts_in_progress()
                .then(|| outcome.next_wake())
                .flatten();
            Ok((
                SyncReport {
                    objects,
                    applied: outcome.count(Verb::Create)
                        + outcome.count(Verb::Update)
                        + outcome.count(Verb::Weights),
                    pruned: outcome.count(Verb::Delete),
                    rollouts,
                },
                wake,
            ))
        }
        Err(e) => Err(SyncError::from(&e)),
    }
}

/// While the web view is open, reads the live objects every few seconds between passes, so
/// that a Component that turned Available after its pass shows so. Ends with the process.
async fn ui_refresh(cluster: Arc<Cluster>, options: sync::Options, state: Arc<State>) {
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if !state.ui.viewed_recently() || state.is_syncing() {
            continue;
        }
        let Some(namespaces) = state.ui.namespaces() else {
            continue;
        };
        if let Ok(live) =
            crate::cluster::live::read(&cluster, &options.instance, &options.namespace, &namespaces)
                .await
        {
            let live = live.objects.into_iter().map(|(k, o)| (k, o.raw)).collect();
            state.ui.refresh(&live);
        }
    }
}

/// Hands the web view what the pass did and the live objects after it (one more LIST per kind
/// and namespace: the daemon itself does not read the cluster for the page).
async fn ui_record(
    cluster: &Cluster,
    options: &sync::Options,
    state: &State,
    req: &SyncRequest,
    desired: &[model::Object],
    result: &Result<sync::Outcome, crate::Error>,
    started: chrono::DateTime<chrono::Utc>,
) {
    use std::collections::{BTreeMap, BTreeSet};
    let namespaces: BTreeSet<String> = desired.iter().map(|o| o.key().namespace).collect();
    let live = match crate::cluster::live::read(
        cluster,
        &options.instance,
        &options.namespace,
        &namespaces,
    )
    .await
    {
        Ok(live) => live.objects.into_iter().map(|(k, o)| (k, o.raw)).collect(),
        Err(e) => {
            tracing::debug!(error = %e, "the web view keeps its last live objects");
            BTreeMap::new()
        }
    };
    let (done, failed, wakes, error) = match result {
        Ok(outcome) => (
            outcome.done.clone(),
            BTreeMap::new(),
            outcome
                .rollouts
                .iter()
                .filter_map(|d| Some((d.key.clone(), d.advance.wake?)))
                .collect(),
            None,
        ),
        Err(e) => (
            Vec::new(),
            e.failures()
                .iter()
                .map(|f| (f.key.clone(), f.reason.clone()))
                .collect(),
            BTreeMap::new(),
            Some(e.headline()),
        ),
    };
    let input = daemon::ui::build::Input {
        desired,
        live: &live,
        failed: &failed,
        wakes: &wakes,
        revision: Some(req.commit()),
        taken: chrono::Utc::now(),
    };
    let done = done
        .into_iter()
        .map(|(verb, key)| {
            let word = match verb {
                Verb::Create => "created",
                Verb::Delete => "deleted",
                Verb::Weights => "weights",
                _ => "changed",
            };
            (word, key)
        })
        .collect();
    state.ui.passed(
        &input,
        daemon::ui::store::PassSummary {
            trigger: req.trigger.to_string(),
            started: crate::rollout::time_text(started),
            duration_seconds: (chrono::Utc::now() - started).num_milliseconds() as f64 / 1000.0,
            error,
            done,
        },
    );
}

/// Every diagnostic as text of its own (as `/status` lists them), each rendered with the
/// files it points into.
fn one_text_each(diagnostics: &render::Diagnostics) -> Vec<String> {
    diagnostics
        .items
        .iter()
        .map(|d| {
            let mut one = render::Diagnostics::default();
            for label in d.primary.iter().chain(&d.secondary) {
                if let Some(text) = diagnostics.files.text(&label.file) {
                    one.files.add(&label.file, text);
                }
            }
            one.push(d.clone());
            one.to_text(&|p| p.to_owned(), false).trim_end().to_owned()
        })
        .collect()
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
