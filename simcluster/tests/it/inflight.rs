//! The max-in-flight limit (simulated cluster only): over it a request is answered at once with
//! 429, `Retry-After: 1` and kube-apiserver's plain-text body, as `WithMaxInFlightLimit` and
//! API Priority and Fairness answer through `tooManyRequests`
//! (`staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go`,
//! `filters/priority-and-fairness.go`); watches are long-running and never counted; each of
//! the two limits counts its own verbs.

use std::time::Duration;

use kube::api::{Api, ListParams, Patch, PatchParams};

use crate::cluster::TestCluster;

/// One HTTP/1.1 request with the cluster's token; the whole answer as text, headers included
/// (the kube client keeps no headers of a failure).
async fn raw(sim: &simcluster::Handle, method: &str, path: &str) -> String {
    let (addr, token) = (sim.addr(), sim.token().to_owned());
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // A watch never ends: its headers and first bytes are enough.
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn over_the_limit_a_request_gets_429_with_retry_after_and_a_watch_is_not_counted() {
    let config = simcluster::Config {
        max_in_flight: simcluster::inflight::Limits {
            read: 1,
            mutating: 1,
        },
        // The first LIST of ConfigMaps holds the one read slot for a while.
        faults: vec![
            simcluster::FaultRule::parse("verb=list,resource=configmaps,latency=5s").unwrap(),
        ],
        ..crate::cluster::test_config()
    };
    let c = TestCluster::with_config("max-in-flight", config).await;
    let Some(sim) = c.sim_only("the max-in-flight limit") else {
        return c.cleanup().await;
    };
    let path = format!("/api/v1/namespaces/{}/configmaps", c.ns);
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(c.client.clone(), &c.ns);
    let before = sim.requests("list", "configmaps");
    let slow = tokio::spawn({
        let configmaps = configmaps.clone();
        async move { configmaps.list(&ListParams::default()).await }
    });
    // A request is counted and admitted in one step: once counted, it holds the slot.
    crate::cluster::eventually(Duration::from_secs(5), || async {
        (sim.requests("list", "configmaps") > before).then_some(())
    })
    .await;

    let rejected = raw(sim, "GET", &path).await;
    assert!(rejected.starts_with("HTTP/1.1 429"), "{rejected}");
    assert!(
        rejected
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{rejected}"
    );
    assert!(
        rejected.ends_with("\r\n\r\nToo many requests, please try again later.\n"),
        "{rejected}"
    );
    match configmaps.get("anything").await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 429),
        other => panic!("expected 429, got {other:?}"),
    }
    let watch = raw(sim, "GET", &format!("{path}?watch=true")).await;
    assert!(
        watch.starts_with("HTTP/1.1 200"),
        "a watch is served: {watch}"
    );
    // Mutating requests have a limit of their own.
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "written"},
    });
    configmaps
        .patch("written", &PatchParams::apply("test"), &Patch::Apply(&body))
        .await
        .expect("the mutating slot is free");

    slow.await.unwrap().expect("the slow LIST is answered");
    configmaps
        .get("written")
        .await
        .expect("the read slot is free again");
    let text = sim.metrics_text();
    for verb in ["list", "get"] {
        let line = format!(
            r#"simcluster_faults_total{{verb="{verb}",resource="configmaps",fault="max_in_flight"}} 1"#
        );
        assert!(text.contains(&line), "{line} not in\n{text}");
    }
    c.cleanup().await;
}
