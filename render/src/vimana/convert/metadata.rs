//! `metadata`: the name and namespace, labels and annotations (none of those the reconciler
//! owns), the rollout policy of a Server's annotations, and no field the API server sets.

use std::collections::BTreeMap;
use std::ops::Range;

use model::{Kind, ObjectMeta, StringMap, keys, names};

use super::invalid;
use crate::diagnostic::Diagnostic;
use crate::vimana::read::{Cx, Fields};
use crate::yaml::{Node, Value};

const META_FIELDS: [&str; 4] = ["name", "namespace", "labels", "annotations"];
/// Metadata the API server sets; a source that carries them was probably copied from a cluster.
const SERVER_SET_META: [&str; 8] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "ownerReferences",
];

pub(super) fn metadata(
    cx: &mut Cx<'_>,
    top: &mut Fields<'_>,
    kind: Kind,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> ObjectMeta {
    let mut meta = ObjectMeta::default();
    let Some(node) = top.get("metadata") else {
        return meta;
    };
    let Some(mut f) = Fields::open(cx, node, "metadata") else {
        return meta;
    };
    spans.insert("metadata".into(), node.span.clone());
    if let Some(n) = f.get("name")
        && let Some(name) = cx.string(n, "metadata.name")
    {
        spans.insert("metadata.name".into(), n.span.clone());
        match names::dns1123_subdomain(&name) {
            Ok(()) => meta.name = name,
            Err(e) => invalid(
                cx,
                "invalid-name",
                n,
                format!("`{name}` is not a valid {kind} name: {e}"),
                "invalid name",
                "names are lowercase letters, digits, '-' and '.', at most 253 characters, such as `adder-1-1-0`".into(),
            ),
        }
    }
    if let Some(n) = f.get("namespace")
        && let Some(ns) = cx.string(n, "metadata.namespace")
    {
        spans.insert("metadata.namespace".into(), n.span.clone());
        match names::dns1123_label(&ns) {
            Ok(()) => meta.namespace = Some(ns),
            Err(e) => invalid(
                cx,
                "invalid-namespace",
                n,
                format!("`{ns}` is not a valid namespace: {e}"),
                "invalid namespace",
                "namespaces are lowercase letters, digits and '-', at most 63 characters; or remove it to use the default".into(),
            ),
        }
    }
    if let Some(n) = f.get("labels") {
        meta.labels = string_map(cx, n, "metadata.labels", &|key, value| {
            if keys::RESERVED_LABELS.contains(&key) {
                return Err((
                    "reserved-label",
                    format!("the label `{key}` is set by the reconciler"),
                    "remove it from the source; the reconciler sets it on every object".into(),
                ));
            }
            names::qualified_name(key).map_err(|e| {
                (
                    "invalid-label",
                    format!("`{key}` is not a valid label key: {e}"),
                    "label keys look like `team` or `example.org/team`".into(),
                )
            })?;
            names::label_value(value).map_err(|e| {
                (
                    "invalid-label",
                    format!("{value:?} is not a valid value of label `{key}`: {e}"),
                    "label values are at most 63 letters, digits, '-', '_' and '.'".into(),
                )
            })
        });
    }
    if let Some(n) = f.get("annotations") {
        meta.annotations = string_map(cx, n, "metadata.annotations", &|key, value| {
            // The one key of the reconciler's prefix that sources set: the drift policy.
            if key == keys::DRIFT {
                return drift_value(value);
            }
            // The reconciler writes rollout state and controls under its own prefix.
            let reserved = key.starts_with("kumori.vimana.host/")
                || key.starts_with("reconciler.vimana.host/");
            if reserved {
                return Err((
                    "reserved-annotation",
                    format!("the annotation `{key}` is written by the reconciler"),
                    "remove it from the source".into(),
                ));
            }
            names::qualified_name(key).map_err(|e| {
                (
                    "invalid-annotation",
                    format!("`{key}` is not a valid annotation key: {e}"),
                    "annotation keys look like `note` or `example.org/note`".into(),
                )
            })
        });
        annotation_spans(node_entries(n), spans);
        rollout_annotations(cx, kind, &meta.annotations, spans);
    }
    for field in SERVER_SET_META {
        if let Some(span) = f.key_span(field) {
            f.get(field);
            cx.error(
                "server-set-field",
                span,
                format!("`metadata.{field}` is set by the API server"),
                "not for sources",
                "remove it; sources copied from a cluster must be cleaned of server-set fields",
            );
        }
    }
    f.finish(cx, "metadata", &META_FIELDS);
    meta
}

/// Checks the value of the drift annotation ([`keys::DRIFT`]).
fn drift_value(value: &str) -> Result<(), (&'static str, String, String)> {
    if keys::DRIFT_VALUES.contains(&value) {
        return Ok(());
    }
    Err((
        "invalid-drift-annotation",
        format!("{value:?} is not a drift policy for `{}`", keys::DRIFT),
        format!(
            "use one of {}; without it the daemon's `apply.drift` applies",
            keys::DRIFT_VALUES.join(", ")
        ),
    ))
}

fn node_entries(n: &Node) -> &[(Node, Node)] {
    match &n.value {
        Value::Map(e) => e,
        _ => &[],
    }
}

fn annotation_spans(entries: &[(Node, Node)], spans: &mut BTreeMap<String, Range<usize>>) {
    for (k, v) in entries {
        spans.insert(
            format!("metadata.annotations.{}", k.key_text()),
            v.span.clone(),
        );
    }
}

fn rollout_annotations(
    cx: &mut Cx<'_>,
    kind: Kind,
    annotations: &StringMap,
    spans: &BTreeMap<String, Range<usize>>,
) {
    let rollout_keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with("rollout.vimana.host/"))
        .collect();
    if rollout_keys.is_empty() {
        return;
    }
    let span_of = |key: &str| {
        spans
            .get(&format!("metadata.annotations.{key}"))
            .cloned()
            .unwrap_or(0..0)
    };
    if kind != Kind::Server {
        for key in rollout_keys {
            cx.push(
                Diagnostic::warning(
                    "rollout-annotation-ignored",
                    format!("`{key}` has no effect on a {kind}"),
                )
                .at(cx.file, span_of(key), "only read on Servers")
                .help("move the rollout policy to the Server whose weights it governs"),
            );
        }
        return;
    }
    let known = [
        keys::ROLLOUT_STEPS,
        keys::ROLLOUT_INTERVAL,
        keys::ROLLOUT_ANALYSIS,
        keys::ROLLOUT_MAX_FAILURES,
        keys::ROLLOUT_PROGRESS_DEADLINE,
    ];
    for key in rollout_keys.iter().filter(|k| !known.contains(&k.as_str())) {
        let span = span_of(key);
        cx.error(
            "unknown-rollout-annotation",
            span,
            format!("unknown rollout annotation `{key}`"),
            "not a rollout setting",
            format!("rollout annotations are: {}", known.join(", ")),
        );
    }
    if let Err(errors) =
        model::rollout::Policy::from_annotations(annotations, &model::rollout::Policy::default())
    {
        for e in errors {
            let span = span_of(e.key);
            cx.error(
                "invalid-rollout-annotation",
                span,
                format!("`{}` is not valid: {}", e.key, e.message),
                "invalid rollout setting",
                e.help.to_owned(),
            );
        }
    }
}

type MapCheck<'c> = dyn Fn(&str, &str) -> Result<(), (&'static str, String, String)> + 'c;

fn string_map(cx: &mut Cx<'_>, node: &Node, path: &str, check: &MapCheck<'_>) -> StringMap {
    let mut out = StringMap::new();
    let Value::Map(entries) = &node.value else {
        cx.wrong_type(node, path, "a mapping of strings to strings");
        return out;
    };
    for (k, v) in entries {
        let key = k.key_text();
        let entry_path = format!("{path}.{key}");
        let value = match &v.value {
            Value::String(s) => s.clone(),
            _ => {
                cx.wrong_type(v, &entry_path, "a string");
                continue;
            }
        };
        match check(&key, &value) {
            Ok(()) => {
                out.insert(key, value);
            }
            Err((code, message, help)) => cx.error(code, k.span.clone(), message, "here", help),
        }
    }
    out
}
