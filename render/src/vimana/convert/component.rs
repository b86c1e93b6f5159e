//! A Component's spec: its version, Server and Domain, and either an image or the `spec.kumori`
//! binding that renders one.

use std::collections::BTreeMap;
use std::ops::Range;

use model::{ComponentSpec, names};

use super::{domain_ref, invalid};
use crate::diagnostic::Diagnostic;
use crate::kumori::{Artifact, Binding};
use crate::vimana::read::{Cx, Fields};
use crate::yaml::{Node, Value};

pub(super) fn component_spec<'a>(
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
            Err(e) => cx.push(invalid_image(
                cx.file,
                n.span.clone(),
                &img,
                &e,
                "invalid image",
            )),
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

/// The one diagnostic of an image that is not an OCI reference, whether written as
/// `spec.image` or rendered from a Kumori binding. The image is shown escaped: it may hold
/// line breaks or bidirectional controls that would disguise the message.
pub(in crate::vimana) fn invalid_image(
    file: &str,
    span: Range<usize>,
    image: &str,
    error: &str,
    label: &str,
) -> Diagnostic {
    Diagnostic::error(
        "invalid-image",
        format!(
            "`{}` is not a valid image reference: {error}",
            image.escape_debug()
        ),
    )
    .at(file, span, label)
    .help("write an OCI reference such as `ghcr.io/acme/adder:1.1.0`")
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
