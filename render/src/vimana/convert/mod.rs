//! Raw YAML documents into the typed model, checking every per-object rule of DESIGN sections
//! 2-4: required fields, types, unknown fields, names, ids, versions, images, weights, labels,
//! annotations and rollout policy.
//!
//! This module reads a document's top level (`apiVersion`, `kind`, `status`, the name) and hands
//! the rest to one module per part: [`metadata`], and the spec of each kind ([`domain`],
//! [`server`], [`component`]; a Vimana's spec is read here).

mod component;
mod domain;
mod metadata;
mod server;

use std::collections::BTreeMap;
use std::ops::Range;

use model::{
    Component, ComponentSpec, Domain, DomainSpec, Kind, Object, ObjectMeta, Resource, Server,
    ServerSpec, Vimana, VimanaSpec, names,
};

use super::SourceObject;
use super::read::{Cx, Fields, non_empty};
use crate::diagnostic::did_you_mean;
use crate::yaml::Node;

use component::component_spec;
pub(super) use component::invalid_image;
use domain::domain_spec;
use metadata::metadata;
use server::server_spec;

const TOP_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

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
    api_version(cx, &mut top, root)?;
    let kind = kind(cx, &mut top)?;
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
    spec(cx, &mut top, root, meta, &mut obj);
    top.finish(cx, &format!("a {kind}"), &TOP_FIELDS);
    if obj.object.meta().name.is_empty() {
        name_or_derived(cx, root, &mut obj);
    }
    Some(obj)
}

/// Checks that the document is a Vimana source of this API version. `None` when it is not
/// (reported): the document is left out.
fn api_version(cx: &mut Cx<'_>, top: &mut Fields<'_>, root: &Node) -> Option<()> {
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
            None
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
            None
        }
        Some(_) => Some(()),
    }
}

/// The document's `kind`, or `None` (reported) when it is missing or not one of the four.
fn kind(cx: &mut Cx<'_>, top: &mut Fields<'_>) -> Option<Kind> {
    let kind_node = top.require(
        cx,
        "kind",
        "add `kind: Vimana`, `Domain`, `Server` or `Component`",
    )?;
    let kind_str = cx.string(kind_node, "kind")?;
    let Some(kind) = Kind::from_kind_str(&kind_str) else {
        let suggestion = Kind::ALL
            .iter()
            .map(|k| k.as_str())
            .find(|k| k.eq_ignore_ascii_case(&kind_str));
        let help = did_you_mean(suggestion, || {
            "use one of Vimana, Domain, Server, Component".to_owned()
        });
        invalid(
            cx,
            "unknown-kind",
            kind_node,
            format!("unknown kind `{kind_str}` in {}", model::API_VERSION),
            "unknown kind",
            help,
        );
        return None;
    };
    Some(kind)
}

/// Reads the `spec` of the document into `obj`, which becomes an object of its kind with the
/// metadata `meta`. Only a Vimana may leave `spec` out.
fn spec<'a>(
    cx: &mut Cx<'_>,
    top: &mut Fields<'a>,
    root: &Node,
    meta: ObjectMeta,
    obj: &mut SourceObject<'a>,
) {
    let kind = obj.object.kind();
    let Some(spec) = top.get("spec") else {
        if kind != Kind::Vimana {
            cx.error(
                "missing-field",
                root.span.start..root.span.start,
                format!("a {kind} needs a `spec`"),
                "`spec` is missing in this document",
                format!("add the {kind}'s `spec`; see README \"Vimana sources\""),
            );
        }
        return;
    };
    let Some(mut f) = Fields::open(cx, spec, "spec") else {
        return;
    };
    obj.spans.insert("spec".into(), spec.span.clone());
    obj.object = match kind {
        Kind::Vimana => Object::from(Vimana {
            spec: vimana_spec(cx, &mut f),
            ..Resource::new("", VimanaSpec::default())
        }),
        Kind::Domain => Object::from(Domain {
            spec: domain_spec(cx, &mut f, &mut obj.spans),
            ..Resource::new("", DomainSpec::default())
        }),
        Kind::Server => Object::from(Server {
            spec: server_spec(cx, &mut f, &mut obj.spans),
            ..Resource::new("", ServerSpec::default())
        }),
        Kind::Component => {
            let (spec, binding) = component_spec(cx, obj.file, &mut f, &mut obj.spans);
            obj.kumori = binding;
            Object::from(Component {
                spec,
                ..Resource::new("", ComponentSpec::default())
            })
        }
    };
    *obj.object.meta_mut() = meta;
}

/// For an object without `metadata.name`: the name derived from a Component's server and
/// version, or an error for the other kinds.
fn name_or_derived(cx: &mut Cx<'_>, root: &Node, obj: &mut SourceObject<'_>) {
    let kind = obj.object.kind();
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

fn placeholder(kind: Kind) -> Object {
    match kind {
        Kind::Vimana => Object::from(Resource::new("", VimanaSpec::default())),
        Kind::Domain => Object::from(Resource::new("", DomainSpec::default())),
        Kind::Server => Object::from(Resource::new("", ServerSpec::default())),
        Kind::Component => Object::from(Resource::new("", ComponentSpec::default())),
    }
}

fn vimana_spec(cx: &mut Cx<'_>, f: &mut Fields<'_>) -> VimanaSpec {
    let mut spec = VimanaSpec::default();
    if let Some(n) = f.get("regions") {
        spec.regions = cx.string_list(n, "spec.regions", "invalid-region", &non_empty);
    }
    f.finish(cx, "a Vimana spec", &["regions"]);
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
