//! The CustomResourceDefinitions of `deploy/crds` against the model: every field of every
//! rendered demo object is declared by its CRD's schema, and the CRDs declare what DESIGN
//! section 2 asks of them.

use std::collections::BTreeMap;

use super::{reconciler, root};

fn crds() -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("deploy/crds")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let crd: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_owned();
        out.insert(kind, crd);
    }
    out
}

/// Walks `value` and reports every path that `schema` does not declare.
fn undeclared(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{path}.{k}");
                if let Some(s) = schema["properties"].get(k) {
                    undeclared(v, s, &p, out);
                } else if let Some(s) = schema.get("additionalProperties") {
                    undeclared(v, s, &p, out);
                } else if path != ".metadata" {
                    out.push(p);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                undeclared(v, &schema["items"], &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_rendered_field_is_declared_by_its_crd() {
    let out = reconciler(&["render", "fixtures/demo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let crds = crds();
    for o in &objects {
        let kind = o["kind"].as_str().unwrap();
        let version = &crds[kind]["spec"]["versions"][0];
        let mut missing = Vec::new();
        undeclared(o, &version["schema"]["openAPIV3Schema"], "", &mut missing);
        assert!(missing.is_empty(), "{kind}: {missing:?}");
    }
}

#[test]
fn crds_are_namespaced_with_status_and_conditions() {
    let crds = crds();
    assert_eq!(
        crds.keys().collect::<Vec<_>>(),
        ["Component", "Domain", "Server", "Vimana"]
    );
    for (kind, crd) in &crds {
        assert_eq!(crd["spec"]["group"], "api.vimana.host", "{kind}");
        assert_eq!(crd["spec"]["scope"], "Namespaced", "{kind}");
        let v = &crd["spec"]["versions"][0];
        assert_eq!(v["name"], "v1alpha1", "{kind}");
        assert!(v["subresources"]["status"].is_object(), "{kind}");
        let conditions =
            &v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
        let required = conditions["items"]["required"].as_array().unwrap();
        for field in ["type", "status", "lastTransitionTime", "reason", "message"] {
            assert!(
                required.iter().any(|r| r == field),
                "{kind}: condition {field}"
            );
        }
    }
}
