//! Raw YAML documents into the typed model, checking every per-object rule of DESIGN sections
//! 2-4: required fields, types, unknown fields, names, ids, versions, images, weights, labels,
//! annotations and rollout policy.

use std::collections::BTreeMap;
use std::ops::Range;

use model::{
    AuthSpec, Component, ComponentSpec, Domain, DomainSpec, GrpcSpec, Kind, Object, ObjectMeta,
    ReflectionSpec, Resource, Server, ServerSpec, Vimana, VimanaSpec, keys, names,
};

use super::SourceObject;
use super::read::{Cx, Fields, non_empty};
use crate::diagnostic::Diagnostic;
use crate::kumori::{Artifact, Binding};
use crate::yaml::{Node, Value};

const TOP_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];
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

fn invalid(
    cx: &mut Cx<'_>,
    code: &'static str,
    node: &Node,
    what: String,
    label: &str,
    help: String,
) {
    cx.error(code, node.span.clone(), what, label.to_owned(), help);
}

/// Converts one document. `None` when the document is not a usable Vimana object (errors have
/// been reported).
pub fn document<'a>(cx: &mut Cx<'_>, file: &'a str, root: &'a Node) -> Option<SourceObject<'a>> {
    let mut top = Fields::open(cx, root, "")?;
    let api_version = match top.get("apiVersion") {
        Some(n) => Some((cx.string(n, "apiVersion")?, n)),
        None => None,
    };
    match &api_version {
        None => {
            cx.error(
                "missing-api-version",
                root.span.start..root.span.start,
                "this document has no `apiVersion`",
                "document starts here",
                format!(
                    "Vimana sources start with `apiVersion: {}`; exclude other files in {}",
                    model::API_VERSION,
                    crate::IGNORE_FILE
                ),
            );
            return None;
        }
        Some((v, node)) if v != model::API_VERSION => {
            let help = if v.starts_with(model::GROUP) {
                format!("this reconciler reads `{}`", model::API_VERSION)
            } else {
                format!(
                    "only `{}` documents belong under the source path; list this file in {} to exclude it",
                    model::API_VERSION,
                    crate::IGNORE_FILE
                )
            };
            invalid(
                cx,
                "foreign-document",
                node,
                format!("`apiVersion: {v}` is not a Vimana source"),
                "not a Vimana apiVersion",
                help,
            );
            return None;
        }
        Some(_) => {}
    }
    let kind_node = top.require(
        cx,
        "kind",
        "add `kind: Vimana`, `Domain`, `Server` or `Component`",
    )?;
    let kind_str = cx.string(kind_node, "kind")?;
    let Some(kind) = Kind::from_kind_str(&kind_str) else {
        let suggestion = Kind::ALL
            .iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(&kind_str))
            .map_or_else(
                || "use one of Vimana, Domain, Server, Component".to_owned(),
                |k| format!("did you mean `{k}`?"),
            );
        invalid(
            cx,
            "unknown-kind",
            kind_node,
            format!("unknown kind `{kind_str}` in {}", model::API_VERSION),
            "unknown kind",
            suggestion,
        );
        return None;
    };

    let mut obj = SourceObject {
        file,
        doc_span: root.span.clone(),
        object: placeholder(kind),
        name_derived: false,
        spans: BTreeMap::new(),
        kumori: None,
        broken: false,
    };
    if let Some(status) = top.get("status") {
        cx.error(
            "status-in-source",
            top.key_span("status").unwrap_or(status.span.clone()),
            "sources may not set `status`",
            "status belongs to the cluster",
            "the Vimana operator writes `status`; remove it from the source",
        );
    }
    let meta = metadata(cx, &mut top, kind, &mut obj.spans);
    obj.object.meta_mut().clone_from(&meta);

    let spec_node = top.get("spec");
    match (kind, spec_node) {
        (Kind::Vimana, None) => {}
        (_, None) => {
            cx.error(
                "missing-field",
                root.span.start..root.span.start,
                format!("a {kind} needs a `spec`"),
                "`spec` is missing in this document",
                format!("add the {kind}'s `spec`; see README \"Vimana sources\""),
            );
        }
        (_, Some(spec)) => {
            if let Some(mut f) = Fields::open(cx, spec, "spec") {
                obj.spans.insert("spec".into(), spec.span.clone());
                match kind {
                    Kind::Vimana => {
                        obj.object = Object::Vimana(Vimana {
                            spec: vimana_spec(cx, &mut f),
                            ..Resource::new("", VimanaSpec::default())
                        });
                    }
                    Kind::Domain => {
                        obj.object = Object::Domain(Domain {
                            spec: domain_spec(cx, &mut f, &mut obj.spans),
                            ..Resource::new("", DomainSpec::default())
                        });
                    }
                    Kind::Server => {
                        obj.object = Object::Server(Server {
                            spec: server_spec(cx, &mut f, &mut obj.spans),
                            ..Resource::new("", ServerSpec::default())
                        });
                    }
                    Kind::Component => {
                        let (spec, binding) = component_spec(cx, file, &mut f, &mut obj.spans);
                        obj.kumori = binding;
                        obj.object = Object::Component(Component {
                            spec,
                            ..Resource::new("", ComponentSpec::default())
                        });
                    }
                }
                *obj.object.meta_mut() = meta;
            }
        }
    }
    top.finish(cx, &format!("a {kind}"), &TOP_FIELDS);

    if obj.object.meta().name.is_empty() {
        if let Object::Component(c) = &obj.object
            && !c.spec.server.is_empty()
            && !c.spec.version.is_empty()
        {
            let derived = names::derived_component_name(&c.spec.server, &c.spec.version);
            obj.object.meta_mut().name = derived;
            obj.name_derived = true;
        } else if kind != Kind::Component && !obj.spans.contains_key("metadata.name") {
            cx.error(
                "missing-field",
                obj.spans.get("metadata").cloned().unwrap_or(root.span.start..root.span.start),
                format!("a {kind} needs `metadata.name`"),
                "no name",
                "give the object a name: `metadata: { name: ... }` (lowercase letters, digits, '-' and '.')",
            );
        }
    }
    Some(obj)
}

fn placeholder(kind: Kind) -> Object {
    match kind {
        Kind::Vimana => Object::Vimana(Resource::new("", VimanaSpec::default())),
        Kind::Domain => Object::Domain(Resource::new("", DomainSpec::default())),
        Kind::Server => Object::Server(Resource::new("", ServerSpec::default())),
        Kind::Component => Object::Component(Resource::new("", ComponentSpec::default())),
    }
}

fn metadata(
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
        meta.annotations = string_map(cx, n, "metadata.annotations", &|key, _| {
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
    annotations: &BTreeMap<String, String>,
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

fn string_map(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    check: &MapCheck<'_>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
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

fn vimana_spec(cx: &mut Cx<'_>, f: &mut Fields<'_>) -> VimanaSpec {
    let mut spec = VimanaSpec::default();
    if let Some(n) = f.get("regions") {
        spec.regions = cx.string_list(n, "spec.regions", "invalid-region", &non_empty);
    }
    f.finish(cx, "a Vimana spec", &["regions"]);
    spec
}

fn domain_spec(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> DomainSpec {
    let mut spec = DomainSpec::default();
    if let Some(n) = f.require(
        cx,
        "id",
        "add `id:` with 32 lowercase hexadecimal characters, e.g. from `openssl rand -hex 16`",
    ) && let Some(id) = cx.string(n, "spec.id")
    {
        spans.insert("spec.id".into(), n.span.clone());
        match names::domain_id(&id) {
            Ok(()) => spec.id = id,
            Err(e) => invalid(
                cx,
                "invalid-domain-id",
                n,
                format!("`{id}` is not a valid domain id: {e}"),
                "not 32 lowercase hexadecimal characters",
                "a domain id is 32 lowercase hexadecimal characters, such as `0123456789abcdef0123456789abcdef` (`openssl rand -hex 16` makes one)".into(),
            ),
        }
    }
    if let Some(n) = f.get("vimana")
        && let Some(v) = cx.string(n, "spec.vimana")
    {
        spans.insert("spec.vimana".into(), n.span.clone());
        spec.vimana = Some(v);
    }
    if let Some(n) = f.get("aliases") {
        spec.aliases = cx.string_list(n, "spec.aliases", "invalid-alias", &|s| {
            names::dns_name(s).map_err(|e| {
                (
                    e,
                    "aliases are fully qualified DNS names such as `api.example.org`".into(),
                )
            })
        });
        if let Value::Seq(items) = &n.value {
            for (i, item) in items.iter().enumerate() {
                spans.insert(format!("spec.aliases[{i}]"), item.span.clone());
            }
        }
    }
    if let Some(n) = f.get("regions") {
        spec.regions = cx.string_list(n, "spec.regions", "invalid-region", &non_empty);
    }
    if let Some(n) = f.get("failover") {
        spec.failover = cx.string_list(n, "spec.failover", "invalid-region", &non_empty);
    }
    if let Some(n) = f.get("grpc") {
        spec.grpc = grpc(cx, n);
    }
    if let Some(n) = f.get("openApi") {
        spec.open_api = cx.boolean(n, "spec.openApi");
    }
    f.finish(
        cx,
        "a Domain spec",
        &[
            "id", "vimana", "aliases", "regions", "failover", "grpc", "openApi",
        ],
    );
    spec
}

fn grpc(cx: &mut Cx<'_>, node: &Node) -> Option<GrpcSpec> {
    let mut f = Fields::open(cx, node, "spec.grpc")?;
    let mut spec = GrpcSpec::default();
    if let Some(r) = f.get("reflection")
        && let Some(mut rf) = Fields::open(cx, r, "spec.grpc.reflection")
    {
        let service = |s: &str| {
            names::grpc_service(s).map_err(|e| {
                (
                    e,
                    "name a gRPC service by its fully qualified name, such as `calc.v1.Adder`"
                        .into(),
                )
            })
        };
        let none_but = rf.get("noneBut").map(|n| {
            (
                n,
                cx.string_list(
                    n,
                    "spec.grpc.reflection.noneBut",
                    "invalid-service",
                    &service,
                ),
            )
        });
        let all_but = rf.get("allBut").map(|n| {
            (
                n,
                cx.string_list(
                    n,
                    "spec.grpc.reflection.allBut",
                    "invalid-service",
                    &service,
                ),
            )
        });
        if let (Some((a, _)), Some((b, _))) = (&none_but, &all_but) {
            cx.push(
                Diagnostic::error(
                    "reflection-lists-exclusive",
                    "`spec.grpc.reflection` may set `noneBut` or `allBut`, not both",
                )
                .at(cx.file, b.span.clone(), "`allBut` given here")
                .also(cx.file, a.span.clone(), "`noneBut` given here")
                .help("keep `noneBut` to reflect only the listed services, or `allBut` to reflect all but them"),
            );
        }
        spec.reflection = Some(ReflectionSpec {
            none_but: none_but.map(|(_, l)| l),
            all_but: all_but.map(|(_, l)| l),
        });
        rf.finish(cx, "`spec.grpc.reflection`", &["noneBut", "allBut"]);
    }
    f.finish(cx, "`spec.grpc`", &["reflection"]);
    Some(spec)
}

fn server_spec(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> ServerSpec {
    let mut spec = ServerSpec::default();
    if let Some(n) = f.require(
        cx,
        "id",
        "add `id:`, the server's name within its domain, such as `adder`",
    ) && let Some(id) = cx.string(n, "spec.id")
    {
        spans.insert("spec.id".into(), n.span.clone());
        match names::server_id(&id) {
            Ok(()) => spec.id = id,
            Err(e) => invalid(
                cx,
                "invalid-server-id",
                n,
                format!("`{id}` is not a valid server id: {e}"),
                "invalid server id",
                "server ids are lowercase letters, digits and '-', at most 63 characters (they become a label value)".into(),
            ),
        }
    }
    domain_ref(cx, f, &mut spec.domain, spans);
    if let Some(n) = f.get("services") {
        spec.services = cx.string_list(n, "spec.services", "invalid-service", &|s| {
            names::grpc_service(s).map_err(|e| {
                (
                    e,
                    "list fully qualified gRPC service names, such as `calc.v1.Adder`".into(),
                )
            })
        });
    }
    if let Some(n) = f.get("auth")
        && let Some(mut af) = Fields::open(cx, n, "spec.auth")
    {
        let mut auth = AuthSpec::default();
        if let Some(j) = af.get("jwks") {
            auth.jwks = cx.string_list(j, "spec.auth.jwks", "invalid-url", &|s| {
                url(s).map_err(|e| {
                    (
                        e,
                        "give the URL of a JSON Web Key Set, such as `https://auth.example.org/.well-known/jwks.json`".into(),
                    )
                })
            });
        }
        af.finish(cx, "`spec.auth`", &["jwks"]);
        spec.auth = Some(auth);
    }
    if let Some(n) = f.get("features") {
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let name = k.key_text();
                    if matches!(v.value, Value::Map(_)) {
                        spec.features.insert(name, v.to_json());
                    } else {
                        cx.wrong_type(v, &format!("spec.features.{name}"), "an object (a mapping)");
                    }
                }
            }
            _ => cx.wrong_type(n, "spec.features", "a mapping of feature names to objects"),
        }
    }
    if let Some(n) = f.get("versionWeights") {
        spec.version_weights = weights(cx, n, spans);
    }
    f.finish(
        cx,
        "a Server spec",
        &[
            "id",
            "domain",
            "services",
            "auth",
            "features",
            "versionWeights",
        ],
    );
    spec
}

fn domain_ref(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
    out: &mut String,
    spans: &mut BTreeMap<String, Range<usize>>,
) {
    if let Some(n) = f.require(
        cx,
        "domain",
        "add `domain:` with the id of the Domain (32 hexadecimal characters)",
    ) && let Some(d) = cx.string(n, "spec.domain")
    {
        spans.insert("spec.domain".into(), n.span.clone());
        match names::domain_id(&d) {
            Ok(()) => *out = d,
            Err(e) => invalid(
                cx,
                "invalid-domain-id",
                n,
                format!("`{d}` is not a valid domain id: {e}"),
                "not a domain id",
                "`spec.domain` holds the Domain's `spec.id` (32 lowercase hexadecimal characters), not its name".into(),
            ),
        }
    }
}

fn url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| "it is not an http:// or https:// URL".to_owned())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(char::is_whitespace) {
        return Err("it has no host or contains white space".into());
    }
    Ok(())
}

fn weights(
    cx: &mut Cx<'_>,
    node: &Node,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> BTreeMap<String, i32> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        cx.wrong_type(
            node,
            "spec.versionWeights",
            "a mapping of versions to weights",
        );
        return out;
    };
    spans.insert("spec.versionWeights".into(), node.span.clone());
    let mut sum: i64 = 0;
    for (k, v) in entries {
        let version = k.key_text();
        let path = format!("spec.versionWeights.{version}");
        if let Err(e) = names::version(&version) {
            cx.error(
                "invalid-version",
                k.span.clone(),
                format!("`{version}` in `spec.versionWeights` is not a valid version: {e}"),
                "not a version",
                "weights are keyed by the semantic versions of Components, such as `1.2.0`",
            );
            continue;
        }
        let weight = match v.value {
            Value::Int(w) => w,
            _ => {
                cx.wrong_type(v, &path, "a whole number");
                continue;
            }
        };
        if weight < 0 {
            cx.error(
                "negative-weight",
                v.span.clone(),
                format!("the weight of version {version} is negative ({weight})"),
                "negative weight",
                "weights are 0 or more; 0 keeps a version deployed without traffic",
            );
            continue;
        }
        let Ok(w) = i32::try_from(weight) else {
            cx.error(
                "weight-out-of-range",
                v.span.clone(),
                format!("the weight of version {version} does not fit in 32 bits ({weight})"),
                "too large",
                "use smaller weights; only their ratios matter (e.g. 90 and 10)",
            );
            continue;
        };
        sum += i64::from(w);
        spans.insert(path, k.span.clone());
        out.insert(version, w);
    }
    if !out.is_empty() && sum == 0 {
        cx.error(
            "zero-weight-sum",
            node.span.clone(),
            "the weights of `spec.versionWeights` add up to 0, so no version can receive traffic",
            "all weights are 0",
            "give at least one version a positive weight, or remove `versionWeights` while the server takes no traffic",
        );
    }
    out
}

fn component_spec<'a>(
    cx: &mut Cx<'_>,
    file: &'a str,
    f: &mut Fields<'a>,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> (ComponentSpec, Option<Binding<'a>>) {
    let mut spec = ComponentSpec::default();
    if let Some(n) = f.require(
        cx,
        "version",
        "add `version:` with the Component's semantic version, such as `1.0.0`",
    ) {
        let text = match &n.value {
            Value::String(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => {
                cx.error(
                    "invalid-version",
                    n.span.clone(),
                    "`spec.version` must be a semantic version such as 1.0.0, found a number",
                    "a number, not a version",
                    "write three numbers, quoted if needed: `version: \"1.0.0\"`",
                );
                None
            }
            _ => {
                cx.wrong_type(n, "spec.version", "a string");
                None
            }
        };
        if let Some(v) = text {
            spans.insert("spec.version".into(), n.span.clone());
            match names::version(&v) {
                Ok(_) => spec.version = v,
                Err(e) => invalid(
                    cx,
                    "invalid-version",
                    n,
                    format!("`{v}` is not a valid Component version: {e}"),
                    "invalid version",
                    "use a semantic version such as `1.2.0` or `2.0.0-rc.1`; a released version is never re-used".into(),
                ),
            }
        }
    }
    if let Some(n) = f.require(
        cx,
        "server",
        "add `server:` with the id of the Server this Component is a version of",
    ) && let Some(s) = cx.string(n, "spec.server")
    {
        spans.insert("spec.server".into(), n.span.clone());
        match names::server_id(&s) {
            Ok(()) => spec.server = s,
            Err(e) => invalid(
                cx,
                "invalid-server-id",
                n,
                format!("`{s}` is not a valid server id: {e}"),
                "invalid server id",
                "`spec.server` holds the Server's `spec.id`".into(),
            ),
        }
    }
    domain_ref(cx, f, &mut spec.domain, spans);
    let image = f.get("image");
    let kumori = f.get("kumori");
    if let Some(n) = image
        && let Some(img) = cx.string(n, "spec.image")
    {
        spans.insert("spec.image".into(), n.span.clone());
        match names::image_reference(&img) {
            Ok(()) => spec.image = img,
            Err(e) => invalid(
                cx,
                "invalid-image",
                n,
                format!("`{img}` is not a valid image reference: {e}"),
                "invalid image",
                "write an OCI reference such as `ghcr.io/acme/adder:1.1.0`".into(),
            ),
        }
    }
    let mut binding = None;
    match (image, kumori) {
        (Some(i), Some(k)) => cx.push(
            Diagnostic::error(
                "image-and-kumori",
                "a Component gives either `spec.image` or `spec.kumori`, not both",
            )
            .at(cx.file, k.span.clone(), "`kumori` given here")
            .also(cx.file, i.span.clone(), "`image` given here")
            .help("remove `image` to render the image from the Kumori artifact, or remove `kumori`"),
        ),
        (None, None) => cx.error(
            "missing-image",
            f.span.start..f.span.start,
            "a Component needs `spec.image` or `spec.kumori`",
            "neither `image` nor `kumori` in this spec",
            "add `image: <OCI reference>`, or bind a Kumori artifact with `kumori: { module: ..., component: ... }`",
        ),
        (None, Some(k)) => {
            spans.insert("spec.kumori".into(), k.span.clone());
            binding = kumori_binding(cx, file, k);
        }
        (Some(_), None) => {}
    }
    f.finish(
        cx,
        "a Component spec",
        &["version", "server", "domain", "image", "kumori"],
    );
    (spec, binding)
}

fn kumori_binding<'a>(cx: &mut Cx<'_>, file: &'a str, node: &'a Node) -> Option<Binding<'a>> {
    let mut f = Fields::open(cx, node, "spec.kumori")?;
    let module = f.require(
        cx,
        "module",
        "add `module:` with the folder of the Kumori module, relative to this file",
    );
    let module_text = module.and_then(|n| cx.string(n, "spec.kumori.module"));
    let component = f.get("component");
    let deployment = f.get("deployment");
    let artifact = match (component, deployment) {
        (Some(c), None) => cx
            .string(c, "spec.kumori.component")
            .map(|s| (Artifact::Component(s), c.span.clone())),
        (None, Some(d)) => cx
            .string(d, "spec.kumori.deployment")
            .map(|s| (Artifact::Deployment(s), d.span.clone())),
        (Some(c), Some(d)) => {
            cx.push(
                Diagnostic::error(
                    "kumori-artifact",
                    "`spec.kumori` binds either a `component` or a `deployment`, not both",
                )
                .at(cx.file, d.span.clone(), "`deployment` given here")
                .also(cx.file, c.span.clone(), "`component` given here")
                .help("keep one of the two"),
            );
            None
        }
        (None, None) => {
            cx.error(
                "kumori-artifact",
                node.span.clone(),
                "`spec.kumori` names no artifact",
                "no `component` or `deployment`",
                "add `component: <name>` (a component of the module) or `deployment: <name>` (a kdsl deployment)",
            );
            None
        }
    };
    let config = f.get("config");
    let resource = f.get("resource");
    for (n, path) in [
        (config, "spec.kumori.config"),
        (resource, "spec.kumori.resource"),
    ] {
        if let Some(n) = n
            && !matches!(n.value, Value::Map(_))
        {
            cx.wrong_type(n, path, "a mapping of names to values");
        }
    }
    f.finish(
        cx,
        "`spec.kumori`",
        &["module", "component", "deployment", "config", "resource"],
    );
    let (artifact, artifact_span) = artifact?;
    Some(Binding {
        file,
        span: node.span.clone(),
        module: module_text?,
        module_span: module?.span.clone(),
        artifact,
        artifact_span,
        config: config.filter(|n| matches!(n.value, Value::Map(_))),
        resource: resource.filter(|n| matches!(n.value, Value::Map(_))),
    })
}
