//! Requests on objects: which verbs the type and subresource allow, the object the request
//! addresses, and the handler of each verb.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::request::Ctx;
use super::respond::single;
use super::route::ObjectRoute;
use super::{list, protobuf, watch, write};
use crate::managed::Scope;
use crate::resources::ResourceType;
use crate::status::Status;
use crate::store::Target;

/// Answers a request on objects of a served type with the verb `verb` (see `route::verb_of`).
pub(super) fn object_request(
    ctx: &Ctx<'_>,
    method: &Method,
    r: &ObjectRoute,
    verb: &str,
    body: Bytes,
) -> Result<Response, Status> {
    let rt = ctx.state.store.registry().get(r.type_id);
    protobuf::check_acceptable(ctx.headers, rt)?;
    let scope = scope_of(rt, r)?;
    check_verb(rt, scope, method, verb)?;
    let namespace = r.namespace.clone().unwrap_or_default();
    if rt.namespaced && namespace.is_empty() && !matches!(verb, "list" | "watch") {
        return Err(Status::no_route());
    }
    let target = Target {
        type_id: r.type_id,
        namespace,
        name: r.name.clone().unwrap_or_default(),
        scope,
    };
    match verb {
        "get" => {
            let obj = ctx.state.store.get(&target)?;
            Ok(single(ctx, rt, &obj, StatusCode::OK))
        }
        "list" => list::list(ctx, r, rt),
        "watch" => watch::watch_stream(ctx, r, rt),
        "create" => write::create(ctx, rt, r, target, &body),
        "update" => write::update(ctx, rt, &target, &body),
        "patch" | "apply" => write::patch(ctx, rt, &target, &body),
        "delete" => write::delete(ctx, rt, &target, &body),
        "deletecollection" => write::delete_collection(ctx, rt, r, &target),
        _ => Err(Status::method_not_allowed(method.as_str())),
    }
}

/// The main resource, or the status subresource of types that have one.
fn scope_of(rt: &ResourceType, r: &ObjectRoute) -> Result<Scope, Status> {
    match r.subresource.as_deref() {
        None => Ok(Scope::All),
        Some("status") if rt.status_subresource => Ok(Scope::StatusOnly),
        Some(_) => Err(Status::no_route()),
    }
}

/// Read-only types (the CRDs) allow reads only; the status subresource allows GET, PUT and
/// PATCH.
fn check_verb(rt: &ResourceType, scope: Scope, method: &Method, verb: &str) -> Result<(), Status> {
    if !rt.writable && !matches!(verb, "get" | "list" | "watch") {
        return Err(Status::method_not_allowed(&format!(
            "{} {}",
            method,
            rt.group_resource()
        )));
    }
    if scope == Scope::StatusOnly && !matches!(verb, "get" | "update" | "patch" | "apply") {
        return Err(Status::method_not_allowed(&format!(
            "{method} {}/status",
            rt.group_resource()
        )));
    }
    Ok(())
}
