//! How answers are written: JSON or protobuf bodies, failure `Status` answers, `Warning` headers, and one
//! object in the form the client asked for (object, PartialObjectMetadata or Table).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::protobuf;
use super::request::Ctx;
use crate::resources::ResourceType;
use crate::status::Status;
use crate::table::{self, Form, Include};

/// The answer to a refused request: the Status body under its HTTP code.
pub(super) fn error_response(e: &Status) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.body())
}

/// A JSON body under `code`.
pub(super) fn json_response(code: StatusCode, v: &Value) -> Response {
    bytes_response(code, serde_json::to_vec(v).expect("JSON values serialize"))
}

/// JSON already serialized, under `code`.
pub(super) fn bytes_response(code: StatusCode, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Adds one `Warning: 299 - "..."` header per warning (unknown fields kept by
/// `fieldValidation=Warn`).
pub(super) fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// An object (or a `Status`) of `rt` under `code`: in protobuf when the client prefers it and
/// the kind has a protobuf form, else JSON.
pub(super) fn object_response(
    ctx: &Ctx<'_>,
    rt: &ResourceType,
    obj: &Value,
    code: StatusCode,
) -> Response {
    if protobuf::preferred(ctx.headers, rt)
        && let Some(r) = protobuf::object_response(code, rt, obj)
    {
        return r;
    }
    json_response(code, obj)
}

/// A refused request on `rt`: the Status in protobuf when the client prefers it, else JSON.
pub(super) fn failure(ctx: &Ctx<'_>, rt: &ResourceType, e: &Status) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if protobuf::preferred(ctx.headers, rt) {
        return protobuf::status_response(code, &e.body());
    }
    error_response(e)
}

/// One object in the form the client asked for: the object (JSON or protobuf), its
/// PartialObjectMetadata, or a one-row Table.
pub(super) fn single(ctx: &Ctx<'_>, rt: &ResourceType, obj: &Value, code: StatusCode) -> Response {
    match ctx.form() {
        Form::Object => object_response(ctx, rt, obj, code),
        Form::Metadata => json_response(code, &table::partial(obj)),
        Form::Table => {
            let include = Include::parse(ctx.q("includeObject"));
            let rv = obj["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            json_response(code, &table::table(rt, &[obj], include, rv, true))
        }
    }
}
