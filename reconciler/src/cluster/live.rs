//! The live state of an instance: one LIST per kind and namespace, label-selected by instance,
//! and the inventory ConfigMap that records what the instance applied (DESIGN section 6).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use foldhash::HashSet;
use futures_util::future::BoxFuture;
use graph::DependencyGraph;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use model::{Kind, Object, ObjectKey, keys};
use serde_json::{Value, json};

use super::availability::{Availability, availability, settled};
use super::inventory;
use super::{Cluster, retry};
use crate::error::Error;

/// Prefix of the inventory ConfigMap's name; the instance name follows.
pub const INVENTORY_PREFIX: &str = "reconciler-inventory-";

/// What an instance applied, as recorded in its inventory ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Keys of the objects applied.
    pub keys: BTreeSet<ObjectKey>,
    /// Git revision of the last sync that wrote it, if known.
    pub revision: Option<String>,
    /// Whether the ConfigMap exists.
    pub exists: bool,
}

/// One live object: typed, and as the API returned it (for diffs).
///
/// A pass that reads the live state against the render (`read_against`) keeps whole only the
/// objects that differ from it or that it does not have; of an object that already is what
/// the reconciler manages of it, it keeps what a pass still reads (see [`LiveObject::slim`]).
#[derive(Clone, Debug)]
pub struct LiveObject {
    /// The object in the model.
    pub object: Object,
    /// The object as JSON, with server-set fields but without `metadata.managedFields` (the
    /// largest part of an object, read once into `owned`).
    pub raw: Value,
    /// The label and annotation keys the reconciler's field manager applied.
    pub owned: graph::OwnedKeys,
    /// Who owns each field (what `reconciler diff` names as the last writer of a change).
    pub owners: super::managed::Owners,
    /// Of an unchanged Component that is Available (the common case), whose `raw` is then
    /// `null`: its availability and whether it has settled, as [`availability`] and [`settled`]
    /// read them from the JSON ([`LiveObject::restore_json`] puts it back).
    pub judged: Option<(Availability, bool)>,
}

impl LiveObject {
    /// Reads an object of a LIST answer.
    pub fn from_api(item: DynamicObject) -> Result<LiveObject, Error> {
        let raw = serde_json::to_value(&item)
            .map_err(|e| schema(&json!({"metadata": item.metadata}), e))?;
        drop(item);
        LiveObject::read(raw, None).map(|(o, _)| o)
    }

    /// Reads an object of a LIST answer, and whether it already is what the reconciler manages
    /// of `desired` (then only its slim form is kept).
    fn read(mut raw: Value, desired: Option<&Object>) -> Result<(LiveObject, bool), Error> {
        let owned = graph::owned_keys(&raw, keys::FIELD_MANAGER);
        let managed = raw
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|meta| meta.remove("managedFields"));
        let object = Object::from_json(&raw).map_err(|e| schema(&raw, e))?;
        if let Some(desired) = desired
            && unchanged(desired, &object, &owned)
        {
            // What a pass reads of an unchanged object other than a Server (its key, spec and
            // Kumori digest) is what the render has: the live state shares the render's object
            // instead of keeping its own.
            let object = match object {
                Object::Server(_) => object,
                _ => desired.clone(),
            };
            return Ok((LiveObject::slim(object, &raw), true));
        }
        let owners = managed
            .as_ref()
            .and_then(Value::as_array)
            .map(|entries| super::managed::owners_of(entries))
            .unwrap_or_default();
        Ok((
            LiveObject {
                object,
                raw,
                owned,
                owners,
                judged: None,
            },
            false,
        ))
    }

    /// What a pass reads of an unchanged object: the model object (of a Server the live one
    /// whole, as its rollout state and live weights drive rollouts; of the others the
    /// render's), and of the JSON only what [`availability`] reads, nothing when the object is
    /// Available ([`Self::judged`]). Managed fields, owners and the rest of the JSON are
    /// dropped: the plan does not compare an unchanged object again, and no diff shows it.
    fn slim(object: Object, raw: &Value) -> LiveObject {
        let (raw, judged) = match availability(raw) {
            Availability::Available => (Value::Null, Some((Availability::Available, true))),
            _ => (availability_only(raw), None),
        };
        LiveObject {
            object,
            raw,
            owned: graph::OwnedKeys::default(),
            owners: super::managed::Owners::new(),
            judged,
        }
    }

    /// The object's availability and whether it has settled.
    pub fn availability(&self) -> (Availability, bool) {
        match &self.judged {
            Some(judged) => judged.clone(),
            None => (availability(&self.raw), settled(&self.raw)),
        }
    }

    /// Puts back, for code that reads the availability of `raw`, the JSON of an object kept
    /// as [`Self::judged`]: its `Available` condition.
    pub fn restore_json(&mut self) {
        if self.judged.take().is_some() {
            self.raw = json!({"status": {"conditions": [
                {"type": keys::CONDITION_AVAILABLE, "status": "True"}
            ]}});
        }
    }
}

/// The parts of a live object's JSON that [`availability`](super::availability) and
/// [`settled`](super::availability::settled) read, and they read the same from it: the
/// `Available` condition with its status, and, when it is about another generation than the
/// object's, both generations; its reason and message when it is not `True`. (A few maps
/// instead of the whole object: they are kept for every unchanged Component of a pass.)
fn availability_only(raw: &Value) -> Value {
    let Some(condition) = raw
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == keys::CONDITION_AVAILABLE))
    else {
        return Value::Object(serde_json::Map::new());
    };
    let generation = raw.pointer("/metadata/generation");
    let observed = condition.get("observedGeneration");
    let mut kept = serde_json::Map::new();
    let mut keep = |field: &str| {
        if let Some(v) = condition.get(field) {
            kept.insert(field.to_owned(), v.clone());
        }
    };
    keep("type");
    keep("status");
    if condition["status"] != "True" {
        keep("reason");
        keep("message");
    }
    let mut out = serde_json::Map::new();
    // Without a generation, the condition counts as current: so does it when both agree.
    let number = |v: Option<&Value>| v.and_then(Value::as_i64);
    if let (Some(g), Some(o)) = (number(generation), number(observed))
        && g != o
    {
        keep("observedGeneration");
        out.insert("metadata".into(), json!({ "generation": generation }));
    }
    out.insert("status".into(), json!({ "conditions": [kept] }));
    Value::Object(out)
}

/// Whether the live `object` already is what the reconciler manages of `desired`: the plan
/// would give it no step (no update, and for a Server the same weights).
fn unchanged(desired: &Object, object: &Object, owned: &graph::OwnedKeys) -> bool {
    let weights_equal = match (desired, object) {
        (Object::Server(d), Object::Server(l)) => d.spec.version_weights == l.spec.version_weights,
        _ => true,
    };
    weights_equal && graph::plan::managed_changes(desired, object, Some(owned)).is_empty()
}

fn schema(raw: &Value, source: serde_json::Error) -> Error {
    Error::LiveSchema {
        namespace: text_at(raw, "/metadata/namespace"),
        name: text_at(raw, "/metadata/name"),
        source,
    }
}

fn text_at(raw: &Value, pointer: &str) -> String {
    raw.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Live objects of an instance and its inventory.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// Objects carrying the instance label, by key.
    pub objects: BTreeMap<ObjectKey, LiveObject>,
    /// What the instance recorded as applied: the objects prune may delete.
    pub inventory: Inventory,
    /// The resourceVersion of each LIST, by kind and namespace: a watch from it sees every
    /// change since the pass read the live state.
    pub versions: BTreeMap<(Kind, String), String>,
    /// Keys of the objects that already are what the reconciler manages of the render (read
    /// against it, and kept slim).
    pub unchanged: HashSet<ObjectKey>,
}

/// LISTs in flight at once when reading the live state.
const LIST_CONCURRENCY: usize = 8;

/// Name of the inventory ConfigMap of an instance.
pub fn inventory_name(instance: &str) -> String {
    format!("{INVENTORY_PREFIX}{instance}")
}

/// Reads the inventory ConfigMap of `instance` in `namespace` (one GET).
pub async fn read_inventory(
    cluster: &Cluster,
    namespace: &str,
    instance: &str,
) -> Result<Inventory, Error> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    let name = inventory_name(instance);
    let cm = retry::retry("read the inventory", || api.get_opt(&name))
        .await
        .map_err(|source| Error::Kube {
            what: format!("cannot read the inventory ConfigMap {namespace}/{name}"),
            source: Box::new(source),
        })?;
    let Some(cm) = cm else {
        return Ok(Inventory::default());
    };
    let data = cm.data.unwrap_or_default();
    let binary = cm.binary_data.unwrap_or_default();
    let keys = inventory::decode(
        data.get(inventory::PLAIN_KEY).map(String::as_str),
        binary
            .get(inventory::COMPRESSED_KEY)
            .map(|b| b.0.as_slice()),
    )
    .map_err(|source| Error::Inventory {
        namespace: namespace.to_owned(),
        name: name.clone(),
        source,
    })?;
    Ok(Inventory {
        keys,
        revision: data.get("revision").cloned(),
        exists: true,
    })
}

/// Writes the inventory of `instance` with server-side apply.
pub async fn write_inventory(
    cluster: &Cluster,
    namespace: &str,
    instance: &str,
    objects: &BTreeSet<ObjectKey>,
    revision: Option<&str>,
) -> Result<(), Error> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    let name = inventory_name(instance);
    let (mut data, binary) = inventory::encode(objects).map_err(|source| Error::Inventory {
        namespace: namespace.to_owned(),
        name: name.clone(),
        source,
    })?;
    if let Some(r) = revision {
        data.insert("revision".into(), Value::String(r.to_owned()));
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                keys::MANAGED_BY: keys::MANAGED_BY_VALUE,
                keys::INSTANCE: instance,
            },
        },
        "data": data,
        "binaryData": binary,
    });
    let params = PatchParams::apply(keys::FIELD_MANAGER).force();
    let patch = Patch::Apply(&body);
    retry::retry("write the inventory", || api.patch(&name, &params, &patch))
        .await
        .map_err(|source| Error::Kube {
            what: format!("cannot write the inventory ConfigMap {namespace}/{name}"),
            source: Box::new(source),
        })?;
    Ok(())
}

/// Reads the live state: the inventory (one GET), then one LIST per kind and namespace of
/// `namespaces` and of the inventory, selecting the instance label. Every object is kept whole.
pub async fn read(
    cluster: &Cluster,
    instance: &str,
    inventory_namespace: &str,
    namespaces: &BTreeSet<String>,
) -> Result<LiveState, Error> {
    read_against(cluster, instance, inventory_namespace, namespaces, None).await
}

/// [`read`], comparing each object with the render `desired` as its page arrives: the objects
/// that already are what the reconciler manages are kept slim ([`LiveState::unchanged`]), so a
/// pass holds whole only the objects it may change or delete.
pub async fn read_against(
    cluster: &Cluster,
    instance: &str,
    inventory_namespace: &str,
    namespaces: &BTreeSet<String>,
    desired: Option<&DependencyGraph>,
) -> Result<LiveState, Error> {
    let inventory = read_inventory(cluster, inventory_namespace, instance).await?;
    let mut all_ns: BTreeSet<String> = namespaces.clone();
    all_ns.extend(inventory.keys.iter().map(|k| k.namespace.clone()));
    let selector = format!("{}={instance}", keys::INSTANCE);
    // Every LIST adds to one map as its objects are decoded: no list of a kind's objects is
    // held besides it.
    let read: Mutex<(BTreeMap<ObjectKey, LiveObject>, HashSet<ObjectKey>)> = Mutex::default();
    let read = &read;
    type Listed = (Kind, String, String);
    let mut lists: Vec<BoxFuture<'_, Result<Listed, Error>>> = Vec::new();
    for ns in &all_ns {
        for kind in Kind::ALL {
            let selector = selector.as_str();
            lists.push(Box::pin(async move {
                // Each object is converted, and compared, as it is decoded.
                let version =
                    super::list_each(&cluster.client, kind, ns, selector, |raw: Value| {
                        let key = desired.and_then(|d| {
                            let key = ObjectKey {
                                kind,
                                namespace: text_at(&raw, "/metadata/namespace"),
                                name: text_at(&raw, "/metadata/name"),
                            };
                            d.get(&key).map(|m| &m.object)
                        });
                        let (o, same) = LiveObject::read(raw, key)?;
                        let key = o.object.key();
                        let mut read = read.lock().unwrap_or_else(|e| e.into_inner());
                        if same {
                            read.1.insert(key.clone());
                        }
                        read.0.insert(key, o);
                        Ok(())
                    })
                    .await?;
                Ok((kind, ns.clone(), version))
            }));
        }
    }
    let mut versions = BTreeMap::new();
    for list in super::bounded(lists, LIST_CONCURRENCY).await {
        let (kind, ns, version) = list?;
        versions.insert((kind, ns), version);
    }
    let (objects, unchanged) = std::mem::take(&mut *read.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(LiveState {
        objects,
        inventory,
        versions,
        unchanged,
    })
}

/// The live object as it is shown in a diff: what the API server sets on its own (status,
/// managedFields, resourceVersion, uid, creationTimestamp, generation) removed.
pub fn without_noise(raw: &Value) -> Value {
    let mut v = raw.clone();
    remove_noise(&mut v);
    v
}

/// [`without_noise`] in place.
pub fn remove_noise(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "managedFields",
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "selfLink",
            ] {
                meta.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(generation: i64, condition: Option<Value>, image: &str) -> Value {
        let mut raw = json!({
            "apiVersion": model::API_VERSION, "kind": "Component",
            "metadata": {"name": "a-1-0-0", "namespace": "vimana", "generation": generation,
                "labels": {"team": "t"},
                "annotations": {keys::KUMORI_DIGEST: "d", "kumori.vimana.host/rendered": "{}"},
                "managedFields": [{"manager": keys::FIELD_MANAGER, "operation": "Apply",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:image": {}}}}]},
            "spec": {"domain": "0123456789abcdef0123456789abcdef", "server": "a",
                "version": "1.0.0", "image": image},
        });
        if let Some(c) = condition {
            raw["status"] = json!({"conditions": [{"type": "Ready", "status": "False",
                "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "R", "message": "m"}, c]});
        }
        raw
    }

    #[test]
    fn the_slim_json_reads_as_the_whole_for_availability() {
        let condition = |status: &str, observed: Option<i64>| {
            let mut c = json!({"type": "Available", "status": status, "reason": "R",
                "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"});
            if let Some(o) = observed {
                c["observedGeneration"] = json!(o);
            }
            c
        };
        let cases = [
            None,
            Some(condition("True", Some(2))),
            Some(condition("True", Some(1))),
            Some(condition("True", None)),
            Some(condition("False", Some(2))),
            Some(condition("Unknown", Some(1))),
        ];
        for c in cases {
            let raw = component(2, c.clone(), "i");
            let slim = availability_only(&raw);
            assert_eq!(availability(&slim), availability(&raw), "{c:?}");
            assert_eq!(settled(&slim), settled(&raw), "{c:?}");
        }
    }

    #[test]
    fn an_object_as_rendered_is_kept_slim_and_one_that_differs_whole() {
        let raw = component(1, None, "i");
        let desired = Object::from_json(&raw).unwrap();
        let (same, unchanged) = LiveObject::read(raw.clone(), Some(&desired)).unwrap();
        assert!(unchanged);
        let (Object::Component(kept), Object::Component(rendered)) = (&same.object, &desired)
        else {
            unreachable!("both are Components")
        };
        assert!(
            std::sync::Arc::ptr_eq(kept, rendered),
            "an unchanged Component shares the render's object"
        );
        assert!(same.owners.is_empty());
        assert!(same.owned.labels.is_empty());

        let other = Object::from_json(&component(1, None, "j")).unwrap();
        let (whole, unchanged) = LiveObject::read(raw.clone(), Some(&other)).unwrap();
        assert!(!unchanged);
        assert_eq!(whole.raw["metadata"]["labels"]["team"], "t");
        assert!(whole.raw["metadata"].get("managedFields").is_none());
        assert!(whole.owners.contains_key(".spec.image"));
        assert!(whole.owned.labels.contains("team"));

        let available = json!({"type": "Available", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "R", "message": "m"});
        let raw_available = component(1, Some(available), "i");
        let (mut slim, _) = LiveObject::read(raw_available.clone(), Some(&desired)).unwrap();
        assert!(slim.raw.is_null(), "an Available object keeps no JSON");
        assert_eq!(slim.availability(), (Availability::Available, true));
        slim.restore_json();
        assert_eq!(availability(&slim.raw), availability(&raw_available));
        assert!(settled(&slim.raw));

        let (whole, unchanged) = LiveObject::read(raw, None).unwrap();
        assert!(
            !unchanged,
            "an object the render does not have is kept whole"
        );
        assert_eq!(whole.object, desired);
    }

    #[test]
    fn noise_is_removed() {
        let raw = json!({"kind": "Server", "status": {"x": 1},
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "3", "managedFields": [], "labels": {"l": "v"}}});
        assert_eq!(
            without_noise(&raw),
            json!({"kind": "Server", "metadata": {"name": "a", "labels": {"l": "v"}}})
        );
    }
}
