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
//!
//! The parts, one module each: `live` (what a plan starts from), `step` (what it is made
//! of), `apply` and `delete` (the two phases, the weight-safety rule in the latter), `changes`
//! (what an update changes, and what a live Component may not change) and `draft` (steps
//! before they have ids, and their numbering).

mod apply;
mod changes;
mod delete;
mod draft;
mod live;
mod step;

use crate::dag::DependencyGraph;
use crate::error::Error;
use crate::index;

pub use changes::managed_changes;
pub use live::{Live, Weights};
pub use step::{Action, Phase, Plan, Step, StepId, Summary, Unchanged, Wave, Withheld};

use delete::Removals;
use draft::Waves;

/// Plans the way from `live` to the objects of `desired`. Fails when a live Component would have
/// to change version, image or Kumori digest ([`Error::ImmutableComponent`]).
pub fn plan(desired: &DependencyGraph, live: &Live) -> Result<Plan, Vec<Error>> {
    let live_keys = index::keys(&live.objects);
    let (applies, unchanged) = apply::classify(desired, live, &live_keys)?;
    let apply_waves = apply::waves(desired, &applies);
    let removals = Removals::new(desired, live, &live_keys, &applies);
    let delete_waves = removals.waves();
    let waves = Waves {
        applies,
        apply_waves,
        delete_nodes: removals.graph.node_count(),
        deletions: removals.drafts,
        delete_waves,
    };
    Ok(Plan {
        waves: waves.number(),
        unchanged,
        withheld: removals.withheld,
    })
}
