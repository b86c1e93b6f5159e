//! The write verbs: POST, PUT, PATCH (the patch type from `Content-Type`), DELETE and DELETE
//! of a collection, answered as the API server answers them.

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::protobuf;
use super::request::{Ctx, body_object, parse_json, selectors};
use super::respond::{json_response, object_response, single, with_warnings};
use super::route::ObjectRoute;
use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::status::Status;
use crate::store::{PatchType, Target};

/// POST: the name comes from the body (or `generateName`), never from the URL.
pub(super) fn create(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    r: &ObjectRoute,
    target: Target,
    body: &[u8],
) -> Result<Response, Status> {
    if r.name.is_some() {
        return Err(Status::method_not_allowed("POST on a named object"));
    }
    let body = body_object(ctx, rt, body)?;
    let target = Target {
        name: String::new(),
        ..target
    };
    let w = ctx
        .state
        .store
        .create(&target, body, &ctx.write_options()?)?;
    Ok(with_warnings(
        single(ctx, rt, &w.object, StatusCode::CREATED),
        &w.warnings,
    ))
}

/// PUT: the whole object (or its status), with the resourceVersion it was read at.
pub(super) fn update(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    target: &Target,
    body: &[u8],
) -> Result<Response, Status> {
    let w = ctx
        .state
        .store
        .update(target, body_object(ctx, rt, body)?, &ctx.write_options()?)?;
    Ok(with_warnings(
        single(ctx, rt, &w.object, StatusCode::OK),
        &w.warnings,
    ))
}

/// PATCH, server-side apply included; 201 when an apply created the object.
pub(super) fn patch(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    target: &Target,
    body: &[u8],
) -> Result<Response, Status> {
    let kind = patch_type(ctx)?;
    if kind == PatchType::Apply && ctx.q("fieldManager").is_none() {
        return Err(field_manager_required());
    }
    if kind != PatchType::Apply && ctx.q("force").is_some() {
        return Err(Status::invalid(
            rt,
            &target.name,
            vec![Cause::new(
                "FieldValueForbidden",
                "Forbidden: may not be specified for non-apply patch",
                "force",
            )],
        ));
    }
    let w = ctx
        .state
        .store
        .patch(target, kind, body, &ctx.write_options()?)?;
    let code = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_warnings(single(ctx, rt, &w.object, code), &w.warnings))
}

/// An apply names its field manager: no default from the user agent as for other writes
/// (`staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go`,
/// `ValidatePatchOptions`, reported by `handlers/patch.go` as an Invalid PatchOptions).
fn field_manager_required() -> Status {
    Status::invalid_options(
        "PatchOptions",
        vec![Cause::new(
            "FieldValueRequired",
            "Required value: is required for apply patch",
            "fieldManager",
        )],
    )
}

/// The patch type of the request's `Content-Type`; others are 415.
fn patch_type(ctx: &Ctx<'_>) -> Result<PatchType, Status> {
    let ct = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim();
    match media {
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchType::Apply),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        _ => Err(Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {media:?})"
            ),
        )),
    }
}

/// DELETE, with the DeleteOptions body (preconditions, `dryRun`). Objects that wait for
/// finalizers are answered with the object, others with a Success `Status`, as the API
/// server does.
pub(super) fn delete(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    target: &Target,
    body: &[u8],
) -> Result<Response, Status> {
    let opts: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(body)?
    };
    let dry_run = ctx.q("dryRun") == Some("All")
        || opts["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    let obj = ctx
        .state
        .store
        .delete(target, &opts["preconditions"], dry_run)?;
    // `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`,
    // `finalizeDelete`: a Success Status naming group, resource (as `kind`), name and uid,
    // custom resources too (their store does not set `ReturnDeletedObject`); an object
    // that waits for finalizers is answered as it now is.
    let pending = obj["metadata"].get("deletionTimestamp").is_some();
    if pending {
        Ok(object_response(ctx, rt, &obj, StatusCode::OK))
    } else {
        Ok(object_response(
            ctx,
            rt,
            &json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": target.name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
            }),
            StatusCode::OK,
        ))
    }
}

/// DELETE of every object the selectors match; answered with the list of deleted objects.
pub(super) fn delete_collection(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    r: &ObjectRoute,
    target: &Target,
) -> Result<Response, Status> {
    let store = &ctx.state.store;
    let (labels, fields) = selectors(ctx)?;
    let ns = r.namespace.as_deref();
    let page = store.list(r.type_id, ns, &labels, &fields, None, None)?;
    let dry_run = ctx.q("dryRun") == Some("All");
    let mut deleted = Vec::new();
    for obj in page.items {
        let t = Target {
            namespace: obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            name: obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ..target.clone()
        };
        match store.delete(&t, &Value::Null, dry_run) {
            Ok(o) => deleted.push((*o).clone()),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": deleted
    });
    if protobuf::preferred(ctx.headers, rt)
        && let Some(r) = protobuf::list_response(rt, &list)
    {
        return Ok(r);
    }
    Ok(json_response(StatusCode::OK, &list))
}
