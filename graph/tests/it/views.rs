//! The text, DOT and JSON views.

use graph::{DependencyGraph, Live, view};
use model::Object;

use crate::fixtures::*;

const CALC: &str = "0123456789abcdef0123456789abcdef";
const EDGE: &str = "fedcba9876543210fedcba9876543210";

fn repo() -> Vec<Object> {
    vec![
        vimana("main"),
        domain(CALC).named("calc"),
        server(CALC, "adder", &[("1.0.0", 90), ("1.1.0", 10)]).named("adder"),
        component(CALC, "adder", "1.0.0").named("adder-1-0-0"),
        component(CALC, "adder", "1.1.0")
            .named("adder-1-1-0")
            .annotation(model::keys::KUMORI_SOURCE, "components/adder#Adder"),
        server(CALC, "mul", &[]).named("multiplier"),
        component(CALC, "mul", "2.0.0").named("mul-2-0-0"),
        domain(EDGE).named("edge").vimana(None),
        server(EDGE, "div", &[("1.0.0", 1), ("1.10.0", 1), ("1.9.0", 1)]).named("div"),
        component(EDGE, "div", "1.0.0").named("div-1-0-0"),
        component(EDGE, "div", "1.9.0").named("div-1-9-0"),
        component(EDGE, "div", "1.10.0").named("div-1-10-0"),
    ]
}

fn graph_and_plan() -> (DependencyGraph, graph::Plan) {
    let g = dag(&repo());
    let plan = graph::plan(&g, &Live::default()).unwrap();
    (g, plan)
}

#[test]
fn the_text_view_is_a_tree_then_the_waves() {
    let (g, plan) = graph_and_plan();
    let expected = "\
Vimana main
└── Domain calc (0123456789abcdef0123456789abcdef)
    ├── Server adder
    │   ├── Component 1.0.0  90%  registry.example.org/adder:1.0.0
    │   └── Component 1.1.0  10%  registry.example.org/adder:1.1.0  kumori components/adder#Adder
    └── Server mul (object multiplier)  no traffic: no version has weight
        └── Component 2.0.0  0%  registry.example.org/mul:2.0.0
Domain edge (fedcba9876543210fedcba9876543210)  no Vimana
└── Server div
    ├── Component 1.0.0  33.3%  registry.example.org/div:1.0.0
    ├── Component 1.9.0  33.3%  registry.example.org/div:1.9.0
    └── Component 1.10.0  33.3%  registry.example.org/div:1.10.0

Plan against an empty cluster: 14 steps in 5 waves (12 creates, 2 weight changes, 1 unchanged)
wave 1 (apply)
  [0]  create   Vimana main
  [1]  create   Domain edge (fedcba9876543210fedcba9876543210)
wave 2 (apply)
  [2]  create   Domain calc (0123456789abcdef0123456789abcdef)
  [3]  create   Server div
wave 3 (apply)
  [4]  create   Server adder
  [5]  create   Server multiplier
  [6]  create   Component div-1-0-0 (div@1.0.0)
  [7]  create   Component div-1-10-0 (div@1.10.0)
  [8]  create   Component div-1-9-0 (div@1.9.0)
wave 4 (apply)
  [9]  create   Component adder-1-0-0 (adder@1.0.0)
  [10] create   Component adder-1-1-0 (adder@1.1.0)
  [11] create   Component mul-2-0-0 (mul@2.0.0)
  [12] weights  Server div: none → 1.0.0 33.3%, 1.9.0 33.3%, 1.10.0 33.3%
wave 5 (apply)
  [13] weights  Server adder: none → 1.0.0 90%, 1.1.0 10%
";
    let text = view::text(&g, &plan, "Plan against an empty cluster");
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn percentages_round_to_a_tenth_and_versions_sort_by_semver() {
    assert_eq!(view::percent(90.0), "90%");
    assert_eq!(view::percent(100.0 / 3.0), "33.3%");
    assert_eq!(view::percent(99.96), "100%");
    let w = [("2.0.0".to_string(), 1), ("10.0.0".to_string(), 3)].into();
    assert_eq!(view::weights_text(&w), "2.0.0 25%, 10.0.0 75%");
    assert_eq!(view::weights_text(&Default::default()), "none");
}

#[test]
fn the_dot_view_labels_nodes_by_kind_and_styles_edges_by_meaning() {
    let (g, _) = graph_and_plan();
    let dot = view::dot(&g);
    assert!(dot.starts_with("digraph vimana {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    for line in [
        "  \"Vimana/vimana/main\" [label=\"Vimana\\nmain\", fillcolor=\"#e8d5f5\"];",
        "  \"Domain/vimana/calc\" [label=\"Domain\\ncalc\\n0123456789abcdef0123456789abcdef\", \
         fillcolor=\"#d5e5f5\"];",
        "  \"Component/vimana/adder-1-1-0\" [label=\"Component\\nadder@1.1.0\", \
         fillcolor=\"#f5f0d5\"];",
        "  \"Weights/vimana/adder\" [label=\"Weights\\nadder\", shape=diamond, style=filled, \
         fillcolor=\"#eeeeee\"];",
        "  \"Domain/vimana/calc\" -> \"Server/vimana/adder\" [style=solid];",
        "  \"Server/vimana/adder\" -> \"Weights/vimana/adder\" [style=dotted, arrowhead=none, \
         color=\"#888888\"];",
        "  \"Component/vimana/adder-1-1-0\" -> \"Weights/vimana/adder\" [style=dashed, \
         color=\"#1f6fb2\", label=\"10%\"];",
    ] {
        assert!(dot.contains(line), "missing {line}\nin\n{dot}");
    }
    // One statement per node and per edge.
    let statements = dot.lines().filter(|l| l.ends_with("];")).count();
    assert_eq!(statements, g.node_count() + g.edge_count() + 2);
}

#[test]
fn the_json_view_has_nodes_edges_and_the_plan() {
    let (g, plan) = graph_and_plan();
    let manifests: Vec<_> = repo()
        .into_iter()
        .enumerate()
        .map(|(i, o)| at(o, "repo.yaml", 1 + 10 * i as u32))
        .collect();
    let located = DependencyGraph::new(manifests).unwrap();
    let v = view::json(&located, &plan);
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), g.node_count());
    assert_eq!(nodes[2]["id"], "Server/vimana/adder");
    assert_eq!(nodes[2]["identity"], format!("{CALC}:adder"));
    assert_eq!(nodes[2]["source"]["line"], 21);
    let weight_edges: Vec<&serde_json::Value> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "weight")
        .collect();
    assert_eq!(weight_edges.len(), 5);
    assert_eq!(weight_edges[0]["from"], "Component/vimana/adder-1-0-0");
    assert_eq!(weight_edges[0]["to"], "Weights/vimana/adder");
    assert_eq!(weight_edges[0]["weight"], 90);
    assert_eq!(v["plan"]["waves"].as_array().unwrap().len(), 5);
    // The one unchanged node (the weights of `multiplier`, which has none) names its identity
    // as a step does.
    let unchanged = v["plan"]["unchanged"].as_array().unwrap();
    assert_eq!(unchanged.len(), 1);
    assert_eq!(unchanged[0]["identity"], format!("{CALC}:mul"));
    assert_eq!(
        unchanged[0]["node"],
        serde_json::json!({"kind": "Weights", "namespace": "vimana", "name": "multiplier"})
    );
}
