//! What a pass may delete, and the deletion. Pruned: in the inventory AND carrying the instance
//! label AND absent from the render; a Component of a Server whose rollout has not ended is kept
//! until it ends (an abort may move traffic back to it).

use std::collections::BTreeMap;

use graph::{Action, Step};
use kube::api::{DeleteParams, Preconditions};
use model::{Object, ObjectKey, keys};

use super::Options;
use crate::cluster::live::LiveState;
use crate::cluster::{Cluster, retry};
use crate::rollout::{Phase, State};

/// The live objects the plan may delete: those of the inventory (every listed object carries
/// the instance label, by the selector; the plan deletes only those absent from the render).
pub(super) fn candidates(live: &LiveState, options: &Options) -> Vec<ObjectKey> {
    if !options.prune {
        return Vec::new();
    }
    live.objects
        .keys()
        .filter(|k| live.inventory.keys.contains(k))
        .cloned()
        .collect()
}

/// Live Servers whose rollout has not ended (progressing or paused), by key, with their
/// identity (`<domain>:<server>`).
pub(super) fn unfinished_rollouts(live: &LiveState) -> BTreeMap<ObjectKey, String> {
    live.objects
        .iter()
        .filter_map(|(k, o)| match &o.object {
            Object::Server(s) => {
                State::from_annotation(s.metadata.annotations.get(keys::ROLLOUT_STATE))
                    .filter(|st| matches!(st.phase, Phase::Progressing | Phase::Paused))
                    .map(|_| (k.clone(), o.object.identity()))
            }
            _ => None,
        })
        .collect()
}

/// Whether `step` deletes a Component of a Server whose rollout has not ended.
pub(super) fn held_by_rollout(step: &Step, unfinished: &BTreeMap<ObjectKey, String>) -> bool {
    match &step.action {
        Action::Delete {
            object: Object::Component(c),
        } => unfinished
            .values()
            .any(|id| *id == format!("{}:{}", c.spec.domain, c.spec.server)),
        _ => false,
    }
}

/// Deletes the live `object` (of `key`); one already gone counts as deleted. The API's reason on failure.
pub(super) async fn delete(
    cluster: &Cluster,
    key: &ObjectKey,
    object: &Object,
) -> Result<(), String> {
    let api = cluster.api(key.kind, &key.namespace);
    // The uid precondition keeps a recreated object of the same name from being deleted.
    let params = DeleteParams {
        preconditions: object.meta().uid.clone().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match retry::retry("delete", || api.delete(&key.name, &params)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(retry::describe(&e)),
    }
}
