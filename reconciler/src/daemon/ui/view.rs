//! What the page shows, as the `/api/*` endpoints serve it: camelCase JSON, no secret in it
//! (the source URL comes redacted from `/status`; objects are the Vimana kinds, which hold none).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rollout::Measurement;

/// The state of one managed object, as the page colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectState {
    /// Live equals the last pass, and Available for its generation where that applies.
    InSync,
    /// Not live yet, not Available yet for its current generation, or a rollout moves it.
    Pending,
    /// The last pass failed on it.
    Failed,
    /// Changed behind the reconciler's back since the last pass (from `/status`'s `drift`).
    Drifted,
}

/// One object of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectView {
    /// `Vimana`, `Domain`, `Server` or `Component`.
    pub kind: String,
    /// Where the object lives.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// What the page colours it by.
    pub state: ObjectState,
    /// Whether the operator reports it Available for its current generation; `None` when the
    /// object is not live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// The availability in words (`Available`, `no Available condition yet`, `missing`...).
    pub availability: String,
    /// `metadata.generation` of the live object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Why it failed or is pending, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A Component under its Server.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    /// Its kind, name, state and availability (flattened into this one).
    #[serde(flatten)]
    pub object: ObjectView,
    /// `spec.version`: the version its Server weighs.
    pub version: String,
}

/// A rollout in progress or ended, from the state the engine keeps on the Server.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    /// `Progressing`, `Paused`, `Succeeded` or `Aborted`.
    pub phase: String,
    /// Index of the last applied step in `steps`; none before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Percent of the transition at each step.
    pub steps: Vec<u32>,
    /// RFC 3339 time the current step was applied.
    pub step_started_at: String,
    /// RFC 3339 time the engine looks again (the next step is due), while it progresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step_at: Option<String>,
    /// Why it ended or waits (the reason of an abort).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last analysis measurements, per version.
    pub measurements: Vec<Measurement>,
    /// The weights at each step, baseline first: the chart of the rollout.
    pub chart: Vec<BTreeMap<String, i32>>,
}

/// A Server with its versions' weights.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerView {
    /// Its kind, name, state and availability (flattened into this one).
    #[serde(flatten)]
    pub object: ObjectView,
    /// `spec.id`.
    pub id: String,
    /// The weights live now (during a rollout, the step's).
    pub live_weights: BTreeMap<String, i32>,
    /// The weights Git asks for.
    pub desired_weights: BTreeMap<String, i32>,
    /// Its rollout, if the engine keeps one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutView>,
    /// Its Components, by version.
    pub components: Vec<ComponentView>,
}

/// A Domain with its Servers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainView {
    /// Its kind, name, state and availability (flattened into this one).
    #[serde(flatten)]
    pub object: ObjectView,
    /// `spec.id`.
    pub id: String,
    /// Its Servers, by id.
    pub servers: Vec<ServerView>,
}

/// A Vimana with its Domains; the Domains that name no Vimana (or one not managed here) hang
/// under a Vimana of no object (`object: null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VimanaView {
    /// The object, or none for the Domains of no managed Vimana.
    pub object: Option<ObjectView>,
    /// Its Domains, by id.
    pub domains: Vec<DomainView>,
}

/// The tree of one pass: `/api/tree`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// RFC 3339 time of the live read; none before the first pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
    /// The commit the pass synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The tree.
    pub vimanas: Vec<VimanaView>,
    /// How many objects of each kind, and how many are in each state.
    pub counts: BTreeMap<String, usize>,
}

/// One object a sync changed: `/api/syncs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    /// `Kind/namespace/name`.
    pub object: String,
    /// `created`, `changed` or `deleted`.
    pub verb: String,
    /// The unified diff of the object (status and server-set fields left out), cut when long.
    pub diff: String,
}

/// One sync as the page lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    /// What asked for it.
    pub trigger: String,
    /// The commit.
    pub revision: String,
    /// RFC 3339 start time.
    pub started: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// `success` or `failure`.
    pub result: String,
    /// The failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the live objects look like now next to the pass before.
    pub changes: Vec<ChangeView>,
}
