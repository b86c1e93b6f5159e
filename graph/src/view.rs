//! Views of a graph and its plan for people and tools: a text tree with the waves, Graphviz DOT,
//! and JSON. Each returns a value; printing is the caller's business.

use std::collections::BTreeSet;
use std::fmt::Write;

use model::{Manifest, Object, keys, names};
use serde_json::json;

use crate::dag::{DependencyGraph, EdgeKind, Node, Vertex};
use crate::plan::{Action, Phase, Plan, Step, Weights};

/// Versions of a weights map in semantic-version order (text order for what does not parse),
/// each with its weight and its share of the total in percent (0 when the total is 0).
pub fn shares(weights: &Weights) -> Vec<(&str, i32, f64)> {
    let total: i64 = weights.values().map(|&w| i64::from(w.max(0))).sum();
    let mut out: Vec<(&str, i32, f64)> = weights
        .iter()
        .map(|(v, &w)| {
            let share = if total > 0 {
                f64::from(w.max(0)) * 100.0 / total as f64
            } else {
                0.0
            };
            (v.as_str(), w, share)
        })
        .collect();
    out.sort_by(|a, b| version_order(a.0, b.0));
    out
}

fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// A share as people read it: `90%`, `33.3%`.
pub fn percent(share: f64) -> String {
    let tenths = (share * 10.0).round();
    if tenths % 10.0 == 0.0 {
        format!("{}%", tenths / 10.0)
    } else {
        format!("{:.1}%", tenths / 10.0)
    }
}

/// `1.0.0 90%, 1.1.0 10%`, or `none` for no weights.
pub fn weights_text(weights: &Weights) -> String {
    if weights.is_empty() {
        return "none".into();
    }
    shares(weights)
        .iter()
        .map(|(v, _, s)| format!("{v} {}", percent(*s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How objects are named in the views: `name`, or `namespace/name` when the graph spans more
/// than one namespace.
struct Names {
    qualified: bool,
}

impl Names {
    fn new(graph: &DependencyGraph) -> Names {
        let namespaces: BTreeSet<&str> = graph
            .manifests()
            .iter()
            .map(|m| m.object.meta().namespace.as_deref().unwrap_or_default())
            .collect();
        Names {
            qualified: namespaces.len() > 1,
        }
    }

    fn of(&self, object: &Object) -> String {
        let meta = object.meta();
        match (&meta.namespace, self.qualified) {
            (Some(ns), true) => format!("{ns}/{}", meta.name),
            _ => meta.name.clone(),
        }
    }

    /// What a person recognizes an object by: the Kubernetes name, with the Domain id, or the
    /// Server and version of a Component.
    fn label(&self, object: &Object) -> String {
        match object {
            Object::Vimana(_) | Object::Server(_) => self.of(object),
            Object::Domain(d) => format!("{} ({})", self.of(object), d.spec.id),
            Object::Component(c) => {
                format!("{} ({}@{})", self.of(object), c.spec.server, c.spec.version)
            }
        }
    }
}

/// The hierarchy as an indented tree: Vimanas, their Domains (Domains without a Vimana at the
/// top level), Servers, and Components with their share of the Server's traffic.
pub fn tree(graph: &DependencyGraph) -> String {
    let names = Names::new(graph);
    let manifests = graph.manifests();
    let roots: Vec<usize> = (0..manifests.len())
        .filter(|&p| match &manifests[p].object {
            Object::Vimana(_) => true,
            Object::Domain(d) => d.spec.vimana.is_none(),
            _ => false,
        })
        .collect();
    let mut out = String::new();
    if roots.is_empty() {
        out.push_str("(no objects)\n");
    }
    for p in roots {
        tree_node(graph, &names, p, "", "", &mut out);
    }
    out
}

fn tree_node(
    graph: &DependencyGraph,
    names: &Names,
    pos: usize,
    first: &str,
    rest: &str,
    out: &mut String,
) {
    let manifest = &graph.manifests()[pos];
    let _ = writeln!(out, "{first}{}", tree_line(graph, names, manifest));
    let children = graph.children(pos);
    for (i, &c) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        tree_node(
            graph,
            names,
            c,
            &format!("{rest}{branch}"),
            &format!("{rest}{more}"),
            out,
        );
    }
}

fn tree_line(graph: &DependencyGraph, names: &Names, manifest: &Manifest) -> String {
    let object = &manifest.object;
    let kind = object.kind();
    match object {
        Object::Vimana(_) => format!("{kind} {}", names.of(object)),
        Object::Domain(d) => {
            let mut line = format!("{kind} {} ({})", names.of(object), d.spec.id);
            if !d.spec.aliases.is_empty() {
                let _ = write!(line, "  aliases {}", d.spec.aliases.join(", "));
            }
            if d.spec.vimana.is_none() {
                line.push_str("  no Vimana");
            }
            line
        }
        Object::Server(s) => {
            let mut line = format!("{kind} {}", s.spec.id);
            if s.metadata.name != s.spec.id {
                let _ = write!(line, " (object {})", names.of(object));
            }
            let total: i64 = s
                .spec
                .version_weights
                .values()
                .map(|&w| i64::from(w.max(0)))
                .sum();
            if total == 0 {
                line.push_str("  no traffic: no version has weight");
            }
            line
        }
        Object::Component(c) => {
            let server = graph.by_identity(
                model::Kind::Server,
                &format!("{}:{}", c.spec.domain, c.spec.server),
            );
            let share = server
                .and_then(|m| match &m.object {
                    Object::Server(s) => shares(&s.spec.version_weights)
                        .into_iter()
                        .find(|(v, _, _)| *v == c.spec.version)
                        .map(|(_, _, share)| percent(share)),
                    _ => None,
                })
                .unwrap_or_else(|| percent(0.0));
            let mut line = format!("{kind} {}  {share}  {}", c.spec.version, c.spec.image);
            if c.metadata.name != names::derived_component_name(&c.spec.server, &c.spec.version) {
                let _ = write!(line, "  (object {})", names.of(object));
            }
            if let Some(source) = c.metadata.annotations.get(keys::KUMORI_SOURCE) {
                let _ = write!(line, "  kumori {source}");
            }
            line
        }
    }
}

/// The plan as text: a summary line that starts with `title` (`Plan`, `Plan against an empty
/// cluster`), then each wave with its steps, then the withheld deletions.
pub fn plan_text(plan: &Plan, title: &str) -> String {
    let s = plan.summary();
    let steps = plan.steps().count();
    let mut out = String::new();
    let _ = write!(
        out,
        "{title}: {steps} step{} in {} wave{}",
        plural(steps),
        plan.waves.len(),
        plural(plan.waves.len())
    );
    let counts: Vec<String> = [
        (s.create, "create", "creates"),
        (s.update, "update", "updates"),
        (s.weights, "weight change", "weight changes"),
        (s.drain, "drain", "drains"),
        (s.delete, "deletion", "deletions"),
        (s.unchanged, "unchanged", "unchanged"),
        (s.withheld, "withheld", "withheld"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|&(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
    .collect();
    if !counts.is_empty() {
        let _ = write!(out, " ({})", counts.join(", "));
    }
    out.push('\n');
    if plan.is_empty() {
        out.push_str("Nothing to do.\n");
    }
    let names = PlanNames::new(plan);
    for (i, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "wave {} ({})", i + 1, wave.phase);
        for step in &wave.steps {
            let _ = writeln!(out, "  {}", step_line(plan, &names, step));
        }
    }
    for w in &plan.withheld {
        let _ = writeln!(
            out,
            "withheld: {} is not deleted: live {} still gives it weight {} and this plan does \
             not change that Server",
            w.node, w.server, w.weight
        );
    }
    out
}

/// Step names follow [`Names`], over the objects of the plan.
struct PlanNames {
    names: Names,
}

impl PlanNames {
    fn new(plan: &Plan) -> PlanNames {
        let namespaces: BTreeSet<&str> = plan
            .steps()
            .map(|s| s.node.key().namespace.as_str())
            .collect();
        PlanNames {
            names: Names {
                qualified: namespaces.len() > 1,
            },
        }
    }
}

fn step_line(plan: &Plan, names: &PlanNames, step: &Step) -> String {
    let object = step.action.object();
    // Ids are padded to the widest so that the verbs line up.
    let width = plan.steps().count().saturating_sub(1).to_string().len() + 2;
    let mut line = format!(
        "{:<width$} {:<8} {} {}",
        format!("[{}]", step.id),
        step.action.verb(),
        object.kind(),
        names.names.label(object)
    );
    match &step.action {
        Action::Update { changes, .. } => {
            let _ = write!(line, ": {}", changes.join(", "));
        }
        Action::Weights { from, to, .. } => {
            let _ = write!(line, ": {} → {}", weights_text(from), weights_text(to));
        }
        Action::Drain { from, .. } => {
            let _ = write!(line, ": {} → none", weights_text(from));
        }
        Action::Create { .. } | Action::Delete { .. } => {}
    }
    // Of the dependencies, those of a deletion on a weight step are the ones a reader has to
    // know about: they hold the deletion until traffic has left.
    let in_delete = plan
        .wave_of(step.id)
        .is_some_and(|w| plan.waves[w].phase == Phase::Delete);
    if in_delete && matches!(step.action, Action::Delete { .. }) {
        let waits: Vec<String> = step
            .depends_on
            .iter()
            .filter(|id| {
                plan.step(**id).is_some_and(|s| {
                    matches!(s.action, Action::Weights { .. } | Action::Drain { .. })
                })
            })
            .map(|id| format!("[{id}]"))
            .collect();
        if !waits.is_empty() {
            let _ = write!(line, "  after {}", waits.join(", "));
        }
    }
    line
}

/// The tree, a blank line, then the plan under `title`.
pub fn text(graph: &DependencyGraph, plan: &Plan, title: &str) -> String {
    format!("{}\n{}", tree(graph), plan_text(plan, title))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A DOT string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The graph in Graphviz DOT: one box per object labelled with its kind and name, one diamond
/// per Weights node; hierarchy edges solid, Server → Weights dotted, Component → Weights dashed
/// and labelled with the Component's share of the traffic.
pub fn dot(graph: &DependencyGraph) -> String {
    let names = Names::new(graph);
    let manifests = graph.manifests();
    let mut out = String::from(
        "digraph vimana {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", \
         fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for n in graph.graph.node_indices() {
        let node = graph.node(n);
        let (label, attrs) = match graph.graph[n] {
            Vertex::Object(p) => {
                let object = &manifests[p].object;
                let detail = match object {
                    Object::Vimana(_) => names.of(object),
                    Object::Domain(d) => format!("{}\n{}", names.of(object), d.spec.id),
                    Object::Server(s) => s.spec.id.clone(),
                    Object::Component(c) => format!("{}@{}", c.spec.server, c.spec.version),
                };
                let fill = match object {
                    Object::Vimana(_) => "#e8d5f5",
                    Object::Domain(_) => "#d5e5f5",
                    Object::Server(_) => "#d5f5e0",
                    Object::Component(_) => "#f5f0d5",
                };
                (
                    format!("{}\n{detail}", object.kind()),
                    format!("fillcolor={}", quote(fill)),
                )
            }
            Vertex::Weights(p) => {
                let detail = match &manifests[p].object {
                    Object::Server(s) => s.spec.id.clone(),
                    other => names.of(other),
                };
                (
                    format!("Weights\n{detail}"),
                    "shape=diamond, style=filled, fillcolor=\"#eeeeee\"".to_string(),
                )
            }
        };
        let _ = writeln!(
            out,
            "  {} [label={}, {attrs}];",
            quote(&node.id()),
            quote(&label)
        );
    }
    for e in graph.graph.raw_edges() {
        let (from, to) = (graph.node(e.source()), graph.node(e.target()));
        let attrs = match e.weight {
            EdgeKind::Hierarchy => "style=solid".to_string(),
            EdgeKind::WeightsOf => "style=dotted, arrowhead=none, color=\"#888888\"".to_string(),
            EdgeKind::Weight => {
                let share = weight_edge_share(graph, e.source().index(), e.target());
                format!("style=dashed, color=\"#1f6fb2\", label={}", quote(&share))
            }
        };
        let _ = writeln!(
            out,
            "  {} -> {} [{attrs}];",
            quote(&from.id()),
            quote(&to.id())
        );
    }
    out.push_str("}\n");
    out
}

/// The share of the Component at `component` in the Weights node `weights`.
fn weight_edge_share(
    graph: &DependencyGraph,
    component: usize,
    weights: petgraph::graph::NodeIndex,
) -> String {
    let manifests = graph.manifests();
    let (Object::Component(c), Vertex::Weights(s)) =
        (&manifests[component].object, graph.graph[weights])
    else {
        return String::new();
    };
    let Object::Server(server) = &manifests[s].object else {
        return String::new();
    };
    shares(&server.spec.version_weights)
        .into_iter()
        .find(|(v, _, _)| *v == c.spec.version)
        .map(|(_, _, share)| percent(share))
        .unwrap_or_default()
}

/// The graph and the plan as one JSON document for tools:
/// `{"nodes": [...], "edges": [...], "plan": {...}}`. Nodes carry `id`, `kind`, `namespace`,
/// `name`, `identity` and `source` (file, line, column; null for objects without a source);
/// edges carry `from` and `to` (node ids), `kind` (`hierarchy`, `weightsOf`, `weight`) and, for
/// `weight` edges, the `weight`.
pub fn json(graph: &DependencyGraph, plan: &Plan) -> serde_json::Value {
    let manifests = graph.manifests();
    let nodes: Vec<serde_json::Value> = graph
        .graph
        .node_indices()
        .map(|n| {
            let node = graph.node(n);
            let (Vertex::Object(p) | Vertex::Weights(p)) = graph.graph[n];
            let m = &manifests[p];
            let key = node.key();
            json!({
                "id": node.id(),
                "kind": node.kind_str(),
                "namespace": key.namespace,
                "name": key.name,
                "identity": m.object.identity(),
                "source": m.source.as_ref().map(|s| &s.document),
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .graph
        .raw_edges()
        .iter()
        .map(|e| {
            let (from, to): (Node, Node) = (graph.node(e.source()), graph.node(e.target()));
            let mut v = json!({"from": from.id(), "to": to.id(), "kind": e.weight});
            if let (EdgeKind::Weight, Object::Component(c), Vertex::Weights(s)) = (
                e.weight,
                &manifests[e.source().index()].object,
                graph.graph[e.target()],
            ) && let Object::Server(server) = &manifests[s].object
            {
                v["weight"] = json!(server.spec.version_weights.get(&c.spec.version));
            }
            v
        })
        .collect();
    let mut plan_json = serde_json::to_value(plan).expect("plans serialize");
    // An `Unchanged` entry holds its node only; the JSON names its identity, as a step's does.
    if let Some(entries) = plan_json["unchanged"].as_array_mut() {
        for (entry, unchanged) in entries.iter_mut().zip(&plan.unchanged) {
            if let Some(m) = graph.get(unchanged.node.key()) {
                entry["identity"] = json!(m.object.identity());
            }
        }
    }
    json!({
        "nodes": nodes,
        "edges": edges,
        "plan": plan_json,
    })
}
