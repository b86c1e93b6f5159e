//! Field ownership: `metadata.managedFields`, server-side apply (merge, conflicts, removal of
//! fields a manager stops applying) and the ownership changes of plain updates.

use serde_json::{Map, Value, json};

use crate::fieldpath::{self, FieldSet, Path, key_element};
use crate::schema::{ListType, Schema};

/// `Apply` or `Update`, as in `managedFields[].operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply: the manager's fields are exactly what it applied last.
    Apply,
    /// Create, update or a non-apply patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The field manager (`fieldManager`, else the user agent).
    pub manager: String,
    /// Apply entries own what was applied; Update entries grow with each change.
    pub operation: Operation,
    /// apiVersion the manager used.
    pub api_version: String,
    /// When the entry last changed.
    pub time: String,
    /// `status` for the status subresource, else empty.
    pub subresource: String,
    /// The fields this manager owns, as `fieldsV1`.
    pub fields: FieldSet,
    /// Position of the entry in the `managedFields` it was read from: the entry is copied
    /// from there while nothing of it changes (most writes change one manager's entry, and
    /// rebuilding the others' `fieldsV1` was most of their cost).
    pub original: Option<usize>,
}

impl Entry {
    fn same_owner(&self, manager: &str, op: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == op && self.subresource == subresource
    }
}

/// Reads `metadata.managedFields` leniently: missing members read as empty, any operation
/// but `Apply` as `Update`.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_owned(),
            operation: if e["operation"] == "Apply" {
                Operation::Apply
            } else {
                Operation::Update
            },
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: e["time"].as_str().unwrap_or_default().to_owned(),
            subresource: e["subresource"].as_str().unwrap_or_default().to_owned(),
            fields: FieldSet::from_fields_v1(&e["fieldsV1"]),
            original: Some(i),
        })
        .collect()
}

/// Writes `metadata.managedFields`, dropping entries that own nothing; entries read from
/// `read_from` and unchanged since are copied from it.
pub fn write(obj: &mut Value, entries: &[Entry], read_from: Option<&Value>) {
    let originals = read_from.and_then(|o| o["metadata"]["managedFields"].as_array());
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            if let Some(original) = e.original.and_then(|i| originals?.get(i)) {
                return original.clone();
            }
            let mut m = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                m["subresource"] = json!(e.subresource);
            }
            m
        })
        .collect();
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Metadata fields the server owns; never part of a field set.
const SERVER_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Which part of an object a write may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything (types without a status subresource).
    All,
    /// Everything but `status` (main resource of a type with a status subresource).
    NoStatus,
    /// Only `status` (the status subresource).
    StatusOnly,
}

impl Scope {
    /// The `subresource` of managedFields entries written in this scope.
    pub fn subresource(self) -> &'static str {
        match self {
            Scope::StatusOnly => "status",
            _ => "",
        }
    }
}

/// Whether `path` is outside the fields that field sets track in `scope`.
pub fn skipped(path: &Path, scope: Scope) -> bool {
    let top = path[0].as_str();
    if top == "f:apiVersion" || top == "f:kind" {
        return true;
    }
    if top == "f:metadata" {
        if scope == Scope::StatusOnly {
            return true;
        }
        if let Some(second) = path.get(1).and_then(|s| s.strip_prefix("f:")) {
            return SERVER_METADATA.contains(&second);
        }
        return false;
    }
    match scope {
        Scope::All => false,
        Scope::NoStatus => top == "f:status",
        Scope::StatusOnly => top != "f:status",
    }
}

/// The fields a value sets within `scope`.
pub fn fields_in_scope(value: &Value, schema: &Schema, scope: Scope) -> FieldSet {
    fieldpath::fields_of(value, schema, &|p| skipped(p, scope))
}

/// A field that another manager owns and an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The operation of that manager's entry (`Apply` entries are named without apiVersion).
    pub operation: Operation,
    /// The apiVersion that manager used.
    pub api_version: String,
    /// The field, displayed as `.spec.image`.
    pub field: String,
}

/// Merges an applied configuration into a live object: objects key by key, list-maps item by
/// key, sets by value, everything else replaced. Merged lists hold the live items in their
/// order, then the applied items the live list lacks in applied order (structured-merge-diff,
/// typed/merge.go, `visitListItems`).
pub fn merge(live: &Value, applied: &Value, schema: &Schema) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !schema.map_atomic => {
            let mut out = l.clone();
            for (k, av) in a {
                if av.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match (l.get(k), schema.field(k)) {
                    (Some(lv), Some(cs)) => merge(lv, av, cs),
                    _ => av.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => match &schema.list_type {
            ListType::Atomic => applied.clone(),
            ListType::Set => {
                let mut out = l.clone();
                for item in a {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let mut out = l.clone();
                for item in a {
                    let key = key_element(item, keys);
                    match out.iter().position(|it| key_element(it, keys) == key) {
                        Some(i) => out[i] = merge(&out[i], item, schema.item()),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => applied.clone(),
    }
}

/// The outcome of a server-side apply that had no conflicts (or was forced).
#[derive(Debug)]
pub struct Applied {
    /// The new object (managedFields written).
    pub object: Value,
}

/// Server-side apply of `applied` by `manager` onto `live` (`None` when the object is created).
/// Fails with the conflicts unless `force`.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    schema: &Schema,
    scope: Scope,
    manager: &str,
    api_version: &str,
    force: bool,
    now: &str,
) -> Result<Applied, Vec<Conflict>> {
    let new_set = fields_in_scope(applied, schema, scope);
    let sub = scope.subresource();
    let Some(live) = live else {
        let mut object = applied.clone();
        let entries = vec![Entry {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: sub.to_owned(),
            fields: new_set,
            original: None,
        }];
        write(&mut object, &entries, None);
        return Ok(Applied { object });
    };
    let mut entries = read(live);
    let merged = merge(live, applied, schema);
    let mine = entries
        .iter()
        .position(|e| e.same_owner(manager, Operation::Apply, sub));
    // Fields this manager applied before and no longer applies are removed, unless another
    // manager owns them (structured-merge-diff, merge/update.go: `Apply` → `prune`).
    let pruned = match mine {
        Some(mi) if !entries[mi].fields.is_empty() => {
            prune(&merged, applied, &entries, mi, schema, scope)
        }
        _ => merged,
    };

    // Conflicts: fields of other managers that the apply adds or modifies (`update`: each
    // other manager's set intersected with what `Compare` of the live and the new object
    // finds added or modified); a forced apply takes them, and what it removes is owned by
    // no one.
    let cmp = fieldpath::compare(live, &pruned, schema, &|p| skipped(p, scope));
    let mut changed = cmp.added;
    changed.extend(&cmp.modified);
    let mut conflicts = Vec::new();
    let mut forced: Vec<(usize, FieldSet)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if Some(i) == mine {
            continue;
        }
        let taken = e.fields.intersection(&changed);
        for p in taken.iter() {
            conflicts.push(Conflict {
                manager: e.manager.clone(),
                operation: e.operation,
                api_version: e.api_version.clone(),
                field: FieldSet::display(p),
            });
        }
        forced.push((i, taken));
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for (i, taken) in forced {
        let e = &mut entries[i];
        if e.fields.subtract(&taken) | e.fields.subtract(&cmp.removed) {
            e.original = None;
        }
    }
    // The library leaves a map or list that lost every member `null`; the server drops such
    // nulls before it stores the object (custom resources: apiextensions-apiserver's
    // `PruneNonNullableNullsWithoutDefaults` in the storage codec; built-in kinds: the typed
    // object, whose empty maps and slices are `omitempty`).
    let mut merged = pruned;
    drop_nulls(&mut merged, schema);
    match mine {
        Some(mi) => {
            let e = &mut entries[mi];
            e.fields = new_set;
            e.original = None;
            e.time = now.to_owned();
            e.api_version = api_version.to_owned();
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: sub.to_owned(),
            fields: new_set,
            original: None,
        }),
    }
    write(&mut merged, &entries, Some(live));
    Ok(Applied { object: merged })
}

/// The fields `value` sets under `schema`, only the scope's other part left out: the sets
/// structured-merge-diff computes from objects while it prunes (`ToFieldSet`), server metadata
/// and `apiVersion`/`kind` included.
fn object_fields(value: &Value, schema: &Schema, scope: Scope) -> FieldSet {
    fieldpath::fields_of(value, schema, &|p: &Path| {
        let top = p[0].as_str();
        match scope {
            Scope::All => false,
            Scope::NoStatus => top == "f:status",
            Scope::StatusOnly => {
                !matches!(top, "f:status" | "f:apiVersion" | "f:kind" | "f:metadata")
            }
        }
    })
}

/// structured-merge-diff's `Updater.prune` (merge/update.go): everything the manager applied
/// last time is removed from the merged object, then what any manager (this one's new apply
/// included) owns is added back (`addBackOwnedItems`), and so is what the last apply did not
/// hold (`addBackDanglingItems`). Removal is `RemoveItems` (typed/remove.go), which leaves a
/// map or list it empties `null`.
fn prune(
    merged: &Value,
    applied: &Value,
    entries: &[Entry],
    mine: usize,
    schema: &Schema,
    scope: Scope,
) -> Value {
    let ens = |set: &FieldSet| with_named_fields(set, schema);
    let last = ens(&entries[mine].fields);
    let pruned = remove_items(merged, &last, schema);
    let mut managed = object_fields(applied, schema, scope);
    for (i, e) in entries.iter().enumerate() {
        if i != mine {
            managed.extend(&e.fields);
        }
    }
    let merged_set = ens(&object_fields(merged, schema, scope));
    let mut keep = ens(&object_fields(&pruned, schema, scope));
    keep.extend(&ens(&managed));
    let pruned = remove_items(merged, &merged_set.difference(&keep), schema);
    let pruned_set = ens(&object_fields(&pruned, schema, scope));
    remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
        schema,
    )
}

/// `TypedValue.RemoveItems` (typed/remove.go): `value` without the paths of `set`; a map or
/// list the walk enters and leaves without members is `null`.
fn remove_items(value: &Value, set: &FieldSet, schema: &Schema) -> Value {
    fn walk(v: &Value, set: &FieldSet, schema: &Schema, path: &mut Path) -> Value {
        match v {
            Value::Object(m) => {
                if m.is_empty() || schema.map_atomic {
                    return Value::Null;
                }
                let mut out = Map::new();
                for (k, child) in m {
                    path.push(fieldpath::field(k));
                    if !set.contains(path) {
                        let val = match schema.field(k) {
                            Some(cs) if set.has_below(path) => walk(child, set, cs, path),
                            _ => child.clone(),
                        };
                        out.insert(k.clone(), val);
                    }
                    path.pop();
                }
                if out.is_empty() {
                    Value::Null
                } else {
                    Value::Object(out)
                }
            }
            Value::Array(items) => {
                if items.is_empty() || schema.list_type == ListType::Atomic {
                    return Value::Null;
                }
                let mut out = Vec::new();
                for item in items {
                    path.push(match &schema.list_type {
                        ListType::Map(keys) => key_element(item, keys),
                        _ => fieldpath::value_element(item),
                    });
                    if !set.contains(path) {
                        out.push(if set.has_below(path) {
                            walk(item, set, schema.item(), path)
                        } else {
                            item.clone()
                        });
                    }
                    path.pop();
                }
                if out.is_empty() {
                    Value::Null
                } else {
                    Value::Array(out)
                }
            }
            _ => v.clone(),
        }
    }
    walk(value, set, schema, &mut Vec::new())
}

/// Removes the members whose value is `null` where the schema does not declare them
/// `nullable`, as kube-apiserver does before it stores an object.
fn drop_nulls(v: &mut Value, schema: &Schema) {
    match v {
        Value::Object(m) => {
            m.retain(|k, child| !child.is_null() || schema.field(k).is_some_and(|cs| cs.nullable));
            for (k, child) in m.iter_mut() {
                if let Some(cs) = schema.field(k) {
                    drop_nulls(child, cs);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                drop_nulls(item, schema.item());
            }
        }
        _ => {}
    }
}

/// `set` with every prefix of its paths that ends in a named field of a struct.
fn with_named_fields(set: &FieldSet, schema: &Schema) -> FieldSet {
    let mut out = set.clone();
    for p in set.iter() {
        let mut s = schema;
        for i in 0..p.len().saturating_sub(1) {
            let e = &p[i];
            let Some(name) = e.strip_prefix("f:") else {
                s = s.item();
                continue;
            };
            let named = s.properties.contains_key(name);
            match s.field(name) {
                Some(cs) => s = cs,
                None => break,
            }
            if named {
                out.insert(p[..=i].to_vec());
            }
        }
    }
    out
}

/// Records a non-apply write of `new` over `old` (`None` on create) by `manager`, as
/// structured-merge-diff's `Updater.Update` (merge/update.go) under kube-apiserver's
/// `managedFieldsUpdater`: the write is compared with the object it replaces; every field,
/// map, list or item it added or modified is taken from every manager (this one's own
/// `Update` entry too) and owned by this manager's `Update` entry, merged with what that entry
/// owned before; whatever it removed is owned by no one. An update of an object that exists
/// and has no managedFields is not tracked (`skipNonAppliedManager`).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    schema: &Schema,
    scope: Scope,
    manager: &str,
    api_version: &str,
    now: &str,
) {
    let empty = json!({});
    let mut entries = old.map(read).unwrap_or_default();
    if old.is_some() && entries.iter().all(|e| e.fields.is_empty()) {
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        return;
    }
    let cmp = fieldpath::compare(old.unwrap_or(&empty), new, schema, &|p| skipped(p, scope));
    let mut changed = cmp.added;
    changed.extend(&cmp.modified);
    changed.remove(&vec![fieldpath::field("metadata")]);
    let removed = cmp.removed;
    let sub = scope.subresource();
    for e in entries.iter_mut() {
        let changed_here = e.fields.subtract(&changed) | e.fields.subtract(&removed);
        if changed_here {
            e.original = None;
        }
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.same_owner(manager, Operation::Update, sub))
        {
            Some(e) => {
                e.fields.extend(&changed);
                e.original = None;
                e.time = now.to_owned();
                e.api_version = api_version.to_owned();
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version: api_version.to_owned(),
                time: now.to_owned(),
                subresource: sub.to_owned(),
                fields: changed,
                original: None,
            }),
        }
    }
    write(new, &entries, old);
}

impl Conflict {
    /// The manager as apimachinery prints it (`printManager` in
    /// `k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go`): `"kubectl"` for an
    /// Apply manager, `"kubectl" using v1` for an Update manager.
    pub fn manager_display(&self) -> String {
        match self.operation {
            Operation::Apply => format!("{:?}", self.manager),
            Operation::Update => format!("{:?} using {}", self.manager, self.api_version),
        }
    }
}

/// The conflict message of a 409, as `NewConflictError` and `getConflictMessage`
/// (`.../managedfields/internal/conflict.go`) and `NewApplyConflict`
/// (`k8s.io/apimachinery/pkg/api/errors`) write it: one conflict inline, several grouped per
/// manager (managers sorted), one `- path` line each.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let body = if n == 1 {
        let c = &conflicts[0];
        format!("conflict with {}: {}", c.manager_display(), c.field)
    } else {
        let mut groups: std::collections::BTreeMap<(String, &'static str), (String, Vec<&str>)> =
            std::collections::BTreeMap::new();
        for c in conflicts {
            groups
                .entry((c.manager.clone(), c.operation.as_str()))
                .or_insert_with(|| (c.manager_display(), Vec::new()))
                .1
                .push(&c.field);
        }
        let mut lines = Vec::new();
        for (display, fields) in groups.values() {
            lines.push(format!("conflicts with {display}:"));
            lines.extend(fields.iter().map(|f| format!("- {f}")));
        }
        lines.join("\n")
    };
    format!(
        "Apply failed with {n} conflict{}: {body}",
        if n == 1 { "" } else { "s" }
    )
}

/// Strips an applied configuration down to what `scope` lets it change.
pub fn restrict(applied: &Value, scope: Scope) -> Value {
    let Some(map) = applied.as_object() else {
        return applied.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let keep = match scope {
            Scope::All => true,
            Scope::NoStatus => k != "status",
            Scope::StatusOnly => {
                matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
            }
        };
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    if scope == Scope::StatusOnly
        && let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.retain(|k, _| k == "name" || k == "namespace");
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fieldpath::field;

    fn schema() -> Schema {
        Schema::from_openapi(&json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "spec": {"type": "object", "properties": {
                "image": {"type": "string"}, "replicas": {"type": "integer"},
                "weights": {"type": "object", "additionalProperties": {"type": "integer"}}}}}}))
        .unwrap()
    }

    /// `apply` by `manager` of the whole object, apiVersion v1, at time `now`.
    fn apply_as(
        manager: &str,
        live: Option<&Value>,
        applied: &Value,
        force: bool,
        now: &str,
    ) -> Result<Applied, Vec<Conflict>> {
        apply(
            live,
            applied,
            &schema(),
            Scope::All,
            manager,
            "v1",
            force,
            now,
        )
    }

    fn obj(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": spec})
    }

    #[test]
    fn entries_a_write_does_not_change_are_kept_as_they_were() {
        let s = schema();
        let a = apply_as(
            "alice",
            None,
            &obj(json!({"image": "i1", "replicas": 1})),
            false,
            "t1",
        )
        .unwrap();
        let alice_before = a.object["metadata"]["managedFields"][0].clone();
        // Bob applies a field of his own: alice's entry is the same, time included.
        let b = apply_as(
            "bob",
            Some(&a.object),
            &obj(json!({"weights": {"1": 1}})),
            false,
            "t2",
        )
        .unwrap();
        let entries = b.object["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], alice_before);
        assert_eq!(entries[1]["manager"], "bob");
        assert_eq!(entries[1]["time"], "t2");
        // Carol updates the image: alice's entry loses it, and is written anew.
        let mut updated = b.object.clone();
        updated["spec"]["image"] = json!("i2");
        record_update(
            Some(&b.object),
            &mut updated,
            &s,
            Scope::All,
            "carol",
            "v1",
            "t3",
        );
        let entries = read(&updated);
        let alice = entries.iter().find(|e| e.manager == "alice").unwrap();
        assert!(!alice.fields.contains(&vec![field("spec"), field("image")]));
        assert!(
            alice
                .fields
                .contains(&vec![field("spec"), field("replicas")])
        );
        let bob = &updated["metadata"]["managedFields"][1];
        assert_eq!(
            *bob, b.object["metadata"]["managedFields"][1],
            "bob's is untouched"
        );
        let carol = entries.iter().find(|e| e.manager == "carol").unwrap();
        assert_eq!(carol.time, "t3");
    }

    #[test]
    fn applies_conflicts_and_forces() {
        let a = apply_as(
            "alice",
            None,
            &obj(json!({"image": "i1", "weights": {"1": 1}})),
            false,
            "t",
        )
        .unwrap();
        // Bob sets the same value: shared ownership, no conflict.
        let b = apply_as(
            "bob",
            Some(&a.object),
            &obj(json!({"image": "i1"})),
            false,
            "t",
        )
        .unwrap();
        // Bob changes it: conflict with alice.
        let err = apply_as(
            "bob",
            Some(&b.object),
            &obj(json!({"image": "i2"})),
            false,
            "t",
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![Conflict {
                manager: "alice".into(),
                operation: Operation::Apply,
                api_version: "v1".into(),
                field: ".spec.image".into()
            }]
        );
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"alice\": .spec.image"
        );
        // Several conflicts, grouped per manager; Update managers with their apiVersion.
        let two = [
            Conflict {
                manager: "bob".into(),
                operation: Operation::Update,
                api_version: "v1".into(),
                field: ".spec.a".into(),
            },
            Conflict {
                manager: "alice".into(),
                operation: Operation::Apply,
                api_version: "v1".into(),
                field: ".spec.b".into(),
            },
            Conflict {
                manager: "bob".into(),
                operation: Operation::Update,
                api_version: "v1".into(),
                field: ".spec.c".into(),
            },
        ];
        assert_eq!(
            conflict_message(&two),
            "Apply failed with 3 conflicts: conflicts with \"alice\":\n- .spec.b\nconflicts with \"bob\" using v1:\n- .spec.a\n- .spec.c"
        );
        let c = apply_as(
            "bob",
            Some(&b.object),
            &obj(json!({"image": "i2"})),
            true,
            "t",
        )
        .unwrap();
        assert_eq!(c.object["spec"]["image"], "i2");
        let entries = read(&c.object);
        let alice = entries.iter().find(|e| e.manager == "alice").unwrap();
        assert!(!alice.fields.contains(&vec![field("spec"), field("image")]));
    }

    #[test]
    fn a_map_applied_empty_then_filled_keeps_its_entries_and_emptied_again_is_dropped() {
        let first = apply_as("m", None, &obj(json!({"weights": {}})), false, "t")
            .unwrap()
            .object;
        let second = apply_as(
            "m",
            Some(&first),
            &obj(json!({"weights": {"1.0.0": 100}})),
            false,
            "t",
        )
        .unwrap()
        .object;
        assert_eq!(second["spec"]["weights"], json!({"1.0.0": 100}));
        // Applying it empty again removes the member it no longer applies; structured-merge-diff
        // leaves the emptied map `null` (typed/remove.go) and the server drops the null, so
        // the map is gone while the manager still owns it.
        let third = apply_as("m", Some(&second), &obj(json!({"weights": {}})), false, "t")
            .unwrap()
            .object;
        assert!(third["spec"].get("weights").is_none(), "{third}");
        let entries = read(&third);
        assert_eq!(
            entries[0].fields.iter().collect::<Vec<_>>(),
            vec![&vec![field("spec"), field("weights")]]
        );
    }

    #[test]
    fn removes_fields_a_manager_stops_applying_unless_others_own_them() {
        let s = schema();
        let a = apply_as(
            "alice",
            None,
            &obj(json!({"weights": {"1": 1, "2": 2}, "replicas": 3})),
            false,
            "t",
        )
        .unwrap();
        let mut updated = a.object.clone();
        updated["spec"]["replicas"] = json!(4);
        record_update(
            Some(&a.object),
            &mut updated,
            &s,
            Scope::All,
            "hpa",
            "v1",
            "t",
        );
        let b = apply_as(
            "alice",
            Some(&updated),
            &obj(json!({"weights": {"2": 2}})),
            false,
            "t",
        )
        .unwrap();
        assert_eq!(b.object["spec"]["weights"], json!({"2": 2}));
        assert_eq!(
            b.object["spec"]["replicas"], 4,
            "owned by hpa since its update"
        );
    }
}
