//! The dependency graph of rendered objects (Vimana → Domain → Server → Component) and the plan of
//! waves that `diff`, `sync`, the rollout engine and the daemon share. Pure: no I/O.
//!
//! - [`DependencyGraph::new`] checks a set of desired objects (dangling references, duplicate
//!   identities, cycles: [`Error`]) and builds the DAG, with one synthetic Weights node per
//!   Server.
//! - [`plan()`] compares it with a [`Live`] state and returns a [`Plan`]: apply waves in
//!   dependency order, then delete waves in reverse order, with the weight-safety rule.
//! - [`owned_keys`] reads from a live object's `managedFields` the label and annotation keys the
//!   reconciler owns, which [`Live::with_owned`] gives the plan so that it sees keys removed
//!   from the sources.
//! - [`view`] shows a graph and its plan as text, Graphviz DOT or JSON.

mod dag;
mod error;
mod index;
mod order;
mod owned;
pub mod plan;
pub mod view;

pub use dag::{DependencyGraph, Edge, EdgeKind, Node};
pub use error::{End, Error, IdentityKind};
pub use owned::{OwnedKeys, owned_keys};
pub use plan::{
    Action, Live, Phase, Plan, Step, StepId, Summary, Unchanged, Wave, Weights, Withheld, plan,
};
