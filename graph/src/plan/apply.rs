//! The apply phase: every desired node classified as a create, an update, a Weights step or
//! unchanged, with the desired nodes it depends on, and its waves.

use foldhash::HashMap;

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
    let mut compared = compare_all(manifests, live, live_keys);
    let mut errors = Vec::new();
    let mut applies = Drafts::new(desired.graph.node_count());
    let mut unchanged = Vec::new();
    for &n in &desired.topo {
        let (node, object, action) = match desired.graph[n] {
            Vertex::Object(p) => {
                let manifest = &manifests[p];
                let action = match compared[p].take() {
                    None => Some(Action::Create {
                        object: to_send(manifest, Weights::new()),
                    }),
                    Some(Compared::Immutable(e)) => {
                        errors.push(*e);
                        continue;
                    }
                    Some(Compared::Same) => None,
                    Some(Compared::Changed(changes, live_object)) => Some(Action::Update {
                        object: to_send(manifest, live_weights(Some(live_object)).clone()),
                        changes,
                    }),
                };
                (
                    Node::Object(manifest.object.key()),
                    &manifest.object,
                    action,
                )
            }
            Vertex::Weights(p) => {
                let server = &manifests[p].object;
                let action = weights_action(server, live_weights(live_of(server)));
                (Node::Weights(server.key()), server, action)
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
                        identity: object.identity(),
                        action,
                        depends_on,
                    },
                );
            }
            None => unchanged.push(Unchanged { node }),
        }
    }
    if !errors.is_empty() {
        crate::error::sort(&mut errors);
        return Err(errors);
    }
    Ok((applies, unchanged))
}

/// A desired object compared with its live copy.
enum Compared<'l> {
    /// A live Component would have to change version, image or Kumori digest.
    Immutable(Box<Error>),
    /// What the reconciler manages of it is as desired: no step.
    Same,
    /// An update: what differs, and the live copy.
    Changed(Vec<String>, &'l Object),
}

/// Fewer desired objects than this are compared on the calling thread alone.
const COMPARED_PER_THREAD: usize = 4096;

/// Each desired object (by position) compared with its live copy, `None` without one. The
/// comparisons read every label, annotation and spec string of both copies, where the plan of
/// a pass mostly waits on memory (half of it at 40k objects), and they do not depend on each
/// other: a large set is split between the cores (threads of this call, joined before it
/// returns; the results are in order whatever the split).
fn compare_all<'l>(
    manifests: &[Manifest],
    live: &'l Live,
    live_keys: &HashMap<KeyRef<'_>, usize>,
) -> Vec<Option<Compared<'l>>> {
    let compare_part = |manifests: &[Manifest]| -> Vec<Option<Compared<'l>>> {
        manifests
            .iter()
            .map(|m| {
                let l = live_keys
                    .get(&key_ref(&m.object))
                    .map(|&i| &live.objects[i])?;
                Some(compare(m, l, live))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(manifests.len() / COMPARED_PER_THREAD)
        .max(1);
    if threads == 1 {
        return compare_part(manifests);
    }
    let chunk = manifests.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = manifests
            .chunks(chunk)
            .map(|part| scope.spawn(move || compare_part(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("comparing objects does not panic"))
            .collect()
    })
}

/// A desired object against its live copy `l`.
fn compare<'l>(manifest: &Manifest, l: &'l Object, live: &Live) -> Compared<'l> {
    if let Object::Component(_) = &manifest.object
        && let Some(e) = immutable_change(manifest, l)
    {
        return Compared::Immutable(Box::new(e));
    }
    let key = key_ref(&manifest.object);
    let object_key = |(kind, namespace, name): KeyRef<'_>| ObjectKey {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    // The caller's sets are keyed by `ObjectKey`: one is made only when they are not empty.
    let key = (!live.unchanged.is_empty() || !live.owned.is_empty()).then(|| object_key(key));
    if key.as_ref().is_some_and(|k| live.unchanged.contains(k)) {
        return Compared::Same;
    }
    let owned = key.as_ref().and_then(|k| live.owned.get(k));
    let changes = managed_changes(&manifest.object, l, owned);
    if changes.is_empty() {
        Compared::Same
    } else {
        Compared::Changed(changes, l)
    }
}

/// The object a create or an update sends: a Server with the live weights (none when it is
/// created): its Weights step moves them.
fn to_send(manifest: &Manifest, weights: Weights) -> Object {
    let mut object = manifest.object.clone();
    // The object is shared with the graph: a Server is copied only when its weights differ.
    if let Object::Server(s) = &mut object
        && s.spec.version_weights != weights
    {
        std::sync::Arc::make_mut(s).spec.version_weights = weights;
    }
    object
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
