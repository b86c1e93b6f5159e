//! Server-side apply (`application/apply-patch+yaml`): the patch decoded and checked, merged
//! by `managed` with per-manager field ownership, and a 409 naming the managers on conflicts.

use serde_json::{Value, json};

use super::pipeline::effective_scope;
use super::validation::{
    check_metadata_update, check_namespace, check_type, namespace_not_found, report_unknown,
};
use super::write::OUTDATED;
use super::{FieldValidation, Store, Target, WriteOptions, Written};
use crate::managed::{self, Scope};
use crate::resources::ResourceType;
use crate::status::Status;
use crate::time;

impl Store {
    /// Server-side apply: `patch` is the applied configuration of `opts.manager`, merged into
    /// the stored object (or a new one) by field ownership.
    pub(super) fn apply(
        &self,
        t: &Target,
        patch: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        let rt = self.registry.get(t.type_id);
        let applied = decode(patch)?;
        check_patch(rt, t, &applied, opts)?;
        self.check_resource_version(rt, t, &applied)?;
        refuse_undeclared(rt, t, &applied)?;
        let scope = effective_scope(rt, t.scope);
        let mut warnings = Vec::new();
        let applied = restrict_and_prune(rt, &applied, scope, opts, &mut warnings)?;
        let mut inner = self.lock();
        if rt.namespaced && !self.namespace_exists(&inner, &t.namespace) {
            return Err(namespace_not_found(&t.namespace));
        }
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned();
        if old.is_none() && t.scope == Scope::StatusOnly {
            return Err(Status::not_found(rt, &t.name));
        }
        let now = time::now_rfc3339();
        let merged = managed::apply(
            old.as_deref(),
            &applied,
            &rt.schema,
            scope,
            &opts.manager,
            &rt.api_version(),
            opts.force,
            &now,
        )
        .map_err(|conflicts| conflict(rt, t, &conflicts))?;
        let mut obj = merged.object;
        if let Some(old) = &old {
            check_metadata_update(rt, t, old, &obj)?;
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        // Unknown fields were reported above, before the merge.
        let no_report = WriteOptions {
            validation: FieldValidation::Ignore,
            ..opts.clone()
        };
        self.prepare(rt, t, &mut obj, &no_report, &mut Vec::new())?;
        let created = old.is_none();
        let object = self.commit(&mut inner, rt, t, old.as_ref(), obj, opts.dry_run)?;
        Ok(Written {
            object,
            created,
            warnings,
        })
    }

    /// A `metadata.resourceVersion` in an apply patch is a precondition on the stored object.
    fn check_resource_version(
        &self,
        rt: &ResourceType,
        t: &Target,
        applied: &Value,
    ) -> Result<(), Status> {
        let Some(rv) = applied["metadata"]["resourceVersion"].as_str() else {
            return Ok(());
        };
        let current = self.get(t).ok();
        let current_rv = current
            .as_ref()
            .map(|c| c["metadata"]["resourceVersion"].clone());
        if current_rv.as_ref().and_then(Value::as_str) != Some(rv) {
            return Err(Status::conflict(rt, &t.name, OUTDATED));
        }
        Ok(())
    }
}

/// The patch as JSON, or as YAML when it is not JSON; it must be an object.
fn decode(patch: &[u8]) -> Result<Value, Status> {
    let text = std::str::from_utf8(patch)
        .map_err(|_| Status::bad_request("the apply patch is not UTF-8"))?;
    // JSON is YAML, and most clients send JSON: its own parser first (several times
    // faster), YAML (and YAML's error message) otherwise.
    let applied: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_str(text)
            .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?,
    };
    if !applied.is_object() {
        return Err(Status::bad_request("the apply patch must be an object"));
    }
    Ok(applied)
}

/// What the API server refuses in an apply request before it reads the stored object: no
/// field manager, another type, managedFields, a name or namespace other than the URL's.
fn check_patch(
    rt: &ResourceType,
    t: &Target,
    applied: &Value,
    opts: &WriteOptions,
) -> Result<(), Status> {
    if opts.manager.is_empty() {
        return Err(Status::bad_request(
            "PATCH, application/apply-patch+yaml requests must have a fieldManager: Required value: is required for apply patch",
        ));
    }
    check_type(rt, applied)?;
    let meta = applied
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if meta.contains_key("managedFields") {
        return Err(Status::bad_request("metadata.managedFields must be nil"));
    }
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n == t.name => {}
        Some(n) => {
            return Err(Status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                t.name
            )));
        }
        None => {
            return Err(Status::bad_request(
                "metadata.name is required in an apply patch",
            ));
        }
    }
    check_namespace(rt, &meta, &t.namespace)
}

/// The part of the patch that `scope` writes, without resourceVersion and unknown fields
/// (reported as `fieldValidation` asks).
fn restrict_and_prune(
    rt: &ResourceType,
    applied: &Value,
    scope: Scope,
    opts: &WriteOptions,
    warnings: &mut Vec<String>,
) -> Result<Value, Status> {
    let mut applied = managed::restrict(applied, scope);
    if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    let mut unknown = Vec::new();
    rt.schema.prune(&mut applied, "", &mut unknown);
    report_unknown(rt, unknown, opts.validation, warnings)?;
    Ok(applied)
}

/// A field the schema does not declare refuses the whole apply, whatever `fieldValidation`
/// says: the API server turns the patch into a typed value first
/// (`staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go`,
/// `Apply`: "failed to create typed patch object"), and structured-merge-diff refuses fields
/// it has no schema for. That error is not an API status, so it is answered as 500 with no
/// reason (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go`,
/// `ErrorToAPIStatus`). kubernetes/kubernetes#139255 makes it a 400 in a later release; this
/// follows the servers in use today.
fn refuse_undeclared(rt: &ResourceType, t: &Target, applied: &Value) -> Result<(), Status> {
    let mut copy = applied.clone();
    let mut unknown = Vec::new();
    rt.schema.prune(&mut copy, "", &mut unknown);
    if unknown.is_empty() {
        return Ok(());
    }
    let errors: Vec<String> = unknown
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let errors = if errors.len() == 1 {
        errors[0].clone()
    } else {
        format!("errors:\n  {}", errors.join("\n  "))
    };
    let gvk = format!("{}/{}, Kind={}", rt.group, rt.version, rt.kind);
    Err(Status::new(
        500,
        "",
        format!(
            "failed to create typed patch object ({}/{}; {gvk}): {errors}",
            t.namespace, t.name
        ),
    ))
}

/// The 409 Conflict of an apply that would change fields other managers own: one cause of
/// type `FieldManagerConflict` per field.
fn conflict(rt: &ResourceType, t: &Target, conflicts: &[managed::Conflict]) -> Status {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "type": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager_display()),
                "field": c.field,
            })
        })
        .collect();
    Status {
        details: Some(
            json!({"name": t.name, "group": rt.group, "kind": rt.plural, "causes": causes}),
        ),
        ..Status::new(409, "Conflict", managed::conflict_message(conflicts))
    }
}
