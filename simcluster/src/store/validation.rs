//! Checks of a request's body before the write pipeline runs: type and namespace against the
//! URL, unknown fields by `fieldValidation`, and the names, labels and annotations of
//! metadata.

use serde_json::{Map, Value, json};

use super::FieldValidation;
use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::status::Status;

pub(super) fn namespace_not_found(ns: &str) -> Status {
    Status {
        details: Some(json!({"name": ns, "kind": "namespaces"})),
        ..Status::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
    }
}

pub(super) fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), Status> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    if (!api_version.is_empty() && api_version != rt.api_version())
        || (!kind.is_empty() && kind != rt.kind)
    {
        return Err(Status::bad_request(format!(
            "the API version in the data ({api_version}) and the kind ({kind}) do not match the resource {} ({})",
            rt.group_resource(),
            rt.api_version()
        )));
    }
    if !obj.is_object() {
        return Err(Status::bad_request("the body must be a JSON object"));
    }
    Ok(())
}

pub(super) fn check_namespace(
    rt: &ResourceType,
    meta: &Map<String, Value>,
    ns: &str,
) -> Result<(), Status> {
    if !rt.namespaced {
        return Ok(());
    }
    match meta.get("namespace").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n != ns => Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

pub(super) fn report_unknown(
    rt: &ResourceType,
    unknown: Vec<String>,
    mode: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<(), Status> {
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            Ok(())
        }
        FieldValidation::Strict => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            Err(Status::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                rt.kind,
                rt.version,
                rt.kind,
                list.join(", ")
            )))
        }
    }
}

pub(super) fn validate_metadata(rt: &ResourceType, meta: &Value, causes: &mut Vec<Cause>) {
    let name = meta["name"].as_str().unwrap_or_default();
    let name_check = if rt.kind == "Namespace" {
        model::names::dns1123_label(name)
    } else {
        model::names::dns1123_subdomain(name)
    };
    if let Err(e) = name_check {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 name is required: {e}"),
            "metadata.name",
        ));
    }
    for (k, v) in meta["labels"].as_object().into_iter().flatten() {
        if let Err(e) = model::names::qualified_name(k) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{k}\": {e}"),
                "metadata.labels",
            ));
        }
        if let Err(e) = model::names::label_value(v.as_str().unwrap_or_default()) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: {v}: {e}"),
                format!("metadata.labels.{k}"),
            ));
        }
    }
    for k in meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if let Err(e) = model::names::qualified_name(k) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{k}\": {e}"),
                "metadata.annotations",
            ));
        }
    }
    let size: usize = meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > 256 * 1024 {
        causes.push(Cause::new(
            "FieldValueTooLong",
            "Too long: must have at most 262144 bytes",
            "metadata.annotations",
        ));
    }
}
