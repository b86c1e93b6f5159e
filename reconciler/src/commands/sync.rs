//! `reconciler sync DIR`: one reconcile pass against a cluster, then exit.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs};
use crate::daemon::GitSource;
use crate::daemon::config::{Auth, SourceConfig, default_cache_dir};
use crate::git::GitTree;
use crate::rollout;
use crate::sources::{self, SourceArgs};
use crate::sync;
use crate::verb::Verb;

/// Arguments of `reconciler sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of Vimana sources (or give `--repo`).
    #[arg(
        value_name = "DIR",
        required_unless_present = "repo",
        conflicts_with = "repo"
    )]
    pub dir: Option<PathBuf>,
    /// Git repository to sync from instead of a folder: a path, `file://`, `https://`,
    /// `ssh://` or `git://` URL. It is cloned into `--cache-dir`, then fetched.
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// Branch, tag or commit of `--repo`.
    #[arg(
        long = "ref",
        value_name = "REF",
        default_value = "main",
        requires = "repo"
    )]
    pub reference: String,
    /// Folder of the sources inside `--repo`.
    #[arg(long, value_name = "P", default_value = "", requires = "repo")]
    pub path: String,
    /// Where clones of `--repo` are kept (default: `$XDG_CACHE_HOME/vimana-reconciler`).
    #[arg(long, value_name = "DIR", requires = "repo")]
    pub cache_dir: Option<PathBuf>,
    /// Reconciler instance name, written to the `reconciler.vimana.host/instance` label.
    #[arg(long, default_value = "default", env = "RECONCILER_INSTANCE")]
    pub instance: String,
    /// Namespace of objects whose source names none.
    #[arg(long, default_value = "vimana", env = "RECONCILER_NAMESPACE")]
    pub namespace: String,
    /// Change a bound of the render, as `KEY=VALUE` (`fileBytes=16MiB`, `depth=64`); repeat
    /// for several. `docs/security.md` lists the limits and their defaults.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = sources::parse_limit)]
    pub limits: Vec<String>,
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
    /// API requests in flight at once, for the whole process (and objects applied at once
    /// within a wave); fewer while the server answers 429.
    #[arg(long, default_value_t = crate::cluster::throttle::DEFAULT_MAX_IN_FLIGHT as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
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
        instance: &str,
        namespace: &str,
        revision: Option<String>,
    ) -> anyhow::Result<sync::Options> {
        let mut options = sync::Options {
            instance: instance.to_owned(),
            namespace: namespace.to_owned(),
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
            options.analyses = config.rollout.analyses.clone();
            options.notify = config.notify.iter().map(|n| n.url.clone()).collect();
        }
        Ok(options)
    }
}

/// Clones or fetches `--repo` into the cache and renders its revision from Git objects.
/// Diagnostics go to stderr; `None` when there were errors.
fn render_repo(args: &Args, url: &str) -> anyhow::Result<Option<(render::Output, Option<String>)>> {
    let config = SourceConfig {
        url: url.to_owned(),
        reference: args.reference.clone(),
        path: args.path.trim_matches('/').to_owned(),
        auth: Auth::None,
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        timeout: Duration::from_secs(120),
    };
    let source = GitSource::new(&config)?;
    let revision = source.fetch()?;
    let repo = source.open()?;
    let tree = GitTree::at_revision(&repo, &revision.commit)?;
    let output = render::render(
        &tree,
        &render::Options {
            path: config.path.clone(),
            instance: args.instance.clone(),
            namespace: args.namespace.clone(),
            limits: sources::limits(&args.limits),
        },
    );
    let display = |p: &str| format!("{}@{}:{p}", source.display_url(), &revision.commit[..12]);
    sources::print_diagnostics(&output.diagnostics, &display);
    if output.diagnostics.has_errors() {
        eprintln!(
            "error: {} error(s) in the sources at {}; nothing was applied",
            output.diagnostics.error_count(),
            &revision.commit[..12]
        );
        return Ok(None);
    }
    eprintln!(
        "rendered {} objects from {} at {} ({})",
        output.manifests.len(),
        source.display_url(),
        &revision.commit[..12],
        revision.summary
    );
    Ok(Some((output, Some(revision.commit))))
}

/// A multi-threaded runtime for the commands that run servers (the daemon, the demo).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The runtime of a command that talks to `cluster`: one thread, which is all a client
/// waiting on the network needs (and saves waking threads up for every answer), unless the
/// cluster is embedded and serves from the same runtime.
pub fn client_runtime(cluster: &ClusterArgs) -> anyhow::Result<tokio::runtime::Runtime> {
    if cluster.cluster.is_some() {
        return runtime();
    }
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Renders DIR (or the revision of `--repo`) and makes the cluster equal to it.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let (output, revision) = match (&args.dir, &args.repo) {
        (Some(dir), _) => {
            let source = SourceArgs {
                dir: dir.clone(),
                instance: args.instance.clone(),
                namespace: args.namespace.clone(),
                limits: args.limits.clone(),
            };
            match sources::render_reporting(&source)? {
                Some(output) => (output, None),
                None => return Ok(Outcome::Failed),
            }
        }
        (None, Some(url)) => match render_repo(args, url)? {
            Some(rendered) => rendered,
            None => return Ok(Outcome::Failed),
        },
        (None, None) => unreachable!("clap requires DIR or --repo"),
    };
    let options = args
        .apply
        .options(&args.instance, &args.namespace, revision)?;
    let cluster_args = ClusterArgs {
        max_in_flight: Some(options.concurrency),
        ..args.cluster.clone()
    };
    client_runtime(&cluster_args)?.block_on(async {
        let cluster = Cluster::connect(&cluster_args).await?;
        let outcome = passes(&cluster, output.manifests, &options, !args.apply.no_wait).await;
        cluster.close().await;
        outcome
    })
}

/// Runs passes until no rollout of the sources is in progress (or only one with `wait` off),
/// sleeping until the earliest time a rollout asked to be looked at again: the number of passes
/// follows the rollout steps, not the wall time. Prints each pass's steps and one summary.
pub async fn passes(
    cluster: &Cluster,
    mut manifests: Vec<model::Manifest>,
    options: &sync::Options,
    wait: bool,
) -> anyhow::Result<Outcome> {
    let mut totals = Totals::default();
    loop {
        // Each pass plans from the render and hands it back: the render is never copied.
        let (result, planned) = sync::sync_returning(cluster, manifests, options).await;
        manifests = planned;
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
            for (k, status) in &aborted {
                let why = status.reason().unwrap_or_default();
                match status {
                    rollout::Status::Held(_) => eprintln!(
                        "error: the target of Server {}/{} was rolled back before and is held: {why}",
                        k.namespace, k.name
                    ),
                    _ => eprintln!(
                        "error: the rollout of Server {}/{} was rolled back: {why}",
                        k.namespace, k.name
                    ),
                }
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
        self.create += o.count(Verb::Create);
        self.update += o.count(Verb::Update);
        self.weights += o.count(Verb::Weights);
        self.delete += o.count(Verb::Delete);
    }
}

/// Prints the steps of one pass and the state of its rollouts.
fn print_pass(outcome: &sync::Outcome) -> std::io::Result<()> {
    // One write per pass, not per line (a pass may print thousands).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
    out.flush()
}
