//! Benchmark of rollout cost: 1,000 Servers shift their weights at once, on the simulated
//! cluster, through two steps with a bake interval; the API calls of the whole rollout are
//! counted, for two bake intervals. The calls follow the steps, not the wall time: a pass runs
//! only when a step is due (no polling while a bake runs).
//!
//! Run: `cargo bench -p reconciler --bench rollouts`. Figures: docs/performance.md.

use std::time::{Duration, Instant};

use reconciler::cluster::Cluster;
use reconciler::sync;

const SERVERS: usize = 1000;
const DOMAIN: &str = "0123456789abcdef0123456789abcdef";

fn sources(weights: &str, interval: &str) -> render::MemTree {
    let mut text = format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: d}}\nspec: {{id: \"{DOMAIN}\"}}\n"
    );
    for s in 0..SERVERS {
        text.push_str(&format!(
            "---\napiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata:\n  name: s{s}\n  annotations: {{rollout.vimana.host/steps: \"50,100\", rollout.vimana.host/interval: {interval}}}\nspec: {{id: s{s}, domain: \"{DOMAIN}\", versionWeights: {weights}}}\n"
        ));
        for v in ["1.0.0", "1.1.0"] {
            text.push_str(&format!(
                "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: {{name: s{s}-{}}}\nspec: {{domain: \"{DOMAIN}\", server: s{s}, version: {v}, image: \"registry.example.org/s{s}:{v}\"}}\n",
                v.replace('.', "-")
            ));
        }
    }
    render::MemTree::new().with("src/all.yaml", text)
}

fn render(tree: &render::MemTree) -> Vec<model::Manifest> {
    let out = render::render(
        tree,
        &render::Options {
            path: "src".into(),
            namespace: "bench".into(),
            ..render::Options::default()
        },
    );
    assert!(!out.diagnostics.has_errors());
    out.manifests
}

fn calls(cluster: &Cluster) -> u64 {
    let sim = cluster.embedded.as_ref().expect("embedded");
    sim.metrics_text()
        .lines()
        .filter(|l| l.starts_with("simcluster_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Runs passes until no rollout is in progress, sleeping until the next due step; returns
/// (passes, API calls, wall time).
async fn until_done(
    cluster: &Cluster,
    manifests: &[model::Manifest],
    options: &sync::Options,
) -> (u32, u64, Duration) {
    let (before, start) = (calls(cluster), Instant::now());
    let mut passes = 0;
    loop {
        passes += 1;
        let outcome = sync::sync(cluster, manifests.to_vec(), options)
            .await
            .expect("pass");
        if !outcome.rollouts_in_progress() {
            return (passes, calls(cluster) - before, start.elapsed());
        }
        let wake = outcome.next_wake().expect("a wake time");
        let pause = (wake - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(pause + Duration::from_millis(50)).await;
    }
}

async fn run(interval: &str) -> (u32, u64, Duration) {
    let cluster = Cluster::embedded(simcluster::Config {
        log_requests: false,
        operator_delay: Duration::from_millis(10),
        ..simcluster::Config::default()
    })
    .await
    .expect("embedded cluster");
    let options = sync::Options {
        namespace: "bench".into(),
        create_namespace: true,
        concurrency: 16,
        ..sync::Options::default()
    };
    let first = render(&sources("{1.0.0: 100}", interval));
    until_done(&cluster, &first, &options).await;
    let shifted = render(&sources("{1.1.0: 100}", interval));
    let result = until_done(&cluster, &shifted, &options).await;
    cluster.close().await;
    result
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("{SERVERS} Servers shift 1.0.0 → 1.1.0 at once, steps 50,100:");
    println!("| bake interval | passes | API calls | calls per Server | wall time |");
    println!("|---|---|---|---|---|");
    for interval in ["2s", "6s"] {
        let (passes, calls, wall) = runtime.block_on(run(interval));
        println!(
            "| {interval} | {passes} | {calls} | {:.1} | {:.1} s |",
            calls as f64 / SERVERS as f64,
            wall.as_secs_f64()
        );
    }
}
