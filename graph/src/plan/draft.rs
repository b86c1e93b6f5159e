//! Steps before they have ids ([`Draft`]s, whose dependencies are internal references), and
//! their numbering: each wave sorted by node, ids counted in wave order, dependencies turned
//! into ids.

use foldhash::HashMap;

use petgraph::graph::NodeIndex;

use super::step::{Action, Phase, Step, StepId, Wave};
use crate::dag::Node;

/// A step before it has an id: the dependencies are still internal references.
pub(super) struct Draft {
    pub node: Node,
    pub identity: String,
    pub action: Action,
    pub depends_on: Vec<Ref>,
}

/// The drafts of the apply phase, by node of the desired graph. Boxed: a slot per node, and
/// most nodes of a steady state have no step (a draft inline is the size of an object).
pub(super) struct Drafts(Vec<Option<Box<Draft>>>);

impl Drafts {
    pub fn new(nodes: usize) -> Drafts {
        Drafts((0..nodes).map(|_| None).collect())
    }
    pub fn has(&self, n: NodeIndex) -> bool {
        self.0[n.index()].is_some()
    }
    pub fn insert(&mut self, n: NodeIndex, draft: Draft) {
        self.0[n.index()] = Some(Box::new(draft));
    }
    pub fn get(&self, n: NodeIndex) -> &Draft {
        self.0[n.index()].as_ref().expect("a draft per step")
    }
    pub fn take(&mut self, n: NodeIndex) -> Draft {
        *self.0[n.index()].take().expect("a draft per step")
    }
    /// How many nodes the drafts are indexed by.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Internal reference to a step: a node of the desired graph, or of the deletion graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Ref {
    Apply(NodeIndex),
    Delete(NodeIndex),
}

/// The waves of drafts of a plan: apply waves (by desired node, in `applies`), then delete
/// waves (by node of the deletion graph, in `deletions`).
pub(super) struct Waves {
    pub applies: Drafts,
    pub apply_waves: Vec<Vec<NodeIndex>>,
    pub deletions: HashMap<NodeIndex, Draft>,
    pub delete_waves: Vec<Vec<NodeIndex>>,
    /// The node count of the deletion graph.
    pub delete_nodes: usize,
}

impl Waves {
    /// Numbers the steps: each wave sorted by node, moving indices rather than drafts, ids in
    /// wave order, dependencies as sorted ids.
    pub fn number(self) -> Vec<Wave> {
        let (apply_nodes, delete_nodes) = (self.applies.len(), self.delete_nodes);
        let all = self.sorted();
        let mut apply_ids: Vec<Option<StepId>> = vec![None; apply_nodes];
        let mut delete_ids: Vec<Option<StepId>> = vec![None; delete_nodes];
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
        all.into_iter()
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
            .collect()
    }

    /// The drafts of every wave, each wave sorted by node.
    fn sorted(self) -> Vec<(Phase, Vec<(Ref, Draft)>)> {
        let Waves {
            mut applies,
            apply_waves,
            mut deletions,
            delete_waves,
            ..
        } = self;
        let mut all = Vec::new();
        for mut wave in apply_waves {
            wave.sort_unstable_by(|a, b| applies.get(*a).node.cmp(&applies.get(*b).node));
            let steps = wave
                .into_iter()
                .map(|n| (Ref::Apply(n), applies.take(n)))
                .collect();
            all.push((Phase::Apply, steps));
        }
        for mut wave in delete_waves {
            wave.sort_unstable_by(|a, b| deletions[a].node.cmp(&deletions[b].node));
            let steps = wave
                .into_iter()
                .map(|n| {
                    (
                        Ref::Delete(n),
                        deletions.remove(&n).expect("a draft per step"),
                    )
                })
                .collect();
            all.push((Phase::Delete, steps));
        }
        all
    }
}
