//! The one [`State`] shared by the sync loop, the webhook receiver and the endpoints: metrics,
//! the status served at `/status`, readiness, the leader/standby role, and the trigger queue.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use super::config::{Config, redact_url};
use super::error::{Error, GitError};
use super::gitsource::Revision;
use super::metrics::Metrics;
pub use super::status::{
    DriftRecord, FetchErrorStatus, Role, RolloutStatus, SourceStatus, Status, SyncRecord,
};
use super::time::rfc3339;
use super::trigger::{Trigger, Triggers};
use super::ui::store::UiStore;
use super::webhook::settings::WebhookSettings;

/// Drift records kept in `/status` at most.
const MAX_DRIFT_RECORDS: usize = 200;

/// What the loop, the webhooks and the endpoints share.
pub struct State {
    /// The metrics served at `/metrics`.
    pub metrics: Metrics,
    /// What the web view shows of the last passes (`/`, `/api/*`).
    pub ui: UiStore,
    webhook: WebhookSettings,
    triggers: Triggers,
    status: Mutex<Status>,
    synced_once: AtomicBool,
    role: tokio::sync::watch::Sender<Role>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl State {
    /// A state for `instance` following `url` at `reference`/`path`, with these webhook
    /// settings. The role starts as [`Role::Leader`].
    pub fn new(
        instance: &str,
        url: &str,
        reference: &str,
        path: &str,
        webhook: WebhookSettings,
    ) -> Arc<State> {
        State::with_ui(instance, url, reference, path, webhook, UiStore::default())
    }

    fn with_ui(
        instance: &str,
        url: &str,
        reference: &str,
        path: &str,
        webhook: WebhookSettings,
        ui: UiStore,
    ) -> Arc<State> {
        Arc::new(State {
            metrics: Metrics::new(),
            ui,
            webhook,
            triggers: Triggers::default(),
            status: Mutex::new(Status {
                instance: instance.to_owned(),
                role: Role::Leader,
                ready: false,
                syncing: false,
                pending: false,
                revision: None,
                source: SourceStatus {
                    url: redact_url(url),
                    reference: reference.to_owned(),
                    path: path.to_owned(),
                    fetched: None,
                    last_fetch: None,
                    fetch_error: None,
                },
                last_sync: None,
                last_successful_sync: None,
                rollouts: Vec::new(),
                drift: Vec::new(),
                next_scheduled_sync: None,
            }),
            synced_once: AtomicBool::new(false),
            role: tokio::sync::watch::Sender::new(Role::Leader),
        })
    }

    /// The state of a config; reads the webhook secret and the web view's token.
    pub fn from_config(config: &Config) -> Result<Arc<State>, Error> {
        let webhook = WebhookSettings::from_config(config)?;
        let token = match &config.ui.token {
            Some(t) => Some(t.read("ui.tokenFile")?),
            None => None,
        };
        Ok(State::with_ui(
            &config.instance,
            &config.source.url,
            &config.source.reference,
            &config.source.path,
            webhook,
            UiStore::new(token),
        ))
    }

    /// What the webhook receiver checks requests against: secret, providers, limits, ref.
    pub fn webhook(&self) -> &WebhookSettings {
        &self.webhook
    }

    /// The queue of sync requests, which the loop waits on.
    pub fn triggers(&self) -> &Triggers {
        &self.triggers
    }

    /// Asks for a sync. Requests made while one runs coalesce into one follow-up.
    pub fn trigger(&self, trigger: Trigger) {
        self.metrics.trigger(trigger.metric_label());
        self.triggers.fire(trigger);
    }

    /// A snapshot of `/status`.
    pub fn status(&self) -> Status {
        let mut s = self.status.lock().expect("not poisoned").clone();
        s.ready = self.is_ready();
        s.role = self.role();
        s.pending = self.triggers.is_pending();
        s
    }

    /// Ready once a sync succeeded; a standby is ready (healthy, waiting to lead), so that a
    /// rolling update can bring up a new replica while the old one holds the Lease.
    pub fn is_ready(&self) -> bool {
        self.synced_once.load(Ordering::SeqCst) || self.role() == Role::Standby
    }

    /// Leader or standby, as leader election last set it.
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// Sets the role (leader election). Becoming leader asks for a sync; leaving the
    /// leadership makes the loop stop the running sync ([`State::watch_role`]).
    pub fn set_role(&self, role: Role) {
        // Only a real change notifies, so that a watcher that sees a change knows the role
        // left the value it had.
        let changed = self.role.send_if_modified(|current| {
            let changed = *current != role;
            *current = role;
            changed
        });
        if changed {
            self.metrics.leader(role == Role::Leader);
            tracing::info!(?role, "role changed");
            if role == Role::Leader {
                self.trigger(Trigger::Start);
            }
        }
    }

    /// A receiver of role changes, with the current role marked as seen: its `changed()`
    /// resolves at the next change, even if the role changed back before it was polled.
    pub fn watch_role(&self) -> tokio::sync::watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// Waits until the role differs from `than`.
    pub async fn role_changed(&self, than: Role) {
        let mut rx = self.role.subscribe();
        let _ = rx.wait_for(|r| *r != than).await;
    }

    /// Replaces the rollouts shown in `/status` and counted in `reconciler_rollouts` (for
    /// rollouts that progress between syncs).
    pub fn set_rollouts(&self, rollouts: Vec<RolloutStatus>) {
        self.metrics
            .rollouts(rollouts.iter().map(|r| r.phase.as_str()));
        self.status.lock().expect("not poisoned").rollouts = rollouts;
    }

    /// Records a drift of an object (replacing the one it had) and counts a correction.
    pub fn drift_seen(&self, record: DriftRecord) {
        if record.action == "corrected" {
            self.metrics.drift_corrected(&record.kind);
        }
        let mut s = self.status.lock().expect("not poisoned");
        let same = |d: &DriftRecord| {
            (&d.kind, &d.namespace, &d.name) == (&record.kind, &record.namespace, &record.name)
        };
        s.drift.retain(|d| !same(d));
        s.drift.push(record);
        // Corrections are history: the oldest go first when the list grows long.
        while s.drift.len() > MAX_DRIFT_RECORDS {
            match s.drift.iter().position(|d| !d.outstanding()) {
                Some(i) => s.drift.remove(i),
                None => s.drift.remove(0),
            };
        }
        self.metrics
            .drifted(s.drift.iter().filter(|d| d.outstanding()).count());
    }

    /// Records that an object is as the last pass left it again: an outstanding drift of it
    /// leaves `/status` (a correction stays, as history).
    pub fn drift_resolved(&self, kind: &str, namespace: &str, name: &str) {
        let mut s = self.status.lock().expect("not poisoned");
        s.drift.retain(|d| {
            !(d.outstanding() && d.kind == kind && d.namespace == namespace && d.name == name)
        });
        self.metrics
            .drifted(s.drift.iter().filter(|d| d.outstanding()).count());
    }

    /// Whether a sync is running.
    pub fn is_syncing(&self) -> bool {
        self.status.lock().expect("not poisoned").syncing
    }

    /// Records whether a sync is running (for `/status`).
    pub fn set_syncing(&self, syncing: bool) {
        self.status.lock().expect("not poisoned").syncing = syncing;
    }

    /// Records when the schedule fires next (for `/status`).
    pub fn set_next_schedule(&self, at: Option<DateTime<Utc>>) {
        self.status
            .lock()
            .expect("not poisoned")
            .next_scheduled_sync = at.map(rfc3339);
    }

    /// Records a successful fetch of `revision`.
    pub fn fetch_succeeded(&self, revision: &Revision) {
        self.metrics.git_fetch(None);
        let mut s = self.status.lock().expect("not poisoned");
        s.source.fetched = Some(revision.clone());
        s.source.last_fetch = Some(rfc3339(Utc::now()));
        s.source.fetch_error = None;
    }

    /// Records a failed fetch and when it is retried; returns the failures in a row.
    pub fn fetch_failed(&self, error: &GitError, next_retry: Option<DateTime<Utc>>) -> u32 {
        self.metrics.git_fetch(Some(error.kind.as_str()));
        let mut s = self.status.lock().expect("not poisoned");
        let failures = s
            .source
            .fetch_error
            .as_ref()
            .map_or(0, |e| e.consecutive_failures)
            + 1;
        s.source.fetch_error = Some(FetchErrorStatus {
            kind: error.kind,
            message: error.message.clone(),
            consecutive_failures: failures,
            next_retry: next_retry.map(rfc3339),
        });
        failures
    }

    /// Records the end of a sync, and the rollouts it reported.
    pub fn sync_finished(&self, record: SyncRecord, rollouts: Option<Vec<RolloutStatus>>) {
        let success = record.result == "success";
        self.metrics.sync_finished(success, record.duration_seconds);
        if success {
            self.metrics.objects(
                record.applied as u64,
                record.pruned as u64,
                record.objects as u64,
            );
            self.metrics
                .last_success(Utc::now().timestamp_millis() as f64 / 1000.0);
        }
        if let Some(r) = rollouts {
            self.set_rollouts(r);
        }
        let mut s = self.status.lock().expect("not poisoned");
        if success {
            s.revision = Some(record.revision.clone());
            s.last_successful_sync = Some(record.clone());
        }
        s.last_sync = Some(record);
        drop(s);
        if success {
            self.synced_once.store(true, Ordering::SeqCst);
        }
    }
}
