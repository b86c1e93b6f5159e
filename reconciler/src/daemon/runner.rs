//! The sync loop: one sync at a time, asked for by triggers (start, schedule, webhook,
//! manual, retry). Triggers that arrive while a sync runs coalesce into one follow-up. Each
//! pass fetches Git and then calls the pluggable sync ([`SyncFn`]) with the resolved revision,
//! even when it did not change (the sync does no writes when nothing changed, and so repairs
//! drift). A failed fetch keeps the last good revision live and retries with backoff; so does a
//! sync that reports a retryable failure (kube-runtime's error policy, in small).
//!
//! On shutdown, and when this replica leaves the leadership ([`super::lease`]), the running
//! sync is told to stop at its next safe point ([`SyncRequest::stop`]) and awaited; no new sync
//! starts (until it leads again).

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::GitTree;
use super::config::Provider;
use super::error::{GitError, GitErrorKind};
use super::gitsource::{GitSource, Revision};
use super::schedule::Schedule;
use super::state::{Role, RolloutStatus, State, SyncRecord, rfc3339};
use crate::stop::StopSignal;

/// What asked for a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The daemon started, or this replica became leader.
    Start,
    /// The cron schedule fired.
    Schedule,
    /// A webhook of this provider reported a push of the tracked ref.
    Webhook(Provider),
    /// Someone asked (`State::trigger`).
    Manual,
    /// A retry after a failed fetch or sync.
    Retry,
    /// A rollout step is due (its bake ended, or a wait should look again).
    Rollout,
}

impl Trigger {
    /// The `trigger` label of `reconciler_sync_triggers_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Schedule => "schedule",
            Trigger::Webhook(_) => "webhook",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::Rollout => "rollout",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Webhook(p) => write!(f, "webhook:{}", p.as_str()),
            other => f.write_str(other.metric_label()),
        }
    }
}

/// The queue of sync requests: at most one pending request, which remembers the first trigger
/// and how many were folded into it.
#[derive(Clone, Default)]
pub struct Triggers {
    inner: Arc<TriggersInner>,
}

#[derive(Default)]
struct TriggersInner {
    pending: Mutex<Option<Pending>>,
    notify: Notify,
}

/// The pending request: its first trigger, how many requests it stands for, and whether they
/// were all webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The first trigger folded in.
    pub first: Trigger,
    /// How many triggers were folded in.
    pub count: u64,
    /// Whether every trigger was a webhook: a webhook says Git changed, so when the fetch finds
    /// the revision already synced there is nothing to do (a burst of webhooks for one push
    /// makes one sync). Other triggers sync unchanged revisions too (drift, rollout steps).
    pub webhooks_only: bool,
}

impl std::fmt::Debug for Triggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triggers")
            .field(
                "pending",
                &*self.inner.pending.lock().expect("not poisoned"),
            )
            .finish()
    }
}

impl Triggers {
    /// Asks for a sync; folds into the pending request if there is one.
    pub fn fire(&self, trigger: Trigger) {
        let mut pending = self.inner.pending.lock().expect("not poisoned");
        let webhook = matches!(trigger, Trigger::Webhook(_));
        match pending.as_mut() {
            Some(p) => {
                p.count += 1;
                p.webhooks_only &= webhook;
            }
            None => {
                *pending = Some(Pending {
                    first: trigger,
                    count: 1,
                    webhooks_only: webhook,
                })
            }
        }
        drop(pending);
        // One stored permit at most: any number of fires during a sync wake the loop once.
        self.inner.notify.notify_one();
    }

    /// Takes the pending request: its first trigger and how many requests it stands for.
    pub fn take(&self) -> Option<(Trigger, u64)> {
        self.take_pending().map(|p| (p.first, p.count))
    }

    /// Takes the pending request.
    pub fn take_pending(&self) -> Option<Pending> {
        self.inner.pending.lock().expect("not poisoned").take()
    }

    /// Whether a request is pending.
    pub fn is_pending(&self) -> bool {
        self.inner.pending.lock().expect("not poisoned").is_some()
    }

    /// Resolves after a [`Triggers::fire`] (at once if one happened since the last wait).
    pub async fn notified(&self) {
        self.inner.notify.notified().await;
    }
}

/// One request to the sync: the revision to make live.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// The revision fetched for this sync.
    pub revision: Revision,
    /// The bare repository that holds it (open with `git2::Repository::open_bare`).
    pub repository: PathBuf,
    /// `source.path`: the folder of the sources in the repository.
    pub path: String,
    /// What asked for the sync.
    pub trigger: Trigger,
    /// The commit of the last successful sync, if any (equal to `revision.commit` when Git did
    /// not change).
    pub previous: Option<String>,
    /// Raised when the daemon is stopping or this replica leaves the leadership.
    pub stop: StopSignal,
}

impl SyncRequest {
    /// The commit id to sync.
    pub fn commit(&self) -> &str {
        &self.revision.commit
    }

    /// Runs `f` over the files of the revision ([`GitTree`] is a `render::SourceTree`).
    /// Blocking: call it from `spawn_blocking`.
    pub fn with_tree<R>(&self, f: impl FnOnce(&GitTree<'_>) -> R) -> Result<R, GitError> {
        let repo = git2::Repository::open_bare(&self.repository).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!("cannot open {}: {}", self.repository.display(), e.message()),
            )
        })?;
        let tree = GitTree::at_revision(&repo, &self.revision.commit).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!(
                    "cannot read commit {}: {}",
                    self.revision.commit,
                    e.message()
                ),
            )
        })?;
        Ok(f(&tree))
    }
}

/// What a successful sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects in the render.
    pub objects: usize,
    /// Objects created or changed (0 when nothing changed).
    pub applied: usize,
    /// Objects deleted.
    pub pruned: usize,
    /// Rollouts after the sync.
    pub rollouts: Vec<RolloutStatus>,
}

/// Why a sync failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyncError {
    /// One line: what failed.
    pub message: String,
    /// Every error (render diagnostics, failed objects), for `/status`.
    pub errors: Vec<String>,
    /// Whether to retry with backoff (the cluster was unreachable) or wait for the next
    /// trigger (the sources are invalid: only a new commit helps).
    pub retry: bool,
}

/// The result of a sync.
pub type SyncResult = Result<SyncReport, SyncError>;

/// The sync the loop calls: given a revision, make the cluster equal to it.
pub type SyncFn = Arc<dyn Fn(SyncRequest) -> BoxFuture<'static, SyncResult> + Send + Sync>;

/// A [`SyncFn`] from an async closure.
pub fn sync_fn<F, Fut>(f: F) -> SyncFn
where
    F: Fn(SyncRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SyncResult> + Send + 'static,
{
    Arc::new(move |request| Box::pin(f(request)))
}

/// Exponential backoff with jitter for retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay after `failures` failures in a row: `initial · 2^(failures-1)` capped at
    /// `max`, of which the upper half is scaled by `sample` in `[0, 1)` ("equal jitter": never
    /// less than half, so retries cannot bunch up at zero).
    pub fn delay(&self, failures: u32, sample: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        base / 2 + (base / 2).mul_f64(sample.clamp(0.0, 1.0))
    }
}

/// The loop.
pub struct Runner {
    state: Arc<State>,
    source: Arc<GitSource>,
    sync: SyncFn,
    schedule: Option<Schedule>,
    backoff: Backoff,
}

/// How a pass ended, for the retry policy.
enum Pass {
    Synced,
    FetchFailed(GitError),
    SyncFailed { retry: bool },
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Runner {
    /// A loop over `source` calling `sync`, scheduled by `schedule` (none: only start,
    /// webhooks, manual triggers and retries).
    pub fn new(
        state: Arc<State>,
        source: Arc<GitSource>,
        sync: SyncFn,
        schedule: Option<Schedule>,
    ) -> Runner {
        Runner {
            state,
            source,
            sync,
            schedule,
            backoff: Backoff::default(),
        }
    }

    /// Sets the retry backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Runner {
        self.backoff = backoff;
        self
    }

    fn next_schedule(&self) -> Option<Instant> {
        let schedule = self.schedule.as_ref()?;
        let now = Utc::now();
        let at = schedule.next_fire_random(&now);
        self.state.set_next_schedule(at);
        let wait = (at? - now).to_std().unwrap_or_default();
        Some(Instant::now() + wait)
    }

    /// Runs until `shutdown` resolves; a sync on start, then on every trigger. Only a leader
    /// syncs: when this replica leaves the leadership during a sync, the sync is told to stop
    /// (as on shutdown) and awaited, and no sync starts until it leads again.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        self.state.trigger(Trigger::Start);
        let mut next_schedule = self.next_schedule();
        let mut retry_at: Option<Instant> = None;
        let mut failures = 0u32;
        let mut last_synced: Option<String> = None;
        loop {
            if self.state.role() == Role::Standby {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = self.state.role_changed(Role::Standby) => continue,
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = self.state.triggers().notified() => {}
                () = sleep_until(next_schedule) => {
                    self.state.trigger(Trigger::Schedule);
                    next_schedule = self.next_schedule();
                }
                () = sleep_until(retry_at) => {
                    retry_at = None;
                    self.state.trigger(Trigger::Retry);
                }
            }
            // Subscribed before the role is read: a change after this point, even one that
            // flips back, is seen by `role.changed()` below.
            let mut role = self.state.watch_role();
            if *role.borrow_and_update() != Role::Leader {
                continue;
            }
            let Some(pending) = self.state.triggers().take_pending() else {
                continue;
            };
            // A signal per pass: one raised by a lost leadership must not stop the next pass.
            let (stop_tx, stop) = StopSignal::new();
            let pass = self.pass(pending, stop, last_synced.clone());
            tokio::pin!(pass);
            let (outcome, stopping) = tokio::select! {
                result = &mut pass => (result, false),
                () = &mut shutdown => {
                    tracing::info!("stopping: waiting for the running sync to reach a safe point");
                    let _ = stop_tx.send(true);
                    ((&mut pass).await, true)
                }
                _ = role.changed() => {
                    // The Lease may soon belong to another replica: stop writing before it can.
                    tracing::warn!("leadership lost: stopping the running sync at its next safe point");
                    let _ = stop_tx.send(true);
                    ((&mut pass).await, false)
                }
            };
            match outcome {
                (Pass::Synced, synced) => {
                    failures = 0;
                    retry_at = None;
                    last_synced = synced;
                }
                (Pass::FetchFailed(error), _) => {
                    failures += 1;
                    let delay = self.backoff.delay(failures, rand::random::<f64>());
                    retry_at = Some(Instant::now() + delay);
                    let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    let in_a_row = self.state.fetch_failed(&error, Some(next));
                    tracing::warn!(
                        error = %error,
                        kind = error.kind.as_str(),
                        failures = in_a_row,
                        retry_in_ms = delay.as_millis() as u64,
                        last_good = self.source.last_good().map(|r| r.commit).unwrap_or_default(),
                        "fetch failed; the last good revision stays live"
                    );
                }
                (Pass::SyncFailed { retry }, _) => {
                    if retry {
                        failures += 1;
                        let delay = self.backoff.delay(failures, rand::random::<f64>());
                        tracing::info!(
                            retry_in_ms = delay.as_millis() as u64,
                            "sync will be retried"
                        );
                        retry_at = Some(Instant::now() + delay);
                    } else {
                        failures = 0;
                        retry_at = None;
                    }
                }
            }
            if stopping {
                break;
            }
        }
        self.state.set_next_schedule(None);
        tracing::info!("sync loop stopped");
    }

    /// Fetch, then sync. Returns how it ended and, on success, the synced commit.
    async fn pass(
        &self,
        pending: Pending,
        stop: StopSignal,
        previous: Option<String>,
    ) -> (Pass, Option<String>) {
        self.state.set_syncing(true);
        let result = self.fetch_and_sync(pending, stop, previous.clone()).await;
        self.state.set_syncing(false);
        match result {
            Ok(commit) => (Pass::Synced, Some(commit)),
            Err(pass) => (pass, previous),
        }
    }

    async fn fetch_and_sync(
        &self,
        pending: Pending,
        stop: StopSignal,
        previous: Option<String>,
    ) -> Result<String, Pass> {
        let (trigger, folded) = (pending.first, pending.count);
        tracing::debug!(%trigger, requests = folded, "sync pass starting");
        let source = self.source.clone();
        // The fetch has its own deadline (transfer callbacks); this one also covers a connect
        // that never answers. A fetch left behind holds the source's lock until it ends.
        let limit = self.source.timeout() + Duration::from_secs(5);
        let fetched =
            match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || source.fetch()))
                .await
            {
                Ok(Ok(result)) => result,
                Ok(Err(join)) => Err(GitError::new(
                    GitErrorKind::Cache,
                    format!("the fetch failed: {join}"),
                )),
                Err(_) => Err(GitError::new(
                    GitErrorKind::Timeout,
                    format!(
                        "fetching {} took longer than source.timeout ({})",
                        self.source.display_url(),
                        model::duration::format(self.source.timeout())
                    ),
                )),
            };
        let revision = fetched.map_err(Pass::FetchFailed)?;
        self.state.fetch_succeeded(&revision);
        if pending.webhooks_only && previous.as_deref() == Some(revision.commit.as_str()) {
            tracing::debug!(
                revision = %revision.commit,
                requests = folded,
                "webhooks for a revision already synced: nothing to do"
            );
            return Ok(revision.commit);
        }
        let request = SyncRequest {
            revision: revision.clone(),
            repository: self.source.repository_path().to_owned(),
            path: self.source.path().to_owned(),
            trigger,
            previous,
            stop,
        };
        let started_at = Utc::now();
        let started = std::time::Instant::now();
        let result = match tokio::spawn((self.sync)(request)).await {
            Ok(r) => r,
            Err(e) => Err(SyncError {
                message: format!("the sync task failed: {e}"),
                errors: Vec::new(),
                retry: true,
            }),
        };
        let elapsed = started.elapsed();
        let mut record = SyncRecord {
            trigger: trigger.to_string(),
            revision: revision.commit.clone(),
            started: rfc3339(started_at),
            finished: rfc3339(Utc::now()),
            duration_seconds: elapsed.as_secs_f64(),
            result: "success".into(),
            message: None,
            errors: Vec::new(),
            objects: 0,
            applied: 0,
            pruned: 0,
        };
        match result {
            Ok(report) => {
                record.objects = report.objects;
                record.applied = report.applied;
                record.pruned = report.pruned;
                tracing::info!(
                    %trigger,
                    revision = %revision.commit,
                    duration_ms = elapsed.as_millis() as u64,
                    objects = report.objects,
                    applied = report.applied,
                    pruned = report.pruned,
                    "sync succeeded"
                );
                self.state.sync_finished(record, Some(report.rollouts));
                Ok(revision.commit)
            }
            Err(e) => {
                tracing::warn!(
                    %trigger,
                    revision = %revision.commit,
                    duration_ms = elapsed.as_millis() as u64,
                    error = %e.message,
                    errors = e.errors.len(),
                    "sync failed"
                );
                record.result = "failure".into();
                record.message = Some(e.message);
                record.errors = e.errors;
                self.state.sync_finished(record, None);
                Err(Pass::SyncFailed { retry: e.retry })
            }
        }
    }
}
