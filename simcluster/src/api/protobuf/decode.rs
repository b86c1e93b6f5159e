//! Request bodies in Kubernetes' protobuf encoding, as kubectl sends them for built-in kinds
//! (`create namespace`, `create configmap`), read into the JSON objects the store keeps: the
//! `k8s-pb` messages (generated from Kubernetes' own `generated.proto` files) translated field
//! by field, Go's `omitempty` rules included. The tests' round trips read answers back here.

use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};

use super::{MAGIC, unsupported};
use crate::resources::ResourceType;
use crate::status::Status;

/// The object of a protobuf body, as JSON.
pub(crate) fn decode(rt: &ResourceType, body: &[u8]) -> Result<Value, Status> {
    let (api_version, kind, raw) = open(body)?;
    if api_version != rt.api_version() || kind != rt.kind {
        return Err(Status::bad_request(format!(
            "the API version in the data ({api_version}) and the kind ({kind}) do not match the resource {} ({})",
            rt.group_resource(),
            rt.api_version()
        )));
    }
    let mut obj = match object_from_raw(&kind, &raw) {
        Some(r) => r.map_err(malformed)?,
        None => return Err(unsupported(rt)),
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// The apiVersion, kind and raw message of a `k8s\0` + `runtime.Unknown` body.
pub(crate) fn open(body: &[u8]) -> Result<(String, String, Vec<u8>), Status> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| Status::bad_request("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"))?;
    let unknown = Unknown::decode(envelope).map_err(malformed)?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    Ok((
        type_meta.api_version.unwrap_or_default(),
        type_meta.kind.unwrap_or_default(),
        unknown.raw.unwrap_or_default(),
    ))
}

/// One object of `kind` from its message, without apiVersion and kind (list items carry
/// none); `None` for a kind without a protobuf form.
pub(crate) fn object_from_raw(kind: &str, raw: &[u8]) -> Option<Result<Value, prost::DecodeError>> {
    Some(match kind {
        "Namespace" => core::Namespace::decode(raw).map(namespace),
        "ConfigMap" => core::ConfigMap::decode(raw).map(config_map),
        "Event" => core::Event::decode(raw).map(event),
        "Lease" => coordination::Lease::decode(raw).map(lease),
        _ => return None,
    })
}

/// A list of `kind` objects (`ConfigMapList`, ...) from its message, without apiVersion and
/// kind.
#[cfg(test)]
pub(crate) fn list_from_raw(kind: &str, raw: &[u8]) -> Option<Result<Value, prost::DecodeError>> {
    fn wrap(metadata: Option<meta::ListMeta>, items: Vec<Value>) -> Value {
        let m = metadata.unwrap_or_default();
        json!({
            "metadata": object(vec![
                ("resourceVersion", s(m.resource_version)),
                ("continue", s(m.r#continue)),
                ("remainingItemCount", m.remaining_item_count.map(Value::from)),
            ]),
            "items": items,
        })
    }
    Some(match kind {
        "Namespace" => core::NamespaceList::decode(raw)
            .map(|l| wrap(l.metadata, l.items.into_iter().map(namespace).collect())),
        "ConfigMap" => core::ConfigMapList::decode(raw)
            .map(|l| wrap(l.metadata, l.items.into_iter().map(config_map).collect())),
        "Event" => core::EventList::decode(raw)
            .map(|l| wrap(l.metadata, l.items.into_iter().map(event).collect())),
        "Lease" => coordination::LeaseList::decode(raw)
            .map(|l| wrap(l.metadata, l.items.into_iter().map(lease).collect())),
        _ => return None,
    })
}

fn malformed(e: prost::DecodeError) -> Status {
    Status::bad_request(format!("the protobuf body could not be decoded: {e}"))
}

/// Members that are set, as a JSON object: `None` and empty collections are left out, as Go's
/// `omitempty` does.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .filter(|(_, v)| match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        })
        .collect();
    Value::Object(map)
}

/// A string; the empty string is Go's zero value, left out as `omitempty` does.
fn s(v: Option<String>) -> Option<Value> {
    v.filter(|x| !x.is_empty()).map(Value::from)
}

/// A number that is not a pointer in Go: zero is left out.
fn n(v: Option<impl Into<i64>>) -> Option<Value> {
    v.map(Into::into).filter(|x| *x != 0).map(Value::from)
}

fn strings(v: Vec<String>) -> Option<Value> {
    Some(json!(v))
}

fn string_map(m: std::collections::BTreeMap<String, String>) -> Option<Value> {
    Some(json!(m))
}

/// `metav1.Time`: seconds, RFC 3339 in JSON.
fn time(t: Option<meta::Time>) -> Option<Value> {
    let t = t?;
    // The zero time is `null` in JSON, left out here.
    let secs = t.seconds.filter(|x| *x != 0)?;
    Some(json!(crate::time::rfc3339(secs)))
}

/// `metav1.MicroTime`: RFC 3339 with six fractional digits in JSON.
fn micro_time(t: Option<meta::MicroTime>) -> Option<Value> {
    let t = t?;
    let at = chrono::DateTime::from_timestamp(
        t.seconds.filter(|x| *x != 0)?,
        u32::try_from(t.nanos.unwrap_or_default()).unwrap_or_default(),
    )?;
    Some(json!(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()))
}

fn object_meta(m: Option<meta::ObjectMeta>) -> Option<Value> {
    let m = m.unwrap_or_default();
    let owners: Vec<Value> = m
        .owner_references
        .into_iter()
        .map(|o| {
            object(vec![
                ("apiVersion", s(o.api_version)),
                ("kind", s(o.kind)),
                ("name", s(o.name)),
                ("uid", s(o.uid)),
                ("controller", o.controller.map(Value::from)),
                (
                    "blockOwnerDeletion",
                    o.block_owner_deletion.map(Value::from),
                ),
            ])
        })
        .collect();
    let managed: Vec<Value> = m
        .managed_fields
        .into_iter()
        .map(|f| {
            let fields = f
                .fields_v1
                .and_then(|f| f.raw)
                .and_then(|raw| serde_json::from_slice(&raw).ok());
            object(vec![
                ("manager", s(f.manager)),
                ("operation", s(f.operation)),
                ("apiVersion", s(f.api_version)),
                ("time", time(f.time)),
                ("fieldsType", s(f.fields_type)),
                ("fieldsV1", fields),
                ("subresource", s(f.subresource)),
            ])
        })
        .collect();
    Some(object(vec![
        ("name", s(m.name)),
        ("generateName", s(m.generate_name)),
        ("namespace", s(m.namespace)),
        ("uid", s(m.uid)),
        ("resourceVersion", s(m.resource_version)),
        ("generation", n(m.generation)),
        ("creationTimestamp", time(m.creation_timestamp)),
        ("deletionTimestamp", time(m.deletion_timestamp)),
        (
            "deletionGracePeriodSeconds",
            m.deletion_grace_period_seconds.map(Value::from),
        ),
        ("labels", string_map(m.labels)),
        ("annotations", string_map(m.annotations)),
        ("ownerReferences", Some(Value::Array(owners))),
        ("finalizers", strings(m.finalizers)),
        ("managedFields", Some(Value::Array(managed))),
    ]))
}

fn namespace(n: core::Namespace) -> Value {
    let spec = n
        .spec
        .map(|spec| object(vec![("finalizers", strings(spec.finalizers))]));
    let status = n.status.map(|st| object(vec![("phase", s(st.phase))]));
    object(vec![
        ("metadata", object_meta(n.metadata)),
        ("spec", spec),
        ("status", status),
    ])
}

fn config_map(c: core::ConfigMap) -> Value {
    use base64::Engine as _;
    let binary: Map<String, Value> = c
        .binary_data
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    object(vec![
        ("metadata", object_meta(c.metadata)),
        ("data", string_map(c.data)),
        ("binaryData", Some(Value::Object(binary))),
        ("immutable", c.immutable.map(Value::from)),
    ])
}

fn object_reference(r: Option<core::ObjectReference>) -> Option<Value> {
    let r = r?;
    Some(object(vec![
        ("kind", s(r.kind)),
        ("namespace", s(r.namespace)),
        ("name", s(r.name)),
        ("uid", s(r.uid)),
        ("apiVersion", s(r.api_version)),
        ("resourceVersion", s(r.resource_version)),
        ("fieldPath", s(r.field_path)),
    ]))
}

fn event(e: core::Event) -> Value {
    let source = e
        .source
        .map(|src| object(vec![("component", s(src.component)), ("host", s(src.host))]));
    let series = e.series.map(|se| {
        object(vec![
            ("count", n(se.count)),
            ("lastObservedTime", micro_time(se.last_observed_time)),
        ])
    });
    object(vec![
        ("metadata", object_meta(e.metadata)),
        ("involvedObject", object_reference(e.involved_object)),
        ("reason", s(e.reason)),
        ("message", s(e.message)),
        ("source", source),
        ("firstTimestamp", time(e.first_timestamp)),
        ("lastTimestamp", time(e.last_timestamp)),
        ("count", n(e.count)),
        ("type", s(e.r#type)),
        ("eventTime", micro_time(e.event_time)),
        ("series", series),
        ("action", s(e.action)),
        ("related", object_reference(e.related)),
        ("reportingComponent", s(e.reporting_component)),
        ("reportingInstance", s(e.reporting_instance)),
    ])
}

fn lease(l: coordination::Lease) -> Value {
    let spec = l.spec.map(|sp| {
        object(vec![
            ("holderIdentity", s(sp.holder_identity)),
            (
                "leaseDurationSeconds",
                sp.lease_duration_seconds.map(Value::from),
            ),
            ("acquireTime", micro_time(sp.acquire_time)),
            ("renewTime", micro_time(sp.renew_time)),
            ("leaseTransitions", sp.lease_transitions.map(Value::from)),
            ("strategy", s(sp.strategy)),
            ("preferredHolder", s(sp.preferred_holder)),
        ])
    });
    object(vec![("metadata", object_meta(l.metadata)), ("spec", spec)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn wrap(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    fn rt(plural: &str) -> ResourceType {
        let r = Registry::new();
        let group = if plural == "leases" {
            "coordination.k8s.io"
        } else {
            ""
        };
        r.get(r.find(group, "v1", plural).unwrap()).clone()
    }

    #[test]
    fn a_config_map_is_read_from_its_protobuf_envelope() {
        let cm = core::ConfigMap {
            metadata: Some(meta::ObjectMeta {
                name: Some("settings".into()),
                labels: [("app".to_owned(), "adder".to_owned())].into(),
                ..Default::default()
            }),
            data: [("a".to_owned(), "b".to_owned())].into(),
            binary_data: [("bin".to_owned(), vec![0u8, 1, 2])].into(),
            immutable: None,
        };
        let body = wrap("v1", "ConfigMap", cm.encode_to_vec());
        let obj = decode(&rt("configmaps"), &body).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "labels": {"app": "adder"}},
                "data": {"a": "b"}, "binaryData": {"bin": "AAEC"}})
        );
    }

    #[test]
    fn a_lease_keeps_microseconds_and_an_event_its_involved_object() {
        let lease = coordination::Lease {
            metadata: Some(meta::ObjectMeta {
                name: Some("leader".into()),
                ..Default::default()
            }),
            spec: Some(coordination::LeaseSpec {
                holder_identity: Some("me".into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(meta::MicroTime {
                    seconds: Some(1_800_000_000),
                    nanos: Some(123_456_000),
                }),
                ..Default::default()
            }),
        };
        let obj = decode(
            &rt("leases"),
            &wrap("coordination.k8s.io/v1", "Lease", lease.encode_to_vec()),
        )
        .unwrap();
        assert_eq!(obj["spec"]["renewTime"], "2027-01-15T08:00:00.123456Z");
        assert_eq!(obj["spec"]["leaseDurationSeconds"], 15);
        let ev = core::Event {
            metadata: Some(meta::ObjectMeta {
                name: Some("e1".into()),
                namespace: Some("default".into()),
                ..Default::default()
            }),
            involved_object: Some(core::ObjectReference {
                kind: Some("Server".into()),
                namespace: Some("default".into()),
                name: Some("adder".into()),
                ..Default::default()
            }),
            reason: Some("Synced".into()),
            ..Default::default()
        };
        let obj = decode(&rt("events"), &wrap("v1", "Event", ev.encode_to_vec())).unwrap();
        assert_eq!(obj["involvedObject"]["name"], "adder");
        assert_eq!(obj["reason"], "Synced");
    }

    #[test]
    fn a_body_without_the_magic_or_of_another_kind_is_refused() {
        assert_eq!(decode(&rt("namespaces"), b"{}").unwrap_err().code, 400);
        let ns = core::Namespace::default();
        let body = wrap("v1", "ConfigMap", ns.encode_to_vec());
        assert_eq!(decode(&rt("namespaces"), &body).unwrap_err().code, 400);
    }
}
