//! LIST answers: selectors, `limit` and `continue`, the `resourceVersion` rules, and the list
//! written out item by item (or as a Table, or in protobuf).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::protobuf;
use super::request::{Ctx, selectors};
use super::respond::{bytes_response, json_response};
use super::route::ObjectRoute;
use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::Status;
use crate::store::Page;
use crate::table::{self, Form, Include};

/// LIST: a page of the objects the selectors match, as a list, a PartialObjectMetadataList or
/// a Table.
pub(super) fn list(ctx: &Ctx<'_>, r: &ObjectRoute, rt: &ResourceType) -> Result<Response, Status> {
    let store = &ctx.state.store;
    let (labels, fields) = selectors(ctx)?;
    let limit = match ctx.q("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| Status::bad_request(format!("limit {l:?} is not a number")))?,
        ),
        None => None,
    };
    check_resource_version(ctx, store.resource_version())?;
    if ctx.q("sendInitialEvents").is_some() {
        // `staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/
        // validation.go`, `ValidateListOptions`.
        return Err(Status::invalid_options(
            "ListOptions",
            vec![Cause::new(
                "FieldValueForbidden",
                "Forbidden: sendInitialEvents is forbidden for list",
                "sendInitialEvents",
            )],
        ));
    }
    // `staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go`, `GetList`: the count of
    // what is left is only given when no selector filters it (it would be inexact).
    let unfiltered = labels == LabelSelector::default() && fields == FieldSelector::default();
    let page = store.list(
        r.type_id,
        r.namespace.as_deref(),
        &labels,
        &fields,
        limit,
        ctx.q("continue"),
    )?;
    match ctx.form() {
        Form::Table => {
            let rv = page.rv.to_string();
            let objs: Vec<&Value> = page.items.iter().map(|o| o.as_ref()).collect();
            let mut t = table::table(rt, &objs, Include::parse(ctx.q("includeObject")), &rv, true);
            if let Some(c) = &page.continue_token {
                t["metadata"]["continue"] = json!(c);
            }
            Ok(json_response(StatusCode::OK, &t))
        }
        Form::Object if protobuf::preferred(ctx.headers, rt) => {
            let items: Vec<&Value> = page.items.iter().map(|o| o.as_ref()).collect();
            let mut meta = json!({"resourceVersion": page.rv.to_string()});
            if let Some(c) = &page.continue_token {
                meta["continue"] = json!(c);
                if unfiltered {
                    meta["remainingItemCount"] = json!(page.remaining);
                }
            }
            let list = json!({"metadata": meta, "items": items});
            match protobuf::list_response(rt, &list) {
                Some(r) => Ok(r),
                None => Ok(bytes_response(
                    StatusCode::OK,
                    list_bytes(rt, Form::Object, &page, unfiltered),
                )),
            }
        }
        form => Ok(bytes_response(
            StatusCode::OK,
            list_bytes(rt, form, &page, unfiltered),
        )),
    }
}

/// Pages are read from the current state (see docs/simcluster.md): a `resourceVersion` only
/// refuses what the current state cannot answer, an exact match of an older version (410) or
/// a version from the future (504).
fn check_resource_version(ctx: &Ctx<'_>, current: u64) -> Result<(), Status> {
    let Some(rv) = ctx.q("resourceVersion") else {
        return Ok(());
    };
    let n: u64 = rv
        .parse()
        .map_err(|_| Status::bad_request(format!("resourceVersion {rv:?} is not valid")))?;
    match ctx.q("resourceVersionMatch") {
        Some("Exact") if n != current => Err(Status::new(
            410,
            "Expired",
            format!("too old resource version: {n} ({current})"),
        )),
        _ if n > current => Err(Status::new(
            504,
            "Timeout",
            format!("Too large resource version: {n}, current: {current}"),
        )),
        _ => Ok(()),
    }
}

/// The list or PartialObjectMetadataList of a page, written by hand so that a LIST of many
/// objects is serialized without building one big JSON value first.
fn list_bytes(rt: &ResourceType, form: Form, page: &Page, unfiltered: bool) -> Vec<u8> {
    let (kind, api_version) = if form == Form::Metadata {
        (
            "PartialObjectMetadataList".to_owned(),
            "meta.k8s.io/v1".to_owned(),
        )
    } else {
        (format!("{}List", rt.kind), rt.api_version())
    };
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
        if unfiltered {
            meta["remainingItemCount"] = json!(page.remaining);
        }
    }
    let mut out = Vec::with_capacity(256 + page.items.len() * 512);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{kind}\",\"apiVersion\":\"{api_version}\",\"metadata\":{meta},\"items\":["
        )
        .as_bytes(),
    );
    for (i, obj) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if form == Form::Metadata {
            serde_json::to_writer(&mut out, &table::partial(obj)).expect("JSON values serialize");
        } else {
            serde_json::to_writer(&mut out, obj.as_ref()).expect("JSON values serialize");
        }
    }
    out.extend_from_slice(b"]}");
    out
}
