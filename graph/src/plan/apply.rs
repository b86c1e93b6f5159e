//! The apply phase: every desired node classified as a create, an update, a Weights step or
//! unchanged, with the desired nodes it depends on, and its waves.

use std::collections::HashMap;

use model::{Manifest, Object, ObjectKey};
use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::changes::{immutable_change, managed_changes};
use super::draft::{Draft, Drafts, Ref};
use super::live::{Live, Weights, live_weights};
use super::step::{Action, Unchanged};
use crate::dag::{DependencyGraph, Node, Vertex};
use crate::error::Error;
use crate::index::{KeyRef, key_ref};
use crate::order;

/// The apply drafts of the desired nodes that need a step, by node, and the nodes that need
/// none, in dependency order. Fails with every live Component that would have to change.
pub(super) fn classify(
    desired: &DependencyGraph,
    live: &Live,
    live_keys: &HashMap<KeyRef<'_>, usize>,
) -> Result<(Drafts, Vec<Unchanged>), Vec<Error>> {
    let live_of = |object: &Object| live_keys.get(&key_ref(object)).map(|&i| &live.objects[i]);
    let manifests = desired.manifests();
    let mut errors = Vec::new();
    let mut applies = Drafts::new(desired.graph.node_count());
    let mut unchanged = Vec::new();
    for &n in &desired.topo {
        let (node, identity, action) = match desired.graph[n] {
            Vertex::Object(p) => {
                let manifest = &manifests[p];
                let live_object = live_of(&manifest.object);
                if let (Object::Component(_), Some(l)) = (&manifest.object, live_object)
                    && let Some(e) = immutable_change(manifest, l)
                {
                    errors.push(e);
                    continue;
                }
                let key = manifest.object.key();
                let action = object_action(manifest, &key, live_object, live);
                (Node::Object(key), manifest.object.identity(), action)
            }
            Vertex::Weights(p) => {
                let server = &manifests[p].object;
                let action = weights_action(server, live_weights(live_of(server)));
                (Node::Weights(server.key()), server.identity(), action)
            }
        };
        match action {
            Some(action) => {
                let depends_on = desired
                    .graph
                    .neighbors_directed(n, Direction::Incoming)
                    .filter(|m| applies.has(*m))
                    .map(Ref::Apply)
                    .collect();
                applies.insert(
                    n,
                    Draft {
                        node,
                        identity,
                        action,
                        depends_on,
                    },
                );
            }
            None => unchanged.push(Unchanged { node, identity }),
        }
    }
    if !errors.is_empty() {
        crate::error::sort(&mut errors);
        return Err(errors);
    }
    Ok((applies, unchanged))
}

/// The step of a desired object: a create when it is not live, an update when what the
/// reconciler manages differs, else none. A Server is sent with the live weights (none when
/// created): its Weights step moves them.
fn object_action(
    manifest: &Manifest,
    key: &ObjectKey,
    live_object: Option<&Object>,
    live: &Live,
) -> Option<Action> {
    let to_send = |weights: Weights| {
        let mut object = manifest.object.clone();
        // The object is shared with the graph: a Server is copied only when its weights differ.
        if let Object::Server(s) = &mut object
            && s.spec.version_weights != weights
        {
            std::sync::Arc::make_mut(s).spec.version_weights = weights;
        }
        object
    };
    match live_object {
        None => Some(Action::Create {
            object: to_send(Weights::new()),
        }),
        Some(_) if live.unchanged.contains(key) => None,
        Some(l) => {
            let changes = managed_changes(&manifest.object, l, live.owned.get(key));
            (!changes.is_empty()).then(|| Action::Update {
                object: to_send(live_weights(Some(l)).clone()),
                changes,
            })
        }
    }
}

/// The Weights step of a desired Server, when its weights differ from the live ones.
fn weights_action(server: &Object, from: &Weights) -> Option<Action> {
    let Object::Server(desired_server) = server else {
        unreachable!("only Servers have Weights nodes")
    };
    let to = &desired_server.spec.version_weights;
    (from != to).then(|| Action::Weights {
        object: server.clone(),
        from: from.clone(),
        to: to.clone(),
    })
}

/// The waves of the apply steps: a step comes one wave after the latest step it depends on.
pub(super) fn waves(desired: &DependencyGraph, applies: &Drafts) -> Vec<Vec<NodeIndex>> {
    let apply_order: Vec<NodeIndex> = desired
        .topo
        .iter()
        .copied()
        .filter(|n| applies.has(*n))
        .collect();
    order::waves(
        &apply_order,
        NodeIndex::index,
        |n| {
            applies
                .get(n)
                .depends_on
                .iter()
                .filter_map(|r| match r {
                    Ref::Apply(m) => Some(*m),
                    Ref::Delete(_) => None,
                })
                .collect()
        },
        desired.graph.node_count(),
    )
}
