//! `reconciler sync DIR`: one reconcile pass against a cluster, then exit.

use std::io::Write;
use std::time::Duration;

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs};
use crate::rollout;
use crate::rollout::analysis::Analysis;
use crate::sources::{self, SourceArgs};
use crate::sync;

/// Arguments of `reconciler sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the sources are.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Which cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// How a sync applies and prunes.
#[derive(clap::Args, Debug, Clone)]
pub struct ApplyArgs {
    /// Do not delete objects that the sources no longer have.
    #[arg(long)]
    pub no_prune: bool,
    /// Allow a render with no objects to delete every object of the instance.
    #[arg(long)]
    pub allow_empty: bool,
    /// Objects applied at the same time within a wave.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Return after the first pass instead of waiting for the rollouts it starts.
    #[arg(long)]
    pub no_wait: bool,
    /// Create missing namespaces of the objects to create.
    #[arg(long)]
    pub create_namespace: bool,
    /// The daemon's configuration file: its rollout defaults, analyses and notification URLs
    /// apply to this sync too.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

impl ApplyArgs {
    /// The sync options for these arguments and sources (and the configuration file, if one
    /// is given).
    pub fn options(
        &self,
        source: &SourceArgs,
        revision: Option<String>,
    ) -> anyhow::Result<sync::Options> {
        let mut options = sync::Options {
            instance: source.instance.clone(),
            namespace: source.namespace.clone(),
            prune: !self.no_prune,
            allow_empty: self.allow_empty,
            concurrency: usize::from(self.concurrency),
            create_namespace: self.create_namespace,
            revision,
            ..sync::Options::default()
        };
        if let Some(path) = &self.config {
            let config = crate::daemon::config::Config::load(path)?;
            options.rollout = config.rollout.defaults.clone();
            options.analyses = config
                .rollout
                .analyses
                .iter()
                .map(|(name, a)| (name.clone(), Analysis::from_config(name, a)))
                .collect();
            options.notify = config.notify.iter().map(|n| n.url.clone()).collect();
        }
        Ok(options)
    }
}

/// A multi-threaded runtime for the commands that talk to a cluster.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Renders DIR and makes the cluster equal to it.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let Some(output) = sources::render_reporting(&args.source)? else {
        return Ok(Outcome::Failed);
    };
    let options = args.apply.options(&args.source, None)?;
    runtime()?.block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        let outcome = passes(&cluster, &output.manifests, &options, !args.apply.no_wait).await;
        cluster.close().await;
        outcome
    })
}

/// Runs passes until no rollout of the sources is in progress (or only one with `wait` off),
/// sleeping until the earliest time a rollout asked to be looked at again: the number of passes
/// follows the rollout steps, not the wall time. Prints each pass's steps and one summary.
pub async fn passes(
    cluster: &Cluster,
    manifests: &[model::Manifest],
    options: &sync::Options,
    wait: bool,
) -> anyhow::Result<Outcome> {
    let mut totals = Totals::default();
    loop {
        let result = sync::sync(cluster, manifests.to_vec(), options).await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Outcome::Failed);
            }
        };
        print_pass(&outcome)?;
        totals.add(&outcome);
        let aborted = outcome.aborted();
        let again = (wait && aborted.is_empty() && outcome.rollouts_in_progress())
            .then(|| outcome.next_wake())
            .flatten();
        let Some(wake) = again else {
            let state = if !aborted.is_empty() {
                "failed"
            } else if outcome.rollouts_in_progress() {
                "in progress (rollouts continue on the next sync)"
            } else {
                "complete"
            };
            println!(
                "sync {state}: {} created, {} updated, {} weight changes, {} deleted, {} unchanged",
                totals.create, totals.update, totals.weights, totals.delete, outcome.unchanged
            );
            for (k, why) in &aborted {
                eprintln!(
                    "error: the rollout of Server {}/{} was rolled back: {why}",
                    k.namespace, k.name
                );
            }
            return Ok(if aborted.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failed
            });
        };
        let pause = (wake - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(pause + Duration::from_millis(50)).await;
    }
}

/// Steps done over the passes of one sync.
#[derive(Default)]
struct Totals {
    create: usize,
    update: usize,
    weights: usize,
    delete: usize,
}

impl Totals {
    fn add(&mut self, o: &sync::Outcome) {
        self.create += o.count("create");
        self.update += o.count("update");
        self.weights += o.count("weights");
        self.delete += o.count("delete");
    }
}

/// Prints the steps of one pass and the state of its rollouts.
fn print_pass(outcome: &sync::Outcome) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for (verb, key) in &outcome.done {
        writeln!(out, "{verb:>7} {} {}/{}", key.kind, key.namespace, key.name)?;
    }
    for key in &outcome.withheld {
        writeln!(
            out,
            "   kept {} {}/{} (still carries traffic; deleted once its weight is 0)",
            key.kind, key.namespace, key.name
        )?;
    }
    for d in &outcome.rollouts {
        let k = &d.key;
        let status = match &d.advance.status {
            rollout::Status::Idle => continue,
            rollout::Status::Progressing => match &d.advance.state {
                Some(s) => format!(
                    "step {}/{} ({}%): {}",
                    s.step.map_or(0, |i| i + 1),
                    s.steps.len(),
                    s.step.map_or(0, |i| s.steps[i]),
                    crate::report::weights_text(&s.current_weights())
                ),
                None => "baking".into(),
            },
            rollout::Status::Waiting(why) => format!("waiting: {why}"),
            rollout::Status::Paused => "paused".into(),
            rollout::Status::Succeeded => "succeeded".into(),
            rollout::Status::Aborted(why) => {
                format!("ABORTED, weights back to the baseline: {why}")
            }
            rollout::Status::Held(why) => format!(
                "held: this target was aborted before ({why}); change it in Git or run `reconciler rollout retry`"
            ),
        };
        writeln!(out, "rollout Server {}/{}: {status}", k.namespace, k.name)?;
    }
    for key in &outcome.deferred {
        writeln!(
            out,
            "  later {} {}/{} (after its rollout)",
            key.kind, key.namespace, key.name
        )?;
    }
    Ok(())
}
