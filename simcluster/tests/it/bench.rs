//! Size: 50,000 objects in memory and a LIST of 10,000 of them (simulated cluster only).

use std::time::Instant;

use kube::api::ListParams;
use serde_json::json;

use crate::cluster::{DOMAIN_ID, TestCluster};

// Two workers, as the command line runs it: the operator works through the 50,000 creation
// events while the LIST is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_fifty_thousand_objects_and_lists_ten_thousand() {
    // The operator would otherwise write 50,000 statuses while the LIST runs.
    let config = simcluster::Config {
        operator_delay: std::time::Duration::from_secs(3600),
        ..crate::cluster::test_config()
    };
    let c = TestCluster::with_config("bench-list", config).await;
    let Some(sim) = c.sim_only("seeding 50,000 objects") else {
        return c.cleanup().await;
    };
    let objects = |ns: String, n: usize| {
        (0..n).map(move |i| {
            let v = format!("1.{}.{}", i / 1000, i % 1000);
            json!({"metadata": {"name": format!("adder-{}", v.replace('.', "-")), "namespace": ns,
                    "labels": {"vimana.host/server": "adder", "vimana.host/version": v}},
                   "spec": {"version": v, "server": "adder", "domain": DOMAIN_ID, "image": format!("ghcr.io/acme/adder:{v}")}})
        })
    };
    let seeded = sim
        .seed(
            model::GROUP,
            model::VERSION,
            "components",
            objects(c.ns.clone(), 10_000),
        )
        .unwrap();
    for ns in 0..4 {
        seeded_more(sim, objects(format!("bench-other-{ns}"), 10_000));
    }
    assert_eq!(seeded, 10_000);
    let components = c.vimana("components");
    let path = format!(
        "/apis/{}/namespaces/{}/components",
        model::API_VERSION,
        c.ns
    );
    let started = Instant::now();
    let raw = c
        .client
        .request_text(
            axum::http::Request::get(path.as_str())
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    eprintln!(
        "raw LIST of 10,000 ({} bytes): {:?}",
        raw.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let list = components.list(&ListParams::default()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(list.items.len(), 10_000);
    // Reported, not asserted tightly: the bound only catches pathological slowness on a loaded
    // machine running an unoptimized build.
    eprintln!("LIST of 10,000 of 50,000 components: {elapsed:?}");
    assert!(elapsed.as_secs() < 30, "{elapsed:?}");
    c.cleanup().await;
}

fn seeded_more(sim: &simcluster::Handle, objects: impl Iterator<Item = serde_json::Value>) {
    assert_eq!(
        sim.seed(model::GROUP, model::VERSION, "components", objects),
        Some(10_000)
    );
}
