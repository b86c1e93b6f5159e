//! Who owns which field of an object, read from its `metadata.managedFields`, at the grain a
//! person reads a change: each field of `spec` (`.spec.services`), each label and each
//! annotation. Drift names with it the field managers (`kubectl-patch`, `kubectl-edit`, ...)
//! that changed a field, and `reconciler diff` the one that changed it last.

use std::collections::BTreeMap;

use serde_json::Value;

/// One field manager's hold on a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The field manager (`vimana-reconciler`, `kubectl-patch`...).
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// When the manager last wrote the object (RFC 3339), when the API server says.
    pub time: Option<String>,
}

/// Field path (`.spec.services`, `.metadata.labels.team`) → the managers that own it.
pub type Owners = BTreeMap<String, Vec<Owner>>;

/// The owners of each field of `raw` (an object as the API returned it, `managedFields`
/// included); subresources (`status`) are left out.
pub fn owners(raw: &Value) -> Owners {
    let entries = raw
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    owners_of(entries)
}

/// The owners of each field named by the `managedFields` `entries` of an object.
pub fn owners_of(entries: &[Value]) -> Owners {
    let mut out = Owners::new();
    for entry in entries {
        if entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
        let owner = Owner {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation").unwrap_or_default(),
            time: text("time"),
        };
        let Some(fields) = entry.get("fieldsV1") else {
            continue;
        };
        for path in paths(fields) {
            out.entry(path).or_default().push(owner.clone());
        }
    }
    out
}

/// The paths a `fieldsV1` set names, at the grain of this module.
fn paths(fields: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let members = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.strip_prefix("f:"))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    for field in members(fields.get("f:spec")) {
        out.push(format!(".spec.{field}"));
    }
    let meta = fields.get("f:metadata");
    for map in ["labels", "annotations"] {
        for key in members(meta.and_then(|m| m.get(format!("f:{map}")))) {
            out.push(format!(".metadata.{map}.{key}"));
        }
    }
    out
}

/// The manager that wrote `path` last (the latest time; among equals, one that is not in
/// `ours`), if any owns it.
pub fn last_changed<'a>(owners: &'a Owners, path: &str, ours: &[&str]) -> Option<&'a str> {
    owners
        .get(path)?
        .iter()
        .max_by(|a, b| {
            let mine = |o: &Owner| ours.contains(&o.manager.as_str());
            (&a.time, !mine(a)).cmp(&(&b.time, !mine(b)))
        })
        .map(|o| o.manager.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn owners_of_spec_fields_labels_and_annotations_and_the_last_writer() {
        let raw = json!({"metadata": {"managedFields": [
            {"manager": "vimana-reconciler", "operation": "Apply", "time": "2026-01-01T00:00:00Z",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:services": {}, "f:id": {}}}},
            {"manager": "kubectl-patch", "operation": "Update", "time": "2026-01-02T00:00:00Z",
             "fieldsV1": {"f:spec": {"f:services": {}}}},
            {"manager": "op", "operation": "Update", "subresource": "status",
             "fieldsV1": {"f:status": {"f:conditions": {}}}},
        ]}});
        let o = owners(&raw);
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            [".metadata.labels.team", ".spec.id", ".spec.services"]
        );
        assert_eq!(o[".spec.services"].len(), 2);
        let ours = ["vimana-reconciler"];
        assert_eq!(
            last_changed(&o, ".spec.services", &ours),
            Some("kubectl-patch")
        );
        assert_eq!(
            last_changed(&o, ".spec.id", &ours),
            Some("vimana-reconciler")
        );
        assert_eq!(last_changed(&o, ".spec.other", &ours), None);
    }
}
