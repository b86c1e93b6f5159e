//! The engine against a cluster: reads a Server's rollout state and controls from its live
//! annotations, checks availability of Components, runs analyses, writes the weights and the
//! state in one server-side apply, and on an abort records a condition and an Event on the
//! Server and notifies.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use futures_util::future::BoxFuture;
use graph::DependencyGraph;
use kube::api::{Patch, PatchParams};
use model::{Kind, Object, ObjectKey, keys, rollout::Policy};
use serde_json::{Value, json};

use super::analysis::{Analysis, Subject};
use super::{Advance, Input, Measurement, Probe, State, Status, Weights, control};
use crate::cluster::availability::{Availability, availability};
use crate::cluster::fresh::Fresh;
use crate::cluster::live::LiveObject;
use crate::cluster::{Cluster, retry};
use crate::notify::{self, EventKind, Notifier};

/// Field manager of the weights and the rollout state. Weights have one owner, so that a
/// version dropped from the weights is removed by server-side apply (a second owner would keep
/// it alive).
pub const MANAGER: &str = "vimana-reconciler-rollout";

/// The Components of a pass by Server and version: the desired ones, and the live ones the
/// render no longer has (a baseline may still give them weight). Built once per pass, so that
/// a rollout step costs a lookup, not a scan of every object.
#[derive(Clone, Debug, Default)]
pub struct ComponentIndex {
    by_server: BTreeMap<(String, String), BTreeMap<String, ObjectKey>>,
}

impl ComponentIndex {
    /// Indexes the Components of `graph`, then the live ones it does not have.
    pub fn build(graph: &DependencyGraph, live: &BTreeMap<ObjectKey, LiveObject>) -> Self {
        let mut index = ComponentIndex::default();
        let desired = graph.manifests().iter().map(|m| &m.object);
        for object in desired.chain(live.values().map(|o| &o.object)) {
            if let Object::Component(c) = object {
                index
                    .by_server
                    .entry((c.spec.domain.clone(), c.spec.server.clone()))
                    .or_default()
                    .entry(c.spec.version.clone())
                    .or_insert_with(|| object.key());
            }
        }
        index
    }

    /// Version → Component key of one Server.
    pub fn versions(&self, domain: &str, server: &str) -> BTreeMap<String, ObjectKey> {
        self.by_server
            .get(&(domain.to_owned(), server.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

/// What the rollouts of a pass need from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The Components of the pass by Server and version.
    pub components: ComponentIndex,
    /// Availability of the Components the pass created (not in its LIST of the live state).
    pub fresh: Arc<Fresh>,
    /// The HTTP client of analyses, made at the first one (making one loads the TLS roots:
    /// too slow to do for every Server of a pass).
    pub http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// The analyses of the configuration, by the name a Server's annotation gives.
    pub analyses: BTreeMap<String, Analysis>,
    /// Default policy under the Servers' annotations.
    pub defaults: Policy,
    /// Where notifications go.
    pub notifier: Notifier,
    /// Instance, for notifications.
    pub instance: String,
    /// Git revision of the sources.
    pub revision: Option<String>,
}

struct ClusterProbe<'a> {
    /// The live objects the pass read (one LIST per kind): availability comes from them, so a
    /// step costs no read per Component. A Component missing from them (created by this pass)
    /// comes from `fresh`.
    live: &'a BTreeMap<ObjectKey, LiveObject>,
    fresh: &'a Fresh,
    /// Version → Component key, from the desired objects and the live ones.
    components: BTreeMap<String, ObjectKey>,
    analysis: Option<&'a Analysis>,
    server: &'a model::Server,
    http: &'a std::sync::OnceLock<reqwest::Client>,
}

impl Probe for ClusterProbe<'_> {
    fn unavailable<'a>(
        &'a self,
        versions: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for v in versions {
                let Some(key) = self.components.get(v) else {
                    out.push(format!("{v} (no Component)"));
                    continue;
                };
                let state = match self.live.get(key) {
                    Some(o) => availability(&o.raw),
                    None => self.fresh.availability(key, false).await?,
                };
                if state != Availability::Available {
                    out.push(format!("{v} ({}: {state})", key.name));
                }
            }
            Ok(out)
        })
    }

    fn analyze<'a>(&'a self, versions: &'a [String]) -> BoxFuture<'a, Vec<Measurement>> {
        Box::pin(async move {
            let Some(a) = self.analysis else {
                return Vec::new();
            };
            let namespace = self.server.metadata.namespace.clone().unwrap_or_default();
            let mut out = Vec::new();
            for v in versions {
                let subject = Subject {
                    server: &self.server.spec.id,
                    domain: &self.server.spec.domain,
                    namespace: &namespace,
                    version: v,
                };
                let http = self.http.get_or_init(reqwest::Client::new);
                out.push(a.measure(http, &subject).await);
            }
            out
        })
    }
}

/// The result of driving one Server's rollout in a pass.
#[derive(Clone, Debug)]
pub struct Driven {
    /// The Server driven.
    pub key: ObjectKey,
    /// The engine's verdict.
    pub advance: Advance,
}

/// One transition of the rollout of the desired Server `server` (weights `to`), from its live
/// copy.
pub async fn drive(
    cluster: &Cluster,
    live: &BTreeMap<ObjectKey, LiveObject>,
    server: &Object,
    to: &Weights,
    settings: &Settings,
) -> Result<Driven, String> {
    let Object::Server(desired) = server else {
        return Err("not a Server".into());
    };
    let key = server.key();
    let live_server = live.get(&key).and_then(|o| match &o.object {
        Object::Server(s) => Some(s),
        _ => None,
    });
    let annotations = live_server
        .map(|s| s.metadata.annotations.clone())
        .unwrap_or_default();
    let live_weights = live_server
        .map(|s| s.spec.version_weights.clone())
        .unwrap_or_default();
    let (policy, analysis) = policy_of(desired, settings)?;
    let components = settings
        .components
        .versions(&desired.spec.domain, &desired.spec.id);
    wait_for_created(live, &components, to, settings).await?;
    let probe = ClusterProbe {
        live,
        fresh: &settings.fresh,
        components,
        analysis,
        server: desired,
        http: &settings.http,
    };
    let (paused, request) = control::read(&annotations);
    let previous = State::from_annotation(annotations.get(keys::ROLLOUT_STATE));
    let input = Input {
        now: Utc::now(),
        live: &live_weights,
        desired: to,
        state: previous.clone(),
        policy: &policy,
        analysis: analysis.is_some(),
        revision: settings.revision.as_deref(),
        paused,
        request,
    };
    let advance = super::advance(input, &probe).await;
    if advance.apply.is_some() || advance.state.is_some() {
        let weights = advance
            .apply
            .clone()
            .unwrap_or_else(|| live_weights.clone());
        let state = advance.state.clone().or(previous);
        write(cluster, &key, &weights, state.as_ref()).await?;
    }
    announce(cluster, settings, &key, &advance, &live_weights, to).await;
    Ok(Driven { key, advance })
}

/// The rollout policy of the desired Server (its annotations over the defaults) and the
/// analysis it names, if any.
fn policy_of<'a>(
    desired: &model::Server,
    settings: &'a Settings,
) -> Result<(Policy, Option<&'a Analysis>), String> {
    let policy = Policy::from_annotations(&desired.metadata.annotations, &settings.defaults)
        .map_err(|e| {
            e.iter()
                .map(|e| format!("{}: {}", e.key, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let analysis = match &policy.analysis {
        Some(name) => Some(settings.analyses.get(name).ok_or_else(|| {
            format!("the analysis {name:?} named by {} is not defined in the configuration (rollout.analyses)", keys::ROLLOUT_ANALYSIS)
        })?),
        None => None,
    };
    Ok((policy, analysis))
}

/// Waits (within the pass's settling time) for the Components this pass created that the
/// target gives traffic to, so that the engine sees them settled and reads the clock after
/// the wait.
async fn wait_for_created(
    live: &BTreeMap<ObjectKey, LiveObject>,
    components: &BTreeMap<String, ObjectKey>,
    to: &Weights,
    settings: &Settings,
) -> Result<(), String> {
    for (version, weight) in to {
        if *weight > 0
            && let Some(key) = components.get(version)
            && !live.contains_key(key)
        {
            settings.fresh.availability(key, true).await?;
        }
    }
    Ok(())
}

/// Records the end of a rollout on the Server (condition and Event) and notifies: an abort,
/// or a success that moved live traffic (the first weights of a Server are not a rollout).
async fn announce(
    cluster: &Cluster,
    settings: &Settings,
    key: &ObjectKey,
    advance: &Advance,
    live_weights: &Weights,
    to: &Weights,
) {
    match &advance.status {
        Status::Aborted(reason) => {
            record(cluster, key, "False", "RolloutAborted", reason, "Warning").await;
            notify(settings, key, EventKind::RolloutAborted, reason).await;
        }
        Status::Succeeded if advance.state.is_some() && live_weights.values().any(|w| *w > 0) => {
            let message = format!("traffic moved to {}", crate::report::weights_text(to));
            record(cluster, key, "True", "RolloutSucceeded", &message, "Normal").await;
            notify(settings, key, EventKind::RolloutSucceeded, &message).await;
        }
        _ => {}
    }
}

/// Applies a Server's weights and rollout state as [`MANAGER`].
pub async fn write(
    cluster: &Cluster,
    key: &ObjectKey,
    weights: &Weights,
    state: Option<&State>,
) -> Result<(), String> {
    let mut annotations = serde_json::Map::new();
    if let Some(s) = state {
        annotations.insert(keys::ROLLOUT_STATE.into(), Value::String(s.to_annotation()));
    }
    let body = json!({
        "apiVersion": model::API_VERSION,
        "kind": "Server",
        "metadata": {"name": key.name, "namespace": key.namespace, "annotations": annotations},
        "spec": {"versionWeights": weights},
    });
    let params = PatchParams::apply(MANAGER).force();
    retry::retry("apply weights", || {
        cluster.apply(Kind::Server, &key.namespace, &key.name, &params, &body)
    })
    .await
    .map(|_| ())
    .map_err(|e| retry::describe(&e))
}

/// Sets the `Rollout` condition of a Server and records an Event; failures are reported on
/// stderr, not fatal (the weights are what matters).
async fn record(
    cluster: &Cluster,
    key: &ObjectKey,
    status: &str,
    reason: &str,
    message: &str,
    event_type: &str,
) {
    let now = super::time_text(Utc::now());
    let api = cluster.api(Kind::Server, &key.namespace);
    let body = json!({
        "apiVersion": model::API_VERSION,
        "kind": "Server",
        "metadata": {"name": key.name, "namespace": key.namespace},
        "status": {"conditions": [{
            "type": "Rollout", "status": status, "reason": reason,
            "message": message, "lastTransitionTime": now,
        }]},
    });
    let params = PatchParams::apply(MANAGER).force();
    let patch = Patch::Apply(&body);
    // The answer carries the uid the Event refers to: no read for it.
    let uid = match retry::retry("set the Rollout condition", || {
        api.patch_status(&key.name, &params, &patch)
    })
    .await
    {
        Ok(o) => o.metadata.uid,
        Err(e) => {
            tracing::warn!(
                server = %format!("{}/{}", key.namespace, key.name),
                error = %retry::describe(&e),
                "cannot set the Rollout condition"
            );
            None
        }
    };
    crate::cluster::event::record(cluster, key, uid.as_deref(), reason, message, event_type).await;
}

async fn notify(settings: &Settings, key: &ObjectKey, kind: EventKind, message: &str) {
    let event = notify::Event {
        kind,
        instance: settings.instance.clone(),
        revision: settings.revision.clone(),
        object: Some(format!("Server {}/{}", key.namespace, key.name)),
        message: message.into(),
        time: super::time_text(Utc::now()),
    };
    for failure in settings.notifier.send(&event).await {
        tracing::warn!(%failure, "notification not delivered");
    }
}
