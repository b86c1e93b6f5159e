//! The label and annotation keys a field manager owns on a live object, read from its
//! `metadata.managedFields`: what lets the plan see a label or annotation removed from the
//! sources, which the live object still carries because nobody took it away.

use std::collections::BTreeSet;

use serde_json::Value;

/// Label and annotation keys one field manager owns on one live object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedKeys {
    /// Keys of `metadata.labels`.
    pub labels: BTreeSet<String>,
    /// Keys of `metadata.annotations`.
    pub annotations: BTreeSet<String>,
}

impl OwnedKeys {
    /// Whether no key is owned.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// The label and annotation keys that `manager` owns through server-side apply on `object` (a
/// live object as JSON, with `metadata.managedFields`): the `f:<key>` entries under
/// `f:metadata` → `f:labels` / `f:annotations` of its `FieldsV1` entries.
///
/// Only entries of operation `Apply` on the main resource count. Server-side apply removes a
/// field its manager owned and stops sending only when that ownership came from an apply; a key
/// the same manager set with a plain update or patch survives the next apply, so reporting it as
/// removed would make an update that never converges. Entries that are malformed (an unknown
/// `fieldsType`, fields that are not objects) own nothing: the rule falls back to comparing only
/// the keys the desired object has.
pub fn owned_keys(object: &Value, manager: &str) -> OwnedKeys {
    let mut owned = OwnedKeys::default();
    let entries = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array);
    for entry in entries.into_iter().flatten() {
        let is = |field: &str, value: &str| entry.get(field).and_then(Value::as_str) == Some(value);
        let subresource = entry
            .get("subresource")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !is("manager", manager)
            || !is("operation", "Apply")
            || !subresource.is_empty()
            || entry
                .get("fieldsType")
                .is_some_and(|t| t.as_str() != Some("FieldsV1"))
        {
            continue;
        }
        let Some(metadata) = entry.pointer("/fieldsV1/f:metadata") else {
            continue;
        };
        collect(metadata.get("f:labels"), &mut owned.labels);
        collect(metadata.get("f:annotations"), &mut owned.annotations);
    }
    owned
}

/// Adds the `f:<key>` members of a FieldsV1 map to `into` (`.` is the map itself, `k:`/`v:`/`i:`
/// members cannot appear under a map of strings).
fn collect(fields: Option<&Value>, into: &mut BTreeSet<String>) {
    let Some(fields) = fields.and_then(Value::as_object) else {
        return;
    };
    into.extend(
        fields
            .keys()
            .filter_map(|k| k.strip_prefix("f:"))
            .map(str::to_owned),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn object(managed_fields: Value) -> Value {
        json!({
            "apiVersion": "api.vimana.host/v1alpha1",
            "kind": "Server",
            "metadata": {"name": "adder", "namespace": "vimana", "managedFields": managed_fields},
        })
    }

    #[test]
    fn reads_the_labels_and_annotations_of_the_managers_apply_entry() {
        let o = object(json!([{
            "manager": "vimana-reconciler",
            "operation": "Apply",
            "apiVersion": "api.vimana.host/v1alpha1",
            "time": "2024-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {
                "f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {}, "f:tier": {}},
                "f:annotations": {"f:rollout.vimana.host/steps": {}},
            }, "f:spec": {"f:id": {}}},
        }]));
        let owned = owned_keys(&o, "vimana-reconciler");
        assert_eq!(owned.labels, set(&["app.kubernetes.io/managed-by", "tier"]));
        assert_eq!(owned.annotations, set(&["rollout.vimana.host/steps"]));
    }

    #[test]
    fn other_managers_updates_and_subresources_own_nothing_for_us() {
        let fields = json!({"f:metadata": {"f:labels": {"f:team": {}}}});
        let o = object(json!([
            {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields},
            {"manager": "vimana-reconciler", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields},
            {"manager": "vimana-reconciler", "operation": "Apply", "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": fields},
        ]));
        assert!(owned_keys(&o, "vimana-reconciler").is_empty());
        assert_eq!(owned_keys(&o, "kubectl").labels, set(&["team"]));
    }

    #[test]
    fn entries_of_the_same_manager_add_up() {
        let o = object(json!([
            {"manager": "vimana-reconciler", "operation": "Apply",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}}},
            {"manager": "vimana-reconciler", "operation": "Apply",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:b": {}}, "f:annotations": {"f:c": {}}}}},
        ]));
        let owned = owned_keys(&o, "vimana-reconciler");
        assert_eq!(owned.labels, set(&["a", "b"]));
        assert_eq!(owned.annotations, set(&["c"]));
    }

    #[test]
    fn missing_or_malformed_managed_fields_own_nothing() {
        for o in [
            json!({"metadata": {"name": "x"}}),
            json!("not an object"),
            object(json!("not a list")),
            object(json!([{"manager": "vimana-reconciler", "operation": "Apply"}])),
            object(
                json!([{"manager": "vimana-reconciler", "operation": "Apply",
                "fieldsType": "FieldsV2", "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}}}]),
            ),
            object(
                json!([{"manager": "vimana-reconciler", "operation": "Apply",
                "fieldsV1": {"f:metadata": {"f:labels": ["f:a"]}}}]),
            ),
        ] {
            assert!(owned_keys(&o, "vimana-reconciler").is_empty(), "{o}");
        }
    }
}
