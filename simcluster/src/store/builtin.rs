//! The checks kube-apiserver makes on the built-in kinds beyond their OpenAPI shape, for what
//! the product and kubectl write: Event (involvedObject namespace), Lease (durations, MicroTime
//! with microseconds), ConfigMap (key names, size), Namespace (finalizer names). Paths are in
//! kubernetes/kubernetes.

use serde_json::Value;

use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::status::Status;

/// Failures of a built-in object. A MicroTime that does not decode is a 400 (the body cannot
/// be read), the rest 422 causes.
pub(super) fn validate(
    rt: &ResourceType,
    obj: &Value,
    causes: &mut Vec<Cause>,
) -> Result<(), Status> {
    if rt.custom {
        return Ok(());
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Event") => {
            micro_time(rt, &obj["eventTime"])?;
            micro_time(rt, &obj["series"]["lastObservedTime"])?;
            event(obj, causes);
        }
        ("coordination.k8s.io", "Lease") => {
            micro_time(rt, &obj["spec"]["acquireTime"])?;
            micro_time(rt, &obj["spec"]["renewTime"])?;
            lease(&obj["spec"], causes);
        }
        ("", "ConfigMap") => config_map(obj, causes),
        ("", "Namespace") => namespace(obj, causes),
        _ => {}
    }
    Ok(())
}

/// `metav1.MicroTime` decodes with layout `RFC3339Micro` (`2006-01-02T15:04:05.000000Z07:00`,
/// `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go`, `UnmarshalJSON`): Go's
/// `time.Parse` wants exactly six fractional digits there.
fn micro_time(rt: &ResourceType, v: &Value) -> Result<(), Status> {
    let Some(s) = v.as_str() else {
        return Ok(());
    };
    // Compiled once: a Lease is written every few seconds.
    static LAYOUT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
            .expect("valid")
    });
    let ok = LAYOUT.is_match(s) && crate::time::is_rfc3339(s);
    if ok {
        return Ok(());
    }
    Err(Status::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: parsing time \"{s}\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \"{rest}\" as \".000000\"",
        kind = rt.kind,
        version = rt.version,
        rest = s.get(19..).unwrap_or_default(),
    )))
}

/// `pkg/apis/core/validation/events.go`, `legacyValidateEvent`: an Event without `eventTime`
/// is in its object's namespace (or `default` for a cluster-scoped object); one with it is in
/// `default` or `kube-system` when its object has no namespace.
fn event(obj: &Value, causes: &mut Vec<Cause>) {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let involved = obj["involvedObject"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let legacy = obj["eventTime"].is_null();
    let mismatch = if legacy {
        if involved.is_empty() {
            !ns.is_empty() && ns != "default"
        } else {
            ns != involved
        }
    } else {
        involved.is_empty() && ns != "default" && ns != "kube-system"
    };
    if mismatch {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: \"{involved}\": does not match event.namespace"),
            "involvedObject.namespace",
        ));
    }
}

/// `pkg/apis/coordination/validation/validation.go`, `ValidateLeaseSpec`.
fn lease(spec: &Value, causes: &mut Vec<Cause>) {
    if let Some(d) = spec["leaseDurationSeconds"].as_i64()
        && d <= 0
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: {d}: must be greater than 0"),
            "spec.leaseDurationSeconds",
        ));
    }
    if let Some(t) = spec["leaseTransitions"].as_i64()
        && t < 0
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: {t}: must be greater than or equal to 0"),
            "spec.leaseTransitions",
        ));
    }
}

/// `pkg/apis/core/validation/validation.go`, `ValidateNamespace` and `validateFinalizerName`:
/// a finalizer of `spec.finalizers` without a `/` is one of the standard ones.
fn namespace(obj: &Value, causes: &mut Vec<Cause>) {
    for f in obj["spec"]["finalizers"].as_array().into_iter().flatten() {
        let name = f.as_str().unwrap_or_default();
        let problem = match model::names::qualified_name(name) {
            Err(e) => Some(e),
            Ok(())
                if !name.contains('/')
                    && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") =>
            {
                Some(
                    "name is neither a standard finalizer name nor is it fully qualified"
                        .to_owned(),
                )
            }
            Ok(()) => None,
        };
        if let Some(p) = problem {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{name}\": {p}"),
                "spec.finalizers",
            ));
        }
    }
}

/// `pkg/apis/core/validation/validation.go`, `ValidateConfigMap`, with
/// `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`, `IsConfigMapKey`.
fn config_map(obj: &Value, causes: &mut Vec<Cause>) {
    let mut total = 0;
    for (bag, other) in [("data", "binaryData"), ("binaryData", "data")] {
        for (key, value) in obj[bag].as_object().into_iter().flatten() {
            for msg in config_map_key(key) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("Invalid value: \"{key}\": {msg}"),
                    format!("{bag}[{key}]"),
                ));
            }
            if obj[other].get(key).is_some() {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("Invalid value: \"{key}\": duplicate of key present in {other}"),
                    format!("{bag}[{key}]"),
                ));
            }
            // binaryData is base64 in JSON: its decoded size is three quarters of it.
            let len = value.as_str().map_or(0, str::len);
            total += if bag == "data" { len } else { len / 4 * 3 };
        }
    }
    if total > 1024 * 1024 {
        causes.push(Cause::new(
            "FieldValueTooLong",
            "Too long: may not be more than 1048576 bytes",
            "",
        ));
    }
}

fn config_map_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_owned());
    }
    match key {
        "." => errs.push("must not be '.'".to_owned()),
        ".." => errs.push("must not be '..'".to_owned()),
        k if k.starts_with("..") => errs.push("must not start with '..'".to_owned()),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    fn check(group: &str, plural: &str, obj: Value) -> Result<Vec<String>, Status> {
        let r = Registry::new();
        let rt = r.get(r.find(group, "v1", plural).unwrap()).clone();
        let mut causes = Vec::new();
        validate(&rt, &obj, &mut causes)?;
        Ok(causes
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect())
    }

    #[test]
    fn an_event_is_in_its_object_s_namespace() {
        let ev = |ns: &str, involved: &str| json!({"metadata": {"namespace": ns}, "involvedObject": {"namespace": involved}});
        assert!(check("", "events", ev("apps", "apps")).unwrap().is_empty());
        assert!(check("", "events", ev("default", "")).unwrap().is_empty());
        assert_eq!(
            check("", "events", ev("apps", "other")).unwrap(),
            ["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
        assert_eq!(check("", "events", ev("apps", "")).unwrap().len(), 1);
    }

    #[test]
    fn a_lease_has_a_positive_duration_and_microsecond_times() {
        let lease = |d: i64, t: &str| json!({"spec": {"leaseDurationSeconds": d, "renewTime": t}});
        assert!(
            check(
                "coordination.k8s.io",
                "leases",
                lease(15, "2026-01-01T00:00:00.000000Z")
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            check(
                "coordination.k8s.io",
                "leases",
                lease(0, "2026-01-01T00:00:00.000000Z")
            )
            .unwrap(),
            ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
        let e = check(
            "coordination.k8s.io",
            "leases",
            lease(15, "2026-01-01T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.contains("cannot parse \"Z\" as \".000000\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn namespace_finalizers_are_standard_or_qualified() {
        let ns = |f: &str| json!({"spec": {"finalizers": [f]}});
        assert!(
            check("", "namespaces", ns("kubernetes"))
                .unwrap()
                .is_empty()
        );
        assert!(
            check("", "namespaces", ns("vimana.host/keep"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            check("", "namespaces", ns("keep")).unwrap(),
            [
                "spec.finalizers: Invalid value: \"keep\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn config_map_keys_are_checked() {
        let cm = json!({"data": {"ok.key": "1", "bad key": "2", "..x": "3"}, "binaryData": {"ok.key": "AA=="}});
        let causes = check("", "configmaps", cm).unwrap();
        assert!(
            causes
                .iter()
                .any(|c| c
                    .starts_with("data[bad key]: Invalid value: \"bad key\": a valid config key")),
            "{causes:?}"
        );
        assert!(
            causes
                .iter()
                .any(|c| c == "data[..x]: Invalid value: \"..x\": must not start with '..'"),
            "{causes:?}"
        );
        assert!(
            causes
                .iter()
                .any(|c| c.contains("duplicate of key present in binaryData")),
            "{causes:?}"
        );
    }
}
