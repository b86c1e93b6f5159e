//! The dependency DAG of a set of desired objects (DESIGN section 5).

use foldhash::{HashMap, HashMapExt};
use std::fmt;

use model::{Kind, Manifest, Object, ObjectKey};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::error::{End, Error};
use crate::index::{self, Index, Pos};
use crate::order;

/// A node of the graph: a rendered object, or the synthetic `versionWeights` node of a Server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// The object with this key.
    Object(ObjectKey),
    /// The `spec.versionWeights` of the Server with this key: the point where traffic moves.
    Weights(ObjectKey),
}

impl Node {
    /// The Kubernetes key of the object, or of the Server whose weights this is.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Node::Object(k) | Node::Weights(k) => k,
        }
    }

    /// `Vimana`, `Domain`, `Server`, `Component` or `Weights`.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Node::Object(k) => k.kind.as_str(),
            Node::Weights(_) => "Weights",
        }
    }

    /// A stable string id: `<kind>/<namespace>/<name>`, with `Weights` as the kind of a Weights
    /// node and the Server's namespace and name.
    pub fn id(&self) -> String {
        let key = self.key();
        format!("{}/{}/{}", self.kind_str(), key.namespace, key.name)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Object(k) => write!(f, "{k}"),
            Node::Weights(k) => write!(f, "Weights of {k}"),
        }
    }
}

/// Serialized flat, as `{"kind": "Weights", "namespace": "vimana", "name": "adder"}`.
impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let key = self.key();
        let mut s = serializer.serialize_struct("Node", 3)?;
        s.serialize_field("kind", self.kind_str())?;
        s.serialize_field("namespace", &key.namespace)?;
        s.serialize_field("name", &key.name)?;
        s.end()
    }
}

/// What an edge stands for. Every edge points from the object that must exist first to the one
/// that depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeKind {
    /// Parent to child: Vimana → Domain, Domain → Server, Server → Component.
    Hierarchy,
    /// A Server to its own Weights node.
    WeightsOf,
    /// A Component to the Weights node of the Server whose `versionWeights` names its version.
    Weight,
}

/// An edge between two nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The node that comes first.
    pub from: Node,
    /// The node that depends on it.
    pub to: Node,
    /// What the edge stands for.
    pub kind: EdgeKind,
}

/// A node of the petgraph graph: the position of an object in the manifests, or of the Server a
/// Weights node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vertex {
    Object(Pos),
    Weights(Pos),
}

/// The dependency DAG of a set of desired objects: one node per object plus one Weights node per
/// Server, an edge from every object to each object that refers to it. Built only from a set
/// without dangling references, duplicate identities or cycles.
#[derive(Debug)]
pub struct DependencyGraph {
    manifests: Vec<Manifest>,
    pub(crate) index: Index,
    pub(crate) graph: DiGraph<Vertex, EdgeKind>,
    /// Weights node of each Server, by the Server's position.
    weights: HashMap<Pos, NodeIndex>,
    /// Every node, each after all nodes it depends on.
    pub(crate) topo: Vec<NodeIndex>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("objects", &self.len())
            .finish()
    }
}

/// Suggestions are searched for this many dangling references at most: each search scans the
/// objects of a kind, and a repository where everything dangles needs no more hints than this.
const MAX_SUGGESTIONS: usize = 64;

impl DependencyGraph {
    /// Builds the graph of `manifests` (the output of a render), or returns every dangling
    /// reference, duplicate identity and cycle, sorted by [`Error::location`].
    pub fn new(manifests: Vec<Manifest>) -> Result<DependencyGraph, Vec<Error>> {
        let (index, clashes) = Index::build(&manifests[..]);
        let mut errors: Vec<Error> = clashes
            .into_iter()
            .map(|c| Error::Duplicate {
                identity_kind: c.identity_kind,
                value: c.value,
                first: End::of(&manifests[c.first], None),
                second: End::of(&manifests[c.second], None),
            })
            .collect();

        let mut graph = DiGraph::with_capacity(manifests.len() * 2, manifests.len() * 2);
        for pos in 0..manifests.len() {
            graph.add_node(Vertex::Object(pos));
        }
        let mut weights = HashMap::new();
        let mut suggestions = 0;
        let mut dangling = |from: &Manifest,
                            field: String,
                            target_kind: Kind,
                            target: &str,
                            errors: &mut Vec<Error>| {
            let nearest = (suggestions < MAX_SUGGESTIONS)
                .then(|| {
                    suggestions += 1;
                    nearest(&index, &manifests, target_kind, target)
                })
                .flatten()
                .map(|p| End::of(&manifests[p], None));
            errors.push(Error::Dangling {
                from: End::of(from, Some(&field)),
                field,
                target_kind,
                target: target.to_owned(),
                nearest,
            });
        };
        // Lookup keys are written into these, not made anew per object.
        let (mut parent, mut lookup) = (String::new(), String::new());
        for (pos, manifest) in manifests.iter().enumerate() {
            if let Some(r) = index::parent_ref(&manifest.object, &mut parent) {
                match index.get(&manifests[..], r.kind, r.lookup) {
                    Some(parent) => {
                        graph.add_edge(
                            NodeIndex::new(parent),
                            NodeIndex::new(pos),
                            EdgeKind::Hierarchy,
                        );
                    }
                    None => dangling(manifest, r.field.into(), r.kind, r.lookup, &mut errors),
                }
            }
            if let Object::Server(server) = &manifest.object {
                let w = graph.add_node(Vertex::Weights(pos));
                weights.insert(pos, w);
                graph.add_edge(NodeIndex::new(pos), w, EdgeKind::WeightsOf);
                // A Component's lookup key is `<server identity>@<version>`.
                lookup.clear();
                lookup.push_str(&server.spec.domain);
                lookup.push(':');
                lookup.push_str(&server.spec.id);
                lookup.push('@');
                let server_part = lookup.len();
                for version in server.spec.version_weights.keys() {
                    lookup.truncate(server_part);
                    lookup.push_str(version);
                    match index.get(&manifests[..], Kind::Component, &lookup) {
                        Some(c) => {
                            graph.add_edge(NodeIndex::new(c), w, EdgeKind::Weight);
                        }
                        None => dangling(
                            manifest,
                            format!("spec.versionWeights.{version}"),
                            Kind::Component,
                            &lookup,
                            &mut errors,
                        ),
                    }
                }
            }
        }

        let mut dag = DependencyGraph {
            manifests,
            index,
            graph,
            weights,
            topo: Vec::new(),
        };
        match order::topological(&dag.graph) {
            Ok(topo) => dag.topo = topo,
            Err((from, to)) => errors.push(dag.cycle_error(from, to)),
        }
        if errors.is_empty() {
            Ok(dag)
        } else {
            crate::error::sort(&mut errors);
            Err(errors)
        }
    }

    fn cycle_error(&self, from: NodeIndex, to: NodeIndex) -> Error {
        let end = |n: NodeIndex| match self.graph[n] {
            Vertex::Object(p) | Vertex::Weights(p) => End::of(&self.manifests[p], None),
        };
        Error::Cycle {
            from: end(from),
            to: end(to),
        }
    }

    /// The objects, in the order they were given.
    pub fn manifests(&self) -> &[Manifest] {
        &self.manifests
    }

    /// Gives the objects back.
    pub fn into_manifests(self) -> Vec<Manifest> {
        self.manifests
    }

    /// The object with this key.
    pub fn get(&self, key: &ObjectKey) -> Option<&Manifest> {
        self.index
            .key(&self.manifests[..], index::borrow_key(key))
            .map(|p| &self.manifests[p])
    }

    /// The object with this platform identity: a Vimana's `<namespace>/<name>`, a Domain id,
    /// `<domain>:<server>` or `<domain>:<server>@<version>`.
    pub fn by_identity(&self, kind: Kind, identity: &str) -> Option<&Manifest> {
        self.index
            .get(&self.manifests[..], kind, identity)
            .map(|p| &self.manifests[p])
    }

    /// Number of nodes, Weights nodes included.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every node, each after all the nodes it depends on.
    pub fn topological_order(&self) -> Vec<Node> {
        self.topo.iter().map(|&n| self.node(n)).collect()
    }

    /// Every edge, in the order they were added.
    pub fn edges(&self) -> Vec<Edge> {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| Edge {
                from: self.node(e.source()),
                to: self.node(e.target()),
                kind: e.weight,
            })
            .collect()
    }

    /// The nodes `node` depends on directly (the ends of its incoming edges).
    pub fn dependencies(&self, node: &Node) -> Vec<Node> {
        self.neighbors(node, Direction::Incoming)
    }

    /// The nodes that depend on `node` directly (the ends of its outgoing edges).
    pub fn dependents(&self, node: &Node) -> Vec<Node> {
        self.neighbors(node, Direction::Outgoing)
    }

    fn neighbors(&self, node: &Node, direction: Direction) -> Vec<Node> {
        let Some(n) = self.index_of(node) else {
            return Vec::new();
        };
        let mut out: Vec<Node> = self
            .graph
            .neighbors_directed(n, direction)
            .map(|m| self.node(m))
            .collect();
        out.sort();
        out
    }

    /// The petgraph index of a node.
    pub(crate) fn index_of(&self, node: &Node) -> Option<NodeIndex> {
        let pos = self
            .index
            .key(&self.manifests[..], index::borrow_key(node.key()))?;
        match node {
            Node::Object(_) => Some(NodeIndex::new(pos)),
            Node::Weights(_) => self.weights.get(&pos).copied(),
        }
    }

    /// The public node of a petgraph index.
    pub(crate) fn node(&self, n: NodeIndex) -> Node {
        match self.graph[n] {
            Vertex::Object(p) => Node::Object(self.manifests[p].object.key()),
            Vertex::Weights(p) => Node::Weights(self.manifests[p].object.key()),
        }
    }

    /// The Weights node of the Server at `pos`.
    pub(crate) fn weights_of(&self, pos: Pos) -> Option<NodeIndex> {
        self.weights.get(&pos).copied()
    }

    /// The objects whose hierarchy parent is the object at `pos`, in manifest order.
    pub(crate) fn children(&self, pos: Pos) -> Vec<Pos> {
        let mut out: Vec<Pos> = self
            .graph
            .edges_directed(NodeIndex::new(pos), Direction::Outgoing)
            .filter(|e| *e.weight() == EdgeKind::Hierarchy)
            .map(|e| petgraph::visit::EdgeRef::target(&e).index())
            .collect();
        out.sort_unstable();
        out
    }
}

/// The existing object of `kind` whose lookup key is closest to `target`, among those that share
/// a part of it (the namespace of a Vimana, the domain or the id of a Server, the Server of a
/// Component; any Domain).
fn nearest(index: &Index, manifests: &[Manifest], kind: Kind, target: &str) -> Option<Pos> {
    let related = |candidate: &str| -> bool {
        match kind {
            Kind::Vimana => candidate.split('/').next() == target.split('/').next(),
            Kind::Domain => true,
            Kind::Server => {
                let (d, s) = target.split_once(':').unwrap_or((target, ""));
                let (cd, cs) = candidate.split_once(':').unwrap_or((candidate, ""));
                d == cd || s == cs
            }
            Kind::Component => {
                candidate.rsplit_once('@').map(|c| c.0) == target.rsplit_once('@').map(|t| t.0)
            }
        }
    };
    let limit = (target.len() / 3).max(2);
    index
        .of_kind(kind)
        .map(|pos| (index::lookup_key(&manifests[pos].object), pos))
        .filter(|(candidate, _)| related(candidate))
        .map(|(candidate, pos)| (strsim::levenshtein(&candidate, target), pos))
        .filter(|&(distance, _)| distance <= limit)
        // Ties go to the object written first, so that the hint does not depend on hashing.
        .min_by_key(|&(distance, pos)| (distance, pos))
        .map(|(_, pos)| pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Resource, VimanaSpec};

    #[test]
    fn a_cycle_is_reported_with_both_ends() {
        let mut vimana: model::Vimana = Resource::new("main", VimanaSpec::default());
        vimana.metadata.namespace = Some("vimana".into());
        let mut domain: model::Domain = Resource::new(
            "calc",
            model::DomainSpec {
                id: "0123456789abcdef0123456789abcdef".into(),
                vimana: Some("main".into()),
                ..Default::default()
            },
        );
        domain.metadata.namespace = Some("vimana".into());
        let manifests = vec![
            Manifest {
                object: Object::from(vimana),
                source: None,
            },
            Manifest {
                object: Object::from(domain),
                source: None,
            },
        ];
        let mut dag = DependencyGraph::new(manifests).unwrap();
        // No valid set of the four kinds has a cycle; make one by hand.
        dag.graph
            .add_edge(NodeIndex::new(1), NodeIndex::new(0), EdgeKind::Hierarchy);
        let (from, to) = order::topological(&dag.graph).unwrap_err();
        let message = dag.cycle_error(from, to).to_string();
        assert!(
            message.contains("Vimana \"main\" (Vimana/vimana/main)"),
            "{message}"
        );
        assert!(
            message.contains("Domain \"0123456789abcdef0123456789abcdef\" (Domain/vimana/calc)"),
            "{message}"
        );
    }
}
