//! The first step of a pass and of a diff: read the live state and plan the way from it to the
//! render.

use std::collections::BTreeSet;

use graph::{DependencyGraph, Live, Plan};
use model::Manifest;

use super::{Options, prune};
use crate::cluster::Cluster;
use crate::cluster::live::{self, LiveState};
use crate::error::Error;

/// The live state and the plan from it to the render.
pub struct Prepared {
    /// The desired objects as a graph.
    pub graph: DependencyGraph,
    /// What the cluster has.
    pub live: LiveState,
    /// The steps from live to desired.
    pub plan: Plan,
}

/// Reads the live state and plans the way to `manifests`.
pub async fn prepare(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Prepared, Error> {
    let graph = DependencyGraph::new(manifests).map_err(Error::Plan)?;
    let namespaces: BTreeSet<String> = graph
        .manifests()
        .iter()
        .map(|m| m.object.key().namespace)
        .collect();
    let mut live = live::read_against(
        cluster,
        &options.instance,
        &options.namespace,
        &namespaces,
        Some(&graph),
    )
    .await?;
    if graph.manifests().is_empty() && !options.allow_empty && !live.objects.is_empty() {
        return Err(Error::EmptyRender {
            live: live.objects.len(),
            instance: options.instance.clone(),
        });
    }
    // The label and annotation keys the reconciler applied before: one removed from the sources
    // is an update (server-side apply then removes it). The objects read as unchanged were
    // compared already, and kept slim.
    let owned = live
        .objects
        .iter()
        .filter(|(k, _)| !live.unchanged.contains(k))
        .map(|(k, o)| (k.clone(), o.owned.clone()));
    let owned: Vec<_> = owned.collect();
    // A model object is shared, not copied, by a clone: the plan reads the same objects. The
    // keys found unchanged are lent to it, and given back.
    let mut state = Live::new(live.objects.values().map(|o| o.object.clone()).collect())
        .with_prune(prune::candidates(&live, options))
        .with_owned(owned);
    state.unchanged = std::mem::take(&mut live.unchanged);
    let plan = graph::plan(&graph, &state);
    live.unchanged = state.unchanged;
    let plan = plan.map_err(Error::Plan)?;
    Ok(Prepared { graph, live, plan })
}
