//! The daemon's Prometheus metrics (`/metrics`), all prefixed `reconciler_`:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `reconciler_syncs_total` | counter | `result` = `success`, `failure` |
//! | `reconciler_sync_duration_seconds` | histogram | |
//! | `reconciler_sync_triggers_total` | counter | `trigger` = `start`, `schedule`, `webhook`, `manual`, `retry` |
//! | `reconciler_objects_applied_total` | counter | |
//! | `reconciler_objects_pruned_total` | counter | |
//! | `reconciler_objects_managed` | gauge | |
//! | `reconciler_rollouts` | gauge | `phase` |
//! | `reconciler_webhook_requests_total` | counter | `provider`, `outcome` |
//! | `reconciler_git_fetches_total` | counter | |
//! | `reconciler_git_fetch_errors_total` | counter | `kind` (see `GitErrorKind`) |
//! | `reconciler_last_successful_sync_timestamp_seconds` | gauge | |
//! | `reconciler_leader` | gauge | 1 while this replica leads (may sync), 0 while a standby |
//! | `reconciler_drifted_objects` | gauge | |
//! | `reconciler_drift_corrections_total` | counter | `kind` (`Server`, `Component`...) |

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels `result`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `failure`.
    pub result: String,
}

/// Labels `trigger`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerLabels {
    /// What asked for the sync.
    pub trigger: String,
}

/// Labels `phase`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// Rollout phase as the sync reports it.
    pub phase: String,
}

/// Labels `provider`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `github`, `gitlab`, `gitea`, `bitbucket`, `generic`.
    pub provider: String,
    /// `accepted`, `ignored`, `unauthorized`, `bad_request`, `too_large`, `rate_limited`,
    /// `disabled`.
    pub outcome: String,
}

/// Labels `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind of failure, or of object.
    pub kind: String,
}

/// Every metric of the daemon, registered once.
pub struct Metrics {
    registry: Registry,
    syncs: Family<ResultLabels, Counter>,
    sync_duration: Histogram,
    triggers: Family<TriggerLabels, Counter>,
    objects_applied: Counter,
    objects_pruned: Counter,
    objects_managed: Gauge,
    rollouts: Family<PhaseLabels, Gauge>,
    webhook_requests: Family<WebhookLabels, Counter>,
    git_fetches: Counter,
    git_fetch_errors: Family<KindLabels, Counter>,
    last_success: Gauge<f64, AtomicU64>,
    leader: Gauge,
    drifted: Gauge,
    drift_corrections: Family<KindLabels, Counter>,
    phases_seen: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let syncs = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciler_syncs",
            "Syncs finished, by result",
            syncs.clone(),
        );
        // 10 ms to about 45 minutes: an unchanged repository syncs in milliseconds, a large
        // first apply takes minutes.
        let sync_duration = Histogram::new(exponential_buckets(0.01, 2.0, 19));
        registry.register(
            "reconciler_sync_duration_seconds",
            "Duration of a sync (fetch excluded)",
            sync_duration.clone(),
        );
        let triggers = Family::<TriggerLabels, Counter>::default();
        registry.register(
            "reconciler_sync_triggers",
            "Requests for a sync, by what asked; requests during a sync coalesce into one",
            triggers.clone(),
        );
        let objects_applied = Counter::default();
        registry.register(
            "reconciler_objects_applied",
            "Objects created or changed by server-side apply",
            objects_applied.clone(),
        );
        let objects_pruned = Counter::default();
        registry.register(
            "reconciler_objects_pruned",
            "Objects deleted because they left the repository",
            objects_pruned.clone(),
        );
        let objects_managed = Gauge::default();
        registry.register(
            "reconciler_objects_managed",
            "Objects in the render of the last successful sync",
            objects_managed.clone(),
        );
        let rollouts = Family::<PhaseLabels, Gauge>::default();
        registry.register("reconciler_rollouts", "Rollouts by phase", rollouts.clone());
        let webhook_requests = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "reconciler_webhook_requests",
            "Webhook requests, by provider and outcome",
            webhook_requests.clone(),
        );
        let git_fetches = Counter::default();
        registry.register(
            "reconciler_git_fetches",
            "Fetches of the Git source",
            git_fetches.clone(),
        );
        let git_fetch_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "reconciler_git_fetch_errors",
            "Failed fetches of the Git source, by kind of failure",
            git_fetch_errors.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "reconciler_last_successful_sync_timestamp_seconds",
            "Unix time of the end of the last successful sync",
            last_success.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "reconciler_leader",
            "1 while this replica holds the leadership and may sync, 0 while it is a standby",
            leader.clone(),
        );
        let drifted = Gauge::default();
        registry.register(
            "reconciler_drifted_objects",
            "Managed objects that differ from what the last sync applied and were not put back",
            drifted.clone(),
        );
        let drift_corrections = Family::<KindLabels, Counter>::default();
        registry.register(
            "reconciler_drift_corrections",
            "Drifted objects put back, by kind",
            drift_corrections.clone(),
        );
        // A replica leads until leader election says otherwise (State starts as leader).
        leader.set(1);
        Metrics {
            registry,
            syncs,
            sync_duration,
            triggers,
            objects_applied,
            objects_pruned,
            objects_managed,
            rollouts,
            webhook_requests,
            git_fetches,
            git_fetch_errors,
            last_success,
            leader,
            drifted,
            drift_corrections,
            phases_seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts a finished sync.
    pub fn sync_finished(&self, success: bool, seconds: f64) {
        let result = if success { "success" } else { "failure" };
        self.syncs
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        self.sync_duration.observe(seconds);
    }

    /// Counts objects applied and pruned by a successful sync and sets the managed total.
    pub fn objects(&self, applied: u64, pruned: u64, managed: u64) {
        self.objects_applied.inc_by(applied);
        self.objects_pruned.inc_by(pruned);
        self.objects_managed
            .set(i64::try_from(managed).unwrap_or(i64::MAX));
    }

    /// Records the end time of a successful sync.
    pub fn last_success(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
    }

    /// Records whether this replica leads.
    pub fn leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Sets the number of drifted objects not put back.
    pub fn drifted(&self, objects: usize) {
        self.drifted.set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    /// Counts a drifted object of `kind` put back.
    pub fn drift_corrected(&self, kind: &str) {
        self.drift_corrections
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// Counts a request for a sync.
    pub fn trigger(&self, trigger: &str) {
        self.triggers
            .get_or_create(&TriggerLabels {
                trigger: trigger.into(),
            })
            .inc();
    }

    /// Sets the number of rollouts per phase; phases seen before and absent now go to zero.
    pub fn rollouts<'a>(&self, phases: impl IntoIterator<Item = &'a str>) {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for p in phases {
            *counts.entry(p.to_owned()).or_default() += 1;
        }
        let mut seen = self.phases_seen.lock().expect("not poisoned");
        seen.extend(counts.keys().cloned());
        for phase in seen.iter() {
            self.rollouts
                .get_or_create(&PhaseLabels {
                    phase: phase.clone(),
                })
                .set(counts.get(phase).copied().unwrap_or(0));
        }
    }

    /// Counts a webhook request.
    pub fn webhook(&self, provider: &str, outcome: &str) {
        self.webhook_requests
            .get_or_create(&WebhookLabels {
                provider: provider.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Counts a fetch, failed with `error_kind` or successful (`None`).
    pub fn git_fetch(&self, error_kind: Option<&str>) {
        self.git_fetches.inc();
        if let Some(kind) = error_kind {
            self.git_fetch_errors
                .get_or_create(&KindLabels { kind: kind.into() })
                .inc();
        }
    }
}
