//! `reconciler sync DIR`: one reconcile pass against a cluster, then exit.

use std::io::Write;
use std::time::Duration;

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs, parse_duration};
use crate::sources::{self, SourceArgs};
use crate::sync;

/// Arguments of `reconciler sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
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
    /// How long a weights change waits for the versions it names to become Available.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub wait_timeout: Duration,
    /// Create missing namespaces of the objects to create.
    #[arg(long)]
    pub create_namespace: bool,
}

impl ApplyArgs {
    /// The sync options for these arguments and sources.
    pub fn options(&self, source: &SourceArgs, revision: Option<String>) -> sync::Options {
        sync::Options {
            instance: source.instance.clone(),
            namespace: source.namespace.clone(),
            prune: !self.no_prune,
            allow_empty: self.allow_empty,
            concurrency: usize::from(self.concurrency),
            wait_timeout: self.wait_timeout,
            create_namespace: self.create_namespace,
            revision,
            ..sync::Options::default()
        }
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
    let options = args.apply.options(&args.source, None);
    runtime()?.block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        let result = sync::sync(&cluster, output.manifests, &options).await;
        cluster.close().await;
        report(result)
    })
}

/// Prints what a pass did, or why it failed; the outcome for the exit code.
pub fn report(result: Result<sync::Outcome, sync::Error>) -> anyhow::Result<Outcome> {
    match result {
        Ok(outcome) => {
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
            writeln!(
                out,
                "sync complete: {} created, {} updated, {} weight changes, {} deleted, {} unchanged",
                outcome.count("create"),
                outcome.count("update"),
                outcome.count("weights"),
                outcome.count("delete"),
                outcome.unchanged
            )?;
            Ok(Outcome::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Outcome::Failed)
        }
    }
}
