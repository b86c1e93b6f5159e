//! Fault injection and request metrics (simulated cluster only).

use std::time::{Duration, Instant};

use axum::http;
use kube::api::ListParams;

use crate::cluster::{TestCluster, apply, component};

fn rule(s: &str) -> simcluster::FaultRule {
    simcluster::FaultRule::parse(s).unwrap()
}

#[tokio::test]
async fn injected_errors_reach_the_client_and_are_counted() {
    let c = TestCluster::new("faults-errors").await;
    let Some(sim) = c.sim_only("fault injection") else {
        return c.cleanup().await;
    };
    let components = c.vimana("components");
    for (code, reason) in [
        (503, "ServiceUnavailable"),
        (429, "TooManyRequests"),
        (500, "InternalError"),
    ] {
        sim.set_faults(vec![rule(&format!(
            "verb=list,resource=components,error={code}"
        ))]);
        match components.list(&ListParams::default()).await {
            Err(kube::Error::Api(e)) => {
                assert_eq!(e.code, code);
                assert_eq!(e.reason, reason);
            }
            other => panic!("expected {code}, got {other:?}"),
        }
    }
    // Other verbs and resources are untouched by a rule for one verb and resource.
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    c.vimana("servers")
        .list(&ListParams::default())
        .await
        .unwrap();
    sim.set_faults(Vec::new());
    components.list(&ListParams::default()).await.unwrap();
    let text = sim.metrics_text();
    assert!(
        text.contains(
            r#"simcluster_faults_total{verb="list",resource="components",fault="error_503"} 1"#
        ),
        "{text}"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn dropped_connections_and_latency() {
    let c = TestCluster::new("faults-drop").await;
    let Some(sim) = c.sim_only("fault injection") else {
        return c.cleanup().await;
    };
    let components = c.vimana("components");
    sim.set_faults(vec![rule("verb=get,drop=1")]);
    let err = components
        .get("anything")
        .await
        .expect_err("a dropped connection is an error");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "no API answer expected, got {err:?}"
    );
    sim.set_faults(vec![rule("resource=components,latency=300ms")]);
    let started = Instant::now();
    components.list(&ListParams::default()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency added"
    );
    sim.set_faults(Vec::new());
    let log = sim.request_log();
    assert!(
        log.iter().any(|e| e.verb == "get" && e.status == 0),
        "dropped request logged"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn metrics_count_requests_by_verb_and_resource() {
    let c = TestCluster::new("metrics-count").await;
    let Some(sim) = c.sim_only("/metrics") else {
        return c.cleanup().await;
    };
    let components = c.vimana("components");
    let before = sim.requests("list", "components");
    for _ in 0..3 {
        components.list(&ListParams::default()).await.unwrap();
    }
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(sim.requests("list", "components") - before, 3);
    assert_eq!(sim.requests("apply", "components"), 1);
    // The endpoint itself, as Prometheus scrapes it.
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = c.client.request_text(req).await.unwrap();
    let line = format!(
        r#"simcluster_requests_total{{verb="list",resource="components"}} {}"#,
        before + 3
    );
    assert!(text.contains(&line), "{line} not in\n{text}");
    c.cleanup().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused() {
    let c = TestCluster::new("auth-token").await;
    let Some(sim) = c.sim_only("the simcluster token") else {
        return c.cleanup().await;
    };
    let kc = sim.kubeconfig().replace(sim.token(), "wrong");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kc");
    std::fs::write(&path, kc).unwrap();
    let client = crate::cluster::client_for(&path).await;
    let components: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(client, &c.ns, &crate::cluster::resource("components"));
    match components.list(&ListParams::default()).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
    c.cleanup().await;
}
