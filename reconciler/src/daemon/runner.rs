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
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::error::{GitError, GitErrorKind};
use super::gitsource::{GitSource, Revision};
use super::schedule::Schedule;
use super::state::State;
use super::status::{Role, SyncRecord};
pub use super::syncfn::{SyncError, SyncFn, SyncReport, SyncRequest, SyncResult, sync_fn};
use super::time::rfc3339;
use super::trigger::Pending;
pub use super::trigger::Trigger;
use crate::retry::{Jitter, Policy};
use crate::stop::StopSignal;

/// Retry delays other than the daemon's own ([`Policy::FAILED_SYNC`]: 1 s doubling to 5 min),
/// for tests that cannot wait that long: doubling from `initial` up to `max`, each delay
/// between half and all of that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub initial: Duration,
    /// Largest delay (before jitter).
    pub max: Duration,
}

impl From<Backoff> for Policy {
    fn from(b: Backoff) -> Policy {
        Policy::exponential(b.initial)
            .max_delay(b.max)
            .jitter(Jitter::Equal)
    }
}

/// The loop: one pass at a time, asked for by the triggers of [`State`].
pub struct Runner {
    state: Arc<State>,
    source: Arc<GitSource>,
    sync: SyncFn,
    schedule: Option<Schedule>,
    retry: Policy,
}

/// How a pass ended, for the retry policy.
enum Pass {
    Synced,
    FetchFailed(GitError),
    SyncFailed { retry: bool },
}

/// Failures in a row, and when the retry they asked for fires.
#[derive(Default)]
struct Retries {
    failures: u32,
    at: Option<Instant>,
}

impl Retries {
    fn clear(&mut self) {
        self.failures = 0;
        self.at = None;
    }

    /// Counts a failure and plans a retry after the policy's delay for it; returns the delay.
    fn plan(&mut self, policy: &Policy) -> Duration {
        self.failures += 1;
        // The daemon's policies make no end of attempts: there is always a delay.
        let delay = policy.delay(self.failures).unwrap_or_default();
        self.at = Some(Instant::now() + delay);
        delay
    }
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
            retry: Policy::FAILED_SYNC,
        }
    }

    /// Replaces the retry backoff (tests use short delays).
    pub fn with_backoff(mut self, backoff: Backoff) -> Runner {
        self.retry = backoff.into();
        self
    }

    /// When the schedule fires next, also shown in `/status`.
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
        let mut retries = Retries::default();
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
                () = sleep_until(retries.at) => {
                    retries.at = None;
                    self.state.trigger(Trigger::Retry);
                }
            }
            let Some(((pass, synced), stopping)) =
                self.leader_pass(&mut shutdown, last_synced.clone()).await
            else {
                continue;
            };
            last_synced = synced;
            self.after_pass(pass, &mut retries);
            if stopping {
                break;
            }
        }
        self.state.set_next_schedule(None);
        tracing::info!("sync loop stopped");
    }

    /// Runs the pending pass if this replica leads, and stops it at its next safe point on
    /// shutdown or when the leadership is lost. `None` when there was nothing to run; else how
    /// the pass ended, the last synced commit, and whether the loop is stopping.
    async fn leader_pass<F: Future<Output = ()>>(
        &self,
        shutdown: &mut Pin<&mut F>,
        previous: Option<String>,
    ) -> Option<((Pass, Option<String>), bool)> {
        // Subscribed before the role is read: a change after this point, even one that flips
        // back, is seen by `role.changed()` below.
        let mut role = self.state.watch_role();
        if *role.borrow_and_update() != Role::Leader {
            return None;
        }
        let pending = self.state.triggers().take_pending()?;
        // A signal per pass: one raised by a lost leadership must not stop the next pass.
        let (stop_tx, stop) = StopSignal::new();
        let pass = self.pass(pending, stop, previous);
        tokio::pin!(pass);
        Some(tokio::select! {
            result = &mut pass => (result, false),
            () = shutdown.as_mut() => {
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
        })
    }

    /// The retry policy: a failed fetch, or a sync failure that may pass if tried again, is
    /// retried with backoff; anything else waits for the next trigger.
    fn after_pass(&self, pass: Pass, retries: &mut Retries) {
        match pass {
            Pass::Synced | Pass::SyncFailed { retry: false } => retries.clear(),
            Pass::FetchFailed(error) => {
                let delay = retries.plan(&self.retry);
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
            Pass::SyncFailed { retry: true } => {
                let delay = retries.plan(&self.retry);
                tracing::info!(
                    retry_in_ms = delay.as_millis() as u64,
                    "sync will be retried"
                );
            }
        }
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
        let revision = self.fetch().await.map_err(Pass::FetchFailed)?;
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
        let result = self.call_sync(request).await;
        let record = SyncRecord {
            trigger: trigger.to_string(),
            revision: revision.commit.clone(),
            started: rfc3339(started_at),
            finished: rfc3339(Utc::now()),
            duration_seconds: started.elapsed().as_secs_f64(),
            result: "success".into(),
            message: None,
            errors: Vec::new(),
            objects: 0,
            applied: 0,
            pruned: 0,
        };
        self.record(record, result)?;
        Ok(revision.commit)
    }

    /// Fetches in a blocking task. The fetch has its own deadline (transfer callbacks); this
    /// one also covers a connect that never answers. A fetch left behind holds the source's
    /// lock until it ends.
    async fn fetch(&self) -> Result<Revision, GitError> {
        let source = self.source.clone();
        let limit = self.source.timeout() + Duration::from_secs(5);
        match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || source.fetch())).await
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
        }
    }

    /// Runs the sync in a task of its own; a task that panics is a failure worth retrying.
    async fn call_sync(&self, request: SyncRequest) -> SyncResult {
        match tokio::spawn((self.sync)(request)).await {
            Ok(r) => r,
            Err(e) => Err(SyncError {
                message: format!("the sync task failed: {e}"),
                errors: Vec::new(),
                retry: true,
            }),
        }
    }

    /// Logs the end of a sync and records it in `/status` and the metrics.
    fn record(&self, mut record: SyncRecord, result: SyncResult) -> Result<(), Pass> {
        let duration_ms = (record.duration_seconds * 1000.0) as u64;
        match result {
            Ok(report) => {
                record.objects = report.objects;
                record.applied = report.applied;
                record.pruned = report.pruned;
                tracing::info!(
                    trigger = %record.trigger,
                    revision = %record.revision,
                    duration_ms,
                    objects = report.objects,
                    applied = report.applied,
                    pruned = report.pruned,
                    "sync succeeded"
                );
                self.state.sync_finished(record, Some(report.rollouts));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    trigger = %record.trigger,
                    revision = %record.revision,
                    duration_ms,
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
