//! The writes of the API verbs other than apply: POST (create), PUT (update), PATCH (merge,
//! JSON, strategic merge) and DELETE, each checked against the stored object and then handed
//! to the write pipeline.

use std::sync::Arc;

use serde_json::{Value, json};

use super::pipeline::effective_scope;
use super::validation::{check_metadata_update, check_namespace, check_type, namespace_not_found};
use super::{EventType, Inner, Key, PatchType, Store, Target, WriteOptions, Written};
use crate::managed::{self, Scope};
use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::status::Status;
use crate::time;

/// The message of a 409 Conflict on a stale resourceVersion, as the API server words it.
pub(super) const OUTDATED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

impl Store {
    /// POST: creates an object, named by its body or by `generateName` plus a random suffix,
    /// in a namespace that exists.
    pub fn create(&self, t: &Target, body: Value, opts: &WriteOptions) -> Result<Written, Status> {
        let rt = self.registry.get(t.type_id);
        let mut obj = body;
        check_type(rt, &obj)?;
        let meta = obj
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Status::bad_request("metadata is required"))?;
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if prefix.is_empty() {
                return Err(Status::invalid(
                    rt,
                    "",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                        "metadata.name",
                    )],
                ));
            }
            let suffix = &self.new_uid().replace('-', "")[..5];
            name = format!("{prefix}{suffix}");
            meta.insert("name".into(), json!(name));
        }
        check_namespace(rt, meta, &t.namespace)?;
        if rt.status_subresource && rt.custom {
            obj.as_object_mut().map(|m| m.remove("status"));
        }
        let target = Target { name, ..t.clone() };
        let mut inner = self.lock();
        if rt.namespaced && !self.namespace_exists(&inner, &target.namespace) {
            return Err(namespace_not_found(&target.namespace));
        }
        if inner.objects[t.type_id].contains_key(&(target.namespace.clone(), target.name.clone())) {
            return Err(Status::already_exists(rt, &target.name));
        }
        let mut warnings = Vec::new();
        self.prepare(rt, &target, &mut obj, opts, &mut warnings)?;
        let scope = if rt.status_subresource {
            Scope::NoStatus
        } else {
            Scope::All
        };
        managed::record_update(
            None,
            &mut obj,
            &rt.schema,
            scope,
            &opts.manager,
            &rt.api_version(),
            &time::now_rfc3339(),
        );
        let written = self.commit(&mut inner, rt, &target, None, obj, opts.dry_run)?;
        Ok(Written {
            object: written,
            created: true,
            warnings,
        })
    }

    /// PUT: replaces an object (or its status).
    pub fn update(&self, t: &Target, body: Value, opts: &WriteOptions) -> Result<Written, Status> {
        let rt = self.registry.get(t.type_id);
        check_type(rt, &body)?;
        let body_meta = body
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(n) = body_meta.get("name").and_then(Value::as_str)
            && n != t.name
        {
            return Err(Status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                t.name
            )));
        }
        check_namespace(rt, &body_meta, &t.namespace)?;
        let mut inner = self.lock();
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| Status::not_found(rt, &t.name))?;
        match body_meta.get("resourceVersion").and_then(Value::as_str) {
            Some(rv) if rv != old["metadata"]["resourceVersion"] => {
                return Err(Status::conflict(rt, &t.name, OUTDATED));
            }
            None if rt.custom => {
                return Err(Status::invalid(
                    rt,
                    &t.name,
                    vec![Cause::new(
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )],
                ));
            }
            _ => {}
        }
        // A PUT's uid is a precondition on the stored object
        // (`staging/src/k8s.io/apiserver/pkg/registry/rest/update.go`,
        // `defaultUpdatedObjectInfo.Preconditions`, checked by the storage as a 409).
        if let Some(uid) = body_meta.get("uid").and_then(Value::as_str)
            && !uid.is_empty()
            && uid != old["metadata"]["uid"]
        {
            return Err(Status::conflict(
                rt,
                &t.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            ));
        }
        let new = self.scoped_replacement(rt, t.scope, &old, body);
        self.finish_update(&mut inner, rt, t, &old, new, opts)
    }

    /// PATCH: merge patch, JSON patch, strategic merge patch or server-side apply.
    pub fn patch(
        &self,
        t: &Target,
        kind: PatchType,
        patch: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        let rt = self.registry.get(t.type_id);
        if kind == PatchType::Apply {
            return self.apply(t, patch, opts);
        }
        if kind == PatchType::Strategic && rt.custom {
            return Err(Status::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let mut inner = self.lock();
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| Status::not_found(rt, &t.name))?;
        let mut patched = (*old).clone();
        match kind {
            PatchType::Merge | PatchType::Strategic => {
                let p: Value = serde_json::from_slice(patch)
                    .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
                if let Some(rv) = p["metadata"]["resourceVersion"].as_str()
                    && rv != old["metadata"]["resourceVersion"]
                {
                    return Err(Status::conflict(rt, &t.name, OUTDATED));
                }
                json_patch::merge(&mut patched, &p);
            }
            PatchType::Json => {
                let p: json_patch::Patch = serde_json::from_slice(patch)
                    .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
                json_patch::patch(&mut patched, &p).map_err(|e| {
                    Status::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                })?;
                if patched["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
                    return Err(Status::conflict(rt, &t.name, OUTDATED));
                }
            }
            PatchType::Apply => unreachable!("handled above"),
        }
        if patched["metadata"]["name"] != old["metadata"]["name"] {
            return Err(Status::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        let new = self.scoped_replacement(rt, t.scope, &old, patched);
        self.finish_update(&mut inner, rt, t, &old, new, opts)
    }

    /// The object a write of `body` to `scope` produces: status writes change only status,
    /// main-resource writes of types with a status subresource keep the old status.
    fn scoped_replacement(
        &self,
        rt: &ResourceType,
        scope: Scope,
        old: &Value,
        body: Value,
    ) -> Value {
        match scope {
            Scope::StatusOnly => {
                let mut new = old.clone();
                match body.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                new
            }
            _ if rt.status_subresource => {
                let mut new = body;
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                new
            }
            _ => body,
        }
    }

    fn finish_update(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        t: &Target,
        old: &Arc<Value>,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        let mut warnings = Vec::new();
        check_metadata_update(rt, t, old, &new)?;
        self.prepare(rt, t, &mut new, opts, &mut warnings)?;
        let scope = effective_scope(rt, t.scope);
        // managedFields sent by the client are not trusted: record_update derives ownership
        // from the old entries and the change.
        managed::record_update(
            Some(old),
            &mut new,
            &rt.schema,
            scope,
            &opts.manager,
            &rt.api_version(),
            &time::now_rfc3339(),
        );
        let object = self.commit(inner, rt, t, Some(old), new, opts.dry_run)?;
        Ok(Written {
            object,
            created: false,
            warnings,
        })
    }

    /// DELETE. Objects with finalizers get a deletionTimestamp and stay until the last
    /// finalizer is removed; a Namespace takes its objects with it.
    pub fn delete(
        &self,
        t: &Target,
        preconditions: &Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, Status> {
        let rt = self.registry.get(t.type_id);
        let mut inner = self.lock();
        let key = (t.namespace.clone(), t.name.clone());
        let old = inner.objects[t.type_id]
            .get(&key)
            .cloned()
            .ok_or_else(|| Status::not_found(rt, &t.name))?;
        if let Some(uid) = preconditions["uid"].as_str()
            && uid != old["metadata"]["uid"]
        {
            return Err(Status::conflict(
                rt,
                &t.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = preconditions["resourceVersion"].as_str()
            && rv != old["metadata"]["resourceVersion"]
        {
            return Err(Status::conflict(
                rt,
                &t.name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    old["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        if dry_run {
            return Ok(old);
        }
        let has_finalizers = old["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers && rt.kind != "Namespace" {
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut new = (*old).clone();
            new["metadata"]["deletionTimestamp"] = json!(time::now_rfc3339());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            // `staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go`, `BeforeDelete`: a
            // deletion that waits for finalizers is a change of the desired state.
            if let Some(g) = old["metadata"]["generation"].as_i64().filter(|g| *g > 0) {
                new["metadata"]["generation"] = json!(g + 1);
            }
            return self.store(&mut inner, t.type_id, key, new, EventType::Modified);
        }
        if rt.kind == "Namespace" {
            let ns = t.name.clone();
            for type_id in 0..inner.objects.len() {
                if !self.registry.get(type_id).namespaced {
                    continue;
                }
                let keys: Vec<Key> = inner.objects[type_id]
                    .range((ns.clone(), String::new())..)
                    .take_while(|(k, _)| k.0 == ns)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    self.remove(&mut inner, type_id, &k);
                }
            }
        }
        Ok(self.remove(&mut inner, t.type_id, &key).unwrap_or(old))
    }
}
