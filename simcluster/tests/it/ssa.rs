//! Server-side apply: ownership per manager, conflicts and force, removal of fields a manager
//! stops applying, dry runs.

use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::cluster::{TestCluster, apply, code, component, server};

fn managers(obj: &kube::api::DynamicObject) -> Vec<(String, String)> {
    obj.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_creates_then_records_each_manager() {
    let c = TestCluster::new("ssa-managers").await;
    let servers = c.vimana("servers");
    let created = apply(
        &servers,
        "alice",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(managers(&created).contains(&("alice".into(), "Apply".into())));
    let mut labels = server("adder", json!({}));
    labels["spec"] = json!({"id": "adder", "domain": crate::cluster::DOMAIN_ID});
    labels["metadata"]["labels"] = json!({"team": "blue"});
    let both = apply(&servers, "bob", &labels, false).await.unwrap();
    let ms = managers(&both);
    assert!(
        ms.contains(&("alice".into(), "Apply".into()))
            && ms.contains(&("bob".into(), "Apply".into())),
        "{ms:?}"
    );
    let bob = both
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some("bob"))
        .unwrap();
    let fields = serde_json::to_value(&bob.fields_v1).unwrap();
    assert!(
        fields["f:metadata"]["f:labels"].get("f:team").is_some(),
        "{fields}"
    );
    assert_eq!(
        both.data["spec"]["versionWeights"],
        json!({"1.0.0": 100}),
        "alice's fields stay"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn conflicting_apply_is_refused_with_409_until_forced() {
    let c = TestCluster::new("ssa-conflict").await;
    let servers = c.vimana("servers");
    apply(
        &servers,
        "alice",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let err = apply(
        &servers,
        "bob",
        &server("adder", json!({"1.0.0": 50})),
        false,
    )
    .await;
    let (status, message) = code(err);
    assert_eq!(status, 409);
    assert!(
        message.contains("conflict with \"alice\"") && message.contains(".spec.versionWeights"),
        "{message}"
    );
    // Applying the same value is shared ownership, not a conflict.
    apply(
        &servers,
        "carol",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let forced = apply(
        &servers,
        "bob",
        &server("adder", json!({"1.0.0": 50})),
        true,
    )
    .await
    .unwrap();
    assert_eq!(forced.data["spec"]["versionWeights"]["1.0.0"], 50);
    let alice = forced
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some("alice"))
        .unwrap();
    let fields = serde_json::to_value(&alice.fields_v1).unwrap();
    assert!(
        fields["f:spec"]["f:versionWeights"]
            .get("f:1.0.0")
            .is_none(),
        "alice lost the field: {fields}"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn fields_a_manager_stops_applying_are_removed_unless_someone_else_owns_them() {
    let c = TestCluster::new("ssa-removal").await;
    let servers = c.vimana("servers");
    apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 50, "1.1.0": 50})),
        false,
    )
    .await
    .unwrap();
    // Another manager takes a field with a plain merge patch.
    let pp = PatchParams {
        field_manager: Some("ops".into()),
        ..Default::default()
    };
    servers
        .patch(
            "adder",
            &pp,
            &Patch::Merge(json!({"spec": {"services": ["calc.v1.Adder"]}})),
        )
        .await
        .unwrap();
    let mut next = server("adder", json!({"1.1.0": 100}));
    next["metadata"]["labels"] = json!({"a": "b"});
    let after = apply(&servers, "rec", &next, false).await.unwrap();
    assert_eq!(
        after.data["spec"]["versionWeights"],
        json!({"1.1.0": 100}),
        "1.0.0 removed"
    );
    assert_eq!(
        after.data["spec"]["services"],
        json!(["calc.v1.Adder"]),
        "owned by ops, kept"
    );
    // Dropping the label again removes it.
    let after = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.1.0": 100})),
        false,
    )
    .await
    .unwrap();
    assert!(
        after
            .metadata
            .labels
            .as_ref()
            .is_none_or(|l| !l.contains_key("a"))
    );
    c.cleanup().await;
}

#[tokio::test]
async fn dry_run_validates_and_answers_without_persisting() {
    let c = TestCluster::new("ssa-dry-run").await;
    let components = c.vimana("components");
    let mut pp = PatchParams::apply("rec");
    pp.dry_run = true;
    let obj = component("adder-1-0-0", "1.0.0");
    let answer = components
        .patch("adder-1-0-0", &pp, &Patch::Apply(&obj))
        .await
        .unwrap();
    assert_eq!(answer.data["spec"]["image"], "ghcr.io/acme/adder:1.0.0");
    assert!(
        components.get_opt("adder-1-0-0").await.unwrap().is_none(),
        "nothing stored"
    );
    let mut bad = obj.clone();
    bad["spec"]["version"] = json!("one");
    let (status, message) = code(
        components
            .patch("adder-1-0-0", &pp, &Patch::Apply(&bad))
            .await,
    );
    assert_eq!(status, 422, "{message}");
    // A dry-run change of an existing object leaves it as it was.
    let live = apply(&components, "rec", &obj, false).await.unwrap();
    let mut changed = obj.clone();
    changed["metadata"]["labels"]["extra"] = json!("x");
    let preview = components
        .patch("adder-1-0-0", &pp, &Patch::Apply(&changed))
        .await
        .unwrap();
    assert_eq!(preview.labels().get("extra").map(String::as_str), Some("x"));
    let now = components.get("adder-1-0-0").await.unwrap();
    assert_eq!(
        now.metadata.resource_version,
        live.metadata.resource_version
    );
    assert!(!now.labels().contains_key("extra"));
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    components.delete("adder-1-0-0", &dp).await.unwrap();
    assert!(
        components.get_opt("adder-1-0-0").await.unwrap().is_some(),
        "dry-run delete keeps it"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn an_unchanged_apply_does_not_write() {
    let c = TestCluster::new("ssa-noop").await;
    let components = c.vimana("components");
    let first = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let again = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        first.metadata.resource_version,
        again.metadata.resource_version
    );
    assert_eq!(again.metadata.generation, Some(1));
    c.cleanup().await;
}
