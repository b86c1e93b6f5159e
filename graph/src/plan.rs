//! The plan: the steps that take a live state to the desired one, in waves (DESIGN section 5).
//!
//! The rules, in short (docs/graph.md has the long form):
//!
//! - Desired objects are matched with live objects by Kubernetes key. Absent live: *create*.
//!   Present: *update* when what the reconciler manages differs, else *unchanged*. What it
//!   manages is the desired object's labels and annotations (each must be present in the live
//!   object with the same value; keys that others add are not ours and are ignored), the keys
//!   the reconciler owns on the live object and the desired one no longer has (they are
//!   removed), and its whole `spec` (typed equality, so an absent list equals an empty one).
//! - A Server's `spec.versionWeights` is not part of the Server's own step: that step applies
//!   the Server with the *live* weights (none when it is created), and the Server's *Weights*
//!   step, which comes after every Component the new weights name, moves the traffic. So
//!   Components exist before any weight points at them, and the rollout engine owns the one
//!   place where weights change.
//! - Live objects that the caller marks as prune candidates and that are not desired are
//!   deleted, in reverse dependency order, after every apply step. A Component that still
//!   carries live weight is deleted only after the step that drops the weight: its Server's
//!   Weights step, or a *drain* of its Server when the Server is deleted too. When no step of the
//!   plan drops it (its Server is neither desired nor deleted), the deletion is *withheld*.
//! - Steps in one wave do not depend on each other. Each step also lists the steps it depends on,
//!   for executors that run ahead of the waves (and so that a deletion can wait for a rollout).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use model::{Kind, Object, ObjectKey, keys};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::dag::{DependencyGraph, Node, Vertex};
use crate::error::{End, Error};
use crate::index::{self, Index};
use crate::order;
use crate::owned::OwnedKeys;

/// A Server's `spec.versionWeights`: version → weight.
pub type Weights = BTreeMap<String, i32>;

/// The live state a plan starts from.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Objects read from the cluster, with status and live `versionWeights`.
    pub objects: Vec<Object>,
    /// Keys of the live objects that may be deleted when they are not desired. The caller
    /// decides (DESIGN section 6: in the inventory and carrying the instance label).
    pub prune: HashSet<ObjectKey>,
    /// Per live object, the label and annotation keys the reconciler's field manager owns
    /// ([`crate::owned_keys`]). An owned key the desired object no longer has is a change (the
    /// apply removes it); an object without an entry is compared on the desired keys only.
    pub owned: HashMap<ObjectKey, OwnedKeys>,
}

impl Live {
    /// A live state with these objects, none of them a prune candidate.
    pub fn new(objects: Vec<Object>) -> Live {
        Live {
            objects,
            prune: HashSet::new(),
            owned: HashMap::new(),
        }
    }

    /// Marks these keys as prune candidates.
    pub fn with_prune(mut self, keys: impl IntoIterator<Item = ObjectKey>) -> Live {
        self.prune.extend(keys);
        self
    }

    /// Records the keys the reconciler owns on these live objects.
    pub fn with_owned(mut self, owned: impl IntoIterator<Item = (ObjectKey, OwnedKeys)>) -> Live {
        self.owned.extend(owned);
        self
    }
}

/// Identifies a step within its plan; ids count up from 0 in wave order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StepId(pub usize);

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a wave applies or deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Creates, updates and Weights steps, parents first.
    Apply,
    /// Drains and deletions, dependents first.
    Delete,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Apply => "apply",
            Phase::Delete => "delete",
        })
    }
}

/// What a step does. Every variant carries the object the executor sends (or deletes).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    /// Create the object. A Server is created without weights; its Weights step sets them.
    Create {
        /// The object to apply.
        object: Object,
    },
    /// Update the object. A Server keeps its live weights here.
    Update {
        /// The object to apply.
        object: Object,
        /// Dotted paths of what differs: `metadata.labels.<key>`,
        /// `metadata.annotations.<key>`, `spec.<field>`.
        changes: Vec<String>,
    },
    /// Move a Server's traffic from the live weights to the desired ones. The rollout engine
    /// decides how (DESIGN section 7); the step is done when the live weights equal `to`.
    Weights {
        /// The desired Server, with the desired weights.
        object: Object,
        /// The live weights (empty for a new Server).
        from: Weights,
        /// The desired weights.
        to: Weights,
    },
    /// Take every weight off a Server that is being deleted, before its Components go.
    Drain {
        /// The live Server, with its weights emptied and no status.
        object: Object,
        /// Its live weights.
        from: Weights,
    },
    /// Delete the object.
    Delete {
        /// The live object, as read (with uid and resourceVersion for preconditions).
        object: Object,
    },
}

impl Action {
    /// `create`, `update`, `weights`, `drain` or `delete`.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::Weights { .. } => "weights",
            Action::Drain { .. } => "drain",
            Action::Delete { .. } => "delete",
        }
    }

    /// The object the step sends or deletes.
    pub fn object(&self) -> &Object {
        match self {
            Action::Create { object }
            | Action::Update { object, .. }
            | Action::Weights { object, .. }
            | Action::Drain { object, .. }
            | Action::Delete { object } => object,
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Its id.
    pub id: StepId,
    /// The node it acts on; a Weights or Drain step acts on a Weights node.
    pub node: Node,
    /// Platform identity of the object (of the Server, for Weights and Drain steps).
    pub identity: String,
    /// What it does.
    pub action: Action,
    /// Steps that must be done first, all in earlier waves.
    pub depends_on: Vec<StepId>,
}

/// Steps that may run concurrently.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Wave {
    /// Apply or delete.
    pub phase: Phase,
    /// The steps, sorted by node.
    pub steps: Vec<Step>,
}

/// A desired node whose live counterpart already is as desired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchanged {
    /// The node.
    pub node: Node,
    /// Platform identity of the object (of the Server, for a Weights node).
    pub identity: String,
}

/// A prune candidate that is not deleted because live traffic still goes to it and no step of
/// the plan takes it away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Withheld {
    /// The Component.
    pub node: Node,
    /// Its identity.
    pub identity: String,
    /// The live Server that routes to it, which is neither desired nor deleted.
    pub server: ObjectKey,
    /// The weight that Server gives it.
    pub weight: i32,
}

/// The plan: waves to run in order, and what needs nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Apply waves, then delete waves.
    pub waves: Vec<Wave>,
    /// Desired nodes that are already as desired, in dependency order.
    pub unchanged: Vec<Unchanged>,
    /// Deletions held back by the weight-safety rule, sorted.
    pub withheld: Vec<Withheld>,
}

/// How many steps of each kind a plan has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects created.
    pub create: usize,
    /// Objects updated.
    pub update: usize,
    /// Servers whose weights change.
    pub weights: usize,
    /// Servers drained before deletion.
    pub drain: usize,
    /// Objects deleted.
    pub delete: usize,
    /// Desired nodes already as desired.
    pub unchanged: usize,
    /// Deletions withheld.
    pub withheld: usize,
}

impl Plan {
    /// Every step, in wave order (ids in order).
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.waves.iter().flat_map(|w| w.steps.iter())
    }

    /// The step with this id.
    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps().nth(id.0)
    }

    /// The wave (0-based) of the step with this id.
    pub fn wave_of(&self, id: StepId) -> Option<usize> {
        let mut first = 0;
        for (i, wave) in self.waves.iter().enumerate() {
            if id.0 < first + wave.steps.len() {
                return Some(i);
            }
            first += wave.steps.len();
        }
        None
    }

    /// Whether the plan does nothing.
    pub fn is_empty(&self) -> bool {
        self.waves.is_empty()
    }

    /// Counts of steps by kind.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            unchanged: self.unchanged.len(),
            withheld: self.withheld.len(),
            ..Summary::default()
        };
        for step in self.steps() {
            *match step.action {
                Action::Create { .. } => &mut s.create,
                Action::Update { .. } => &mut s.update,
                Action::Weights { .. } => &mut s.weights,
                Action::Drain { .. } => &mut s.drain,
                Action::Delete { .. } => &mut s.delete,
            } += 1;
        }
        s
    }
}

/// A step before it has an id: the dependencies are still internal references.
struct Draft {
    node: Node,
    identity: String,
    action: Action,
    depends_on: Vec<Ref>,
}

/// The drafts of the apply phase, by node of the desired graph.
struct Drafts(Vec<Option<Draft>>);

impl Drafts {
    fn new(nodes: usize) -> Drafts {
        Drafts((0..nodes).map(|_| None).collect())
    }
    fn has(&self, n: NodeIndex) -> bool {
        self.0[n.index()].is_some()
    }
    fn insert(&mut self, n: NodeIndex, draft: Draft) {
        self.0[n.index()] = Some(draft);
    }
    fn get(&self, n: NodeIndex) -> &Draft {
        self.0[n.index()].as_ref().expect("a draft per step")
    }
    fn take(&mut self, n: NodeIndex) -> Draft {
        self.0[n.index()].take().expect("a draft per step")
    }
}

/// Internal reference to a step: a node of the desired graph, or of the deletion graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ref {
    Apply(NodeIndex),
    Delete(NodeIndex),
}

/// Plans the way from `live` to the objects of `desired`. Fails when a live Component would have
/// to change version, image or Kumori digest ([`Error::ImmutableComponent`]).
pub fn plan(desired: &DependencyGraph, live: &Live) -> Result<Plan, Vec<Error>> {
    let live_keys = index::keys(&live.objects);
    let live_of = |key: &ObjectKey| live_keys.get(key).map(|&i| &live.objects[i]);
    let manifests = desired.manifests();
    let mut errors = Vec::new();

    // Apply phase: classify every desired node.
    let mut applies = Drafts::new(desired.graph.node_count());
    let mut unchanged = Vec::new();
    for &n in &desired.topo {
        let (node, identity, action) = match desired.graph[n] {
            Vertex::Object(p) => {
                let manifest = &manifests[p];
                let key = manifest.object.key();
                let live_object = live_of(&key);
                if let (Object::Component(_), Some(l)) = (&manifest.object, live_object)
                    && let Some(e) = immutable_change(manifest, l)
                {
                    errors.push(e);
                    continue;
                }
                // The object to send: a Server carries the live weights (none when created).
                let to_send = |weights: Weights| {
                    let mut object = manifest.object.clone();
                    if let Object::Server(s) = &mut object {
                        s.spec.version_weights = weights;
                    }
                    object
                };
                let action = match live_object {
                    None => Some(Action::Create {
                        object: to_send(Weights::new()),
                    }),
                    Some(l) => {
                        let changes = managed_changes(&manifest.object, l, live.owned.get(&key));
                        (!changes.is_empty()).then(|| Action::Update {
                            object: to_send(live_weights(Some(l)).clone()),
                            changes,
                        })
                    }
                };
                (Node::Object(key), manifest.object.identity(), action)
            }
            Vertex::Weights(p) => {
                let server = &manifests[p].object;
                let key = server.key();
                let from = live_weights(live_of(&key));
                let Object::Server(desired_server) = server else {
                    unreachable!("only Servers have Weights nodes")
                };
                let to = &desired_server.spec.version_weights;
                let action = (from != to).then(|| Action::Weights {
                    object: server.clone(),
                    from: from.clone(),
                    to: to.clone(),
                });
                (Node::Weights(key), server.identity(), action)
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
    let apply_order: Vec<NodeIndex> = desired
        .topo
        .iter()
        .copied()
        .filter(|n| applies.has(*n))
        .collect();
    let apply_waves = order::waves(
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
    );

    // Delete phase.
    let removals = Removals::new(desired, live, &live_keys, &applies);
    let delete_waves = match order::topological(&removals.graph) {
        Ok(topo) => order::waves(
            &topo,
            NodeIndex::index,
            |n| {
                removals
                    .graph
                    .neighbors_directed(n, Direction::Incoming)
                    .collect()
            },
            removals.graph.node_count(),
        ),
        Err(_) => unreachable!(
            "deletions follow live references, which go from a kind to a later kind, and \
             drains only precede: they cannot form a cycle"
        ),
    };
    let removal_count = removals.graph.node_count();
    let Removals {
        mut drafts,
        withheld,
        ..
    } = removals;

    // Sort each wave by node, moving indices rather than drafts, then number the steps in wave
    // order.
    let mut all: Vec<(Phase, Vec<(Ref, Draft)>)> = Vec::new();
    for mut wave in apply_waves {
        wave.sort_unstable_by(|a, b| applies.get(*a).node.cmp(&applies.get(*b).node));
        let steps = wave
            .into_iter()
            .map(|n| (Ref::Apply(n), applies.take(n)))
            .collect();
        all.push((Phase::Apply, steps));
    }
    for mut wave in delete_waves {
        wave.sort_unstable_by(|a, b| drafts[a].node.cmp(&drafts[b].node));
        let steps = wave
            .into_iter()
            .map(|n| (Ref::Delete(n), drafts.remove(&n).expect("a draft per step")))
            .collect();
        all.push((Phase::Delete, steps));
    }
    let mut apply_ids: Vec<Option<StepId>> = vec![None; desired.graph.node_count()];
    let mut delete_ids: Vec<Option<StepId>> = vec![None; removal_count];
    let mut next = 0;
    for (_, steps) in &all {
        for (r, _) in steps {
            match *r {
                Ref::Apply(n) => apply_ids[n.index()] = Some(StepId(next)),
                Ref::Delete(n) => delete_ids[n.index()] = Some(StepId(next)),
            }
            next += 1;
        }
    }
    let id_of = |r: &Ref| {
        match *r {
            Ref::Apply(n) => apply_ids[n.index()],
            Ref::Delete(n) => delete_ids[n.index()],
        }
        .expect("every dependency is a step")
    };
    let waves = all
        .into_iter()
        .map(|(phase, steps)| Wave {
            phase,
            steps: steps
                .into_iter()
                .map(|(r, d)| {
                    let mut depends_on: Vec<StepId> = d.depends_on.iter().map(id_of).collect();
                    depends_on.sort_unstable();
                    depends_on.dedup();
                    Step {
                        id: id_of(&r),
                        node: d.node,
                        identity: d.identity,
                        action: d.action,
                        depends_on,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(Plan {
        waves,
        unchanged,
        withheld,
    })
}

/// The weights of a live Server, or none.
fn live_weights(live: Option<&Object>) -> &Weights {
    static NONE: Weights = Weights::new();
    match live {
        Some(Object::Server(s)) => &s.spec.version_weights,
        _ => &NONE,
    }
}

/// Whether two Server specs are equal but for their weights. Written field by field, without
/// `..`, so that a new field of the spec cannot be forgotten here.
fn server_spec_eq_but_weights(a: &model::ServerSpec, b: &model::ServerSpec) -> bool {
    let model::ServerSpec {
        id,
        domain,
        services,
        auth,
        features,
        version_weights: _,
    } = a;
    *id == b.id
        && *domain == b.domain
        && *services == b.services
        && *auth == b.auth
        && *features == b.features
}

/// What the reconciler manages that differs between a desired object and its live copy, as
/// dotted paths; empty when the object is unchanged. Labels and annotations of the desired object
/// must be in the live one with the same values (others' keys are ignored); a key in `owned` (the
/// keys the reconciler owns on the live object) that the desired object no longer has and the
/// live one still carries is a change too; the spec must be equal, except a Server's
/// `versionWeights`, which its Weights step compares.
///
/// The rollout state annotation ([`keys::ROLLOUT_STATE`]) is never a removal: the rollout engine
/// writes it, the render never has it.
pub fn managed_changes(desired: &Object, live: &Object, owned: Option<&OwnedKeys>) -> Vec<String> {
    let mut changes = Vec::new();
    let (d, l) = (desired.meta(), live.meta());
    let none = OwnedKeys::default();
    let owned = owned.unwrap_or(&none);
    let mut section = |prefix: &str,
                       desired: &BTreeMap<String, String>,
                       live: &BTreeMap<String, String>,
                       owned: &BTreeSet<String>| {
        let first = changes.len();
        for (k, v) in desired {
            if live.get(k) != Some(v) {
                changes.push(format!("{prefix}.{k}"));
            }
        }
        for k in owned {
            let removed = !desired.contains_key(k) && live.contains_key(k);
            if removed && k != keys::ROLLOUT_STATE {
                changes.push(format!("{prefix}.{k}"));
            }
        }
        changes[first..].sort_unstable();
    };
    section("metadata.labels", &d.labels, &l.labels, &owned.labels);
    section(
        "metadata.annotations",
        &d.annotations,
        &l.annotations,
        &owned.annotations,
    );
    let spec_equal = match (desired, live) {
        (Object::Vimana(a), Object::Vimana(b)) => a.spec == b.spec,
        (Object::Domain(a), Object::Domain(b)) => a.spec == b.spec,
        (Object::Server(a), Object::Server(b)) => server_spec_eq_but_weights(&a.spec, &b.spec),
        (Object::Component(a), Object::Component(b)) => a.spec == b.spec,
        _ => false,
    };
    if !spec_equal {
        // Only objects that differ pay for the field-by-field comparison.
        let spec = |o: &Object| match o.to_value() {
            serde_json::Value::Object(mut m) => match m.remove("spec") {
                Some(serde_json::Value::Object(s)) => s,
                _ => serde_json::Map::new(),
            },
            _ => serde_json::Map::new(),
        };
        let (mut ds, mut ls) = (spec(desired), spec(live));
        if desired.kind() == Kind::Server {
            ds.remove("versionWeights");
            ls.remove("versionWeights");
        }
        let mut fields: Vec<&String> = ds.keys().chain(ls.keys()).collect();
        fields.sort();
        fields.dedup();
        for f in fields {
            if ds.get(f) != ls.get(f) {
                changes.push(format!("spec.{f}"));
            }
        }
    }
    changes
}

/// The error for a desired Component that would change the version, image or Kumori digest of
/// the live Component with the same key.
fn immutable_change(desired: &model::Manifest, live: &Object) -> Option<Error> {
    let (Object::Component(d), Object::Component(l)) = (&desired.object, live) else {
        return None;
    };
    fn digest(o: &model::Component) -> &str {
        o.metadata
            .annotations
            .get(keys::KUMORI_DIGEST)
            .map_or("", String::as_str)
    }
    let (field, live_value, desired_value) = if d.spec.version != l.spec.version {
        (
            "spec.version",
            l.spec.version.clone(),
            d.spec.version.clone(),
        )
    } else if d.spec.image != l.spec.image {
        ("spec.image", l.spec.image.clone(), d.spec.image.clone())
    } else if digest(d) != digest(l) {
        (
            // The render knows no location for annotations; the error points at the document.
            "metadata.annotations.kumori.vimana.host/digest",
            digest(l).to_owned(),
            digest(d).to_owned(),
        )
    } else {
        return None;
    };
    Some(Error::ImmutableComponent {
        desired: End::of(desired, Some(field)),
        live: End::object(live, None),
        field: field.into(),
        live_value,
        desired_value,
    })
}

/// The deletion graph: deletions and drains of live objects, with an edge from each to those
/// that must wait for it, and the drafts of their steps.
struct Removals {
    graph: DiGraph<(), ()>,
    drafts: HashMap<NodeIndex, Draft>,
    withheld: Vec<Withheld>,
}

impl Removals {
    fn new(
        desired: &DependencyGraph,
        live: &Live,
        live_keys: &HashMap<ObjectKey, usize>,
        applies: &Drafts,
    ) -> Removals {
        let objects = &live.objects;
        // The desired graph node of a live key, when that node has an apply step.
        let apply_step_of = |key: &ObjectKey| {
            desired
                .index_of(&Node::Object(key.clone()))
                .filter(|n| applies.has(*n))
        };
        let is_candidate = |i: usize| {
            let key = objects[i].key();
            live.prune.contains(&key)
                && live_keys.get(&key) == Some(&i)
                && desired.get(&key).is_none()
        };
        let mut deleted: Vec<bool> = if live.prune.is_empty() {
            vec![false; objects.len()]
        } else {
            (0..objects.len()).map(is_candidate).collect()
        };
        if !deleted.contains(&true) {
            // The usual pass of the daemon: nothing to remove, nothing more to look at.
            return Removals {
                graph: DiGraph::new(),
                drafts: HashMap::new(),
                withheld: Vec::new(),
            };
        }
        let (live_index, _) = Index::build(objects);

        // The weight-safety rule: which steps take the weight off a Component first. Every
        // live Server with the Component's Server identity counts: a cluster may hold two (one
        // of them moved there by hand), and the platform may route through either.
        enum Guard {
            WeightsStep(NodeIndex),
            Drain(usize),
        }
        let mut servers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, object) in objects.iter().enumerate() {
            if object.kind() == Kind::Server && live_index.by_key.get(&object.key()) == Some(&i) {
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
                if let Some(p) = desired.index.by_key.get(&server_key) {
                    // Without a Weights step, the desired weights equal the live ones and name
                    // this version, so a desired Component with this identity takes the traffic
                    // (and the deletion waits for it: make before break, below).
                    if let Some(w) = desired.weights_of(*p).filter(|w| applies.has(*w)) {
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

        let mut graph = DiGraph::new();
        let mut drafts = HashMap::new();
        let mut delete_node: HashMap<usize, NodeIndex> = HashMap::new();
        for (i, object) in objects.iter().enumerate() {
            if !deleted[i] {
                continue;
            }
            let n = graph.add_node(());
            delete_node.insert(i, n);
            drafts.insert(
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
        let mut drain_node: HashMap<usize, NodeIndex> = HashMap::new();
        for (&i, guard) in guards
            .iter()
            .flat_map(|(i, l)| l.iter().map(move |g| (i, g)))
        {
            let n = delete_node[&i];
            match *guard {
                Guard::WeightsStep(w) => drafts
                    .get_mut(&n)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(w)),
                Guard::Drain(s) => {
                    let d = *drain_node.entry(s).or_insert_with(|| {
                        let d = graph.add_node(());
                        let mut object = objects[s].clone();
                        let from = live_weights(Some(&objects[s])).clone();
                        if let Object::Server(server) = &mut object {
                            server.spec.version_weights.clear();
                            server.status = None;
                        }
                        drafts.insert(
                            d,
                            Draft {
                                node: Node::Weights(objects[s].key()),
                                identity: objects[s].identity(),
                                action: Action::Drain { object, from },
                                depends_on: Vec::new(),
                            },
                        );
                        d
                    });
                    graph.add_edge(d, n, ());
                }
            }
        }
        // A drained Server is deleted after its drain (also when its weighted Components are
        // not deleted through it, so that the order reads the same in every case).
        for (&s, &d) in &drain_node {
            graph.add_edge(d, delete_node[&s], ());
        }

        for (i, object) in objects.iter().enumerate() {
            // Only the indexed copy of a key speaks for it.
            if live_index.by_key.get(&object.key()) != Some(&i) {
                continue;
            }
            let Some(parent) = live_index.parent(object) else {
                continue;
            };
            let Some(&pn) = delete_node.get(&parent) else {
                continue;
            };
            if let Some(&cn) = delete_node.get(&i) {
                // Dependents go first.
                graph.add_edge(cn, pn, ());
            } else if let Some(step) = apply_step_of(&object.key()) {
                // A kept child that is being moved away from the deleted parent moves first.
                drafts
                    .get_mut(&pn)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(step));
            }
        }
        for (&i, &n) in &delete_node {
            // Make before break: a desired object that takes over the identity of a deleted one
            // is in place before the deleted one goes.
            let object = &objects[i];
            if let Some(p) = desired
                .index
                .get(object.kind(), &index::lookup_key(object))
                .map(NodeIndex::new)
                .filter(|p| applies.has(*p))
            {
                drafts
                    .get_mut(&n)
                    .expect("a draft per deletion")
                    .depends_on
                    .push(Ref::Apply(p));
            }
        }
        for e in graph.raw_edges() {
            drafts
                .get_mut(&e.target())
                .expect("a draft per removal")
                .depends_on
                .push(Ref::Delete(e.source()));
        }
        Removals {
            graph,
            drafts,
            withheld,
        }
    }
}
