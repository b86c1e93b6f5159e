//! `xtask bench`: the end-to-end benchmark of `docs/performance.md`. For each size it generates
//! a repository (`xtask generate`), times render and plan in this process, starts a fresh
//! simulated cluster in this process, and runs, as child processes timed with `/usr/bin/time`
//! (wall time and peak RSS), `kubectl apply --server-side` and `kubectl diff --server-side` of
//! the rendered manifests next to the `reconciler` binary's `sync`, no-op `sync` and `diff`,
//! counting the API calls of each from the cluster's metrics. A second cluster per size answers
//! every request after a delay (`--latency`, 5 ms: a real API server's milliseconds, where the
//! loopback one answers in microseconds), and the initial sync and `kubectl apply` run again
//! there. In process it also times the daemon's incremental render and plan of a one-file
//! commit (`incremental`). It prints markdown tables (the goals of issue 18 next to their
//! figures last) and can write the figures as JSON and a plot as SVG.

mod goals;
mod incremental;
mod table;
mod timed;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use graph::{DependencyGraph, Live};
use model::{Object, ObjectKey};
use reconciler::cluster::parse_duration;
use reconciler::sources::FsTree;
use serde::Serialize;

use crate::generate;
pub use incremental::Incremental;
pub use table::{svg, table};
use timed::{render_to, timed};

/// Arguments of `xtask bench`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Repository sizes in objects (rounded to whole Domains of 101 objects).
    #[arg(long, value_delimiter = ',', default_value = "1500,15000,40000,100000")]
    pub sizes: Vec<usize>,
    /// The kubectl to compare with.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/kubectl")]
    pub kubectl: PathBuf,
    /// Do not run kubectl.
    #[arg(long)]
    pub no_kubectl: bool,
    /// The largest size kubectl runs at; larger ones measure only ours (kubectl takes about
    /// half an hour at 100k objects). Default: every size.
    #[arg(long, value_name = "OBJECTS")]
    pub kubectl_up_to: Option<usize>,
    /// Longest a single kubectl run may take; a longer one is stopped and reported as capped.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub kubectl_timeout: Duration,
    /// Longest a single run of ours may take (a safety net: a capped run is reported too).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long the simulated operator waits before it marks an object Available (an initial
    /// sync waits for it before it moves weights).
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    pub operator_delay: Duration,
    /// The delay of every request in the latency mode (a second cluster per size, where the
    /// initial sync and `kubectl apply` run again); `0s` leaves the mode out.
    #[arg(long, value_name = "DURATION", default_value = "5ms", value_parser = parse_duration)]
    pub latency: Duration,
    /// The delay of the requests that write to etcd in the latency mode (default: the same as
    /// `--latency`; docs/simcluster.md says what is closer to etcd).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub write_latency: Option<Duration>,
    /// In-process repetitions of render and plan; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Runs of the commands against a cluster (each run on a new cluster) at sizes up to
    /// `--runs-up-to` objects; the median run of each command is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The largest size measured `--runs` times; larger ones are measured once.
    #[arg(long, value_name = "OBJECTS", default_value_t = 5_000)]
    pub runs_up_to: usize,
    /// Write the plot of time against object count here (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write every figure here (JSON).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The `reconciler` binary to measure; default: the one next to this program
    /// (`target/release/reconciler` when run as `target/release/xtask`).
    #[arg(long, value_name = "PATH")]
    pub reconciler: Option<PathBuf>,
    /// Work folder (kept); default: a temporary folder, removed at the end.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
}

/// One timed child process.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Run {
    /// Wall time in seconds (up to the cap when capped).
    pub seconds: f64,
    /// Peak resident set size in MiB.
    pub rss_mib: f64,
    /// API requests it made (all verbs, discovery included).
    pub requests: u64,
    /// Requests by verb, `verb=count` sorted by verb.
    pub by_verb: String,
    /// Stopped at the time limit.
    pub capped: bool,
    /// Exit code (`None` when killed).
    pub exit: Option<i32>,
}

/// The initial sync and `kubectl apply` against a cluster that delays every request.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Delay of every request, milliseconds.
    pub delay_ms: f64,
    /// Delay of the requests that write to etcd, milliseconds.
    pub write_delay_ms: f64,
    /// `reconciler sync` into an empty namespace.
    pub sync: Run,
    /// `kubectl apply --server-side --validate=false` of the manifests.
    pub kubectl_apply: Option<Run>,
}

/// The figures of one size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    /// Objects rendered.
    pub objects: usize,
    /// Objects bound to Kumori modules.
    pub kumori: usize,
    /// In-process render, seconds (median).
    pub render: f64,
    /// In-process graph + plan from an empty cluster (a first sync), seconds (median).
    pub plan_first: f64,
    /// In-process graph + plan against a live state equal to the render (a no-op pass), seconds.
    pub plan_noop: f64,
    /// `reconciler render DIR > file`.
    pub render_command: Run,
    /// `kubectl apply --server-side -f` of the manifests into an empty namespace.
    pub kubectl_apply: Option<Run>,
    /// `kubectl diff --server-side -f` of the changed manifests.
    pub kubectl_diff: Option<Run>,
    /// `reconciler sync` into an empty namespace.
    pub sync: Run,
    /// `reconciler sync` again, nothing to do.
    pub noop_sync: Run,
    /// `reconciler diff` of the changed repository.
    pub diff: Run,
    /// Objects the changed repository creates or changes.
    pub changed: usize,
    /// Runs against a cluster; each command's figures are those of its median run.
    pub runs: usize,
    /// The latency mode (`--latency`), when measured.
    pub latency: Option<Latency>,
    /// The daemon's incremental render and plan of a one-file commit, in process.
    pub incremental: Option<Incremental>,
}

/// Runs the benchmark.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.sizes.is_empty() {
        bail!("give at least one size");
    }
    if !args.no_kubectl && !args.kubectl.exists() {
        bail!(
            "{} not found: give --kubectl PATH or --no-kubectl",
            args.kubectl.display()
        );
    }
    let temp;
    let work = match &args.work {
        Some(w) => {
            std::fs::create_dir_all(w).with_context(|| format!("cannot create {}", w.display()))?;
            w.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    // A copy of the binary: the timed runs are this build even if the file is rebuilt meanwhile.
    let measured = match &args.reconciler {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("reconciler"),
    };
    let bin = work.join("reconciler");
    std::fs::copy(&measured, &bin).with_context(|| {
        format!(
            "cannot copy {}: build it first (cargo build --release -p reconciler) or give --reconciler PATH",
            measured.display()
        )
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let mut all = Vec::new();
    for &size in &args.sizes {
        eprintln!("== {size} objects");
        let kubectl_here = args.kubectl_up_to.is_none_or(|up_to| size <= up_to);
        let args = &Args {
            no_kubectl: args.no_kubectl || !kubectl_here,
            ..args.clone()
        };
        let figures = measure(args, &runtime, &bin, &work, size)?;
        all.push(figures);
        // Print as we go: the larger sizes take minutes.
        print!("{}", table(&all));
        println!();
    }
    print!("{}", goals::table(&all));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&all))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn measure(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    bin: &Path,
    work: &Path,
    size: usize,
) -> anyhow::Result<Figures> {
    let dir = work.join(size.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let (base, changed) = (dir.join("base"), dir.join("changed"));
    let shape = |out: &Path, bump_every| generate::Args {
        out: out.to_owned(),
        domains: size.div_ceil(101).max(1),
        servers: 25,
        versions: 3,
        bump_every,
    };
    generate::run(&shape(&base, 0))?;
    generate::run(&shape(&changed, 10))?;

    // In process: render and plan, the pure part of every pass.
    let tree = FsTree::new(&base)?;
    let options = render::Options {
        path: String::new(),
        instance: "default".into(),
        namespace: "vimana".into(),
        limits: render::Limits::default(),
    };
    let mut f = Figures::default();
    let mut render_times = Vec::new();
    let mut output = None;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let out = render::render(&tree, &options);
        render_times.push(start.elapsed().as_secs_f64());
        output = Some(out);
    }
    let output = output.expect("rendered at least once");
    if output.diagnostics.has_errors() {
        bail!("the generated repository does not render");
    }
    f.render = median(render_times);
    f.objects = output.manifests.len();
    f.kumori = output
        .manifests
        .iter()
        .filter(|m| {
            m.object
                .meta()
                .annotations
                .contains_key(model::keys::KUMORI_DIGEST)
        })
        .count();
    let objects: Vec<Object> = output.manifests.iter().map(|m| m.object.clone()).collect();
    let keys: Vec<ObjectKey> = objects.iter().map(Object::key).collect();
    let (mut first, mut noop) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat.max(1) {
        // A pass moves the render into the graph: the copies are made before the clock starts.
        let manifests = output.manifests.clone();
        let start = Instant::now();
        let dag = DependencyGraph::new(manifests).map_err(graph_errors)?;
        let plan = graph::plan(&dag, &Live::default()).map_err(graph_errors)?;
        first.push(start.elapsed().as_secs_f64());
        drop((dag, plan));
        let live = Live::new(objects.clone()).with_prune(keys.iter().cloned());
        let manifests = output.manifests.clone();
        let start = Instant::now();
        let dag = DependencyGraph::new(manifests).map_err(graph_errors)?;
        let plan = graph::plan(&dag, &live).map_err(graph_errors)?;
        noop.push(start.elapsed().as_secs_f64());
        if !plan.is_empty() {
            bail!("a live state equal to the render should need no step");
        }
    }
    f.plan_first = median(first);
    f.plan_noop = median(noop);
    drop((output, objects, keys));
    eprintln!(
        "render {:.2} s, plan {:.2} s (first sync) / {:.2} s (no-op)",
        f.render, f.plan_first, f.plan_noop
    );
    let incremental = incremental::measure(&base, args.repeat)?;
    eprintln!(
        "one-file commit: render and plan {:.3} s ({} files again), full {:.2} s",
        incremental.one_file_seconds, incremental.files_rerendered, incremental.full_seconds
    );
    f.incremental = Some(incremental);

    // The manifests kubectl applies: the same render into a namespace of its own.
    let manifests = dir.join("kubectl.yaml");
    let changed_manifests = dir.join("kubectl-changed.yaml");
    f.render_command = render_to(bin, &base, &manifests, args.timeout)?;
    render_to(bin, &changed, &changed_manifests, args.timeout)?;

    let runs = if f.objects <= args.runs_up_to {
        args.runs.max(1)
    } else {
        1
    };
    let mut all = Vec::new();
    for r in 0..runs {
        if runs > 1 {
            eprintln!("run {} of {runs}", r + 1);
        }
        let paths = Paths {
            dir: &dir,
            base: &base,
            changed: &changed,
            manifests: &manifests,
            changed_manifests: &changed_manifests,
        };
        all.push(cluster_run(args, runtime, bin, &paths)?);
    }
    let median_of = |pick: &dyn Fn(&ClusterRun) -> Option<Run>| -> Option<Run> {
        let mut v: Vec<Run> = all.iter().filter_map(pick).collect();
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        (!v.is_empty()).then(|| v[v.len() / 2].clone())
    };
    f.kubectl_apply = median_of(&|c| c.kubectl_apply.clone());
    f.kubectl_diff = median_of(&|c| c.kubectl_diff.clone());
    f.sync = median_of(&|c| Some(c.sync.clone())).unwrap_or_default();
    f.noop_sync = median_of(&|c| Some(c.noop_sync.clone())).unwrap_or_default();
    f.diff = median_of(&|c| Some(c.diff.clone())).unwrap_or_default();
    f.runs = runs;
    f.changed = all.last().map_or(0, |c| c.changed);
    if !args.latency.is_zero() {
        let mut all = Vec::new();
        for r in 0..runs {
            eprintln!(
                "latency mode ({} ms){}",
                args.latency.as_millis(),
                if runs > 1 {
                    format!(", run {} of {runs}", r + 1)
                } else {
                    String::new()
                }
            );
            all.push(latency_run(args, runtime, bin, &dir, &base, &manifests)?);
        }
        let median_of = |pick: &dyn Fn(&Latency) -> Option<Run>| -> Option<Run> {
            let mut v: Vec<Run> = all.iter().filter_map(pick).collect();
            v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            (!v.is_empty()).then(|| v[v.len() / 2].clone())
        };
        f.latency = Some(Latency {
            sync: median_of(&|l| Some(l.sync.clone())).unwrap_or_default(),
            kubectl_apply: median_of(&|l| l.kubectl_apply.clone()),
            ..all[0].clone()
        });
    }
    Ok(f)
}

/// Starts a new simulated cluster that delays every request by `--latency` (writes by
/// `--write-latency`) and runs `kubectl apply --server-side --validate=false` (kubectl at its
/// fastest: no OpenAPI download to validate against) and our initial sync on it.
fn latency_run(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    bin: &Path,
    dir: &Path,
    base: &Path,
    manifests: &Path,
) -> anyhow::Result<Latency> {
    let write = args.write_latency.unwrap_or(args.latency);
    let rule = simcluster::FaultRule {
        latency: args.latency,
        write_latency: Some(write),
        ..simcluster::FaultRule::default()
    };
    let cluster = runtime.block_on(simcluster::SimCluster::start(simcluster::Config {
        operator_delay: args.operator_delay,
        faults: vec![rule],
        ..simcluster::Config::default()
    }))?;
    let kubeconfig = dir.join("kubeconfig-latency");
    cluster.write_kubeconfig(&kubeconfig)?;
    let kc = kubeconfig.to_string_lossy().into_owned();
    let mut kubectl_apply = None;
    if !args.no_kubectl {
        let k = args.kubectl.to_string_lossy().into_owned();
        let m = manifests.to_string_lossy().into_owned();
        let argv = [
            k.as_str(),
            "--kubeconfig",
            &kc,
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
            &m,
        ];
        let run = timed(
            &cluster,
            &argv,
            args.kubectl_timeout,
            &dir.join("latency-kubectl-apply.out"),
        )?;
        report(
            "kubectl apply --server-side --validate=false (latency)",
            &run,
            &[0],
        );
        kubectl_apply = Some(run);
    }
    let b = bin.to_string_lossy().into_owned();
    let base_dir = base.to_string_lossy().into_owned();
    let argv = [
        b.as_str(),
        "sync",
        &base_dir,
        "--kubeconfig",
        &kc,
        "--create-namespace",
    ];
    let sync = timed(&cluster, &argv, args.timeout, &dir.join("latency-sync.out"))?;
    report("reconciler sync (latency)", &sync, &[0]);
    runtime.block_on(cluster.shutdown())?;
    Ok(Latency {
        delay_ms: args.latency.as_secs_f64() * 1000.0,
        write_delay_ms: write.as_secs_f64() * 1000.0,
        sync,
        kubectl_apply,
    })
}

/// Where one size's repositories and manifests are.
struct Paths<'a> {
    dir: &'a Path,
    base: &'a Path,
    changed: &'a Path,
    manifests: &'a Path,
    changed_manifests: &'a Path,
}

/// The commands of one run against a new cluster.
struct ClusterRun {
    kubectl_apply: Option<Run>,
    kubectl_diff: Option<Run>,
    sync: Run,
    noop_sync: Run,
    diff: Run,
    changed: usize,
}

/// Starts a new simulated cluster and runs, as a user does: `kubectl apply --server-side`,
/// `kubectl diff --server-side` of the changed manifests, our initial sync, the no-op sync and
/// the diff of the changed repository.
fn cluster_run(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    bin: &Path,
    p: &Paths<'_>,
) -> anyhow::Result<ClusterRun> {
    let dir = p.dir;
    let cluster = runtime.block_on(simcluster::SimCluster::start(simcluster::Config {
        operator_delay: args.operator_delay,
        ..simcluster::Config::default()
    }))?;
    let kubeconfig = dir.join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig)?;
    let kc = kubeconfig.to_string_lossy().into_owned();
    let (mut kubectl_apply, mut kubectl_diff) = (None, None);

    if !args.no_kubectl {
        let k = args.kubectl.to_string_lossy().into_owned();
        let m = p.manifests.to_string_lossy().into_owned();
        let run = timed(
            &cluster,
            &[&k, "--kubeconfig", &kc, "apply", "--server-side", "-f", &m],
            args.kubectl_timeout,
            &dir.join("kubectl-apply.out"),
        )?;
        report("kubectl apply --server-side", &run, &[0]);
        kubectl_apply = Some(run);
        let m = p.changed_manifests.to_string_lossy().into_owned();
        let run = timed(
            &cluster,
            &[&k, "--kubeconfig", &kc, "diff", "--server-side", "-f", &m],
            args.kubectl_timeout,
            &dir.join("kubectl-diff.out"),
        )?;
        report("kubectl diff --server-side", &run, &[1]);
        kubectl_diff = Some(run);
    }

    let b = bin.to_string_lossy().into_owned();
    let base_dir = p.base.to_string_lossy().into_owned();
    let changed_dir = p.changed.to_string_lossy().into_owned();
    let sync = [
        b.as_str(),
        "sync",
        &base_dir,
        "--kubeconfig",
        &kc,
        "--create-namespace",
    ];
    let first = timed(&cluster, &sync, args.timeout, &dir.join("sync.out"))?;
    report("reconciler sync", &first, &[0]);
    let noop = timed(&cluster, &sync, args.timeout, &dir.join("noop-sync.out"))?;
    report("reconciler sync (no-op)", &noop, &[0]);
    let diff_out = dir.join("diff.json");
    let diff = timed(
        &cluster,
        &[
            &b,
            "diff",
            &changed_dir,
            "--kubeconfig",
            &kc,
            "--format",
            "json",
        ],
        args.timeout,
        &diff_out,
    )?;
    report("reconciler diff", &diff, &[1]);
    let mut changed = 0;
    if let Ok(text) = std::fs::read_to_string(&diff_out)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
    {
        let n = |k: &str| v["summary"][k].as_u64().unwrap_or(0) as usize;
        changed = n("create") + n("update") + n("delete");
    }
    runtime.block_on(cluster.shutdown())?;
    Ok(ClusterRun {
        kubectl_apply,
        kubectl_diff,
        sync: first,
        noop_sync: noop,
        diff,
        changed,
    })
}

fn graph_errors(errors: Vec<graph::Error>) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(what: &str, run: &Run, expected: &[i32]) {
    let capped = if run.capped { " (capped)" } else { "" };
    eprintln!(
        "{what}: {:.2} s{capped}, {:.0} MiB, {} requests",
        run.seconds, run.rss_mib, run.requests
    );
    if !run.capped && !run.exit.is_some_and(|c| expected.contains(&c)) {
        eprintln!("  warning: exit {:?}, expected {expected:?}", run.exit);
    }
}
