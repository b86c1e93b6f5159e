//! `reconciler bench` (hidden): the end-to-end benchmark of `docs/performance.md`. For each size
//! it generates a repository (`reconciler generate`), times render and plan in this process,
//! starts a fresh simulated cluster in this process, and runs, as child processes timed with
//! `/usr/bin/time` (wall time and peak RSS), `kubectl apply --server-side` and
//! `kubectl diff --server-side` of the rendered manifests next to this binary's `sync`, no-op
//! `sync` and `diff`, counting the API calls of each from the cluster's metrics. It prints a
//! markdown table and can write the figures as JSON and a plot as SVG.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use graph::{DependencyGraph, Live};
use model::{Object, ObjectKey};
use serde::Serialize;

use crate::Outcome;
use crate::cluster::parse_duration;
use crate::commands::generate;
use crate::sources::FsTree;

/// Arguments of `reconciler bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Repository sizes in objects (rounded to whole Domains of 101 objects).
    #[arg(long, value_delimiter = ',', default_value = "1500,15000,40000")]
    pub sizes: Vec<usize>,
    /// The kubectl to compare with.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/kubectl")]
    pub kubectl: PathBuf,
    /// Do not run kubectl.
    #[arg(long)]
    pub no_kubectl: bool,
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
}

/// Runs the benchmark.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
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
    // A copy of this binary: the timed runs are this build even if the file is rebuilt meanwhile.
    let bin = work.join("reconciler");
    std::fs::copy(std::env::current_exe()?, &bin).context("cannot copy the binary")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let mut all = Vec::new();
    for &size in &args.sizes {
        eprintln!("== {size} objects");
        let figures = measure(args, &runtime, &bin, &work, size)?;
        all.push(figures);
        // Print as we go: the larger sizes take minutes.
        print!("{}", table(&all));
        println!();
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&all))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Outcome::Success)
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
    Ok(f)
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

/// `reconciler render DIR --namespace bench-kubectl`, with a Namespace first, into `out`.
fn render_to(bin: &Path, dir: &Path, out: &Path, timeout: Duration) -> anyhow::Result<Run> {
    let rendered = out.with_extension("render");
    let run = timed_command(
        &[
            &bin.to_string_lossy(),
            "render",
            &dir.to_string_lossy(),
            "--namespace",
            "bench-kubectl",
        ],
        timeout,
        &rendered,
    )?;
    if run.exit != Some(0) {
        bail!("reconciler render {} failed", dir.display());
    }
    let mut text =
        String::from("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-kubectl\n---\n");
    text.push_str(&std::fs::read_to_string(&rendered)?);
    std::fs::write(out, text)?;
    Ok(run)
}

/// Runs `argv` timed, counting the requests the cluster served meanwhile.
fn timed(
    cluster: &simcluster::Handle,
    argv: &[&str],
    timeout: Duration,
    stdout: &Path,
) -> anyhow::Result<Run> {
    let before = requests(cluster);
    let mut run = timed_command(argv, timeout, stdout)?;
    let after = requests(cluster);
    run.requests =
        after.iter().map(|(_, n)| n).sum::<u64>() - before.iter().map(|(_, n)| n).sum::<u64>();
    let mut by_verb: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (verb, n) in &after {
        *by_verb.entry(verb).or_default() += n;
    }
    for (verb, n) in &before {
        *by_verb.entry(verb).or_default() -= n;
    }
    run.by_verb = by_verb
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| format!("{v}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(run)
}

/// `(verb, count)` of every `simcluster_requests_total` series.
fn requests(cluster: &simcluster::Handle) -> Vec<(String, u64)> {
    cluster
        .metrics_text()
        .lines()
        .filter_map(|l| l.strip_prefix("simcluster_requests_total{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once("} ")?;
            let verb = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("verb="))?
                .trim_matches('"');
            Some((verb.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Runs `argv` under `/usr/bin/time` (peak RSS), stdout to a file, stopped after `timeout`.
fn timed_command(argv: &[&str], timeout: Duration, stdout: &Path) -> anyhow::Result<Run> {
    use std::os::unix::process::CommandExt;
    let stats = stdout.with_extension("time");
    let start = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&stats)
        .args(argv)
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(stdout.with_extension("err"))?)
        .stdin(Stdio::null())
        // Its own process group, so that a capped run is stopped with everything it started.
        .process_group(0)
        .spawn()
        .context("cannot run /usr/bin/time (GNU time)")?;
    // The wait is exact (a poll would round every time up to its period); a watchdog stops
    // the process group at the time limit.
    let (done, ended) = std::sync::mpsc::channel::<()>();
    let group = format!("-{}", child.id());
    let watchdog = std::thread::spawn(move || {
        let late = ended.recv_timeout(timeout).is_err();
        if late {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
        late
    });
    let waited = child.wait();
    let seconds = start.elapsed().as_secs_f64();
    let _ = done.send(());
    let capped = watchdog.join().unwrap_or(false);
    let status = if capped { None } else { Some(waited?) };
    // GNU time writes "Command exited with non-zero status N" before the figure.
    let rss_kib: f64 = std::fs::read_to_string(&stats)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0.0);
    Ok(Run {
        seconds,
        rss_mib: rss_kib / 1024.0,
        capped,
        exit: status.and_then(|s| s.code()),
        ..Run::default()
    })
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.2}")
    } else if s < 10.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.0}")
    }
}

fn cell(run: Option<&Run>) -> String {
    match run {
        None => "-".into(),
        Some(r) if r.capped => format!("> {}", secs(r.seconds)),
        Some(r) => secs(r.seconds),
    }
}

fn ratio(theirs: Option<&Run>, ours: &Run) -> String {
    match theirs {
        None => "-".into(),
        Some(t) => {
            let x = t.seconds / ours.seconds.max(1e-3);
            if t.capped {
                format!("> {x:.0}x")
            } else if x < 10.0 {
                format!("{x:.1}x")
            } else {
                format!("{x:.0}x")
            }
        }
    }
}

fn mib(run: Option<&Run>) -> String {
    run.map_or("-".into(), |r| format!("{:.0}", r.rss_mib))
}

/// The figures as two markdown tables: times, then API calls and memory.
pub fn table(all: &[Figures]) -> String {
    let mut t = String::new();
    t.push_str("| objects (Kumori) | runs | render | plan (first / no-op) | initial `sync` | `kubectl apply --server-side` | speed-up | no-op `sync` | `diff` (changed objects) | `kubectl diff --server-side` | speed-up |\n");
    t.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in all {
        let _ = writeln!(
            t,
            "| {} ({}) | {} | {} | {} / {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
            f.objects,
            f.kumori,
            f.runs,
            secs(f.render),
            secs(f.plan_first),
            secs(f.plan_noop),
            cell(Some(&f.sync)),
            cell(f.kubectl_apply.as_ref()),
            ratio(f.kubectl_apply.as_ref(), &f.sync),
            cell(Some(&f.noop_sync)),
            cell(Some(&f.diff)),
            f.changed,
            cell(f.kubectl_diff.as_ref()),
            ratio(f.kubectl_diff.as_ref(), &f.diff),
        );
    }
    t.push_str("\nAPI calls and peak RSS (MiB):\n\n");
    t.push_str("| objects | initial `sync` calls | `kubectl apply` calls | no-op `sync` calls | `diff` calls | `kubectl diff` calls | RSS `render` | RSS initial `sync` | RSS no-op `sync` | RSS `diff` | RSS `kubectl apply` | RSS `kubectl diff` |\n");
    t.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in all {
        let calls = |r: Option<&Run>| r.map_or("-".into(), |r| r.requests.to_string());
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.objects,
            f.sync.requests,
            calls(f.kubectl_apply.as_ref()),
            f.noop_sync.requests,
            f.noop_sync.by_verb,
            f.diff.requests,
            calls(f.kubectl_diff.as_ref()),
            mib(Some(&f.render_command)),
            mib(Some(&f.sync)),
            mib(Some(&f.noop_sync)),
            mib(Some(&f.diff)),
            mib(f.kubectl_apply.as_ref()),
            mib(f.kubectl_diff.as_ref()),
        );
    }
    t
}

/// A log-log plot of seconds against objects: our commands solid, kubectl dashed, a capped
/// kubectl run drawn as a hollow point at its cap (the real time is longer).
pub fn svg(all: &[Figures]) -> String {
    type Series<'a> = (&'a str, &'a str, bool, Vec<(f64, f64, bool)>);
    let point = |f: &Figures, r: &Run| (f.objects as f64, r.seconds, r.capped);
    let mut series: Vec<Series<'_>> = vec![
        (
            "render + plan (in process)",
            "#6a3d9a",
            false,
            all.iter()
                .map(|f| (f.objects as f64, f.render + f.plan_first, false))
                .collect(),
        ),
        (
            "reconciler sync (initial)",
            "#1f78b4",
            false,
            all.iter().map(|f| point(f, &f.sync)).collect(),
        ),
        (
            "reconciler sync (no-op)",
            "#33a02c",
            false,
            all.iter().map(|f| point(f, &f.noop_sync)).collect(),
        ),
        (
            "reconciler diff",
            "#e31a1c",
            false,
            all.iter().map(|f| point(f, &f.diff)).collect(),
        ),
    ];
    let kubectl: Vec<Series<'_>> = vec![
        (
            "kubectl apply --server-side",
            "#1f78b4",
            true,
            all.iter()
                .filter_map(|f| f.kubectl_apply.as_ref().map(|r| point(f, r)))
                .collect(),
        ),
        (
            "kubectl diff --server-side",
            "#e31a1c",
            true,
            all.iter()
                .filter_map(|f| f.kubectl_diff.as_ref().map(|r| point(f, r)))
                .collect(),
        ),
    ];
    series.extend(kubectl.into_iter().filter(|s| !s.3.is_empty()));

    let (w, h) = (760.0, 460.0);
    let (left, right, top, bottom) = (70.0, 250.0, 30.0, 50.0);
    let points = series.iter().flat_map(|s| s.3.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y, _) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y.max(1e-3));
        y1 = y1.max(y);
    }
    // Whole decades around the data.
    let (x0, x1) = (
        (x0.log10()).floor(),
        (x1.log10()).ceil().max(x0.log10().floor() + 1.0),
    );
    let (y0, y1) = (
        (y0.log10()).floor(),
        (y1.log10()).ceil().max(y0.log10().floor() + 1.0),
    );
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y.max(1e-3).log10() - y0) / (y1 - y0) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">Time against repository size (log-log; lower is better)</text>"#,
        (left + w - right) / 2.0
    );
    // Grid and axes: a line per decade, minor ticks at 2 and 5.
    for d in (x0 as i32)..=(x1 as i32) {
        for m in [1.0, 2.0, 5.0] {
            let x = m * 10f64.powi(d);
            if x.log10() > x1 + 1e-9 {
                continue;
            }
            let gx = px(x);
            let stroke = if m == 1.0 { "#ccc" } else { "#eee" };
            let _ = writeln!(
                s,
                r#"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{:.1}" stroke="{stroke}"/>"#,
                h - bottom
            );
            let _ = writeln!(
                s,
                r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle" fill="{}">{}</text>"#,
                h - bottom + 16.0,
                if m == 1.0 { "black" } else { "#888" },
                thousands(x)
            );
        }
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = 10f64.powi(d);
        let gy = py(y);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ccc"/>"##,
            w - right,
        );
        let label = if y < 1.0 {
            format!("{y}")
        } else {
            format!("{y:.0}")
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label} s</text>"#,
            left - 6.0,
            gy + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{left}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
        w - left - right,
        h - top - bottom
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">objects in the repository</text>"#,
        (left + w - right) / 2.0,
        h - 12.0
    );
    for (i, (name, color, dashed, pts)) in series.iter().enumerate() {
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y, _)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for &(x, y, capped) in pts {
            let fill = if capped || *dashed { "white" } else { color };
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{fill}" stroke="{color}" stroke-width="2"/>"#,
                px(x),
                py(y)
            );
            if capped {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" fill="{color}">capped</text>"#,
                    px(x) + 6.0,
                    py(y) - 6.0
                );
            }
        }
        let ly = top + 10.0 + 22.0 * i as f64;
        let lx = w - right + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>"#,
            lx + 26.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{name}</text>"#,
            lx + 32.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn thousands(x: f64) -> String {
    if x >= 1000.0 {
        format!("{}k", x / 1000.0)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seconds: f64, capped: bool) -> Run {
        Run {
            seconds,
            rss_mib: 100.0,
            requests: 6,
            by_verb: "list=4 get=1 discovery=1".into(),
            capped,
            exit: (!capped).then_some(0),
        }
    }

    fn figures() -> Vec<Figures> {
        [(1516, 1.0, 4.0), (40098, 20.0, 900.0)]
            .into_iter()
            .map(|(objects, ours, theirs)| Figures {
                objects,
                kumori: objects / 3,
                render: 0.5,
                plan_first: 0.1,
                plan_noop: 0.1,
                render_command: run(0.6, false),
                kubectl_apply: Some(run(theirs, theirs >= 900.0)),
                kubectl_diff: None,
                sync: run(ours, false),
                noop_sync: run(0.3, false),
                diff: run(0.4, false),
                changed: 10,
                runs: if objects < 5_000 { 3 } else { 1 },
            })
            .collect()
    }

    #[test]
    fn the_table_shows_speed_ups_and_capped_runs_as_lower_bounds() {
        let t = table(&figures());
        assert!(
            t.contains("| 1516 (505) | 3 | 0.50 | 0.10 / 0.10 | 1.0 | 4.0 | 4.0x |"),
            "{t}"
        );
        assert!(t.contains("| > 900 | > 45x |"), "{t}");
        assert!(t.contains("| 6 (list=4 get=1 discovery=1) |"), "{t}");
        assert!(t.contains("| - | - |"), "no kubectl diff: {t}");
    }

    #[test]
    fn the_plot_has_a_line_per_series_and_marks_capped_points() {
        let s = svg(&figures());
        assert!(s.starts_with("<svg ") && s.trim_end().ends_with("</svg>"));
        // Four series of ours, kubectl apply; no kubectl diff was measured.
        assert_eq!(s.matches("<polyline").count(), 5, "{s}");
        assert_eq!(s.matches(">capped<").count(), 1, "{s}");
        assert!(s.contains("kubectl apply --server-side"));
        assert!(!s.contains("kubectl diff --server-side"));
    }

    #[test]
    fn medians_and_seconds_read_well() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(secs(0.123), "0.12");
        assert_eq!(secs(1.23), "1.2");
        assert_eq!(secs(123.4), "123");
        assert_eq!(thousands(40000.0), "40k");
    }
}
