//! The resource types the simulated cluster serves: the four Vimana CRDs (parsed from the
//! embedded `deploy/crds` files), ConfigMap, Event, Lease, Namespace, and the CRDs themselves
//! (read-only), with their schemas, printer columns and discovery documents.

use serde_json::{Value, json};

use crate::jsonpath::JsonPath;
use crate::schema::Schema;

/// The CustomResourceDefinitions of `deploy/crds`, embedded at build time so that the binary
/// serves exactly the files the project ships.
pub const CRD_FILES: [(&str, &str); 4] = [
    (
        "api.vimana.host_vimanas.yaml",
        include_str!("../../deploy/crds/api.vimana.host_vimanas.yaml"),
    ),
    (
        "api.vimana.host_domains.yaml",
        include_str!("../../deploy/crds/api.vimana.host_domains.yaml"),
    ),
    (
        "api.vimana.host_servers.yaml",
        include_str!("../../deploy/crds/api.vimana.host_servers.yaml"),
    ),
    (
        "api.vimana.host_components.yaml",
        include_str!("../../deploy/crds/api.vimana.host_components.yaml"),
    ),
];

/// The embedded CRDs as JSON objects.
pub fn crds() -> Vec<Value> {
    CRD_FILES
        .iter()
        .map(|(file, text)| {
            serde_yaml::from_str(text).unwrap_or_else(|e| panic!("deploy/crds/{file}: {e}"))
        })
        .collect()
}

/// How a column of `kubectl get` gets its value.
#[derive(Clone, Debug)]
pub enum CellSource {
    /// A JSONPath into the object (CRD `additionalPrinterColumns`).
    Path(JsonPath),
    /// `metadata.name`.
    Name,
    /// Age from `metadata.creationTimestamp`.
    Age,
    /// Number of keys of `data` plus `binaryData` (ConfigMap).
    DataCount,
}

/// A column of the Table form of a LIST or GET.
#[derive(Clone, Debug)]
pub struct Column {
    /// The column header `kubectl get` prints (`NAME`, `AGE`, `AVAILABLE`).
    pub name: String,
    /// `string`, `integer`, `date`, ...
    pub type_: String,
    /// Column format (`name` for the name column).
    pub format: String,
    /// What the column shows, as in the Table's `columnDefinitions`.
    pub description: String,
    /// 0 for default output, 1 for `-o wide`.
    pub priority: i64,
    /// How the value is computed.
    pub source: CellSource,
}

impl Column {
    fn new(name: &str, type_: &str, source: CellSource) -> Column {
        Column {
            name: name.to_owned(),
            type_: type_.to_owned(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            source,
        }
    }

    fn name_column() -> Column {
        Column {
            format: "name".into(),
            description: "Name must be unique within a namespace.".into(),
            ..Column::new("Name", "string", CellSource::Name)
        }
    }

    fn age_column() -> Column {
        Column {
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
            ..Column::new("Age", "string", CellSource::Age)
        }
    }
}

/// One served resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// The one served version (no conversion between versions).
    pub version: String,
    /// `kind` of its objects (`Component`); lists are `ComponentList`.
    pub kind: String,
    /// Plural resource name used in paths.
    pub plural: String,
    /// Singular name, for discovery (`kubectl get component`).
    pub singular: String,
    /// Short names for kubectl.
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether `status` is a subresource (and ignored on writes to the main resource).
    pub status_subresource: bool,
    /// Whether this is a custom resource (merge semantics and errors of CRs).
    pub custom: bool,
    /// Whether writes are allowed (the CRD list is read-only).
    pub writable: bool,
    /// Schema of the whole object, metadata included.
    pub schema: Schema,
    /// Printer columns of the Table form, Name first.
    pub columns: Vec<Column>,
}

impl ResourceType {
    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `components.api.vimana.host`, or `configmaps` for the core group.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Component.api.vimana.host`, as validation errors name the kind.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Verbs advertised in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.writable {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        } else {
            vec!["get", "list", "watch"]
        }
    }

    fn discovery_entries(&self) -> Vec<Value> {
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        let mut out = vec![main];
        if self.status_subresource && self.writable {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }
}

/// Every served resource type.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Registry {
    /// The built-in types plus the embedded Vimana CRDs.
    pub fn new() -> Registry {
        let mut types = builtin_types();
        for crd in crds() {
            types.push(custom_type(&crd).expect("the embedded CRDs are valid"));
        }
        Registry { types }
    }

    /// All types; the index of a type is its id in the store.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type with this id; panics on an id that [`Registry::find`] did not give.
    pub fn get(&self, id: usize) -> &ResourceType {
        &self.types[id]
    }

    /// The id of the type served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The id of the type of the given kind in the given group.
    pub fn find_kind(&self, group: &str, kind: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.kind == kind)
    }

    /// The `/version` document: a fixed Kubernetes 1.32.
    pub fn version_document() -> Value {
        json!({
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.0-simcluster",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.23",
            "compiler": "gc",
            "platform": "linux/amd64"
        })
    }

    /// The `/api` document: the core group serves `v1` only.
    pub fn core_versions(&self) -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
    }

    fn groups(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            if !t.group.is_empty() && !out.iter().any(|(g, _)| *g == t.group) {
                out.push((t.group.clone(), t.version.clone()));
            }
        }
        out
    }

    /// The `/apis` document: every group with its one version.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .map(|(g, v)| group_json(&g, &v))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `/apis/GROUP`, if the group is served.
    pub fn group(&self, group: &str) -> Option<Value> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g == group)
            .map(|(g, v)| {
                let mut doc = group_json(&g, &v);
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                doc
            })
    }

    /// `/api/v1` or `/apis/GROUP/VERSION`, if served.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let resources: Vec<Value> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .flat_map(ResourceType::discovery_entries)
            .collect();
        if resources.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }))
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

fn group_json(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv], "preferredVersion": gv})
}

/// Schema of `metadata`, shared by every type: labels and annotations are granular maps,
/// finalizers a set, ownerReferences a list keyed by uid (as in the Kubernetes OpenAPI).
fn metadata_schema() -> Schema {
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    Schema::from_openapi(&json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "generateName": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": string_map,
            "annotations": string_map,
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ownerReferences": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
                "items": {"type": "object", "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    "name": {"type": "string"}, "uid": {"type": "string"},
                    "controller": {"type": "boolean"}, "blockOwnerDeletion": {"type": "boolean"}}}
            },
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": {"type": "string"},
            "deletionTimestamp": {"type": "string"},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "selfLink": {"type": "string"},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
        }
    }))
    .expect("the metadata schema is valid")
}

fn with_metadata(mut root: Schema) -> Schema {
    root.properties.insert("metadata".into(), metadata_schema());
    for key in ["apiVersion", "kind"] {
        root.properties
            .entry(key.into())
            .or_insert_with(|| Schema::from_openapi(&json!({"type": "string"})).expect("valid"));
    }
    root
}

fn builtin(
    group: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    status: bool,
    schema: Value,
    columns: Vec<Column>,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        namespaced,
        status_subresource: status,
        custom: false,
        writable: true,
        schema: with_metadata(Schema::from_openapi(&schema).expect("built-in schemas are valid")),
        columns,
    }
}

fn path_column(name: &str, path: &str) -> Column {
    Column::new(
        name,
        "string",
        CellSource::Path(JsonPath::parse(path).expect("built-in column paths are valid")),
    )
}

fn builtin_types() -> Vec<ResourceType> {
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let mut configmap = builtin(
        "",
        "ConfigMap",
        "configmaps",
        true,
        false,
        json!({"type": "object", "properties": {
            "data": string_map, "binaryData": string_map, "immutable": {"type": "boolean"}}}),
        vec![
            Column::name_column(),
            Column::new("Data", "integer", CellSource::DataCount),
            Column::age_column(),
        ],
    );
    configmap.short_names = vec!["cm".into()];
    let mut event = builtin(
        "",
        "Event",
        "events",
        true,
        false,
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        vec![
            path_column("Last Seen", ".lastTimestamp"),
            path_column("Type", ".type"),
            path_column("Reason", ".reason"),
            path_column("Object", ".involvedObject.name"),
            path_column("Message", ".message"),
        ],
    );
    event.columns.insert(0, Column::name_column());
    event.columns[0].priority = 1;
    event.short_names = vec!["ev".into()];
    let micro_time = json!({"type": "string", "format": "date-time"});
    let int32 = json!({"type": "integer", "format": "int32"});
    let lease = builtin(
        "coordination.k8s.io",
        "Lease",
        "leases",
        true,
        false,
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "holderIdentity": {"type": "string"},
            "leaseDurationSeconds": int32,
            "acquireTime": micro_time,
            "renewTime": micro_time,
            "leaseTransitions": int32,
            "strategy": {"type": "string"},
            "preferredHolder": {"type": "string"}}}}}),
        vec![
            Column::name_column(),
            path_column("Holder", ".spec.holderIdentity"),
            Column::age_column(),
        ],
    );
    let mut namespace = builtin(
        "",
        "Namespace",
        "namespaces",
        false,
        true,
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}}},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}),
        vec![
            Column::name_column(),
            path_column("Status", ".status.phase"),
            Column::age_column(),
        ],
    );
    namespace.short_names = vec!["ns".into()];
    let mut crd = builtin(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        true,
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        vec![
            Column::name_column(),
            path_column("Created At", ".metadata.creationTimestamp"),
        ],
    );
    crd.short_names = vec!["crd".into(), "crds".into()];
    crd.writable = false;
    vec![configmap, event, lease, namespace, crd]
}

/// The resource type of a CRD document (its first served version).
pub fn custom_type(crd: &Value) -> Result<ResourceType, String> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let version = spec["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["served"] == json!(true)))
        .ok_or("the CRD serves no version")?;
    let root = Schema::from_openapi(&version["schema"]["openAPIV3Schema"])?
        .without_integer_format_bounds();
    let mut columns = vec![Column::name_column()];
    let mut has_age = false;
    for c in version["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = s(&c["jsonPath"]);
        let source = if path == ".metadata.creationTimestamp" && c["type"] == "date" {
            has_age = true;
            CellSource::Age
        } else {
            CellSource::Path(JsonPath::parse(&path)?)
        };
        columns.push(Column {
            name: s(&c["name"]),
            type_: s(&c["type"]),
            format: s(&c["format"]),
            description: s(&c["description"]),
            priority: c["priority"].as_i64().unwrap_or(0),
            source,
        });
    }
    if !has_age && columns.len() == 1 {
        columns.push(Column::age_column());
    }
    Ok(ResourceType {
        group: s(&spec["group"]),
        version: s(&version["name"]),
        kind: s(&names["kind"]),
        plural: s(&names["plural"]),
        singular: s(&names["singular"]),
        short_names: names["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(&s)
            .collect(),
        namespaced: spec["scope"] == "Namespaced",
        status_subresource: version["subresources"].get("status").is_some(),
        custom: true,
        writable: true,
        schema: with_metadata(root),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_four_vimana_kinds_from_the_embedded_crds() {
        let r = Registry::new();
        for kind in model::Kind::ALL {
            let id = r
                .find(model::GROUP, model::VERSION, kind.plural())
                .unwrap_or_else(|| panic!("{kind} is served"));
            let t = r.get(id);
            assert_eq!(t.kind, kind.as_str());
            assert!(t.namespaced && t.status_subresource && t.custom);
        }
        let list = r.resource_list(model::GROUP, model::VERSION).unwrap();
        assert_eq!(list["resources"].as_array().unwrap().len(), 8);
    }
}
