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
    let problems = if rt.kind == "Namespace" {
        dns1123_label(name)
    } else {
        dns1123_subdomain(name)
    };
    for p in problems {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: \"{name}\": {p}"),
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
    // `staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go`,
    // `ValidateFinalizers`: every finalizer is a qualified name.
    for f in meta["finalizers"].as_array().into_iter().flatten() {
        let name = f.as_str().unwrap_or_default();
        if let Err(e) = model::names::qualified_name(name) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{name}\": {e}"),
                "metadata.finalizers",
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

/// What an update may not change in metadata
/// (`staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go`,
/// `ValidateObjectMetaUpdate`): the uid is immutable, and no finalizer may be added to an
/// object that is being deleted (`ValidateNoNewFinalizers`).
pub(super) fn check_metadata_update(
    rt: &ResourceType,
    t: &super::Target,
    old: &Value,
    new: &Value,
) -> Result<(), Status> {
    let mut causes = Vec::new();
    let (old_meta, new_meta) = (&old["metadata"], &new["metadata"]);
    if let Some(uid) = new_meta["uid"].as_str()
        && !uid.is_empty()
        && new_meta["uid"] != old_meta["uid"]
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: \"{uid}\": field is immutable"),
            "metadata.uid",
        ));
    }
    if old_meta.get("deletionTimestamp").is_some() {
        let before: Vec<&Value> = old_meta["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let added: Vec<String> = new_meta["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !before.contains(f))
            .map(|f| format!("{f}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !added.is_empty() {
            causes.push(Cause::new(
                "FieldValueForbidden",
                format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    added.join(", ")
                ),
                "metadata.finalizers",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(Status::invalid(rt, &t.name, causes))
    }
}

/// `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`: the texts clients
/// show for a bad name, word for word.
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

fn dns1123_subdomain_fmt() -> String {
    format!("{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*")
}

/// `RegexError`, spaces and all ("'my-name',  or '123-abc'").
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// Whether `s` matches `pattern` whole. The few patterns are compiled once each: compiling
/// one per write was a tenth of the server's time in an initial sync.
fn full_match(pattern: &str, s: &str) -> bool {
    static COMPILED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, regex::Regex>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    compiled
        .entry(pattern.to_owned())
        .or_insert_with(|| {
            regex::Regex::new(&format!("^(?:{pattern})$")).expect("the name patterns are valid")
        })
        .is_match(s)
}

/// `IsDNS1123Subdomain`: the names of most objects.
pub(crate) fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    let fmt = dns1123_subdomain_fmt();
    if !full_match(&fmt, s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            &fmt,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1123Label`: Namespace names and ConfigMap-free labels of DNS.
pub(crate) fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !full_match(DNS1123_LABEL_FMT, s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_errors_are_worded_as_apimachinery_words_them() {
        assert!(dns1123_subdomain("adder.example").is_empty());
        assert_eq!(
            dns1123_subdomain("Adder"),
            vec![
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(
            dns1123_label("a.b"),
            vec![
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(
            dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }
}
