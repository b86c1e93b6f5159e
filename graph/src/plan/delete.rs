//! The delete phase: which prune candidates are deleted, the weight-safety rule that holds a
//! Component's deletion until the step that takes its traffic away (or withholds it), the drains
//! of deleted Servers, and the order of deletions (dependents first, make before break).

use foldhash::{HashMap, HashMapExt};

use model::{Kind, Object};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use super::draft::{Draft, Drafts, Ref};
use super::live::{Live, live_weights};
use super::step::{Action, Withheld};
use crate::dag::{DependencyGraph, Node};
use crate::index::{self, Index, KeyRef};
use crate::order;

/// The deletion graph: deletions and drains of live objects, with an edge from each to those
/// that must wait for it, and the drafts of their steps.
pub(super) struct Removals {
    pub graph: DiGraph<(), ()>,
    pub drafts: HashMap<NodeIndex, Draft>,
    pub withheld: Vec<Withheld>,
}

/// What takes the weight off a deleted Component before it goes.
enum Guard {
    /// The Weights step of a desired Server (the desired node of that step).
    WeightsStep(NodeIndex),
    /// The drain of a deleted Server (its position among the live objects).
    Drain(usize),
}

impl Removals {
    /// The deletions of the prune candidates of `live` that are not desired, given the apply
    /// steps of the plan (`applies`, by desired node).
    pub(super) fn new(
        desired: &DependencyGraph,
        live: &Live,
        live_keys: &HashMap<KeyRef<'_>, usize>,
        applies: &Drafts,
    ) -> Removals {
        let objects = &live.objects;
        let mut deleted = candidates(desired, live, live_keys);
        if !deleted.contains(&true) {
            // The usual pass of the daemon: nothing to remove, nothing more to look at.
            return Removals {
                graph: DiGraph::new(),
                drafts: HashMap::new(),
                withheld: Vec::new(),
            };
        }
        let (live_index, _) = Index::build(&objects[..]);
        let (guards, withheld) =
            weight_guards(desired, objects, &live_index, applies, &mut deleted);
        let mut removals = Removals {
            graph: DiGraph::new(),
            drafts: HashMap::new(),
            withheld,
        };
        let delete_node = removals.add_deletions(objects, &deleted);
        removals.add_guards(objects, &guards, &delete_node);
        removals.order_by_parents(desired, objects, &live_index, applies, &delete_node);
        removals.make_before_break(desired, objects, applies, &delete_node);
        for e in removals.graph.raw_edges() {
            removals
                .drafts
                .get_mut(&e.target())
                .expect("a draft per removal")
                .depends_on
                .push(Ref::Delete(e.source()));
        }
        removals
    }

    /// The waves of the deletion graph, each in topological order.
    pub(super) fn waves(&self) -> Vec<Vec<NodeIndex>> {
        match order::topological(&self.graph) {
            Ok(topo) => order::waves(
                &topo,
                NodeIndex::index,
                |n| {
                    self.graph
                        .neighbors_directed(n, Direction::Incoming)
                        .collect()
                },
                self.graph.node_count(),
            ),
            Err(_) => unreachable!(
                "deletions follow live references, which go from a kind to a later kind, and \
                 drains only precede: they cannot form a cycle"
            ),
        }
    }

    /// A deletion step per deleted live object; returns the node of each, by position.
    fn add_deletions(&mut self, objects: &[Object], deleted: &[bool]) -> HashMap<usize, NodeIndex> {
        let mut delete_node = HashMap::new();
        for (i, object) in objects.iter().enumerate() {
            if !deleted[i] {
                continue;
            }
            let n = self.graph.add_node(());
            delete_node.insert(i, n);
            self.drafts.insert(
                n,
                Draft {
                    node: Node::Object(object.key()),
                    identity: object.identity(),
                    action: Action::Delete {
                        object: object.clone(),
                    },
                    depends_on: Vec::new(),
                },
            );
        }
        delete_node
    }

    /// Makes each guarded deletion wait for its guards: a desired Server's Weights step, or the
    /// drain of a deleted Server (added once per Server, before the Server's own deletion).
    fn add_guards(
        &mut self,
        objects: &[Object],
        guards: &HashMap<usize, Vec<Guard>>,
        delete_node: &HashMap<usize, NodeIndex>,
    ) {
        let mut drain_node: HashMap<usize, NodeIndex> = HashMap::new();
        for (&i, guard) in guards
            .iter()
            .flat_map(|(i, l)| l.iter().map(move |g| (i, g)))
        {
            let n = delete_node[&i];
            match *guard {
                Guard::WeightsStep(w) => self
                    .drafts
                    .get_mut(&n)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(w)),
                Guard::Drain(s) => {
                    let d = *drain_node
                        .entry(s)
                        .or_insert_with(|| self.add_drain(&objects[s]));
                    self.graph.add_edge(d, n, ());
                }
            }
        }
        // A drained Server is deleted after its drain (also when its weighted Components are
        // not deleted through it, so that the order reads the same in every case).
        for (&s, &d) in &drain_node {
            self.graph.add_edge(d, delete_node[&s], ());
        }
    }

    /// A drain step for the live Server `server`: its weights emptied, its status dropped.
    fn add_drain(&mut self, server: &Object) -> NodeIndex {
        let d = self.graph.add_node(());
        let mut object = server.clone();
        let from = live_weights(Some(server)).clone();
        if let Object::Server(s) = &mut object {
            let s = std::sync::Arc::make_mut(s);
            s.spec.version_weights.clear();
            s.status = None;
        }
        self.drafts.insert(
            d,
            Draft {
                node: Node::Weights(server.key()),
                identity: server.identity(),
                action: Action::Drain { object, from },
                depends_on: Vec::new(),
            },
        );
        d
    }

    /// Dependents are deleted before their parents; a kept child that the plan moves away from
    /// a deleted parent moves first.
    fn order_by_parents(
        &mut self,
        desired: &DependencyGraph,
        objects: &[Object],
        live_index: &Index,
        applies: &Drafts,
        delete_node: &HashMap<usize, NodeIndex>,
    ) {
        for (i, object) in objects.iter().enumerate() {
            // Only the indexed copy of a key speaks for it.
            if live_index.key(objects, index::key_ref(object)) != Some(i) {
                continue;
            }
            let Some(parent) = live_index.parent(objects, object) else {
                continue;
            };
            let Some(&pn) = delete_node.get(&parent) else {
                continue;
            };
            if let Some(&cn) = delete_node.get(&i) {
                self.graph.add_edge(cn, pn, ());
            } else if let Some(step) = desired
                .index_of(&Node::Object(object.key()))
                .filter(|n| applies.has(*n))
            {
                self.drafts
                    .get_mut(&pn)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(step));
            }
        }
    }

    /// Make before break: a desired object that takes over the identity of a deleted one is in
    /// place before the deleted one goes.
    fn make_before_break(
        &mut self,
        desired: &DependencyGraph,
        objects: &[Object],
        applies: &Drafts,
        delete_node: &HashMap<usize, NodeIndex>,
    ) {
        for (&i, &n) in delete_node {
            let object = &objects[i];
            if let Some(p) = desired
                .index
                .get(
                    desired.manifests(),
                    object.kind(),
                    &index::lookup_key(object),
                )
                .map(NodeIndex::new)
                .filter(|p| applies.has(*p))
            {
                self.drafts
                    .get_mut(&n)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(p));
            }
        }
    }
}

/// Which live objects are deleted, by position: the prune candidates that are not desired (the
/// indexed copy of each key only).
fn candidates(
    desired: &DependencyGraph,
    live: &Live,
    live_keys: &HashMap<KeyRef<'_>, usize>,
) -> Vec<bool> {
    let mut deleted = vec![false; live.objects.len()];
    // By prune candidate rather than by live object: no key is made.
    for key in &live.prune {
        if let Some(&i) = live_keys.get(&index::borrow_key(key))
            && desired.get(key).is_none()
        {
            deleted[i] = true;
        }
    }
    deleted
}

/// The weight-safety rule: for each deleted Component, the steps that take its weight away
/// first. Every live Server with the Component's Server identity counts: a cluster may hold two
/// (one of them moved there by hand), and the platform may route through either. A Component
/// that a Server neither desired nor deleted still routes to is not deleted but withheld
/// (`deleted` is updated); the withheld are returned sorted.
fn weight_guards(
    desired: &DependencyGraph,
    objects: &[Object],
    live_index: &Index,
    applies: &Drafts,
    deleted: &mut [bool],
) -> (HashMap<usize, Vec<Guard>>, Vec<Withheld>) {
    let mut servers: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, object) in objects.iter().enumerate() {
        if object.kind() == Kind::Server
            && live_index.key(objects, index::key_ref(object)) == Some(i)
        {
            servers.entry(object.identity()).or_default().push(i);
        }
    }
    let mut guards: HashMap<usize, Vec<Guard>> = HashMap::new();
    let mut withheld = Vec::new();
    for i in 0..objects.len() {
        let (true, Object::Component(c)) = (deleted[i], &objects[i]) else {
            continue;
        };
        let server_identity = format!("{}:{}", c.spec.domain, c.spec.server);
        let mut list = Vec::new();
        for &s in servers.get(&server_identity).into_iter().flatten() {
            let weight = live_weights(Some(&objects[s]))
                .get(&c.spec.version)
                .copied()
                .unwrap_or(0);
            if weight <= 0 {
                continue;
            }
            let server_key = objects[s].key();
            if let Some(p) = desired
                .index
                .key(desired.manifests(), index::borrow_key(&server_key))
            {
                // Without a Weights step, the desired weights equal the live ones and name
                // this version, so a desired Component with this identity takes the traffic
                // (and the deletion waits for it: make before break).
                if let Some(w) = desired.weights_of(p).filter(|w| applies.has(*w)) {
                    list.push(Guard::WeightsStep(w));
                }
            } else if deleted[s] {
                list.push(Guard::Drain(s));
            } else {
                deleted[i] = false;
                withheld.push(Withheld {
                    node: Node::Object(objects[i].key()),
                    identity: objects[i].identity(),
                    server: server_key,
                    weight,
                });
                break;
            }
        }
        if deleted[i] {
            guards.insert(i, list);
        }
    }
    withheld.sort_by(|a, b| a.node.cmp(&b.node));
    (guards, withheld)
}
