//! The live state of an instance: one LIST per kind and namespace, label-selected by instance,
//! and the inventory ConfigMap that records what the instance applied (DESIGN section 6).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use model::{Kind, Object, ObjectKey, keys};
use serde_json::{Value, json};

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
}

impl LiveObject {
    /// Reads an object of a LIST answer.
    pub fn from_api(item: DynamicObject) -> Result<LiveObject, Error> {
        let schema = |raw: &Value, source| Error::LiveSchema {
            namespace: text_at(raw, "/metadata/namespace"),
            name: text_at(raw, "/metadata/name"),
            source,
        };
        let mut raw = serde_json::to_value(&item)
            .map_err(|e| schema(&json!({"metadata": item.metadata}), e))?;
        drop(item);
        let owned = graph::owned_keys(&raw, keys::FIELD_MANAGER);
        let owners = super::managed::owners(&raw);
        if let Some(meta) = raw.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let object = Object::from_value(raw.clone()).map_err(|e| schema(&raw, e))?;
        Ok(LiveObject {
            object,
            raw,
            owned,
            owners,
        })
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
}

/// LISTs in flight at once when reading the live state.
const LIST_CONCURRENCY: usize = 8;

/// Name of the inventory ConfigMap of an instance.
pub fn inventory_name(instance: &str) -> String {
    format!("{INVENTORY_PREFIX}{instance}")
}

fn key_text(k: &ObjectKey) -> String {
    format!("{}/{}/{}", k.kind, k.namespace, k.name)
}

fn parse_key(s: &str) -> Option<ObjectKey> {
    let mut parts = s.splitn(3, '/');
    let kind = Kind::from_kind_str(parts.next()?)?;
    Some(ObjectKey {
        kind,
        namespace: parts.next()?.to_owned(),
        name: parts.next()?.to_owned(),
    })
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
    let listed: Vec<String> = match data.get("objects") {
        Some(text) => serde_json::from_str(text).map_err(|source| Error::InventoryDamaged {
            namespace: namespace.to_owned(),
            name: name.clone(),
            source,
        })?,
        None => Vec::new(),
    };
    Ok(Inventory {
        keys: listed.iter().filter_map(|s| parse_key(s)).collect(),
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
    let listed: Vec<String> = objects.iter().map(key_text).collect();
    let mut data = serde_json::Map::new();
    data.insert(
        "objects".into(),
        Value::String(serde_json::to_string(&listed).expect("strings serialize")),
    );
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
/// `namespaces` and of the inventory, selecting the instance label.
pub async fn read(
    cluster: &Cluster,
    instance: &str,
    inventory_namespace: &str,
    namespaces: &BTreeSet<String>,
) -> Result<LiveState, Error> {
    let inventory = read_inventory(cluster, inventory_namespace, instance).await?;
    let mut all_ns: BTreeSet<String> = namespaces.clone();
    all_ns.extend(inventory.keys.iter().map(|k| k.namespace.clone()));
    let selector = format!("{}={instance}", keys::INSTANCE);
    type Listed = (Kind, String, String, Vec<LiveObject>);
    let mut lists: Vec<BoxFuture<'_, Result<Listed, Error>>> = Vec::new();
    for ns in &all_ns {
        for kind in Kind::ALL {
            let selector = selector.as_str();
            lists.push(Box::pin(async move {
                // Each object is converted as its page arrives.
                let mut out = Vec::new();
                let version = super::list_each(
                    &cluster.client,
                    kind,
                    ns,
                    selector,
                    |item: DynamicObject| {
                        out.push(LiveObject::from_api(item)?);
                        Ok(())
                    },
                )
                .await?;
                Ok((kind, ns.clone(), version, out))
            }));
        }
    }
    let mut objects = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for list in super::bounded(lists, LIST_CONCURRENCY).await {
        let (kind, ns, version, list) = list?;
        versions.insert((kind, ns), version);
        for o in list {
            objects.insert(o.object.key(), o);
        }
    }
    Ok(LiveState {
        objects,
        inventory,
        versions,
    })
}

/// The live object as it is shown in a diff: what the API server sets on its own (status,
/// managedFields, resourceVersion, uid, creationTimestamp, generation) removed.
pub fn without_noise(raw: &Value) -> Value {
    let mut v = raw.clone();
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
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_inventory_text() {
        let k = ObjectKey {
            kind: Kind::Component,
            namespace: "vimana".into(),
            name: "adder-1-0-0".into(),
        };
        assert_eq!(key_text(&k), "Component/vimana/adder-1-0-0");
        assert_eq!(parse_key(&key_text(&k)), Some(k));
        assert_eq!(parse_key("Pod/x/y"), None);
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
