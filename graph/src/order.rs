//! Topological order and waves over petgraph graphs.

use std::collections::VecDeque;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

/// The nodes of `graph` in a topological order (Kahn's algorithm, ties broken by node index so
/// that the order is deterministic), or an edge `(from, to)` that lies on a cycle.
pub(crate) fn topological<N, E>(
    graph: &DiGraph<N, E>,
) -> Result<Vec<NodeIndex>, (NodeIndex, NodeIndex)> {
    let mut in_degree: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<NodeIndex> = graph
        .node_indices()
        .filter(|n| in_degree[n.index()] == 0)
        .collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(n) = ready.pop_front() {
        order.push(n);
        for m in graph.neighbors_directed(n, Direction::Outgoing) {
            in_degree[m.index()] -= 1;
            if in_degree[m.index()] == 0 {
                ready.push_back(m);
            }
        }
    }
    if order.len() == graph.node_count() {
        return Ok(order);
    }
    // Every node left has a predecessor that is left too, so walking predecessors among them
    // must come back to a node already seen: the edge that does so is on a cycle.
    let start = graph
        .node_indices()
        .find(|n| in_degree[n.index()] > 0)
        .expect("some node is left when the order is short");
    let mut seen = vec![false; graph.node_count()];
    let mut current = start;
    loop {
        seen[current.index()] = true;
        let pred = graph
            .neighbors_directed(current, Direction::Incoming)
            .find(|p| in_degree[p.index()] > 0)
            .expect("a node left by Kahn's algorithm has a predecessor left too");
        if seen[pred.index()] {
            return Err((pred, current));
        }
        current = pred;
    }
}

/// Assigns each selected node a wave: one more than the highest wave of the selected nodes it
/// depends on directly (`before(n)`), 0 when it depends on none. `order` must list every
/// selected node after all nodes that `before` returns for it. Returns the waves, each sorted
/// by `order` position.
pub(crate) fn waves<T: Copy>(
    order: &[T],
    index_of: impl Fn(T) -> usize,
    before: impl Fn(T) -> Vec<T>,
    capacity: usize,
) -> Vec<Vec<T>> {
    let mut wave_of: Vec<Option<usize>> = vec![None; capacity];
    let mut waves: Vec<Vec<T>> = Vec::new();
    for &n in order {
        let wave = before(n)
            .into_iter()
            .map(|p| wave_of[index_of(p)].expect("dependencies come earlier in the order") + 1)
            .max()
            .unwrap_or(0);
        wave_of[index_of(n)] = Some(wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(n);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_a_diamond_and_names_an_edge_of_a_cycle() {
        let mut g = DiGraph::<&str, ()>::new();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        let d = g.add_node("d");
        g.extend_with_edges([(a, b), (a, c), (b, d), (c, d)]);
        let order = topological(&g).unwrap();
        let pos = |n: NodeIndex| order.iter().position(|&m| m == n).unwrap();
        for e in g.edge_indices() {
            let (x, y) = g.edge_endpoints(e).unwrap();
            assert!(pos(x) < pos(y));
        }

        // d -> b closes b -> d -> b; a and c stay orderable but the result is an edge on it.
        g.add_edge(d, b, ());
        let (from, to) = topological(&g).unwrap_err();
        assert!(
            [(b, d), (d, b)].contains(&(from, to)),
            "{from:?} -> {to:?} is not on the cycle"
        );
    }

    #[test]
    fn waves_are_one_past_the_highest_dependency() {
        // 0 -> 2, 1 -> 2, 2 -> 3; 4 alone.
        let deps: [&[usize]; 5] = [&[], &[], &[0, 1], &[2], &[]];
        let waves = waves(&[0, 1, 2, 3, 4], |n| n, |n| deps[n].to_vec(), 5);
        assert_eq!(waves, vec![vec![0, 1, 4], vec![2], vec![3]]);
    }
}
