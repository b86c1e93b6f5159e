//! `reconciler demo`: the whole story on an embedded simulated cluster, with no set-up. It
//! creates a Git repository from the demo sources (embedded in the binary), shows the graph and
//! the diff, runs the daemon, commits a weights change and announces it with a signed webhook,
//! shows the rollout step by step, then commits a broken version and shows it rolled back.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, Mac};
use kube::api::{Api, Patch, PatchParams};
use model::{Kind, Object, keys};
use sha2::Sha256;

use crate::Outcome;
use crate::cluster::Cluster;
use crate::daemon::Config;
use crate::git::WorkTree;
use crate::report::weights_text;
use crate::rollout::{Phase, State};
use crate::{report, sync};

/// Arguments of `reconciler demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// After the story, keep the embedded cluster and the daemon running and print the address
    /// of the web view, until Ctrl-C; with DIR, also keep the demo repository in that folder
    /// instead of a temporary one.
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub keep: Option<Option<std::path::PathBuf>>,
}

/// The demo repository, as committed first: `fixtures/demo` and the Kumori module it binds.
pub const FILES: [(&str, &str); 14] = [
    (
        "fixtures/demo/.reconcilerignore",
        include_str!("../../../fixtures/demo/.reconcilerignore"),
    ),
    (
        "fixtures/demo/vimana.yaml",
        include_str!("../../../fixtures/demo/vimana.yaml"),
    ),
    (
        "fixtures/demo/calc/domain.yaml",
        include_str!("../../../fixtures/demo/calc/domain.yaml"),
    ),
    (
        "fixtures/demo/calc/adder.yaml",
        include_str!("../../../fixtures/demo/calc/adder.yaml"),
    ),
    (
        "fixtures/demo/calc/multiplier.yaml",
        include_str!("../../../fixtures/demo/calc/multiplier.yaml"),
    ),
    (
        "fixtures/demo/drafts/search.yaml",
        include_str!("../../../fixtures/demo/drafts/search.yaml"),
    ),
    (
        "fixtures/demo/shop/domain.yaml",
        include_str!("../../../fixtures/demo/shop/domain.yaml"),
    ),
    (
        "fixtures/demo/shop/servers.yaml",
        include_str!("../../../fixtures/demo/shop/servers.yaml"),
    ),
    (
        "fixtures/demo/shop/components.yaml",
        include_str!("../../../fixtures/demo/shop/components.yaml"),
    ),
    (
        "fixtures/kumori/adder/kumori.mod.json",
        include_str!("../../../fixtures/kumori/adder/kumori.mod.json"),
    ),
    (
        "fixtures/kumori/adder/adder.h.kumori",
        include_str!("../../../fixtures/kumori/adder/adder.h.kumori"),
    ),
    (
        "fixtures/kumori/adder/adder.kumori",
        include_str!("../../../fixtures/kumori/adder/adder.kumori"),
    ),
    (
        "fixtures/kumori/adder/deployment.kumori",
        include_str!("../../../fixtures/kumori/adder/deployment.kumori"),
    ),
    (
        "fixtures/kumori/adder/motd.txt",
        include_str!("../../../fixtures/kumori/adder/motd.txt"),
    ),
];

/// The version the simulated operator never makes Available.
const BROKEN: &str = "1.3.0";
const SECRET: &str = "demo-webhook-secret";
const ADDER: &str = "6c1d0e5f8a2b4c7d9e0f1a2b3c4d5e6f:adder";

fn section(title: &str) {
    println!("\n==> {title}");
}

/// Runs the demo.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    crate::commands::sync::runtime()?.block_on(demo(args))
}

async fn demo(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let temp = tempfile::tempdir()?;
    let dir = match &args.keep {
        Some(Some(d)) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        _ => temp.path().to_path_buf(),
    };
    let repo_dir = dir.join("repo");
    let cluster = Arc::new(start_cluster().await?);
    let (repo, first) = create_repository(&repo_dir)?;
    let manifests = render_demo(&repo_dir)?;
    show_graph(&manifests)?;
    show_diff(&cluster, &manifests).await?;
    let daemon = Daemon::start(&dir, &repo_dir, cluster.clone()).await?;
    show_first_sync(&cluster, &daemon, &first, manifests.len()).await?;
    let adder = shift_the_adder(&repo, &cluster, &daemon).await?;
    release_a_broken_version(&repo, &cluster, &daemon, &adder).await?;
    show_rollout_status(&cluster).await?;
    if args.keep.is_some() {
        section(&format!(
            "The web view: {}/ (the tree, the weights, the syncs). The cluster and the daemon keep running; Ctrl-C stops them.",
            daemon.base
        ));
        crate::daemon::shutdown_signal().await;
    }
    daemon.stop().await?;
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.close().await;
    }
    section(&format!(
        "Done in {:.1} s. Nothing was installed: the cluster lived in this process.",
        started.elapsed().as_secs_f64()
    ));
    println!(
        "Next: `reconciler simcluster --kubeconfig-out sim.kubeconfig` for a cluster kubectl can see,"
    );
    println!("then `reconciler run --config FILE` against it (docs/daemon.md).");
    Ok(Outcome::Success)
}

async fn start_cluster() -> anyhow::Result<Cluster> {
    section(
        "An embedded simulated cluster (Kubernetes API + Vimana operator) starts in this process",
    );
    let cluster = Cluster::embedded(simcluster::Config {
        log_requests: false,
        operator_delay: Duration::from_millis(300),
        unavailable_versions: [BROKEN.to_owned()].into(),
        ..simcluster::Config::default()
    })
    .await?;
    let url = cluster
        .embedded
        .as_ref()
        .map(|s| s.url().to_owned())
        .unwrap_or_default();
    println!("serving at {url}; Components of version {BROKEN} will never become Available");
    create_namespace(&cluster, "vimana").await?;
    Ok(cluster)
}

/// The demo repository with [`FILES`] committed; its first commit.
fn create_repository(repo_dir: &Path) -> anyhow::Result<(WorkTree, String)> {
    section(&format!(
        "A Git repository with the demo sources: {}",
        repo_dir.display()
    ));
    let repo = WorkTree::init(repo_dir)?;
    for (path, text) in FILES {
        repo.write(path, text)?;
    }
    let first = repo.commit("Demo sources: one Vimana, two Domains, four Servers")?;
    println!("commit {} on main", &first[..12]);
    Ok((repo, first))
}

fn render_demo(repo_dir: &Path) -> anyhow::Result<Vec<model::Manifest>> {
    let options = render::Options {
        path: "fixtures/demo".into(),
        ..render::Options::default()
    };
    let output = render::render(&crate::sources::FsTree::new(repo_dir)?, &options);
    anyhow::ensure!(
        !output.diagnostics.has_errors(),
        "the demo sources do not render"
    );
    Ok(output.manifests)
}

fn show_graph(manifests: &[model::Manifest]) -> anyhow::Result<()> {
    section("reconciler graph: the dependency graph and the plan of a first sync");
    let dag =
        graph::DependencyGraph::new(manifests.to_vec()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    print!("{}", graph::view::tree(&dag));
    Ok(())
}

async fn show_diff(cluster: &Cluster, manifests: &[model::Manifest]) -> anyhow::Result<()> {
    section("reconciler diff: what a first sync would change (server-side dry run)");
    let sync_options = sync::Options::default();
    let diff = sync::diff(cluster, manifests.to_vec(), &sync_options).await?;
    for c in &diff.changes {
        println!("  + {} {}/{}", c.key.kind, c.key.namespace, c.key.name);
    }
    println!(
        "  {}",
        report::to_text(&diff, false)
            .lines()
            .last()
            .unwrap_or_default()
    );
    Ok(())
}

/// The daemon of the demo, running in this process, and its HTTP address.
struct Daemon {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    http: reqwest::Client,
    base: String,
}

impl Daemon {
    /// Starts `reconciler run` on the repository of `repo_dir` with a webhook secret and a
    /// cache in `dir`.
    async fn start(dir: &Path, repo_dir: &Path, cluster: Arc<Cluster>) -> anyhow::Result<Daemon> {
        section(
            "reconciler run: the daemon follows the repository (webhooks, endpoints, one sync at a time)",
        );
        let secret = dir.join("webhook-secret");
        std::fs::write(&secret, SECRET)?;
        let config = Config::parse(
            &format!(
                "instance: default\nsource:\n  url: {repo}\n  ref: main\n  path: fixtures/demo\n  cacheDir: {cache}\nschedule: \"off\"\nwebhook:\n  listen: 127.0.0.1:0\n  secretFile: {secret}\ncluster:\n  namespace: vimana\n",
                repo = repo_dir.display(),
                cache = dir.join("cache").display(),
                secret = secret.display(),
            ),
            None,
        )?;
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let serve = crate::commands::run::serve(
            config,
            cluster,
            async move {
                let _ = stop_rx.await;
            },
            move |_, addr| {
                let _ = addr_tx.send(addr);
            },
        );
        let task = tokio::spawn(async move { serve.await.map_err(anyhow::Error::from) });
        let addr = addr_rx.await.context("the daemon did not start")?;
        let base = format!("http://{addr}");
        println!("listening on {base} (/status, /metrics, /hooks/github, ...)");
        Ok(Daemon {
            stop,
            task,
            http: reqwest::Client::new(),
            base,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// Waits for the daemon's first sync and for the adder's first weights.
async fn show_first_sync(
    cluster: &Cluster,
    daemon: &Daemon,
    first: &str,
    objects: usize,
) -> anyhow::Result<()> {
    let status = wait_synced(&daemon.http, &daemon.base, first).await?;
    println!(
        "first sync of {}: {} objects live",
        &first[..12],
        status["lastSync"]["objects"]
            .as_u64()
            .or_else(|| status["objects"].as_u64())
            .unwrap_or(objects as u64)
    );
    // New Servers get their weights once their Components are Available.
    let start = Instant::now();
    while server_state(cluster, "adder").await?.0.is_empty() {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "the adder got no weights within a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    print_weights(cluster, "adder").await
}

/// Commits a rollout of the adder to 1.1.0 and 1.2.0 and follows it; the adder's new source.
async fn shift_the_adder(
    repo: &WorkTree,
    cluster: &Cluster,
    daemon: &Daemon,
) -> anyhow::Result<String> {
    section(
        "git commit: shift the adder to 1.1.0 and to 1.2.0 (rendered from Kumori), fast rollout policy",
    );
    let adder = FILES[3]
        .1
        .replace(
            "    1.0.0: 90\n    1.1.0: 10\n",
            "    1.1.0: 50\n    1.2.0: 50\n",
        )
        .replace(
            "rollout.vimana.host/steps: \"10,25,50,100\"",
            "rollout.vimana.host/steps: \"25,50,100\"",
        )
        .replace(
            "rollout.vimana.host/interval: 2m",
            "rollout.vimana.host/interval: 2s",
        );
    repo.write("fixtures/demo/calc/adder.yaml", &adder)?;
    let second = repo.commit("adder: move traffic to 1.1.0 and 1.2.0")?;
    println!("commit {}", &second[..12]);
    webhook(&daemon.http, &daemon.base).await?;
    watch_rollout(cluster, &daemon.http, &daemon.base, &second).await?;
    Ok(adder)
}

/// Commits all of the adder's traffic to a version that never becomes Available (its source
/// from `adder`) and follows the rollback.
async fn release_a_broken_version(
    repo: &WorkTree,
    cluster: &Cluster,
    daemon: &Daemon,
    adder: &str,
) -> anyhow::Result<()> {
    section(&format!(
        "git commit: a broken version {BROKEN} takes all of the adder's traffic"
    ));
    let broken = adder
        .replace(
            "    1.1.0: 50\n    1.2.0: 50\n",
            &format!("    1.2.0: 0\n    {BROKEN}: 100\n"),
        )
        .replace(
            "rollout.vimana.host/max-failures: \"2\"",
            "rollout.vimana.host/progress-deadline: 4s",
        )
        + &format!(
            "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nspec:\n  domain: 6c1d0e5f8a2b4c7d9e0f1a2b3c4d5e6f\n  server: adder\n  version: {BROKEN}\n  image: ghcr.io/acme/adder:{BROKEN}\n"
        );
    repo.write("fixtures/demo/calc/adder.yaml", &broken)?;
    let third = repo.commit(&format!("adder: release {BROKEN}"))?;
    println!("commit {}", &third[..12]);
    webhook(&daemon.http, &daemon.base).await?;
    watch_rollout(cluster, &daemon.http, &daemon.base, &third).await
}

async fn show_rollout_status(cluster: &Cluster) -> anyhow::Result<()> {
    section("reconciler rollout status adder");
    let api = cluster.api(Kind::Server, "vimana");
    let live = api.get("adder").await?;
    if let Object::Server(s) = Object::from_value(serde_json::to_value(&live)?)? {
        print!("{}", crate::commands::rollout::status_text(&s));
    }
    Ok(())
}

async fn create_namespace(cluster: &Cluster, name: &str) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(
        name,
        &PatchParams::apply(keys::FIELD_MANAGER),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Posts a GitHub push webhook signed with the demo secret.
async fn webhook(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())?;
    mac.update(&body);
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = http
        .post(format!("{base}/hooks/github"))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", format!("sha256={signature}"))
        .body(body)
        .send()
        .await?;
    println!("POST /hooks/github (signed push of main): {}", r.status());
    Ok(())
}

async fn status(http: &reqwest::Client, base: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(
        &http
            .get(format!("{base}/status"))
            .send()
            .await?
            .text()
            .await?,
    )?)
}

/// Waits (at most a minute) for a successful sync of `commit`.
async fn wait_synced(
    http: &reqwest::Client,
    base: &str,
    commit: &str,
) -> anyhow::Result<serde_json::Value> {
    let start = Instant::now();
    loop {
        let s = status(http, base).await?;
        let text = s.to_string();
        if text.contains(commit) && text.contains("\"success\"") {
            return Ok(s);
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "no sync of {commit} within a minute: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn server_state(
    cluster: &Cluster,
    name: &str,
) -> anyhow::Result<(BTreeMap<String, i32>, Option<State>)> {
    let api = cluster.api(Kind::Server, "vimana");
    let live = api.get(name).await?;
    let Object::Server(s) = Object::from_value(serde_json::to_value(&live)?)? else {
        anyhow::bail!("{name} is not a Server");
    };
    let state = State::from_annotation(s.metadata.annotations.get(keys::ROLLOUT_STATE));
    Ok((s.spec.version_weights.clone(), state))
}

async fn print_weights(cluster: &Cluster, name: &str) -> anyhow::Result<()> {
    let (w, _) = server_state(cluster, name).await?;
    println!("Server {ADDER} weights: {}", weights_text(&w));
    Ok(())
}

/// Prints every weight vector the adder takes until its rollout for `commit` ends.
async fn watch_rollout(
    cluster: &Cluster,
    http: &reqwest::Client,
    base: &str,
    commit: &str,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last: Option<(BTreeMap<String, i32>, String)> = None;
    loop {
        let (weights, state) = server_state(cluster, "adder").await?;
        let stage = match &state {
            Some(s) if s.revision.as_deref() == Some(commit) => match s.phase {
                Phase::Progressing => match (s.step, &s.reason) {
                    (_, Some(why)) => format!("waiting: {why}"),
                    (Some(i), None) => {
                        format!("step {}/{} ({}%), baking", i + 1, s.steps.len(), s.steps[i])
                    }
                    (None, None) => "starting".into(),
                },
                other => format!(
                    "{other:?}{}",
                    s.reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            },
            _ => "syncing".into(),
        };
        let now = (weights.clone(), stage.clone());
        if last.as_ref() != Some(&now) {
            println!(
                "[{:>5.1}s] weights {} | {stage}",
                start.elapsed().as_secs_f64(),
                weights_text(&weights)
            );
            last = Some(now);
        }
        if let Some(s) = &state
            && s.revision.as_deref() == Some(commit)
            && matches!(s.phase, Phase::Succeeded | Phase::Aborted)
        {
            if s.phase == Phase::Aborted {
                println!("rolled back automatically: {BROKEN} never received traffic");
            }
            wait_synced(http, base, commit).await?;
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(90),
            "the rollout did not end within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
