//! The body of `/status` ([`Status`]) and its parts: the role of this replica, the Git source,
//! the last syncs, the rollouts and the drift. Plain data, serialized as camelCase JSON.

use serde::Serialize;

use super::error::GitErrorKind;
use super::gitsource::Revision;

/// Whether this replica may write to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Syncs run (the default, and a replica holding the Lease).
    Leader,
    /// Another replica holds the Lease: no syncs run; triggers wait for the leadership.
    Standby,
}

/// A rollout as the sync reports it, for `/status` and the `reconciler_rollouts` metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The Server (`<domain-id>:<server-id>` or its name).
    pub server: String,
    /// Phase (`progressing`, `paused`, `aborted`, `succeeded`...).
    pub phase: String,
    /// Current step percentage, when progressing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// Anything worth showing (reason of an abort).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A managed object that drifted, as `/status` shows it (`drift`): the last drift of each
/// object, until the object is as the last pass left it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftRecord {
    /// `Server`, `Component`...
    pub kind: String,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The fields that differ (`.spec.services`); `.` when the object was deleted.
    pub fields: Vec<String>,
    /// The field managers that changed them (`kubectl-patch`, `kubectl-edit`...).
    pub managers: Vec<String>,
    /// RFC 3339 time the drift was seen.
    pub since: String,
    /// What was done: `corrected`, `detected` (left as it is), `correction-failed`
    /// (then `message` says why), or `reported` by a standby (which writes nothing).
    pub action: String,
    /// Why a correction failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl DriftRecord {
    /// Whether the object is still drifted (not put back).
    pub fn outstanding(&self) -> bool {
        self.action != "corrected"
    }
}

/// One finished sync, as `/status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRecord {
    /// What asked for it (`start`, `schedule`, `webhook:github`, `manual`, `retry`).
    pub trigger: String,
    /// The commit synced.
    pub revision: String,
    /// RFC 3339 start time.
    pub started: String,
    /// RFC 3339 end time.
    pub finished: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// `success` or `failure`.
    pub result: String,
    /// The failure, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Every error of the sync (render diagnostics, apply failures).
    pub errors: Vec<String>,
    /// Objects in the render.
    pub objects: usize,
    /// Objects created or changed.
    pub applied: usize,
    /// Objects deleted.
    pub pruned: usize,
}

/// The state of the Git source in `/status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// Remote URL without user information.
    pub url: String,
    /// `source.ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `source.path`.
    pub path: String,
    /// The last revision fetched successfully.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Revision>,
    /// RFC 3339 time of the last successful fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fetch: Option<String>,
    /// The failure of the latest fetch, until one succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_error: Option<FetchErrorStatus>,
}

/// A fetch failure in `/status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchErrorStatus {
    /// Kind of failure.
    pub kind: GitErrorKind,
    /// What happened.
    pub message: String,
    /// Failed fetches in a row.
    pub consecutive_failures: u32,
    /// RFC 3339 time of the next try, if one is planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<String>,
}

/// The body of `/status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// `instance`.
    pub instance: String,
    /// Leader or standby.
    pub role: Role,
    /// What `/readyz` answers.
    pub ready: bool,
    /// A sync is running.
    pub syncing: bool,
    /// A sync was asked for and has not started yet.
    pub pending: bool,
    /// The commit of the last successful sync: what the cluster holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The Git source.
    pub source: SourceStatus,
    /// The last sync, successful or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<SyncRecord>,
    /// The last sync that applied its revision: what is live now, while later ones fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_sync: Option<SyncRecord>,
    /// Rollouts as last reported.
    pub rollouts: Vec<RolloutStatus>,
    /// Drift: the last of each object that drifted, newest last.
    pub drift: Vec<DriftRecord>,
    /// RFC 3339 time of the next scheduled sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_scheduled_sync: Option<String>,
}
