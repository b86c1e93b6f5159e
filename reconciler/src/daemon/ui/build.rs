//! The snapshot of a pass, from what it rendered and what the cluster holds after it: pure, so
//! that a test builds one from objects and the daemon's caller from its LISTs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use model::{Object, ObjectKey, keys};
use serde_json::Value;

use super::view::{
    ComponentView, DomainView, ObjectState, ObjectView, RolloutView, ServerView, Snapshot,
    VimanaView,
};
use crate::cluster::availability::{Availability, availability};
use crate::rollout::time_text;
use crate::rollout::{Phase, State as RolloutState};

/// What a snapshot is made of.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The objects the pass rendered from Git.
    pub desired: &'a [Object],
    /// The live objects after the pass, as the API returned them.
    pub live: &'a BTreeMap<ObjectKey, Value>,
    /// The objects the pass failed on, with the reason.
    pub failed: &'a BTreeMap<ObjectKey, String>,
    /// When the engine looks at each rolling Server again.
    pub wakes: &'a BTreeMap<ObjectKey, DateTime<Utc>>,
    /// The commit of the pass.
    pub revision: Option<&'a str>,
    /// When the live objects were read.
    pub taken: DateTime<Utc>,
}

/// The tree of `input`: Vimana → Domain → Server → Component, each sorted by id (version for
/// Components), each object with its state.
pub fn snapshot(input: &Input<'_>) -> Snapshot {
    let mut vimanas: BTreeMap<Option<String>, Vec<&Object>> = BTreeMap::new();
    let mut domains: BTreeMap<Option<String>, Vec<&Object>> = BTreeMap::new();
    let mut servers: BTreeMap<String, Vec<&Object>> = BTreeMap::new();
    let mut components: BTreeMap<(String, String), Vec<&Object>> = BTreeMap::new();
    for o in input.desired {
        match o {
            Object::Vimana(v) => vimanas
                .entry(Some(v.metadata.name.clone()))
                .or_default()
                .push(o),
            Object::Domain(d) => domains.entry(d.spec.vimana.clone()).or_default().push(o),
            Object::Server(s) => servers.entry(s.spec.domain.clone()).or_default().push(o),
            Object::Component(c) => components
                .entry((c.spec.domain.clone(), c.spec.server.clone()))
                .or_default()
                .push(o),
        }
    }
    // Domains of a Vimana that is not managed here go under the Vimana of no object.
    let orphans: Vec<Option<String>> = domains
        .keys()
        .filter(|v| v.is_none() || !vimanas.contains_key(*v))
        .cloned()
        .collect();
    let mut tree = Vec::new();
    for (name, objects) in &vimanas {
        for v in objects {
            tree.push(VimanaView {
                object: Some(object_view(input, v)),
                domains: domain_views(input, domains.get(name), &servers, &components),
            });
        }
    }
    let orphan_domains: Vec<&Object> = orphans
        .iter()
        .flat_map(|v| domains.get(v).into_iter().flatten().copied())
        .collect();
    if !orphan_domains.is_empty() {
        tree.push(VimanaView {
            object: None,
            domains: domain_views(input, Some(&orphan_domains), &servers, &components),
        });
    }
    let mut counts = BTreeMap::new();
    for o in input.desired {
        *counts.entry(o.kind().to_string()).or_insert(0) += 1;
    }
    let snapshot = Snapshot {
        taken: Some(time_text(input.taken)),
        revision: input.revision.map(str::to_owned),
        vimanas: tree,
        counts,
    };
    with_state_counts(snapshot)
}

/// `s` with its counts of each state made again (after drift changed some states).
pub fn with_state_counts(mut s: Snapshot) -> Snapshot {
    for word in ["in-sync", "pending", "failed", "drifted"] {
        s.counts.remove(word);
    }
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |o: &ObjectView| {
        let word = serde_json::to_value(o.state).expect("states serialize");
        *states
            .entry(word.as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    };
    for v in &s.vimanas {
        v.object.iter().for_each(&mut count);
        for d in &v.domains {
            count(&d.object);
            for sv in &d.servers {
                count(&sv.object);
                sv.components.iter().for_each(|c| count(&c.object));
            }
        }
    }
    s.counts.extend(states);
    s
}

fn domain_views(
    input: &Input<'_>,
    domains: Option<&Vec<&Object>>,
    servers: &BTreeMap<String, Vec<&Object>>,
    components: &BTreeMap<(String, String), Vec<&Object>>,
) -> Vec<DomainView> {
    let mut out: Vec<DomainView> = domains
        .into_iter()
        .flatten()
        .filter_map(|o| match o {
            Object::Domain(d) => Some(DomainView {
                object: object_view(input, o),
                id: d.spec.id.clone(),
                servers: servers
                    .get(&d.spec.id)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| server_view(input, s, components))
                    .collect(),
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for d in &mut out {
        d.servers.sort_by(|a, b| a.id.cmp(&b.id));
    }
    out
}

fn server_view(
    input: &Input<'_>,
    o: &Object,
    components: &BTreeMap<(String, String), Vec<&Object>>,
) -> Option<ServerView> {
    let Object::Server(s) = o else {
        return None;
    };
    let key = o.key();
    let live = input.live.get(&key);
    let live_weights: BTreeMap<String, i32> = live
        .and_then(|raw| raw.pointer("/spec/versionWeights"))
        .and_then(|w| serde_json::from_value(w.clone()).ok())
        .unwrap_or_default();
    let rollout = live
        .and_then(|raw| raw.pointer("/metadata/annotations"))
        .and_then(|a| a.get(keys::ROLLOUT_STATE))
        .and_then(Value::as_str)
        .and_then(|text| RolloutState::from_annotation(Some(&text.to_owned())))
        .map(|state| rollout_view(&state, input.wakes.get(&key)));
    let mut object = object_view(input, o);
    if object.state == ObjectState::InSync
        && let Some(r) = &rollout
        && matches!(r.phase.as_str(), "Progressing" | "Paused")
    {
        object.state = ObjectState::Pending;
        object.message = Some(format!("rollout {}", r.phase.to_lowercase()));
    }
    let mut comps: Vec<ComponentView> = components
        .get(&(s.spec.domain.clone(), s.spec.id.clone()))
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Object::Component(spec) => Some(ComponentView {
                object: object_view(input, c),
                version: spec.spec.version.clone(),
            }),
            _ => None,
        })
        .collect();
    comps.sort_by(|a, b| a.version.cmp(&b.version));
    Some(ServerView {
        object,
        id: s.spec.id.clone(),
        live_weights,
        desired_weights: s.spec.version_weights.clone(),
        rollout,
        components: comps,
    })
}

fn rollout_view(state: &RolloutState, wake: Option<&DateTime<Utc>>) -> RolloutView {
    let phase = match state.phase {
        Phase::Progressing => "Progressing",
        Phase::Paused => "Paused",
        Phase::Succeeded => "Succeeded",
        Phase::Aborted => "Aborted",
    };
    let mut chart = vec![state.baseline.clone()];
    chart.extend(
        state
            .steps
            .iter()
            .map(|&p| model::rollout::step_weights(&state.baseline, &state.target, p)),
    );
    RolloutView {
        phase: phase.into(),
        step: state.step,
        steps: state.steps.clone(),
        step_started_at: time_text(state.step_started_at),
        next_step_at: (state.phase == Phase::Progressing)
            .then(|| wake.map(|w| time_text(*w)))
            .flatten(),
        reason: state.reason.clone(),
        measurements: state.measurements.clone(),
        chart,
    }
}

/// An object's view: failed if the pass failed on it or the operator says a Component does
/// not run (`Available=False`); pending if it is not live, or a Component not Available yet
/// for its current generation; else in sync. Drift is laid over
/// later, from `/status`, since it changes between passes.
fn object_view(input: &Input<'_>, o: &Object) -> ObjectView {
    let key = o.key();
    let live = input.live.get(&key);
    let avail = live.map_or(Availability::Missing, availability);
    let (mut state, mut message) = match (live, &avail) {
        (None, _) => (
            ObjectState::Pending,
            Some("not in the cluster yet".to_owned()),
        ),
        (Some(_), Availability::Available) => (ObjectState::InSync, None),
        // The operator's verdict that it does not run, rather than a wait.
        (Some(_), why) if matches!(o, Object::Component(_)) => {
            let word = why.to_string();
            let state = if word.starts_with("Available=False") {
                ObjectState::Failed
            } else {
                ObjectState::Pending
            };
            (state, Some(word))
        }
        (Some(_), _) => (ObjectState::InSync, None),
    };
    if let Some(reason) = input.failed.get(&key) {
        state = ObjectState::Failed;
        message = Some(reason.clone());
    }
    ObjectView {
        kind: key.kind.to_string(),
        namespace: key.namespace,
        name: key.name,
        state,
        available: live.map(|_| avail == Availability::Available),
        availability: avail.to_string(),
        generation: live
            .and_then(|raw| raw.pointer("/metadata/generation"))
            .and_then(Value::as_i64),
        message,
    }
}
