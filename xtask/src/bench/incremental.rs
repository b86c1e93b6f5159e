//! The daemon's incremental render measured in process: a generated repository committed to Git,
//! a commit that changes one file, and the render and plan of that commit with a warm
//! `render::Incremental` (as `reconciler run` keeps one, the objects of the parent's pass given
//! back to it) against a full render and plan.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use graph::{DependencyGraph, Live};
use model::{Manifest, Object};
use reconciler::git::{GitTree, WorkTree};
use serde::Serialize;

/// What a one-file commit costs the daemon, next to a full render.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Incremental {
    /// Full render and plan of the changed commit, with no cache (median).
    pub full_seconds: f64,
    /// Render and plan of the changed commit with the cache warm from its parent (median).
    pub one_file_seconds: f64,
    /// The render part of `one_file_seconds`.
    pub one_file_render_seconds: f64,
    /// The plan part of `one_file_seconds`: `DependencyGraph::new` and `graph::plan`.
    pub one_file_plan_seconds: f64,
    /// How many files the incremental render read and rendered again.
    pub files_rerendered: usize,
}

/// The file the commit changes, and how: the traffic split of its first Server.
const CHANGED: &str = "domain-0.yaml";
const WEIGHTS: (&str, &str) = (
    "versionWeights: {1.1.0: 90, 1.2.0: 10}",
    "versionWeights: {1.1.0: 80, 1.2.0: 20}",
);

/// Measures the repository generated in `dir` (`xtask generate`), `repeat` times each.
pub fn measure(dir: &Path, repeat: usize) -> anyhow::Result<Incremental> {
    let work = tempfile::tempdir()?;
    let repo = WorkTree::init(work.path())?;
    copy(dir, work.path())?;
    let parent = repo.commit("generated")?;
    let text = std::fs::read_to_string(work.path().join(CHANGED))
        .with_context(|| format!("{} has no {CHANGED}", dir.display()))?;
    if !text.contains(WEIGHTS.0) {
        bail!("{CHANGED} does not split traffic as `xtask generate` writes it");
    }
    repo.write(CHANGED, &text.replacen(WEIGHTS.0, WEIGHTS.1, 1))?;
    let changed = repo.commit("one file")?;
    let git = repo.repository();
    let at = |rev: &str| GitTree::at_revision(git, rev);
    let options = render::Options {
        path: String::new(),
        instance: "default".into(),
        namespace: "vimana".into(),
        limits: render::Limits::default(),
    };
    // The live state a pass of the changed commit meets: the parent's objects.
    let before = render::render(&at(&parent)?, &options);
    if before.diagnostics.has_errors() {
        bail!("the generated repository does not render");
    }
    let live: Vec<Object> = before.manifests.into_iter().map(|m| m.object).collect();
    let live = || Live::new(live.clone());

    let (mut full, mut one, mut renders, mut plans) = (vec![], vec![], vec![], vec![]);
    let mut out = Incremental::default();
    for _ in 0..repeat.max(1) {
        let state = live();
        let start = Instant::now();
        let output = render::render(&at(&changed)?, &options);
        plan(output.manifests, &state)?;
        full.push(start.elapsed().as_secs_f64());

        // As the daemon does: the pass of the parent gives its objects back to the cache.
        let mut cache = render::Incremental::new();
        let previous = cache.render(&at(&parent)?, &options);
        cache.give_back(plan(previous.manifests, &live())?);
        let state = live();
        let start = Instant::now();
        let output = cache.render(&at(&changed)?, &options);
        let rendered = start.elapsed().as_secs_f64();
        if output.diagnostics.has_errors() {
            bail!("the changed repository does not render");
        }
        let manifests = plan(output.manifests, &state)?;
        let total = start.elapsed().as_secs_f64();
        cache.give_back(manifests);
        one.push(total);
        renders.push(rendered);
        plans.push(total - rendered);
        out.files_rerendered = cache.rerendered();
    }
    out.full_seconds = median(full);
    out.one_file_seconds = median(one);
    out.one_file_render_seconds = median(renders);
    out.one_file_plan_seconds = median(plans);
    Ok(out)
}

/// The plan of a pass, as `xtask bench` times it; gives the manifests back, as a pass does.
fn plan(manifests: Vec<Manifest>, live: &Live) -> anyhow::Result<Vec<Manifest>> {
    let dag = DependencyGraph::new(manifests).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    graph::plan(&dag, live).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(dag.into_manifests())
}

/// Copies the files of `from` into `to`, folders included.
fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
