//! The write pipeline every verb ends in: `prepare` prunes and validates the new object,
//! `commit` sets the server's fields (uid, timestamps, generation, resourceVersion), skips
//! writes that change nothing, stores unless dry run, and emits the event watches see.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::builtin;
use super::validation::{report_unknown, validate_metadata};
use super::{Event, EventType, Inner, Key, Store, Target, WriteOptions};
use crate::managed::Scope;
use crate::resources::ResourceType;
use crate::status::Status;
use crate::time;

impl Store {
    pub(super) fn remove(
        &self,
        inner: &mut Inner,
        type_id: usize,
        key: &Key,
    ) -> Option<Arc<Value>> {
        let old = inner.objects[type_id].remove(key)?;
        inner.rv += 1;
        let mut gone = (*old).clone();
        gone["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let gone = Arc::new(gone);
        self.emit(inner, type_id, EventType::Deleted, gone.clone(), None);
        Some(gone)
    }

    /// Checks and completes an object before it is stored: prunes and validates against the
    /// schema, validates metadata.
    pub(super) fn prepare(
        &self,
        rt: &ResourceType,
        t: &Target,
        obj: &mut Value,
        opts: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> Result<(), Status> {
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        // A write to the status subresource changes only the status: the rest was checked
        // when it was written.
        let status_only = match effective_scope(rt, t.scope) {
            Scope::StatusOnly => rt.schema.field("status"),
            _ => None,
        };
        let mut unknown = Vec::new();
        match (status_only, obj.get_mut("status")) {
            (Some(schema), Some(status)) => schema.prune(status, "status", &mut unknown),
            _ => rt.schema.prune(obj, "", &mut unknown),
        }
        report_unknown(rt, unknown, opts.validation, warnings)?;
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        {
            let meta = obj["metadata"]
                .as_object_mut()
                .expect("metadata is an object");
            meta.insert("name".into(), json!(t.name));
            if rt.namespaced {
                meta.insert("namespace".into(), json!(t.namespace));
            } else {
                meta.remove("namespace");
            }
            meta.remove("selfLink");
            // A null member of ObjectMeta decodes to its zero value: `creationTimestamp: null`
            // is what Go clients write for an object not yet created (kubectl 1.20 does).
            meta.retain(|_, v| !v.is_null());
            // ObjectMeta drops empty collections when the API server decodes it.
            for k in ["labels", "annotations", "finalizers", "ownerReferences"] {
                let empty = match meta.get(k) {
                    Some(Value::Object(m)) => m.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(Value::Null) => true,
                    _ => false,
                };
                if empty {
                    meta.remove(k);
                }
            }
        }
        let mut causes = Vec::new();
        match (status_only, obj.get("status")) {
            (Some(schema), Some(status)) => schema.validate(status, "status", &mut causes),
            _ => rt.schema.validate(obj, "", &mut causes),
        }
        if status_only.is_none() {
            builtin::validate(rt, obj, &mut causes)?;
        }
        validate_metadata(rt, &obj["metadata"], &mut causes);
        if !causes.is_empty() {
            return Err(Status::invalid(rt, &t.name, causes));
        }
        Ok(())
    }

    /// Sets server fields, skips no-op writes, stores (unless dry run) and emits the event.
    pub(super) fn commit(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        t: &Target,
        old: Option<&Arc<Value>>,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, Status> {
        let key = (t.namespace.clone(), t.name.clone());
        match old {
            None => {
                let meta = &mut new["metadata"];
                meta["uid"] = json!(self.new_uid());
                meta["creationTimestamp"] = json!(time::now_rfc3339());
                if let Some(m) = meta.as_object_mut() {
                    m.remove("deletionTimestamp");
                    m.remove("resourceVersion");
                }
                if rt.custom {
                    meta["generation"] = json!(1);
                } else if let Some(m) = meta.as_object_mut() {
                    m.remove("generation");
                }
                if rt.kind == "Namespace" {
                    new["status"] = json!({"phase": "Active"});
                    if new["spec"]["finalizers"].is_null() {
                        new["spec"]["finalizers"] = json!(["kubernetes"]);
                    }
                }
                if dry_run {
                    return Ok(Arc::new(new));
                }
                self.store(inner, t.type_id, key, new, EventType::Added)
            }
            Some(old) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "resourceVersion",
                ] {
                    match old["metadata"].get(k) {
                        Some(v) => new["metadata"][k] = v.clone(),
                        None => {
                            new["metadata"].as_object_mut().map(|m| m.remove(k));
                        }
                    }
                }
                if rt.custom && spec_changed(old, &new) {
                    let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    new["metadata"]["generation"] = json!(g);
                }
                if same_ignoring_times(old, &new) {
                    return Ok(old.clone());
                }
                if dry_run {
                    return Ok(Arc::new(new));
                }
                let finalized = new["metadata"].get("deletionTimestamp").is_some()
                    && new["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(Vec::is_empty);
                if finalized {
                    inner.objects[t.type_id].insert(key.clone(), Arc::new(new));
                    return Ok(self.remove(inner, t.type_id, &key).expect("just inserted"));
                }
                self.store(inner, t.type_id, key, new, EventType::Modified)
            }
        }
    }

    pub(super) fn store(
        &self,
        inner: &mut Inner,
        type_id: usize,
        key: Key,
        mut obj: Value,
        kind: EventType,
    ) -> Result<Arc<Value>, Status> {
        inner.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let obj = Arc::new(obj);
        let previous = inner.objects[type_id].insert(key, obj.clone());
        self.emit(inner, type_id, kind, obj.clone(), previous);
        Ok(obj)
    }

    pub(super) fn emit(
        &self,
        inner: &mut Inner,
        type_id: usize,
        kind: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) {
        let ev = Arc::new(Event {
            rv: inner.rv,
            type_id,
            kind,
            object,
            previous,
        });
        let now = std::time::Instant::now();
        inner.log.push_back((now, ev.clone()));
        inner.forget_old_events(now);
        // No receiver is not an error: nobody watches.
        let _ = self.events.send(ev);
    }
}

pub(super) fn effective_scope(rt: &ResourceType, scope: Scope) -> Scope {
    match scope {
        Scope::StatusOnly => Scope::StatusOnly,
        _ if rt.status_subresource => Scope::NoStatus,
        _ => Scope::All,
    }
}

/// Whether anything outside metadata and status changed (what bumps `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    !same_except(old, new, &["metadata", "status"])
}

/// Whether two objects have the same members, `skip` aside (compared in place: objects are
/// large and this runs on every write).
fn same_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .all(|(k, v)| b.get(k) == Some(v))
}

/// Whether two versions of an object differ only in managedFields timestamps.
fn same_ignoring_times(old: &Value, new: &Value) -> bool {
    if !same_except(old, new, &["metadata"])
        || !same_except(&old["metadata"], &new["metadata"], &["managedFields"])
    {
        return false;
    }
    match (
        old["metadata"].get("managedFields"),
        new["metadata"].get("managedFields"),
    ) {
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_except(x, y, &["time"]))
        }
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_changes_ignore_metadata_and_status_only() {
        let a = json!({"spec": {"x": 1}, "metadata": {"name": "a"}, "status": {"s": 1}});
        let b = json!({"spec": {"x": 1}, "metadata": {"name": "b"}, "status": {"s": 2}});
        assert!(!spec_changed(&a, &b));
        let c = json!({"spec": {"x": 2}, "metadata": {"name": "a"}});
        assert!(spec_changed(&a, &c));
        // A member added or removed beside spec is a change too.
        let d = json!({"spec": {"x": 1}, "data": {}, "metadata": {"name": "a"}});
        assert!(spec_changed(&a, &d));
        assert!(spec_changed(&d, &a));
    }

    #[test]
    fn writes_that_differ_in_managed_field_times_only_are_the_same() {
        let at = |t: &str, op: &str| {
            json!({"spec": {"x": 1}, "metadata": {"name": "a", "managedFields": [
                {"manager": "m", "operation": op, "time": t}
            ]}})
        };
        assert!(same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &at("2026-01-02T00:00:00Z", "Apply")
        ));
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &at("2026-01-01T00:00:00Z", "Update")
        ));
        let mut other_spec = at("2026-01-01T00:00:00Z", "Apply");
        other_spec["spec"]["x"] = json!(2);
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &other_spec
        ));
        let mut labelled = at("2026-01-01T00:00:00Z", "Apply");
        labelled["metadata"]["labels"] = json!({"l": "v"});
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &labelled
        ));
    }
}
