//! The fields of a desired object, at the grain of [`crate::cluster::managed`], and whether the
//! live object still holds them.

use serde_json::Value;

/// A field of a desired object: its path text (`.spec.services`) and its JSON keys.
pub(super) type Field = (String, Vec<String>);

/// Every field the reconciler applies on `desired`: each field of `spec`, each label and each
/// annotation (names and namespaces are the object's identity, not fields that drift).
pub(super) fn fields(desired: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    if let Some(spec) = desired.get("spec").and_then(Value::as_object) {
        for k in spec.keys() {
            out.push((format!(".spec.{k}"), vec!["spec".to_owned(), k.clone()]));
        }
    }
    for map in ["labels", "annotations"] {
        if let Some(m) = desired
            .get("metadata")
            .and_then(|m| m.get(map))
            .and_then(Value::as_object)
        {
            for k in m.keys() {
                out.push((
                    format!(".metadata.{map}.{k}"),
                    vec!["metadata".to_owned(), map.to_owned(), k.clone()],
                ));
            }
        }
    }
    out
}

/// The value at `path` in `v` (`null` when absent).
pub(super) fn at<'a>(v: &'a Value, path: &[String]) -> &'a Value {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .unwrap_or(&Value::Null)
}

/// Whether `live` holds everything `want` says: the same scalars, the same list lengths, and
/// every key of a map (the API server may add defaults; they are not drift).
pub(super) fn covers(live: &Value, want: &Value) -> bool {
    match (live, want) {
        (_, Value::Object(w)) => {
            let l = live.as_object();
            w.iter().all(|(k, wv)| {
                let lv = l.and_then(|l| l.get(k)).unwrap_or(&Value::Null);
                covers(lv, wv)
            })
        }
        (Value::Array(l), Value::Array(w)) => {
            l.len() == w.len() && l.iter().zip(w).all(|(l, w)| covers(l, w))
        }
        (Value::Number(l), Value::Number(w)) => l.as_f64() == w.as_f64(),
        (l, w) => l == w,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_not_differences_but_changed_values_and_lengths_are() {
        let want = json!({"a": [{"x": 1}], "b": "s"});
        assert!(covers(
            &json!({"a": [{"x": 1.0, "default": true}], "b": "s", "c": 2}),
            &want
        ));
        assert!(!covers(&json!({"a": [{"x": 2}], "b": "s"}), &want));
        assert!(!covers(
            &json!({"a": [{"x": 1}, {"x": 1}], "b": "s"}),
            &want
        ));
        assert!(!covers(&json!({"a": [{"x": 1}]}), &want));
    }

    #[test]
    fn fields_of_spec_labels_and_annotations() {
        let desired = json!({"metadata": {"name": "n", "labels": {"l": "1"}, "annotations": {"a/b": "2"}},
            "spec": {"id": "s", "versionWeights": {}}});
        let names: Vec<String> = fields(&desired).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            names,
            [
                ".spec.id",
                ".spec.versionWeights",
                ".metadata.labels.l",
                ".metadata.annotations.a/b"
            ]
        );
        assert_eq!(at(&desired, &["spec".into(), "id".into()]), &json!("s"));
        assert_eq!(at(&desired, &["spec".into(), "x".into()]), &Value::Null);
    }
}
