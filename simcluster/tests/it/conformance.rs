//! Behaviours of kube-apiserver that simulated clusters get wrong easily (issue 16), each with
//! the Kubernetes source it follows. Paths are in kubernetes/kubernetes.

use futures_util::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use crate::cluster::{TestCluster, apply, code, component, server};

/// A request as written, answered with its status code and JSON body.
async fn call(
    c: &TestCluster,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    match c.client.request_text(req).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(e)) => (
            e.code,
            json!({"message": e.message, "reason": e.reason, "status": e.status}),
        ),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn servers_path(c: &TestCluster) -> String {
    format!("/apis/{}/namespaces/{}/servers", model::API_VERSION, c.ns)
}

// `staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go`
// (`Apply`: "failed to create typed patch object (%v): %v") over structured-merge-diff's
// "field not declared in schema"; a plain error, so 500 (`responsewriters/status.go`,
// `ErrorToAPIStatus`). 400 only after kubernetes/kubernetes#139255.
#[tokio::test]
async fn an_applied_field_the_schema_does_not_declare_refuses_the_whole_apply() {
    let c = TestCluster::new("conf-undeclared").await;
    let servers = c.vimana("servers");
    let mut s = server("adder", json!({"1.0.0": 100}));
    s["spec"]["replicas"] = json!(3);
    for validation in [None, Some("Ignore"), Some("Strict")] {
        let mut pp = PatchParams::apply("rec");
        pp.field_validation = validation.map(|v| match v {
            "Ignore" => kube::api::ValidationDirective::Ignore,
            _ => kube::api::ValidationDirective::Strict,
        });
        let (status, message) = code(servers.patch("adder", &pp, &Patch::Apply(&s)).await);
        assert_eq!(status, 500, "{message}");
        assert_eq!(
            message,
            format!(
                "failed to create typed patch object ({}/adder; api.vimana.host/v1alpha1, Kind=Server): .spec.replicas: field not declared in schema",
                c.ns
            )
        );
    }
    assert!(servers.get_opt("adder").await.unwrap().is_none());
    // A merge patch with the same field is pruned, as before: only apply is typed.
    apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let patched = servers
        .patch(
            "adder",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert!(patched.data["spec"].get("replicas").is_none());
    c.cleanup().await;
}

// `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go`,
// `ValidatePatchOptions`: field.Required(fieldManager, "is required for apply patch"),
// reported as an Invalid `PatchOptions.meta.k8s.io` by `handlers/patch.go`.
#[tokio::test]
async fn apply_without_a_field_manager_is_422() {
    let c = TestCluster::new("conf-manager").await;
    let body = serde_json::to_vec(&server("adder", json!({"1.0.0": 100}))).unwrap();
    let (status, answer) = call(
        &c,
        "PATCH",
        &format!("{}/adder", servers_path(&c)),
        "application/apply-patch+yaml",
        body,
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    c.cleanup().await;
}

// `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go`
// (`NegotiateInputSerializer` → `NewUnsupportedMediaTypeError`); custom resources have no
// protobuf serializer (`apiextensions-apiserver/pkg/apiserver/customresource_handler.go`).
#[tokio::test]
async fn a_body_in_an_unsupported_content_type_is_415() {
    let c = TestCluster::new("conf-415").await;
    let body = serde_json::to_vec(&server("adder", json!({"1.0.0": 100}))).unwrap();
    let (status, answer) = call(&c, "POST", &servers_path(&c), "text/plain", body.clone()).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["reason"], "UnsupportedMediaType");
    let (status, _) = call(
        &c,
        "POST",
        &servers_path(&c),
        "application/vnd.kubernetes.protobuf",
        body,
    )
    .await;
    assert_eq!(status, 415);
    let cm = serde_json::to_vec(
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    )
    .unwrap();
    let (status, answer) = call(
        &c,
        "POST",
        &format!("/api/v1/namespaces/{}/configmaps", c.ns),
        "application/cbor",
        cm,
    )
    .await;
    assert_eq!(status, 415, "{answer}");
    c.cleanup().await;
}

// `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`, `finalizeDelete`:
// without `ReturnDeletedObject` (the custom resource store does not set it) a DELETE answers
// a Success Status whose details name the group, the resource as `kind`, the name and uid.
#[tokio::test]
async fn deleting_a_custom_resource_answers_a_status() {
    let c = TestCluster::new("conf-delete").await;
    let servers = c.vimana("servers");
    let created = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let (status, answer) = call(
        &c,
        "DELETE",
        &format!("{}/adder", servers_path(&c)),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["kind"], "Status");
    assert_eq!(answer["status"], "Success");
    assert_eq!(answer["details"]["group"], "api.vimana.host");
    assert_eq!(answer["details"]["kind"], "servers");
    assert_eq!(answer["details"]["name"], "adder");
    assert_eq!(answer["details"]["uid"], json!(created.metadata.uid));
    c.cleanup().await;
}

// `staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go`, `BeforeDelete`: a deletion that
// waits for finalizers sets deletionTimestamp and bumps generation;
// `staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go`,
// `ValidateNoNewFinalizers`: no finalizer may be added after that.
#[tokio::test]
async fn a_deletion_that_waits_for_finalizers_bumps_generation_and_takes_no_new_ones() {
    let c = TestCluster::new("conf-finalizers").await;
    let servers = c.vimana("servers");
    let mut s = server("adder", json!({"1.0.0": 100}));
    s["metadata"]["finalizers"] = json!(["vimana.host/keep"]);
    let created = apply(&servers, "rec", &s, false).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    servers
        .delete("adder", &DeleteParams::default())
        .await
        .unwrap();
    let deleting = servers.get("adder").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(deleting.metadata.generation, Some(2));
    let (status, message) = code(
        servers
            .patch(
                "adder",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"finalizers": ["vimana.host/keep", "vimana.host/more"]}}),
                ),
            )
            .await,
    );
    assert_eq!(status, 422, "{message}");
    assert!(
        message.contains("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"vimana.host/more\"}"),
        "{message}"
    );
    servers
        .patch(
            "adder",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert!(servers.get_opt("adder").await.unwrap().is_none());
    c.cleanup().await;
}

// A PUT's uid is a precondition (`staging/src/k8s.io/apiserver/pkg/registry/rest/update.go`,
// `defaultUpdatedObjectInfo.Preconditions`: 409); a patch that changes it fails validation
// (`staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go`,
// `ValidateObjectMetaUpdate`, `ValidateImmutableField`: 422).
#[tokio::test]
async fn a_changed_uid_is_409_on_update_and_422_on_patch() {
    let c = TestCluster::new("conf-uid").await;
    let servers = c.vimana("servers");
    let created = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 100})),
        false,
    )
    .await
    .unwrap();
    let other = "00000000-0000-4000-8000-000000000000";
    let mut changed = created.clone();
    changed.metadata.uid = Some(other.into());
    let (status, message) = code(
        servers
            .replace("adder", &PostParams::default(), &changed)
            .await,
    );
    assert_eq!(status, 409, "{message}");
    assert!(
        message.contains(&format!(
            "Precondition failed: UID in precondition: {other}"
        )),
        "{message}"
    );
    let (status, message) = code(
        servers
            .patch(
                "adder",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"uid": other}})),
            )
            .await,
    );
    assert_eq!(status, 422, "{message}");
    assert!(
        message.contains(&format!(
            "metadata.uid: Invalid value: \"{other}\": field is immutable"
        )),
        "{message}"
    );
    c.cleanup().await;
}

// `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`, `IsDNS1123Subdomain`
// and `RegexError`, reported by `ValidateObjectMeta` as `metadata.name: Invalid value`.
#[tokio::test]
async fn a_bad_name_is_refused_with_apimachinery_s_words() {
    let c = TestCluster::new("conf-names").await;
    let servers = c.vimana("servers");
    let mut s = server("Adder_1", json!({"1.0.0": 100}));
    s["spec"]["id"] = json!("adder");
    let s: kube::api::DynamicObject = serde_json::from_value(s).unwrap();
    let (status, message) = code(servers.create(&PostParams::default(), &s).await);
    assert_eq!(status, 422, "{message}");
    assert!(
        message.contains("metadata.name: Invalid value: \"Adder_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        "{message}"
    );
    c.cleanup().await;
}

// `staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go`, `GetList`: remainingItemCount
// only when the list is not filtered by a selector.
#[tokio::test]
async fn a_filtered_page_has_no_remaining_item_count() {
    let c = TestCluster::new("conf-remaining").await;
    let components = c.vimana("components");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        apply(
            &components,
            "rec",
            &component(&format!("adder-{}", v.replace('.', "-")), v),
            false,
        )
        .await
        .unwrap();
    }
    let path = format!(
        "/apis/{}/namespaces/{}/components",
        model::API_VERSION,
        c.ns
    );
    let (_, page) = call(
        &c,
        "GET",
        &format!("{path}?limit=1"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(page["metadata"]["remainingItemCount"], 2, "{page}");
    let (_, page) = call(
        &c,
        "GET",
        &format!("{path}?limit=1&labelSelector=vimana.host%2Fserver%3Dadder"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert!(page["metadata"]["continue"].is_string(), "{page}");
    assert!(
        page["metadata"].get("remainingItemCount").is_none(),
        "{page}"
    );
    c.cleanup().await;
}

// `staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go`:
// `validateWatchOptions` (sendInitialEvents needs resourceVersionMatch=NotOlderThan) and
// `ValidateListOptions` (no sendInitialEvents on a list).
#[tokio::test]
async fn send_initial_events_requires_not_older_than() {
    let c = TestCluster::new("conf-initial").await;
    let path = format!(
        "/apis/{}/namespaces/{}/components",
        model::API_VERSION,
        c.ns
    );
    let (status, answer) = call(
        &c,
        "GET",
        &format!("{path}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    );
    let (status, _) = call(
        &c,
        "GET",
        &format!(
            "{path}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0"
        ),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 422);
    c.cleanup().await;
}

// `staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go`, `convertToWatchEvent`:
// an object that stops matching is DELETED with its previous content (which matched).
#[tokio::test]
async fn an_object_leaving_the_selection_is_deleted_with_its_matching_content() {
    let c = TestCluster::new("conf-leave").await;
    let components = c.vimana("components");
    let created = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let wp = WatchParams::default().labels("stage=canary").timeout(20);
    let mut labelled = component("adder-1-0-0", "1.0.0");
    labelled["metadata"]["labels"]["stage"] = json!("canary");
    apply(&components, "rec", &labelled, false).await.unwrap();
    let mut stream = components.watch(&wp, &rv).await.unwrap().boxed();
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("events in time")
            .unwrap()
            .expect("stream open");
        if let WatchEvent::Deleted(o) = ev {
            assert_eq!(o.labels().get("stage").map(String::as_str), Some("canary"));
            break;
        }
    }
    c.cleanup().await;
}

// A watch cache keeps events for a bounded time
// (`staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go`, `eventFreshDuration`);
// a watch from a resourceVersion whose events are gone gets 410 Gone.
#[tokio::test]
async fn a_watch_from_a_version_older_than_the_history_is_gone() {
    let config = simcluster::Config {
        watch_history: std::time::Duration::from_millis(200),
        ..crate::cluster::test_config()
    };
    let c = TestCluster::with_config("conf-history", config).await;
    if c.sim_only("a short watch history").is_none() {
        return c.cleanup().await;
    }
    let components = c.vimana("components");
    let created = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut labelled = component("adder-1-0-0", "1.0.0");
    labelled["metadata"]["labels"]["stage"] = json!("canary");
    apply(&components, "rec", &labelled, false).await.unwrap();
    // Within the window the change is replayed.
    let mut stream = components
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Modified(_)), "{first:?}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut stream = components
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!(e.code, 410, "{e:?}"),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    // A client recovers by listing again and watching from the list's version.
    let list = components.list(&Default::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = components
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(
        !matches!(stream.try_next().await.unwrap(), Some(WatchEvent::Error(_))),
        "a watch from a fresh list is not gone"
    );
    c.cleanup().await;
}

// kube-openapi checks `format` on strings only (`k8s.io/kube-openapi/pkg/validation/validate/
// formats.go`, `formatValidator.Applies`): an int32 field of a CRD takes a larger integer, so
// only the product's own bound (render/src/vimana/convert/server.rs) keeps weights in range.
#[tokio::test]
async fn int32_is_not_range_checked_for_custom_resources() {
    let c = TestCluster::new("conf-int32").await;
    let servers = c.vimana("servers");
    let stored = apply(
        &servers,
        "rec",
        &server("adder", json!({"1.0.0": 3_000_000_000u64})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        stored.data["spec"]["versionWeights"]["1.0.0"],
        3_000_000_000u64
    );
    c.cleanup().await;
}

// Built-in kinds: `pkg/apis/core/validation/events.go` (`legacyValidateEvent`),
// `pkg/apis/coordination/validation/validation.go` (`ValidateLeaseSpec`),
// `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go` (`UnmarshalJSON` with
// `RFC3339Micro`), `pkg/apis/core/validation/validation.go` (`ValidateConfigMap`).
#[tokio::test]
async fn built_in_kinds_are_validated_as_the_api_server_does() {
    let c = TestCluster::new("conf-builtin").await;
    let post = |path: String, body: Value| {
        let c = &c;
        async move {
            call(
                c,
                "POST",
                &path,
                "application/json",
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    let ns = c.ns.clone();
    let (status, answer) = post(
        format!("/api/v1/namespaces/{ns}/events"),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Server", "namespace": "elsewhere", "name": "adder"},
            "reason": "Synced", "message": "m"}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains(
            "involvedObject.namespace: Invalid value: \"elsewhere\": does not match event.namespace"
        ),
        "{answer}"
    );
    let lease = |duration: i64, renew: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": duration, "renewTime": renew}})
    };
    let leases = format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases");
    let (status, answer) = post(leases.clone(), lease(0, "2026-01-01T00:00:00.000000Z")).await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = post(leases.clone(), lease(15, "2026-01-01T00:00:00Z")).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = post(leases, lease(15, "2026-01-01T00:00:00.123456Z")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(
        format!("/api/v1/namespaces/{ns}/configmaps"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a b": "c"}}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("data[a b]"),
        "{answer}"
    );
    c.cleanup().await;
}

// `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time.go`, `UnmarshalJSON`: `null` is the
// zero time. Go clients write `creationTimestamp: null` for an object not yet created
// (kubectl 1.20 on `create namespace` and `create configmap`).
#[tokio::test]
async fn a_null_creation_timestamp_is_accepted() {
    let c = TestCluster::new("conf-null-time").await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "creationTimestamp": null}, "data": {"a": "b"}});
    let (status, answer) = call(
        &c,
        "POST",
        &format!("/api/v1/namespaces/{}/configmaps", c.ns),
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["metadata"]["creationTimestamp"].is_string(),
        "{answer}"
    );
    c.cleanup().await;
}
