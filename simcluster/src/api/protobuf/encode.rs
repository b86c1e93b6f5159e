//! Answers in Kubernetes' protobuf encoding: the JSON objects the store keeps, translated once
//! into the `k8s-pb` messages (ObjectMeta, then each kind's fields), lists and `meta.v1.Status`,
//! each wrapped as the API server's protobuf serializer writes it
//! (`staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`,
//! `Serializer.doEncode`): the magic `k8s\0`, then a `runtime.Unknown` whose `typeMeta`
//! names the apiVersion and kind and whose `raw` is the message (`contentType` left empty).

use std::collections::BTreeMap;

use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;
use serde_json::Value;

use super::MAGIC;

/// The `k8s\0` + `runtime.Unknown` bytes of a message of `kind` under `api_version`.
pub(crate) fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    unknown.encode(&mut out).expect("a Vec has room");
    out
}

/// The message of one object of a built-in kind; `None` for a kind without a protobuf form.
pub(crate) fn object(kind: &str, v: &Value) -> Option<Vec<u8>> {
    Some(match kind {
        "Namespace" => namespace(v).encode_to_vec(),
        "ConfigMap" => config_map(v).encode_to_vec(),
        "Event" => event(v).encode_to_vec(),
        "Lease" => lease(v).encode_to_vec(),
        _ => return None,
    })
}

/// The message of a list (`NamespaceList`, ...) of `kind` objects; `None` as for [`object`].
pub(crate) fn list(kind: &str, v: &Value) -> Option<Vec<u8>> {
    let metadata = Some(list_meta(&v["metadata"]));
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    Some(match kind {
        "Namespace" => core::NamespaceList {
            metadata,
            items: items.iter().map(namespace).collect(),
        }
        .encode_to_vec(),
        "ConfigMap" => core::ConfigMapList {
            metadata,
            items: items.iter().map(config_map).collect(),
        }
        .encode_to_vec(),
        "Event" => core::EventList {
            metadata,
            items: items.iter().map(event).collect(),
        }
        .encode_to_vec(),
        "Lease" => coordination::LeaseList {
            metadata,
            items: items.iter().map(lease).collect(),
        }
        .encode_to_vec(),
        _ => return None,
    })
}

/// The message of a `Status` (failure or success) body.
pub(crate) fn status(v: &Value) -> Vec<u8> {
    let d = &v["details"];
    let details = d.is_object().then(|| meta::StatusDetails {
        name: s(&d["name"]),
        group: s(&d["group"]),
        kind: s(&d["kind"]),
        uid: s(&d["uid"]),
        causes: array(&d["causes"])
            .iter()
            .map(|c| meta::StatusCause {
                reason: s(&c["reason"]),
                message: s(&c["message"]),
                field: s(&c["field"]),
            })
            .collect(),
        retry_after_seconds: i32_of(&d["retryAfterSeconds"]),
    });
    meta::Status {
        metadata: Some(list_meta(&v["metadata"])),
        status: s(&v["status"]),
        message: s(&v["message"]),
        reason: s(&v["reason"]),
        details,
        code: i32_of(&v["code"]),
    }
    .encode_to_vec()
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn b(v: &Value) -> Option<bool> {
    v.as_bool()
}

fn i32_of(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|n| i32::try_from(n).ok())
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    array(v).iter().filter_map(s).collect()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), s(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn instant(v: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

/// `metav1.Time`: whole seconds.
fn time(v: &Value) -> Option<meta::Time> {
    let t = instant(v)?;
    Some(meta::Time {
        seconds: Some(t.timestamp()),
        nanos: Some(0),
    })
}

/// `metav1.MicroTime`: seconds and nanoseconds.
fn micro_time(v: &Value) -> Option<meta::MicroTime> {
    let t = instant(v)?;
    Some(meta::MicroTime {
        seconds: Some(t.timestamp()),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).ok(),
    })
}

fn list_meta(v: &Value) -> meta::ListMeta {
    meta::ListMeta {
        self_link: s(&v["selfLink"]),
        resource_version: s(&v["resourceVersion"]),
        r#continue: s(&v["continue"]),
        remaining_item_count: v["remainingItemCount"].as_i64(),
    }
}

fn object_meta(v: &Value) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(&v["name"]),
        generate_name: s(&v["generateName"]),
        namespace: s(&v["namespace"]),
        self_link: s(&v["selfLink"]),
        uid: s(&v["uid"]),
        resource_version: s(&v["resourceVersion"]),
        generation: v["generation"].as_i64(),
        creation_timestamp: time(&v["creationTimestamp"]),
        deletion_timestamp: time(&v["deletionTimestamp"]),
        deletion_grace_period_seconds: v["deletionGracePeriodSeconds"].as_i64(),
        labels: string_map(&v["labels"]),
        annotations: string_map(&v["annotations"]),
        owner_references: array(&v["ownerReferences"])
            .iter()
            .map(|o| meta::OwnerReference {
                api_version: s(&o["apiVersion"]),
                kind: s(&o["kind"]),
                name: s(&o["name"]),
                uid: s(&o["uid"]),
                controller: b(&o["controller"]),
                block_owner_deletion: b(&o["blockOwnerDeletion"]),
            })
            .collect(),
        finalizers: strings(&v["finalizers"]),
        managed_fields: array(&v["managedFields"])
            .iter()
            .map(managed_fields_entry)
            .collect(),
    })
}

/// One `managedFields` entry; `fieldsV1` travels as the raw bytes of its JSON.
fn managed_fields_entry(m: &Value) -> meta::ManagedFieldsEntry {
    meta::ManagedFieldsEntry {
        manager: s(&m["manager"]),
        operation: s(&m["operation"]),
        api_version: s(&m["apiVersion"]),
        time: time(&m["time"]),
        fields_type: s(&m["fieldsType"]),
        fields_v1: m.get("fieldsV1").map(|f| meta::FieldsV1 {
            raw: Some(serde_json::to_vec(f).expect("JSON values serialize")),
        }),
        subresource: s(&m["subresource"]),
    }
}

fn namespace(v: &Value) -> core::Namespace {
    core::Namespace {
        metadata: object_meta(&v["metadata"]),
        spec: v.get("spec").map(|sp| core::NamespaceSpec {
            finalizers: strings(&sp["finalizers"]),
        }),
        status: v.get("status").map(|st| core::NamespaceStatus {
            phase: s(&st["phase"]),
            conditions: Vec::new(),
        }),
    }
}

fn config_map(v: &Value) -> core::ConfigMap {
    use base64::Engine as _;
    let binary_data = v["binaryData"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(x.as_str()?)
                        .ok()?;
                    Some((k.clone(), bytes))
                })
                .collect()
        })
        .unwrap_or_default();
    core::ConfigMap {
        metadata: object_meta(&v["metadata"]),
        immutable: b(&v["immutable"]),
        data: string_map(&v["data"]),
        binary_data,
    }
}

fn object_reference(v: &Value) -> Option<core::ObjectReference> {
    v.is_object().then(|| core::ObjectReference {
        kind: s(&v["kind"]),
        namespace: s(&v["namespace"]),
        name: s(&v["name"]),
        uid: s(&v["uid"]),
        api_version: s(&v["apiVersion"]),
        resource_version: s(&v["resourceVersion"]),
        field_path: s(&v["fieldPath"]),
    })
}

fn event(v: &Value) -> core::Event {
    let src = &v["source"];
    let series = &v["series"];
    core::Event {
        metadata: object_meta(&v["metadata"]),
        involved_object: object_reference(&v["involvedObject"]),
        reason: s(&v["reason"]),
        message: s(&v["message"]),
        source: src.is_object().then(|| core::EventSource {
            component: s(&src["component"]),
            host: s(&src["host"]),
        }),
        first_timestamp: time(&v["firstTimestamp"]),
        last_timestamp: time(&v["lastTimestamp"]),
        count: i32_of(&v["count"]),
        r#type: s(&v["type"]),
        event_time: micro_time(&v["eventTime"]),
        series: series.is_object().then(|| core::EventSeries {
            count: i32_of(&series["count"]),
            last_observed_time: micro_time(&series["lastObservedTime"]),
        }),
        action: s(&v["action"]),
        related: object_reference(&v["related"]),
        reporting_component: s(&v["reportingComponent"]),
        reporting_instance: s(&v["reportingInstance"]),
    }
}

fn lease(v: &Value) -> coordination::Lease {
    let sp = &v["spec"];
    coordination::Lease {
        metadata: object_meta(&v["metadata"]),
        spec: sp.is_object().then(|| coordination::LeaseSpec {
            holder_identity: s(&sp["holderIdentity"]),
            lease_duration_seconds: i32_of(&sp["leaseDurationSeconds"]),
            acquire_time: micro_time(&sp["acquireTime"]),
            renew_time: micro_time(&sp["renewTime"]),
            lease_transitions: i32_of(&sp["leaseTransitions"]),
            strategy: s(&sp["strategy"]),
            preferred_holder: s(&sp["preferredHolder"]),
        }),
    }
}
