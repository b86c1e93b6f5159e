//! The shape of the graph: nodes, edges and their kinds, neighbours, topological order.

use graph::{EdgeKind, Node};

use crate::fixtures::*;

#[test]
fn the_graph_has_the_hierarchy_and_one_weights_node_per_server() {
    let repo = small_repo();
    let g = dag(&repo);
    assert_eq!(g.node_count(), repo.len() + 2);
    let edges: Vec<String> = g
        .edges()
        .iter()
        .map(|e| format!("{} -> {} {:?}", e.from.id(), e.to.id(), e.kind))
        .collect();
    assert_eq!(
        edges,
        [
            "Vimana/vimana/main -> Domain/vimana/d1 Hierarchy",
            "Domain/vimana/d1 -> Server/vimana/d1-adder Hierarchy",
            "Server/vimana/d1-adder -> Weights/vimana/d1-adder WeightsOf",
            "Component/vimana/d1-adder-1-0-0 -> Weights/vimana/d1-adder Weight",
            "Component/vimana/d1-adder-1-1-0 -> Weights/vimana/d1-adder Weight",
            "Server/vimana/d1-adder -> Component/vimana/d1-adder-1-0-0 Hierarchy",
            "Server/vimana/d1-adder -> Component/vimana/d1-adder-1-1-0 Hierarchy",
            "Domain/vimana/d1 -> Server/vimana/d1-mul Hierarchy",
            "Server/vimana/d1-mul -> Weights/vimana/d1-mul WeightsOf",
            "Component/vimana/d1-mul-2-0-0 -> Weights/vimana/d1-mul Weight",
            "Server/vimana/d1-mul -> Component/vimana/d1-mul-2-0-0 Hierarchy",
        ]
    );
    assert!(g.edges().iter().any(|e| e.kind == EdgeKind::Weight));
}

#[test]
fn neighbours_and_order() {
    let repo = small_repo();
    let g = dag(&repo);
    let weights = Node::Weights(key(&repo[2]));
    assert_eq!(
        g.dependencies(&weights),
        [
            Node::Object(key(&repo[2])),
            Node::Object(key(&repo[3])),
            Node::Object(key(&repo[4]))
        ]
    );
    assert_eq!(
        g.dependents(&Node::Object(key(&repo[1]))),
        [Node::Object(key(&repo[2])), Node::Object(key(&repo[5]))]
    );
    assert!(g.dependents(&weights).is_empty());
    assert!(
        g.dependencies(&Node::Object(key(&vimana("other"))))
            .is_empty()
    );

    let order = g.topological_order();
    assert_eq!(order.len(), g.node_count());
    let pos = |n: &Node| order.iter().position(|m| m == n).unwrap();
    for e in g.edges() {
        assert!(pos(&e.from) < pos(&e.to), "{} -> {}", e.from, e.to);
    }
}

#[test]
fn objects_are_found_by_key_and_identity() {
    let repo = small_repo();
    let g = dag(&repo);
    assert_eq!(g.get(&key(&repo[3])).unwrap().object, repo[3]);
    assert_eq!(
        g.by_identity(model::Kind::Component, "d1:adder@1.1.0")
            .unwrap()
            .object,
        repo[4]
    );
    assert_eq!(
        g.by_identity(model::Kind::Vimana, "vimana/main")
            .unwrap()
            .object,
        repo[0]
    );
    assert!(g.by_identity(model::Kind::Server, "d1:nope").is_none());
    assert_eq!(g.manifests().len(), repo.len());
}

#[test]
fn a_domain_without_a_vimana_is_a_root() {
    let g = dag(&[domain("d1").vimana(None), server("d1", "a", &[])]);
    assert!(g.dependencies(&Node::Object(key(&domain("d1")))).is_empty());
    assert_eq!(g.edge_count(), 2);
}
