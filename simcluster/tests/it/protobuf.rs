//! Protobuf answers (`application/vnd.kubernetes.protobuf`) as kubectl's typed clients ask for
//! them: GET and LIST of a ConfigMap answer the `k8s\0` + `runtime.Unknown` form of
//! `staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`, which
//! `k8s-pb` decodes to the object the JSON answer shows; custom resources stay JSON.

use std::io::{Read, Write};

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::json;

use crate::cluster::TestCluster;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// A GET over plain HTTP/1.1 with `accept`: the status code, the Content-Type and the body.
async fn get(
    addr: std::net::SocketAddr,
    token: &str,
    path: &str,
    accept: &str,
) -> (u16, String, Vec<u8>) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).to_string();
        let code = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        (code, content_type, all[split + 4..].to_vec())
    })
    .await
    .unwrap()
}

/// The apiVersion, kind and raw message of a protobuf answer.
fn open(body: &[u8]) -> (String, String, Vec<u8>) {
    let envelope = body.strip_prefix(b"k8s\x00").expect("the protobuf magic");
    let u = Unknown::decode(envelope).unwrap();
    let tm = u.type_meta.unwrap();
    (tm.api_version.unwrap(), tm.kind.unwrap(), u.raw.unwrap())
}

#[tokio::test]
async fn a_protobuf_get_and_list_of_a_config_map_answer_protobuf() {
    let c = TestCluster::new("pb-configmap").await;
    let Some(sim) = c.sim_only("raw HTTP to the simulated cluster") else {
        return;
    };
    let (addr, token) = (sim.addr(), sim.token().to_owned());
    let cms: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        c.client.clone(),
        &c.ns,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let cm: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "labels": {"app": "adder"}},
        "data": {"a": "b"}, "binaryData": {"bin": "AAEC"}
    }))
    .unwrap();
    let created = cms.create(&Default::default(), &cm).await.unwrap();
    let path = format!("/api/v1/namespaces/{}/configmaps", c.ns);
    let accept = format!("{PROTOBUF},application/json");

    let (code, ct, body) = get(addr, &token, &format!("{path}/settings"), &accept).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let (av, kind, raw) = open(&body);
    assert_eq!((av.as_str(), kind.as_str()), ("v1", "ConfigMap"));
    let got = core::ConfigMap::decode(&raw[..]).unwrap();
    let m = got.metadata.clone().unwrap();
    assert_eq!(m.name.as_deref(), Some("settings"));
    assert_eq!(m.uid, created.metadata.uid);
    assert_eq!(m.resource_version, created.metadata.resource_version);
    assert_eq!(m.labels.get("app").map(String::as_str), Some("adder"));
    assert!(!m.managed_fields.is_empty());
    assert_eq!(got.data.get("a").map(String::as_str), Some("b"));
    assert_eq!(got.binary_data.get("bin"), Some(&vec![0u8, 1, 2]));
    let created_at = m.creation_timestamp.unwrap().seconds.unwrap();
    assert_eq!(
        Some(created_at),
        created.metadata.creation_timestamp.map(|t| t.0.timestamp())
    );

    let (code, ct, body) = get(addr, &token, &path, &accept).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let (_, kind, raw) = open(&body);
    assert_eq!(kind, "ConfigMapList");
    let list = core::ConfigMapList::decode(&raw[..]).unwrap();
    assert_eq!(list.items, vec![got]);
    assert!(list.metadata.unwrap().resource_version.is_some());

    // A missing object: a Status in protobuf.
    let (code, ct, body) = get(addr, &token, &format!("{path}/missing"), &accept).await;
    assert_eq!((code, ct.as_str()), (404, PROTOBUF));
    let (_, kind, raw) = open(&body);
    assert_eq!(kind, "Status");
    let st = meta::Status::decode(&raw[..]).unwrap();
    assert_eq!(
        (st.code, st.reason.as_deref()),
        (Some(404), Some("NotFound"))
    );

    // JSON first, or a custom resource: JSON; a custom resource for protobuf only: 406.
    let (_, ct, _) = get(addr, &token, &path, "application/json").await;
    assert_eq!(ct, "application/json");
    let servers = format!("/apis/{}/namespaces/{}/servers", model::API_VERSION, c.ns);
    let (code, ct, _) = get(addr, &token, &servers, &accept).await;
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    let (code, _, _) = get(addr, &token, &servers, PROTOBUF).await;
    assert_eq!(code, 406);
    c.cleanup().await;
}
