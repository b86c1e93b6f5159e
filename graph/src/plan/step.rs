//! What a plan is made of: [`Step`]s with an [`Action`] each, grouped in [`Wave`]s of one
//! [`Phase`], and the desired nodes that need nothing ([`Unchanged`]) or whose deletion is
//! held back ([`Withheld`]).

use std::fmt;

use model::{Object, ObjectKey};
use serde::Serialize;

use super::live::Weights;
use crate::dag::Node;

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
        /// The desired weights, which the step ends with.
        to: Weights,
    },
    /// Take every weight off a Server that is being deleted, before its Components go.
    Drain {
        /// The live Server, with its weights emptied and no status.
        object: Object,
        /// Its live weights, which the drain takes away.
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
    /// Its position in the plan; other steps name it in `depends_on`.
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

/// A desired node whose live counterpart already is as desired. (No identity, unlike a step:
/// in the daemon's usual pass nearly every node is unchanged, and the plan would make a string
/// for each; [`crate::DependencyGraph::get`] has the object.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchanged {
    /// The desired node: an object, or a Server's Weights.
    pub node: Node,
}

/// A prune candidate that is not deleted because live traffic still goes to it and no step of
/// the plan takes it away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Withheld {
    /// The Component whose deletion is held back.
    pub node: Node,
    /// Its platform identity `<domain>:<server>@<version>`.
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
