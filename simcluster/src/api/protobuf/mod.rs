//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`) for the built-in
//! kinds (Namespace, ConfigMap, Event, Lease): request bodies are read (`decode`), and answers
//! are written (`encode`) when the client's `Accept` header puts protobuf first, as kubectl's
//! typed clients send `application/vnd.kubernetes.protobuf,application/json`.
//!
//! The wire form is the 4-byte magic `k8s\0` and a `runtime.Unknown` envelope whose `raw`
//! holds the object's message (`staging/src/k8s.io/apimachinery/pkg/runtime/serializer/
//! protobuf/protobuf.go`). The messages are the `k8s-pb` crate's; only the translation to and
//! from the JSON the store keeps is written here. Custom resources have no protobuf form
//! (`apiextensions-apiserver/pkg/apiserver/customresource_handler.go` serves none): they are
//! answered in JSON when the client accepts it, else 406. Watches are answered in JSON.

mod decode;
mod encode;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

pub(super) use decode::decode;

use crate::resources::ResourceType;
use crate::status::Status;

/// The media type of protobuf bodies.
pub(super) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every protobuf body (`protobuf.go`, `protoEncodingPrefix`).
const MAGIC: &[u8] = b"k8s\x00";

/// Whether the API server accepts protobuf bodies of this type: built-in kinds only, custom
/// resources are JSON and YAML.
pub(super) fn served(rt: &ResourceType) -> bool {
    !rt.custom
}

/// 415 for a protobuf body of a type that has no protobuf form here.
pub(super) fn unsupported(rt: &ResourceType) -> Status {
    let accepted = if served(rt) {
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    } else {
        "application/json, application/yaml"
    };
    Status::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {accepted}"
        ),
    )
}

/// The media types of an `Accept` header, in order, each with whether it carries `as=` (a
/// Table or metadata form, which is only served in JSON here).
fn accepted(headers: &HeaderMap) -> Vec<(String, bool)> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept
        .split(',')
        .map(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default().to_ascii_lowercase();
            let as_ = params.any(|p| p.starts_with("as="));
            (media, as_)
        })
        .filter(|(m, _)| !m.is_empty())
        .collect()
}

/// Whether the answer about `rt` is written in protobuf: the client names protobuf (without
/// `as=`) first, and the type is built-in.
pub(super) fn preferred(headers: &HeaderMap, rt: &ResourceType) -> bool {
    served(rt)
        && accepted(headers)
            .first()
            .is_some_and(|(m, as_)| m == MEDIA_TYPE && !as_)
}

/// 406 for a request on a custom resource whose client accepts protobuf only: there is
/// nothing to answer it in (`negotiation.NegotiateOutputMediaType`).
pub(super) fn check_acceptable(headers: &HeaderMap, rt: &ResourceType) -> Result<(), Status> {
    let types = accepted(headers);
    let protobuf_only = !types.is_empty() && types.iter().all(|(m, _)| m == MEDIA_TYPE);
    if rt.custom && protobuf_only {
        return Err(Status::new(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml, application/json;stream=watch",
        ));
    }
    Ok(())
}

/// A protobuf answer under `code`.
fn response(code: StatusCode, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    r
}

/// One object (or a `Status`, by its `kind`) of `rt` in protobuf; `None` when it has no
/// protobuf form.
pub(super) fn object_response(code: StatusCode, rt: &ResourceType, v: &Value) -> Option<Response> {
    if v["kind"] == "Status" {
        return Some(status_response(code, v));
    }
    let raw = encode::object(&rt.kind, v)?;
    Some(response(
        code,
        encode::envelope(&rt.api_version(), &rt.kind, raw),
    ))
}

/// A list (`{kind}List`) of `rt` objects in protobuf; `None` when it has no protobuf form.
pub(super) fn list_response(rt: &ResourceType, v: &Value) -> Option<Response> {
    let raw = encode::list(&rt.kind, v)?;
    let kind = format!("{}List", rt.kind);
    Some(response(
        StatusCode::OK,
        encode::envelope(&rt.api_version(), &kind, raw),
    ))
}

/// A `Status` body in protobuf.
pub(super) fn status_response(code: StatusCode, v: &Value) -> Response {
    response(code, encode::envelope("v1", "Status", encode::status(v)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(api_version: &str, kind: &str, v: &Value) -> Value {
        let bytes = encode::envelope(api_version, kind, encode::object(kind, v).unwrap());
        let (av, k, raw) = decode::open(&bytes).unwrap();
        assert_eq!((av.as_str(), k.as_str()), (api_version, kind));
        let mut back = decode::object_from_raw(kind, &raw).unwrap().unwrap();
        back["apiVersion"] = json!(av);
        back["kind"] = json!(k);
        back
    }

    fn meta(name: &str) -> Value {
        json!({
            "name": name, "namespace": "default", "uid": "u-1", "resourceVersion": "7",
            "creationTimestamp": "2026-11-29T20:30:00Z",
            "labels": {"app": "adder"}, "annotations": {"note": "x"},
            "finalizers": ["example.com/keep"],
            "ownerReferences": [{"apiVersion": "vimana.io/v1", "kind": "Server", "name": "s",
                "uid": "u-0", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                "time": "2026-11-29T20:30:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:a": {}}}}]
        })
    }

    #[test]
    fn each_kind_survives_a_round_trip() {
        let objects = [
            (
                "v1",
                json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "ns", "uid": "u", "creationTimestamp": "2026-11-29T20:30:00Z"},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            ),
            (
                "v1",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm"),
                    "data": {"a": "b"}, "binaryData": {"bin": "AAEC"}, "immutable": true}),
            ),
            (
                "v1",
                json!({"apiVersion": "v1", "kind": "Event", "metadata": meta("e"),
                    "involvedObject": {"kind": "Server", "namespace": "default", "name": "s", "uid": "u-0"},
                    "reason": "Synced", "message": "ok", "source": {"component": "vimana"},
                    "firstTimestamp": "2026-11-29T20:30:00Z", "lastTimestamp": "2026-11-29T20:31:00Z",
                    "count": 2, "type": "Normal", "eventTime": "2026-11-29T20:30:00.123456Z",
                    "reportingComponent": "vimana", "reportingInstance": "r-1"}),
            ),
            (
                "coordination.k8s.io/v1",
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("l"),
                    "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15,
                        "acquireTime": "2026-11-29T20:30:00.000001Z",
                        "renewTime": "2026-11-29T20:30:05.123456Z", "leaseTransitions": 0}}),
            ),
        ];
        for (av, obj) in objects {
            let kind = obj["kind"].as_str().unwrap();
            assert_eq!(round_trip(av, kind, &obj), obj, "{kind}");
        }
    }

    #[test]
    fn lists_and_statuses_survive_a_round_trip() {
        for kind in ["Namespace", "ConfigMap", "Event", "Lease"] {
            let list = json!({
                "metadata": {"resourceVersion": "42", "continue": "c", "remainingItemCount": 3},
                "items": [{"metadata": {"name": "a", "namespace": "default"}},
                          {"metadata": {"name": "b", "namespace": "default"}}],
            });
            let raw = encode::list(kind, &list).unwrap();
            let back = decode::list_from_raw(kind, &raw).unwrap().unwrap();
            assert_eq!(back, list, "{kind}List");
        }
        let st =
            Status::not_found(&crate::resources::Registry::new().get(0).clone(), "missing").body();
        let bytes = encode::envelope("v1", "Status", encode::status(&st));
        let (_, kind, raw) = decode::open(&bytes).unwrap();
        assert_eq!(kind, "Status");
        let m = k8s_pb::apimachinery::pkg::apis::meta::v1::Status::decode(&raw[..]).unwrap();
        use prost::Message as _;
        assert_eq!(m.code, Some(404));
        assert_eq!(m.reason.as_deref(), Some("NotFound"));
        assert_eq!(m.details.unwrap().name.as_deref(), Some("missing"));
    }

    #[test]
    fn protobuf_is_chosen_only_when_named_first_without_as() {
        let reg = crate::resources::Registry::new();
        let cm = reg.get(reg.find("", "v1", "configmaps").unwrap());
        let h = |a: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
            h
        };
        assert!(preferred(
            &h("application/vnd.kubernetes.protobuf,application/json"),
            cm
        ));
        assert!(!preferred(
            &h("application/json,application/vnd.kubernetes.protobuf"),
            cm
        ));
        assert!(!preferred(
            &h("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"),
            cm
        ));
        assert!(!preferred(&HeaderMap::new(), cm));
    }
}
