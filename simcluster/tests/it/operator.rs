//! The simulated operator: Available with observedGeneration, unavailable versions, Servers
//! that follow their Components.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::cluster::{TestCluster, apply, available, component, eventually, server, test_config};

#[tokio::test]
async fn resources_become_available_for_their_generation() {
    let c = TestCluster::new("operator-available").await;
    if c.sim_only("the operator").is_none() {
        return c.cleanup().await;
    }
    let components = c.vimana("components");
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let cond = eventually(Duration::from_secs(20), || async {
        let o = components.get("adder-1-0-0").await.unwrap();
        available(&o).filter(|c| c["status"] == "True")
    })
    .await;
    assert_eq!(cond["observedGeneration"], 1);
    assert_eq!(cond["reason"], "Running");
    // A spec change waits for the operator again, then shows the new generation.
    let mut next = component("adder-1-0-0", "1.0.0");
    next["spec"]["image"] = json!("ghcr.io/acme/adder:rebuilt");
    let changed = apply(&components, "rec", &next, false).await.unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    eventually(Duration::from_secs(20), || async {
        let o = components.get("adder-1-0-0").await.unwrap();
        (o.data["status"]["observedGeneration"] == 2 && available(&o)?["observedGeneration"] == 2)
            .then_some(())
    })
    .await;
    c.cleanup().await;
}

#[tokio::test]
async fn unavailable_versions_never_become_available_and_hold_their_server() {
    let config = simcluster::Config {
        unavailable_versions: BTreeSet::from(["1.1.0".to_owned()]),
        ..test_config()
    };
    let c = TestCluster::with_config("operator-unavailable", config).await;
    let Some(sim) = c.sim_only("--unavailable-versions") else {
        return c.cleanup().await;
    };
    let components = c.vimana("components");
    let servers = c.vimana("servers");
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    apply(
        &components,
        "rec",
        &component("adder-1-1-0", "1.1.0"),
        false,
    )
    .await
    .unwrap();
    apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 90, "1.1.0": 10})),
        false,
    )
    .await
    .unwrap();
    let cond = eventually(Duration::from_secs(20), || async {
        available(&components.get("adder-1-1-0").await.unwrap())
    })
    .await;
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "ComponentFailed");
    let srv = eventually(Duration::from_secs(20), || async {
        available(&servers.get("adder").await.unwrap())
            .filter(|c| c["reason"] == "VersionsUnavailable")
    })
    .await;
    assert!(srv["message"].as_str().unwrap().contains("1.1.0"), "{srv}");
    // Weights only on the good version: the Server becomes Available.
    apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), || async {
        available(&servers.get("adder").await.unwrap()).filter(|c| c["status"] == "True")
    })
    .await;
    // The failing set can change at run time.
    sim.set_unavailable_versions(BTreeSet::new());
    eventually(Duration::from_secs(20), || async {
        available(&components.get("adder-1-1-0").await.unwrap()).filter(|c| c["status"] == "True")
    })
    .await;
    c.cleanup().await;
}
