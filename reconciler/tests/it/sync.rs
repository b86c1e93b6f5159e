//! `reconciler sync` and the live `reconciler diff` on a cluster (the simulated one, or a real
//! one with `RECONCILER_E2E_KUBECONFIG`).

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::cluster::TestCluster;
use super::{stderr, stdout};

pub const D: &str = "7e57000000000000000000000000d0d0";

pub fn domain() -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: calc}}\nspec: {{id: {D}}}\n"
    )
}

pub fn server(weights: &str, services: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: adder}}\nspec: {{id: adder, domain: {D}, services: [{services}], versionWeights: {weights}}}\n"
    )
}

pub fn component(version: &str, image_tag: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\nspec: {{domain: {D}, server: adder, version: {version}, image: \"ghcr.io/acme/adder:{image_tag}\"}}\n"
    )
}

/// Domain, Server adder on 1.0.0, Components 1.0.0 and (without traffic) 1.1.0.
fn sources(c: &TestCluster) {
    c.write_sources(&[
        ("domain.yaml", &domain()),
        ("server.yaml", &server("{1.0.0: 100}", "calc.v1.Adder")),
        ("c1.yaml", &component("1.0.0", "1.0.0")),
        ("c2.yaml", &component("1.1.0", "1.1.0")),
    ]);
}

#[track_caller]
pub fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

pub async fn weights(c: &TestCluster) -> BTreeMap<String, i64> {
    let s = c.api("servers").get("adder").await.unwrap();
    s.data["spec"]["versionWeights"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_then_a_no_op_sync_without_writes() {
    let c = TestCluster::new("first_sync").await;
    sources(&c);
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(
        stdout(&out).contains("sync complete: 4 created, 0 updated, 1 weight changes, 0 deleted"),
        "{}",
        stdout(&out)
    );
    assert_eq!(c.names("components").await, ["adder-1-0-0", "adder-1-1-0"]);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    let live = c.api("components").get("adder-1-0-0").await.unwrap();
    let labels = live.metadata.labels.unwrap();
    assert_eq!(labels["reconciler.vimana.host/instance"], c.ns);
    assert_eq!(labels["vimana.host/version"], "1.0.0");

    // The inventory records what was applied.
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(c.client.clone(), &c.ns);
    let inv = cms
        .get(&format!("reconciler-inventory-{}", c.ns))
        .await
        .unwrap();
    let listed: Vec<String> = serde_json::from_str(&inv.data.unwrap()["objects"]).unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");

    let (writes, requests) = (c.writes(), c.requests());
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(
        stdout(&out).contains("0 created, 0 updated, 0 weight changes, 0 deleted, 4 unchanged"),
        "{}",
        stdout(&out)
    );
    if c.sim_only("counting API calls").is_some() {
        assert_eq!(c.writes(), writes, "a no-op sync writes nothing");
        let calls = c.requests() - requests;
        assert!(calls <= 10, "a no-op sync made {calls} API calls");
    }
    let out = c.run("diff", &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    c.cleanup().await;
}

/// An inventory over what a ConfigMap holds as plain text (the API server refuses data over
/// 1 MiB: `ValidateConfigMap` in kubernetes pkg/apis/core/validation/validation.go, with
/// `MaxSecretSize`) is written compressed, read back whole, and written plain again once it
/// shrinks: server-side apply removes the compressed entry the field manager no longer sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_inventory_is_written_compressed_and_read_back_whole() {
    use reconciler::cluster::{Cluster, inventory, live};
    let c = TestCluster::new("large_inventory").await;
    let cluster = Cluster {
        client: c.client.clone(),
        embedded: None,
    };
    let key = |i: usize| model::ObjectKey {
        kind: model::Kind::Component,
        namespace: c.ns.clone(),
        name: format!("domain-{}-server-{}-v{}", i / 75, (i / 3) % 25, i % 3),
    };
    let large: std::collections::BTreeSet<_> = (0..60_000).map(key).collect();
    let plain: usize = large.iter().map(|k| inventory::key_text(k).len() + 3).sum();
    assert!(
        plain > inventory::CONFIGMAP_LIMIT,
        "{plain} bytes would fit plain"
    );

    live::write_inventory(&cluster, &c.ns, &c.ns, &large, Some("abc"))
        .await
        .unwrap();
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(c.client.clone(), &c.ns);
    let name = live::inventory_name(&c.ns);
    let cm = cms.get(&name).await.unwrap();
    let data = cm.data.unwrap_or_default();
    assert!(!data.contains_key(inventory::PLAIN_KEY), "{data:?}");
    assert_eq!(data["revision"], "abc");
    let compressed = &cm.binary_data.unwrap()[inventory::COMPRESSED_KEY].0;
    assert!(
        compressed.len() < inventory::CONFIGMAP_LIMIT / 4,
        "{} bytes",
        compressed.len()
    );
    let read = live::read_inventory(&cluster, &c.ns, &c.ns).await.unwrap();
    assert_eq!(read.keys, large);
    assert_eq!(read.revision.as_deref(), Some("abc"));

    let small: std::collections::BTreeSet<_> = (0..3).map(key).collect();
    live::write_inventory(&cluster, &c.ns, &c.ns, &small, Some("def"))
        .await
        .unwrap();
    let cm = cms.get(&name).await.unwrap();
    assert!(
        cm.binary_data.unwrap_or_default().is_empty(),
        "the compressed list is removed"
    );
    assert!(cm.data.unwrap()[inventory::PLAIN_KEY].starts_with("[\"Component/"));
    let read = live::read_inventory(&cluster, &c.ns, &c.ns).await.unwrap();
    assert_eq!(read.keys, small);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_gets_its_weights_in_the_pass_that_creates_its_components() {
    // The operator takes 700 ms: longer than creating the objects. One pass (`--no-wait`)
    // still ends with the weights live, because it watches the Components it created.
    let c = TestCluster::with("weights_same_pass", |config| {
        config.operator_delay = std::time::Duration::from_millis(700);
    })
    .await;
    sources(&c);
    let out = c.run("sync", &["--no-wait"]).await;
    ok(&out);
    assert!(
        stdout(&out).contains("sync complete: 4 created, 0 updated, 1 weight changes, 0 deleted"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    if let Some(sim) = c.sim_only("counting API calls") {
        // One watch of the Components, started from the pass's LIST: no read per Component
        // and no second LIST.
        assert_eq!(sim.requests("watch", "components"), 1);
        assert_eq!(sim.requests("get", "components"), 0);
        assert_eq!(sim.requests("list", "components"), 1);
    }
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_names_the_manager_that_last_changed_each_drifted_field() {
    let c = TestCluster::new("diff_changed_by").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    let params = kube::api::PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    c.api("servers")
        .patch(
            "adder",
            &params,
            &kube::api::Patch::Merge(json!({"spec": {"services": ["calc.v1.Sub"]}})),
        )
        .await
        .unwrap();
    let out = c.run("diff", &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["changes"][0]["changedBy"],
        json!([{"field": ".spec.services", "manager": "kubectl-edit"}])
    );
    let out = c.run("diff", &[]).await;
    assert!(
        stdout(&out).contains(".spec.services: last changed by kubectl-edit"),
        "{}",
        stdout(&out)
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_is_diffed_then_updated() {
    let c = TestCluster::new("changed_object").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    c.write_sources(&[
        ("domain.yaml", &domain()),
        (
            "server.yaml",
            &server("{1.0.0: 100}", "calc.v1.Adder, calc.v1.Stats"),
        ),
        ("c1.yaml", &component("1.0.0", "1.0.0")),
        ("c2.yaml", &component("1.1.0", "1.1.0")),
    ]);
    let out = c.run("diff", &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["update"], 1);
    let diff = report["changes"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("+  - calc.v1.Stats"), "{diff}");
    assert!(
        !diff.contains("managedFields") && !diff.contains("resourceVersion"),
        "{diff}"
    );
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("1 updated"), "{}", stdout(&out));
    let s = c.api("servers").get("adder").await.unwrap();
    assert_eq!(
        s.data["spec"]["services"],
        json!(["calc.v1.Adder", "calc.v1.Stats"])
    );
    assert_eq!(c.run("diff", &[]).await.status.code(), Some(0));
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_object_is_pruned_and_an_empty_render_is_refused() {
    let c = TestCluster::new("prune").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    // 1.1.0 carries no traffic: removing it from Git deletes it.
    c.write_sources(&[
        ("domain.yaml", &domain()),
        ("server.yaml", &server("{1.0.0: 100}", "calc.v1.Adder")),
        ("c1.yaml", &component("1.0.0", "1.0.0")),
    ]);
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(
        stdout(&out).contains(" delete Component"),
        "{}",
        stdout(&out)
    );
    assert_eq!(c.names("components").await, ["adder-1-0-0"]);

    // No sources at all: refused, nothing deleted.
    c.write_sources(&[("README.md", "empty")]);
    let out = c.run("sync", &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-empty"), "{}", stderr(&out));
    assert_eq!(c.names("components").await, ["adder-1-0-0"]);
    // With --allow-empty everything of the instance goes, traffic drained first.
    let out = c.run("sync", &["--allow-empty"]).await;
    ok(&out);
    assert_eq!(c.names("components").await, Vec::<String>::new());
    assert_eq!(c.names("servers").await, Vec::<String>::new());
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_objects_are_never_touched() {
    let c = TestCluster::new("foreign").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    let pp = PatchParams::apply("someone-else");
    // Not labelled for this instance.
    let foreign = json!({"apiVersion": "api.vimana.host/v1alpha1", "kind": "Component",
        "metadata": {"name": "other-1-0-0"},
        "spec": {"domain": D, "server": "adder", "version": "9.0.0", "image": "ghcr.io/acme/other:9"}});
    c.api("components")
        .patch("other-1-0-0", &pp, &Patch::Apply(&foreign))
        .await
        .unwrap();
    // Labelled for this instance but never applied by it (not in the inventory).
    let mut labelled = foreign.clone();
    labelled["metadata"] =
        json!({"name": "stray-1-0-0", "labels": {"reconciler.vimana.host/instance": c.ns}});
    labelled["spec"]["version"] = json!("9.1.0");
    c.api("components")
        .patch("stray-1-0-0", &pp, &Patch::Apply(&labelled))
        .await
        .unwrap();
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(stdout(&out).contains(" 0 deleted"), "{}", stdout(&out));
    assert_eq!(
        c.names("components").await,
        ["adder-1-0-0", "adder-1-1-0", "other-1-0-0", "stray-1-0-0"]
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_changed_by_another_manager_is_taken_back() {
    let c = TestCluster::new("conflict").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    let change = json!({"apiVersion": "api.vimana.host/v1alpha1", "kind": "Server",
        "metadata": {"name": "adder"}, "spec": {"id": "adder", "domain": D, "services": ["calc.v1.Hijacked"]}});
    c.api("servers")
        .patch(
            "adder",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(&change),
        )
        .await
        .unwrap();
    let out = c.run("diff", &[]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("-  - calc.v1.Hijacked"),
        "{}",
        stdout(&out)
    );
    ok(&c.run("sync", &[]).await);
    let s = c.api("servers").get("adder").await.unwrap();
    assert_eq!(s.data["spec"]["services"], json!(["calc.v1.Adder"]));
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_immutable() {
    let c = TestCluster::new("immutable").await;
    sources(&c);
    ok(&c.run("sync", &[]).await);
    c.write_sources(&[
        ("domain.yaml", &domain()),
        ("server.yaml", &server("{1.0.0: 100}", "calc.v1.Adder")),
        ("c1.yaml", &component("1.0.0", "1.0.0-patched")),
        ("c2.yaml", &component("1.1.0", "1.1.0")),
    ]);
    let out = c.run("sync", &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("immutable"), "{}", stderr(&out));
    let live = c.api("components").get("adder-1-0-0").await.unwrap();
    assert_eq!(live.data["spec"]["image"], "ghcr.io/acme/adder:1.0.0");
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_version_never_gets_traffic() {
    let c = TestCluster::with("weights_wait", |config| {
        config.unavailable_versions = ["1.1.0".to_owned()].into();
    })
    .await;
    let Some(_) = c.sim_only("an unavailable version") else {
        return c.cleanup().await;
    };
    sources(&c);
    ok(&c.run("sync", &[]).await);
    let shifted = server("{1.0.0: 50, 1.1.0: 50}", "calc.v1.Adder").replace(
        "metadata: {name: adder}",
        "metadata: {name: adder, annotations: {rollout.vimana.host/progress-deadline: 1s, rollout.vimana.host/interval: 1s}}",
    );
    c.write_sources(&[
        ("domain.yaml", &domain()),
        ("server.yaml", &shifted),
        ("c1.yaml", &component("1.0.0", "1.0.0")),
        ("c2.yaml", &component("1.1.0", "1.1.0")),
    ]);
    let out = c.run("sync", &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("rolled back") && err.contains("1.1.0 (adder-1-1-0: Available=False"),
        "{err}"
    );
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dry_run_applies_nothing() {
    let c = TestCluster::new("dry_run").await;
    let elsewhere = component("1.1.0", "1.1.0").replace(
        "kind: Component\n",
        "kind: Component\nmetadata: {namespace: r-missing-namespace-x}\n",
    );
    c.write_sources(&[
        ("domain.yaml", &domain()),
        ("server.yaml", &server("{1.0.0: 100}", "calc.v1.Adder")),
        ("c1.yaml", &component("1.0.0", "1.0.0")),
        ("c2.yaml", &elsewhere),
    ]);
    let out = c.run("sync", &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("nothing was applied") && err.contains("--create-namespace"),
        "{err}"
    );
    assert_eq!(c.names("components").await, Vec::<String>::new());
    assert_eq!(c.names("domains").await, Vec::<String>::new());
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_still_converge_with_nothing_lost_or_duplicated() {
    let c = TestCluster::with("faults", |config| {
        config.fault_seed = 7;
    })
    .await;
    let Some(sim) = c.sim_only("fault injection") else {
        return c.cleanup().await;
    };
    sim.set_faults(vec![
        simcluster::FaultRule::parse("error=503,rate=0.1").unwrap(),
        simcluster::FaultRule::parse("latency=20ms").unwrap(),
    ]);
    sources(&c);
    // Each pass retries what is safe to retry; a pass that still fails leaves a state the
    // next one completes.
    let mut passes = 0;
    loop {
        passes += 1;
        let out = c.run("sync", &[]).await;
        if out.status.code() == Some(0) {
            break;
        }
        assert!(passes < 5, "no convergence: {}", stderr(&out));
    }
    sim.set_faults(Vec::new());
    assert_eq!(c.names("components").await, ["adder-1-0-0", "adder-1-1-0"]);
    assert_eq!(c.names("servers").await, ["adder"]);
    assert_eq!(c.names("domains").await, ["calc"]);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    let out = c.run("diff", &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_a_git_repository_by_url() {
    let c = TestCluster::new("repo_url").await;
    let repo_dir = c.dir.path().join("repo");
    let work = reconciler::git::WorkTree::init(&repo_dir).unwrap();
    for (name, text) in [
        ("domain.yaml", domain()),
        ("server.yaml", server("{1.0.0: 100}", "calc.v1.Adder")),
        ("c1.yaml", component("1.0.0", "1.0.0")),
    ] {
        work.write(&format!("clusters/test/{name}"), &text).unwrap();
    }
    let commit = work.commit("sources").unwrap();
    let url = format!("file://{}", repo_dir.display());
    let cache = c.dir.path().join("cache").display().to_string();
    let out = c
        .run_plain(&[
            "sync",
            "--repo",
            &url,
            "--path",
            "clusters/test",
            "--cache-dir",
            &cache,
            "--instance",
            &c.ns,
        ])
        .await;
    ok(&out);
    assert!(
        super::stderr(&out).contains(&commit.to_string()[..12]),
        "{}",
        super::stderr(&out)
    );
    assert_eq!(c.names("components").await, ["adder-1-0-0"]);
    // The inventory records the revision.
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(c.client.clone(), &c.ns);
    let inv = cms
        .get(&format!("reconciler-inventory-{}", c.ns))
        .await
        .unwrap();
    assert_eq!(inv.data.unwrap()["revision"], commit.to_string());
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_removed_from_the_sources_is_removed_from_the_cluster() {
    let c = TestCluster::new("removed_label").await;
    let labelled = server("{1.0.0: 100}", "calc.v1.Adder").replace(
        "metadata: {name: adder}",
        "metadata: {name: adder, labels: {team: numerics}}",
    );
    let files = |s: &str| {
        c.write_sources(&[
            ("domain.yaml", &domain()),
            ("server.yaml", s),
            ("c1.yaml", &component("1.0.0", "1.0.0")),
        ])
    };
    files(&labelled);
    ok(&c.run("sync", &[]).await);
    let live = c.api("servers").get("adder").await.unwrap();
    assert_eq!(live.metadata.labels.unwrap()["team"], "numerics");
    files(&server("{1.0.0: 100}", "calc.v1.Adder"));
    let out = c.run("diff", &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("-    team: numerics"),
        "{}",
        stdout(&out)
    );
    ok(&c.run("sync", &[]).await);
    let live = c.api("servers").get("adder").await.unwrap();
    assert!(!live.metadata.labels.unwrap().contains_key("team"));
    assert_eq!(c.run("diff", &[]).await.status.code(), Some(0));
    c.cleanup().await;
}
