//! Plain API semantics: optimistic concurrency, generation, the status subresource, schema
//! validation, label selectors and pagination, discovery.

use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::discovery::Discovery;
use serde_json::json;

use crate::cluster::{DOMAIN_ID, TestCluster, apply, code, component, server};

#[tokio::test]
async fn a_stale_resource_version_is_a_409_conflict() {
    let c = TestCluster::new("api-rv").await;
    let servers = c.vimana("servers");
    let v1 = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let mut edited = v1.clone();
    edited.data["spec"]["versionWeights"] = json!({"1.0.0": 10});
    let v2 = servers
        .replace("adder", &PostParams::default(), &edited)
        .await
        .unwrap();
    assert_ne!(v1.metadata.resource_version, v2.metadata.resource_version);
    let mut stale = v1.clone();
    stale.data["spec"]["versionWeights"] = json!({"1.0.0": 20});
    let (status, message) = code(
        servers
            .replace("adder", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!(status, 409);
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );
    // A merge patch that names an old resourceVersion is refused the same way.
    let patch = json!({"metadata": {"resourceVersion": v1.metadata.resource_version}, "spec": {"services": []}});
    let (status, _) = code(
        servers
            .patch("adder", &PatchParams::default(), &Patch::Merge(patch))
            .await,
    );
    assert_eq!(status, 409);
    c.cleanup().await;
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let c = TestCluster::new("api-generation").await;
    let servers = c.vimana("servers");
    let v1 = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(v1.metadata.generation, Some(1));
    let labelled = servers
        .patch(
            "adder",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata changes keep the generation"
    );
    let status = servers
        .patch_status(
            "adder",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(
        status.metadata.generation,
        Some(1),
        "status changes keep the generation"
    );
    let changed = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 90, "1.1.0": 10})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    let json_patched = servers
        .patch(
            "adder",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([
            {"op": "replace", "path": "/spec/versionWeights/1.1.0", "value": 20}]))
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(json_patched.metadata.generation, Some(3));
    assert_eq!(json_patched.data["spec"]["versionWeights"]["1.1.0"], 20);
    c.cleanup().await;
}

#[tokio::test]
async fn status_is_a_subresource() {
    let c = TestCluster::new("api-status").await;
    let components = c.vimana("components");
    let mut obj = component("adder-1-0-0", "1.0.0");
    obj["status"] = json!({"observedGeneration": 7});
    let created = components
        .create(
            &PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        created.data["status"].get("observedGeneration").is_none(),
        "status ignored on create"
    );
    let patch =
        json!({"spec": {"image": "ghcr.io/acme/adder:other"}, "status": {"observedGeneration": 1}});
    let after = components
        .patch_status("adder-1-0-0", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
    assert_eq!(after.data["status"]["observedGeneration"], 1);
    assert_eq!(
        after.data["spec"]["image"], "ghcr.io/acme/adder:1.0.0",
        "spec ignored on status writes"
    );
    let main = components
        .patch(
            "adder-1-0-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main.data["status"]["observedGeneration"], 1,
        "status ignored on main writes"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn invalid_objects_get_422_with_field_paths() {
    let c = TestCluster::new("api-validation").await;
    let servers = c.vimana("servers");
    let bad = json!({
        "apiVersion": model::API_VERSION, "kind": "Server", "metadata": {"name": "adder"},
        "spec": {"id": "Adder!", "domain": "nothex", "versionWeights": {"1.0.0": -1}}
    });
    let (status, message) = code(apply(&servers, "rec", &bad, false).await);
    assert_eq!(status, 422, "{message}");
    for field in ["spec.id", "spec.domain", "spec.versionWeights"] {
        assert!(message.contains(field), "{field} missing in {message}");
    }
    let domains = c.vimana("domains");
    let missing = json!({"apiVersion": model::API_VERSION, "kind": "Domain", "metadata": {"name": "d"}, "spec": {"vimana": "main"}});
    let (status, message) = code(apply(&domains, "rec", &missing, false).await);
    assert_eq!(status, 422);
    assert!(message.contains("spec.id: Required value"), "{message}");
    let both = json!({"apiVersion": model::API_VERSION, "kind": "Domain", "metadata": {"name": "d"},
        "spec": {"id": DOMAIN_ID, "grpc": {"reflection": {"noneBut": ["a.B"], "allBut": ["c.D"]}}}});
    let (status, message) = code(apply(&domains, "rec", &both, false).await);
    assert_eq!(status, 422, "noneBut and allBut are exclusive: {message}");
    c.cleanup().await;
}

#[tokio::test]
async fn lists_filter_by_label_and_page() {
    let c = TestCluster::new("api-list").await;
    let components = c.vimana("components");
    for v in ["1.0.0", "1.1.0", "1.2.0", "2.0.0"] {
        apply(
            &components,
            "rec",
            &component(&format!("adder-{}", v.replace('.', "-")), v),
            false,
        )
        .await
        .unwrap();
    }
    let all = components.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 4);
    let one = components
        .list(&ListParams::default().labels("vimana.host/version=1.1.0"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].data["spec"]["version"], "1.1.0");
    let set = components
        .list(&ListParams::default().labels("vimana.host/version in (1.0.0,2.0.0)"))
        .await
        .unwrap();
    assert_eq!(set.items.len(), 2);
    let none = components
        .list(&ListParams::default().labels("vimana.host/server!=adder"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let page1 = components
        .list(&ListParams::default().limit(3))
        .await
        .unwrap();
    assert_eq!(page1.items.len(), 3);
    let token = page1.metadata.continue_.clone().expect("a continue token");
    let page2 = components
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(page2.items.len(), 1);
    assert!(
        page2
            .metadata
            .continue_
            .as_deref()
            .is_none_or(str::is_empty)
    );
    let rv: u64 = all.metadata.resource_version.unwrap().parse().unwrap();
    assert!(rv > 0);
    c.cleanup().await;
}

#[tokio::test]
async fn discovery_finds_the_vimana_kinds() {
    let c = TestCluster::new("api-discovery").await;
    let discovery = Discovery::new(c.client.clone()).run().await.unwrap();
    for kind in model::Kind::ALL {
        let found = discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .any(|(ar, caps)| {
                ar.kind == kind.as_str()
                    && ar.group == model::GROUP
                    && caps.scope == kube::discovery::Scope::Namespaced
            });
        assert!(found, "{kind} not discovered");
    }
    c.cleanup().await;
}
