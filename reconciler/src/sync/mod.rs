//! One reconcile pass, and the live diff that previews it (DESIGN sections 5 and 6).
//!
//! [`prepare`] reads the live state (inventory + one LIST per kind and namespace) and computes
//! the plan of the `graph` crate. [`sync`] then validates everything with a server-side dry run,
//! and only when every object passes records the inventory and applies the plan wave by wave
//! with server-side apply (bounded concurrency within a wave), deletes what is pruned, and
//! records the inventory again. [`diff`] dry-runs the objects that may change and compares them
//! with live.
//!
//! - `options`: what a pass is asked to do and what it did;
//! - `prepare`: the live state and the plan; `prune`: what may be deleted, and the deletion;
//! - `apply`: one object's server-side apply, the plan's dry run, namespaces, the inventory;
//! - `waves`: the plan's waves and the rollouts of a pass; `diff`: the live diff.

mod apply;
mod diff;
mod options;
mod prepare;
mod prune;
mod waves;

use std::collections::BTreeSet;

use graph::{DependencyGraph, Plan};
use model::{Manifest, ObjectKey};

pub use self::diff::diff;
pub use self::options::{Options, Outcome};
pub use self::prepare::{Prepared, prepare};
use crate::cluster::Cluster;
use crate::cluster::live::LiveState;
use crate::error::Error;

/// Runs one reconcile pass.
pub async fn sync(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Outcome, Error> {
    sync_returning(cluster, manifests, options).await.0
}

/// Runs one reconcile pass and gives the manifests back (none when they could not be planned),
/// so that a caller that runs several passes over one render does not copy it for each.
pub async fn sync_returning(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> (Result<Outcome, Error>, Vec<Manifest>) {
    let Prepared { graph, live, plan } = match prepare(cluster, manifests, options).await {
        Ok(p) => p,
        Err(e) => return (Err(e), Vec::new()),
    };
    let outcome = apply_plan(cluster, &graph, live, plan, options).await;
    (outcome, graph.into_manifests())
}

/// The steps of a pass after [`prepare`]: the dry run, the inventory, the waves, the
/// rollouts that have not ended, the inventory again.
async fn apply_plan(
    cluster: &Cluster,
    graph: &DependencyGraph,
    live: LiveState,
    plan: Plan,
    options: &Options,
) -> Result<Outcome, Error> {
    tracing::debug!(
        live = live.objects.len(),
        steps = plan.steps().count(),
        "read the live state and planned"
    );
    let desired: BTreeSet<ObjectKey> = graph.manifests().iter().map(|m| m.object.key()).collect();
    let mut outcome = Outcome::planned(&plan);
    outcome.versions = live.versions.clone();
    // The inventory once the pass is over: the render, and the deletions held back.
    let inventory_after: BTreeSet<ObjectKey> = desired
        .iter()
        .cloned()
        .chain(outcome.withheld.iter().cloned())
        .collect();
    // Rollouts that have not ended: driven in this pass even when the plan has no Weights step
    // for them (the last step still bakes), and their Servers' Components are not deleted
    // meanwhile (an abort may move traffic back to them).
    let unfinished = prune::unfinished_rollouts(&live);
    if plan.is_empty() && unfinished.is_empty() {
        if !live.inventory.exists || live.inventory.keys != inventory_after {
            apply::record_inventory(cluster, options, &inventory_after).await?;
        }
        return Ok(outcome);
    }

    if options.create_namespace {
        apply::create_namespaces(cluster, &plan).await?;
    }
    apply::dry_run(cluster, &plan, &live, options.concurrency).await?;

    // Record first what is about to be applied, so that an interrupted pass can still prune it.
    let inventory_during: BTreeSet<ObjectKey> =
        live.inventory.keys.union(&desired).cloned().collect();
    if !live.inventory.exists || inventory_during != live.inventory.keys {
        apply::record_inventory(cluster, options, &inventory_during).await?;
    }

    let mut live = live;
    waves::restore_probed(&mut live, graph, &plan, &unfinished);
    let pass = waves::Pass::new(cluster, options, graph, &live, unfinished);
    pass.watch_created_components(&plan);
    let mut failures = pass.run_waves(&plan, &mut outcome).await?;
    if failures.is_empty() {
        failures = pass.drive_unfinished(graph, &mut outcome).await?;
    }
    if !failures.is_empty() {
        return Err(Error::Apply {
            failures,
            applied: outcome.done.len(),
        });
    }
    if inventory_after != inventory_during {
        apply::record_inventory(cluster, options, &inventory_after).await?;
    }
    Ok(outcome)
}
