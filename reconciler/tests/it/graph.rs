//! `reconciler graph`.

use std::collections::HashSet;

use super::{reconciler, stderr, stdout};

/// The rendered objects of the demo, as JSON.
fn demo_objects() -> Vec<serde_json::Value> {
    let out = reconciler(&["render", "fixtures/demo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn servers(objects: &[serde_json::Value]) -> usize {
    objects.iter().filter(|o| o["kind"] == "Server").count()
}

#[test]
fn the_text_is_the_tree_then_the_waves_of_a_first_sync() {
    let out = reconciler(&["graph", "fixtures/demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let (tree, plan) = text
        .split_once("\n\n")
        .expect("a blank line between tree and plan");
    let objects = demo_objects();

    // One tree line per object, Vimanas at the top, each kind one level deeper.
    assert_eq!(tree.lines().count(), objects.len(), "{tree}");
    assert!(tree.starts_with("Vimana edge\n"), "{tree}");
    for line in tree.lines() {
        let depth = line.chars().take_while(|c| !c.is_alphanumeric()).count() / 4;
        let kind = line
            .split_whitespace()
            .find(|w| w.chars().all(char::is_alphabetic));
        let expected = ["Vimana", "Domain", "Server", "Component"][depth];
        assert_eq!(kind, Some(expected), "{line}");
    }
    assert!(
        tree.contains("Component 1.1.0  10%  ghcr.io/acme/adder:1.1.0"),
        "{tree}"
    );

    // A step per object plus one per Server with weights; parents first, weights last.
    let first = plan.lines().next().unwrap();
    assert!(
        first.starts_with("Plan against an empty cluster: "),
        "{first}"
    );
    let creates = plan.lines().filter(|l| l.contains(" create ")).count();
    assert_eq!(creates, objects.len(), "{plan}");
    let waves: Vec<&str> = plan.split("wave ").skip(1).collect();
    assert!(waves[0].contains("create   Vimana edge"), "{plan}");
    let last = waves.last().unwrap();
    assert!(
        last.lines()
            .skip(1)
            .all(|l| l.contains(" weights  Server ")),
        "{plan}"
    );
    assert_eq!(last.lines().count() - 1, servers(&objects), "{plan}");
}

#[test]
fn the_dot_output_has_a_node_per_object_and_weights_node() {
    let out = reconciler(&["graph", "fixtures/demo", "--format", "dot"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(
        dot.starts_with("digraph vimana {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    let nodes = dot.lines().filter(|l| l.contains(" [label=")).count();
    let objects = demo_objects();
    assert_eq!(nodes, objects.len() + servers(&objects));
    assert!(
        dot.contains("-> \"Weights/vimana/adder\" [style=dashed"),
        "{dot}"
    );
}

#[test]
fn the_json_output_is_one_document_of_nodes_edges_and_plan() {
    let out = reconciler(&["graph", "fixtures/demo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = demo_objects();
    let ids: HashSet<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), objects.len() + servers(&objects));
    for e in v["edges"].as_array().unwrap() {
        assert!(ids.contains(e["from"].as_str().unwrap()), "{e}");
        assert!(ids.contains(e["to"].as_str().unwrap()), "{e}");
    }
    let steps: usize = v["plan"]["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["steps"].as_array().unwrap().len())
        .sum();
    assert!(steps > objects.len(), "{steps}");
}

#[test]
fn broken_sources_fail_with_exit_2_and_print_nothing() {
    let out = reconciler(&["graph", "fixtures/broken"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("error"), "{}", stderr(&out));
}
