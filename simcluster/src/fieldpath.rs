//! Field paths and field sets as server-side apply tracks them in `managedFields` (the
//! `FieldsV1` encoding: `f:name`, `k:{"type":"Available"}`, `v:"value"`, `.`), and the set of
//! fields a value holds under a schema.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::schema::{ListType, Schema};

/// One step of a path, already encoded as in `FieldsV1` (`f:spec`, `k:{"type":"A"}`, `v:"x"`).
pub type Element = String;
/// A path from the object root, e.g. `["f:spec", "f:versionWeights", "f:1.0.0"]`.
pub type Path = Vec<Element>;

/// The fields one manager owns, as paths kept sorted (a path sorts just before the paths
/// below it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    paths: BTreeSet<Path>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Adds `p` (the paths above it are not implied).
    pub fn insert(&mut self, p: Path) {
        self.paths.insert(p);
    }

    /// Whether the set holds `p`.
    pub fn contains(&self, p: &Path) -> bool {
        self.paths.contains(p)
    }

    /// Whether the set holds `p` or a path below it.
    pub fn contains_prefix(&self, p: &Path) -> bool {
        self.paths
            .range(p.clone()..)
            .next()
            .is_some_and(|q| q.starts_with(p))
    }

    /// Whether the set holds a path strictly below `p`.
    pub fn has_below(&self, p: &Path) -> bool {
        use std::ops::Bound;
        self.paths
            .range((Bound::Excluded(p.clone()), Bound::Unbounded))
            .next()
            .is_some_and(|q| q.starts_with(p))
    }

    /// Paths in both `self` and `other`.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            paths: self.paths.intersection(&other.paths).cloned().collect(),
        }
    }

    /// Removes `p` (not the paths below it); whether it was there.
    pub fn remove(&mut self, p: &Path) -> bool {
        self.paths.remove(p)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The paths, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter()
    }

    /// Paths in `self` and not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            paths: self.paths.difference(&other.paths).cloned().collect(),
        }
    }

    /// Adds every path of `other`.
    pub fn extend(&mut self, other: &FieldSet) {
        self.paths.extend(other.paths.iter().cloned());
    }

    /// Removes every path of `other`; whether any was there.
    pub fn subtract(&mut self, other: &FieldSet) -> bool {
        let mut removed = false;
        for p in &other.paths {
            removed |= self.paths.remove(p);
        }
        removed
    }

    /// The `fieldsV1` JSON of `managedFields`: a tree of elements, `.` marking a member that
    /// also has members below it.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for p in &self.paths {
            let mut node = &mut root;
            for (i, e) in p.iter().enumerate() {
                let child = node
                    .entry(e.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let child = child.as_object_mut().expect("field set nodes are objects");
                // A path that is a member and also has members below it is written `.`;
                // paths sort before their extensions, so the prefix is already present.
                if i + 1 < p.len() && self.paths.contains(&p[..=i]) {
                    child.insert(".".into(), Value::Object(Map::new()));
                }
                node = child;
            }
        }
        Value::Object(root)
    }

    /// Reads the `fieldsV1` JSON of `managedFields`; a leaf or `.` is a path of the set.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        fn walk(v: &Value, prefix: &mut Path, out: &mut FieldSet) {
            let Some(map) = v.as_object() else { return };
            for (k, child) in map {
                if k == "." {
                    out.insert(prefix.clone());
                    continue;
                }
                prefix.push(k.clone());
                if child.as_object().is_none_or(Map::is_empty) {
                    out.insert(prefix.clone());
                } else {
                    walk(child, prefix, out);
                }
                prefix.pop();
            }
        }
        let mut out = FieldSet::new();
        walk(v, &mut Vec::new(), &mut out);
        out
    }

    /// The path in the `.spec.versionWeights[1.0.0]` form of conflict messages.
    pub fn display(p: &Path) -> String {
        let mut s = String::new();
        for e in p {
            if let Some(f) = e.strip_prefix("f:") {
                s.push('.');
                s.push_str(f);
            } else if let Some(k) = e.strip_prefix("k:") {
                // fieldpath/element.go, PathElement.String: `[name="value",...]`.
                s.push('[');
                match serde_json::from_str::<Map<String, Value>>(k) {
                    Ok(keys) => {
                        let parts: Vec<String> =
                            keys.iter().map(|(n, v)| format!("{n}={v}")).collect();
                        s.push_str(&parts.join(","));
                    }
                    Err(_) => s.push_str(k),
                }
                s.push(']');
            } else if let Some(v) = e.strip_prefix("v:") {
                s.push_str("[=");
                s.push_str(v);
                s.push(']');
            } else if let Some(i) = e.strip_prefix("i:") {
                s.push('[');
                s.push_str(i);
                s.push(']');
            }
        }
        s
    }
}

/// `f:name`.
pub fn field(name: &str) -> Element {
    // Not format!: this runs for every field of every write.
    let mut e = String::with_capacity(name.len() + 2);
    e.push_str("f:");
    e.push_str(name);
    e
}

/// The `k:` element of a list-map item: its key fields as JSON, sorted by name.
pub fn key_element(item: &Value, keys: &[String]) -> Element {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let parts: Vec<String> = sorted
        .iter()
        .map(|k| {
            format!(
                "{}:{}",
                Value::String((*k).clone()),
                item.get(k.as_str()).cloned().unwrap_or(Value::Null)
            )
        })
        .collect();
    format!("k:{{{}}}", parts.join(","))
}

/// The `v:` element of a set item.
pub fn value_element(item: &Value) -> Element {
    format!("v:{item}")
}

/// The fields `value` sets under `schema`: every scalar, every atomic list or map, every set
/// item and every list-map item (with its fields), every empty object. `skip` is consulted on
/// each path and prunes it (server-managed metadata, the status of the main resource, ...).
pub fn fields_of(value: &Value, schema: &Schema, skip: &dyn Fn(&Path) -> bool) -> FieldSet {
    let mut out = FieldSet::new();
    walk(value, schema, &mut Vec::new(), skip, &mut out);
    out
}

fn walk(
    v: &Value,
    schema: &Schema,
    path: &mut Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut FieldSet,
) {
    if !path.is_empty() && skip(path) {
        return;
    }
    match v {
        Value::Object(map) if !schema.map_atomic => {
            if map.is_empty() && !path.is_empty() {
                out.insert(path.clone());
            }
            for (k, child) in map {
                let Some(cs) = schema.field(k) else { continue };
                path.push(field(k));
                // A member of a map that is not a named field of a struct (a key of
                // `additionalProperties`, or of an untyped map) is a member itself, even when
                // it has members below it (structured-merge-diff, typed/tofieldset.go,
                // visitMapItems).
                if !schema.properties.contains_key(k) && !skip(path) {
                    out.insert(path.clone());
                }
                walk(child, cs, path, skip, out);
                path.pop();
            }
        }
        Value::Array(items) => match &schema.list_type {
            ListType::Atomic => out.insert(path.clone()),
            ListType::Set => {
                for item in items {
                    path.push(value_element(item));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    path.push(key_element(item, keys));
                    out.insert(path.clone());
                    walk(item, schema.item(), path, skip, out);
                    path.pop();
                }
            }
        },
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

/// What changed between two values, as structured-merge-diff's `TypedValue.Compare` sees it
/// (typed/typed.go): fields, maps, lists and items that appeared, disappeared, or (scalars,
/// atomic lists and maps) changed value. A map or list that appears is itself added, so the
/// manager of an update owns it (`.` in its `fieldsV1`).
#[derive(Debug, Default)]
pub struct Comparison {
    /// Present only in the new value (with everything below them).
    pub added: FieldSet,
    /// Present in both with different values.
    pub modified: FieldSet,
    /// Present only in the old value (with everything below them).
    pub removed: FieldSet,
}

/// Compares `old` with `new` under `schema`; `skip` prunes paths as in [`fields_of`].
pub fn compare(
    old: &Value,
    new: &Value,
    schema: &Schema,
    skip: &dyn Fn(&Path) -> bool,
) -> Comparison {
    let mut c = Comparison::default();
    compare_at(Some(old), Some(new), schema, &mut Vec::new(), skip, &mut c);
    c
}

fn compare_at(
    old: Option<&Value>,
    new: Option<&Value>,
    schema: &Schema,
    path: &mut Path,
    skip: &dyn Fn(&Path) -> bool,
    c: &mut Comparison,
) {
    if !path.is_empty() && skip(path) {
        return;
    }
    match (old, new) {
        (None, None) => {}
        (None, Some(n)) => mark(n, schema, path, skip, &mut c.added),
        (Some(o), None) => mark(o, schema, path, skip, &mut c.removed),
        // A non-empty map or list that became `null` (an apply removed every member of it,
        // typed/remove.go): its members are removed, the map or list itself is neither
        // removed nor modified (typed.go, Compare: only an absent side counts).
        (Some(Value::Object(o)), Some(Value::Null)) if !schema.map_atomic && !o.is_empty() => {
            for (k, child) in o {
                let Some(cs) = schema.field(k) else { continue };
                path.push(field(k));
                compare_at(Some(child), None, cs, path, skip, c);
                path.pop();
            }
        }
        (Some(Value::Array(o)), Some(Value::Null))
            if schema.list_type != ListType::Atomic && !o.is_empty() =>
        {
            for it in o {
                path.push(match &schema.list_type {
                    ListType::Map(keys) => key_element(it, keys),
                    _ => value_element(it),
                });
                compare_at(Some(it), None, schema.item(), path, skip, c);
                path.pop();
            }
        }
        (Some(Value::Object(o)), Some(Value::Object(n))) if !schema.map_atomic => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for k in keys {
                let Some(cs) = schema.field(k) else { continue };
                path.push(field(k));
                compare_at(o.get(k), n.get(k), cs, path, skip, c);
                path.pop();
            }
        }
        (Some(Value::Array(o)), Some(Value::Array(n))) if schema.list_type != ListType::Atomic => {
            let element = |item: &Value| match &schema.list_type {
                ListType::Map(keys) => key_element(item, keys),
                _ => value_element(item),
            };
            let mut items: Vec<(Element, Option<&Value>, Option<&Value>)> = Vec::new();
            for it in o {
                items.push((element(it), Some(it), None));
            }
            for it in n {
                let e = element(it);
                match items.iter_mut().find(|(k, _, _)| *k == e) {
                    Some(slot) => slot.2 = Some(it),
                    None => items.push((e, None, Some(it))),
                }
            }
            for (e, o, n) in items {
                path.push(e);
                if let (Some(o), Some(n)) = (o, n)
                    && schema.list_type == ListType::Set
                {
                    if o != n {
                        c.modified.insert(path.clone());
                    }
                } else {
                    compare_at(o, n, schema.item(), path, skip, c);
                }
                path.pop();
            }
        }
        (Some(o), Some(n)) => {
            if o != n && !path.is_empty() {
                c.modified.insert(path.clone());
            }
        }
    }
}

/// Inserts `path` and every path below it in `v`.
fn mark(
    v: &Value,
    schema: &Schema,
    path: &mut Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut FieldSet,
) {
    if !path.is_empty() {
        out.insert(path.clone());
    }
    match v {
        Value::Object(map) if !schema.map_atomic => {
            for (k, child) in map {
                let Some(cs) = schema.field(k) else { continue };
                path.push(field(k));
                if !skip(path) {
                    mark(child, cs, path, skip, out);
                }
                path.pop();
            }
        }
        Value::Array(items) if schema.list_type != ListType::Atomic => {
            for item in items {
                let e = match &schema.list_type {
                    ListType::Map(keys) => key_element(item, keys),
                    _ => value_element(item),
                };
                path.push(e);
                if matches!(schema.list_type, ListType::Map(_)) {
                    mark(item, schema.item(), path, skip, out);
                } else {
                    out.insert(path.clone());
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// The value at `path`, if present.
pub fn get<'a>(root: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut cur = root;
    for e in path {
        cur = step(cur, e)?;
    }
    Some(cur)
}

fn step<'a>(v: &'a Value, e: &str) -> Option<&'a Value> {
    if let Some(f) = e.strip_prefix("f:") {
        return v.get(f);
    }
    let items = v.as_array()?;
    if let Some(i) = e.strip_prefix("i:") {
        return items.get(i.parse::<usize>().ok()?);
    }
    items
        .iter()
        .position(|it| item_matches(it, e))
        .map(|i| &items[i])
}

fn item_matches(item: &Value, e: &str) -> bool {
    if let Some(k) = e.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        keys.iter()
            .all(|(name, want)| item.get(name).unwrap_or(&Value::Null) == want)
    } else if let Some(v) = e.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|want| *item == want)
    } else {
        false
    }
}

/// Removes the value at `path`; returns whether something was removed.
pub fn remove(root: &mut Value, path: &[Element]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut cur = root;
    for e in parent_path {
        let next = if let Some(f) = e.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let pos = cur
                .as_array()
                .and_then(|items| items.iter().position(|it| item_matches(it, e)));
            match pos {
                Some(i) => cur.get_mut(i),
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        cur.as_object_mut().and_then(|m| m.remove(f)).is_some()
    } else if let Some(items) = cur.as_array_mut() {
        let before = items.len();
        items.retain(|it| !item_matches(it, last));
        items.len() != before
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_openapi(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "regions": {"type": "array", "items": {"type": "string"}},
                "weights": {"type": "object", "additionalProperties": {"type": "integer"}}}},
            "status": {"type": "object", "properties": {"conditions": {
                "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object", "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}}}}}}))
        .unwrap()
    }

    #[test]
    fn computes_fields_and_round_trips_fields_v1() {
        let v = json!({"spec": {"regions": ["a"], "weights": {"1.0.0": 1}},
                       "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let set = fields_of(&v, &schema(), &|_| false);
        let v1 = set.to_fields_v1();
        assert_eq!(
            v1,
            json!({"f:spec": {"f:regions": {}, "f:weights": {"f:1.0.0": {}}},
                   "f:status": {"f:conditions": {"k:{\"type\":\"Available\"}": {
                       ".": {}, "f:status": {}, "f:type": {}}}}})
        );
        assert_eq!(FieldSet::from_fields_v1(&v1), set);
        let cond = vec![
            field("status"),
            field("conditions"),
            r#"k:{"type":"Available"}"#.to_owned(),
        ];
        assert_eq!(get(&v, &cond).unwrap()["status"], "True");
        assert_eq!(
            FieldSet::display(&cond),
            r#".status.conditions[type="Available"]"#
        );
        let mut w = v.clone();
        assert!(remove(&mut w, &cond));
        assert_eq!(w["status"]["conditions"], json!([]));
    }
}
