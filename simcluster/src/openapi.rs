//! The OpenAPI v3 documents kubectl reads before it writes: `/openapi/v3` lists the group
//! versions, and each group version lists its paths with the query parameters the server
//! supports (kubectl checks `fieldValidation` there) and the schemas of its kinds.

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceType};

/// The `/openapi/v3` index: one URL per served group version.
pub fn root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for t in reg.types() {
        let key = gv_path(t);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=simcluster")}),
        );
    }
    json!({"paths": paths})
}

fn gv_path(t: &ResourceType) -> String {
    if t.group.is_empty() {
        format!("api/{}", t.version)
    } else {
        format!("apis/{}/{}", t.group, t.version)
    }
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`, if served.
pub fn group_version(reg: &Registry, path: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = reg.types().iter().filter(|t| gv_path(t) == path).collect();
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let query = |name: &str, desc: &str| json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string", "uniqueItems": true}});
    for t in types {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let schema_name = schema_name(t);
        let ref_ = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": ref_}}}});
        let write_params = vec![
            query(
                "dryRun",
                "When present, indicates that modifications should not be persisted. Valid value: All",
            ),
            query("fieldManager", "Name of the actor making the change"),
            query(
                "fieldValidation",
                "Ignore, Warn or Strict handling of unknown fields",
            ),
        ];
        let mut patch_params = write_params.clone();
        patch_params.push(query("force", "Force is going to force Apply requests"));
        let op = |action: &str, params: &Vec<Value>| {
            json!({"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action,
                   "parameters": params, "responses": ok})
        };
        let prefix = format!("/{}", gv_path(t));
        let base = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{prefix}/{}", t.plural)
        };
        let mut collection = json!({"get": op("list", &vec![])});
        let mut item = json!({"get": op("get", &vec![])});
        if t.writable {
            collection["post"] = op("post", &write_params);
            item["put"] = op("put", &write_params);
            item["patch"] = op("patch", &patch_params);
            item["delete"] = op("delete", &vec![query("dryRun", "Valid value: All")]);
        }
        paths.insert(base.clone(), collection);
        paths.insert(format!("{base}/{{name}}"), item);
        if t.status_subresource && t.writable {
            paths.insert(
                format!("{base}/{{name}}/status"),
                json!({"get": op("get", &vec![]), "put": op("put", &write_params), "patch": op("patch", &patch_params)}),
            );
        }
        let mut schema = raw_schema(reg, t);
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name, schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (simcluster)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn schema_name(t: &ResourceType) -> String {
    // Kubernetes names schemas by reversed group: io.k8s.api.core.v1.ConfigMap,
    // host.vimana.api.v1alpha1.Component.
    let group = if t.group.is_empty() {
        "io.k8s.api.core".to_owned()
    } else {
        t.group.split('.').rev().collect::<Vec<_>>().join(".")
    };
    format!("{group}.{}.{}", t.version, t.kind)
}

/// The schema as written in the CRD for custom resources; an open object for the others.
fn raw_schema(_reg: &Registry, t: &ResourceType) -> Value {
    if t.custom {
        for crd in crate::resources::crds() {
            if crd["spec"]["names"]["kind"] == t.kind.as_str()
                && crd["spec"]["group"] == t.group.as_str()
                && let Some(v) = crd["spec"]["versions"].as_array().and_then(|vs| vs.first())
            {
                return v["schema"]["openAPIV3Schema"].clone();
            }
        }
    }
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
