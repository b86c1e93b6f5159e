//! From an evaluated component to what a Vimana Component carries: the image of its single
//! `code` container, and the canonical JSON of the component (with the defaults of file mounts
//! filled in) and its digest.

use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;

use super::ast::{Name, Span};
use super::eval::{Num, V, Value, to_json};
use super::module::Program;
use super::types::TypeEnv;

/// The fields of an evaluated component that the rendered JSON keeps.
const RENDERED_FIELDS: &[&str] = &[
    "code", "config", "probe", "resource", "scale", "size", "srv",
];

/// The image reference of a container: a string as is, `hub {name, tag}` as `<name>/<tag>`.
pub fn image_of(image: &Value) -> Option<String> {
    match &image.kind {
        V::Str(s) => Some(s.clone()),
        V::Struct(_) => {
            let name = image.get("hub")?.get("name")?.as_str()?;
            let tag = image.get("tag")?.as_str()?;
            Some(format!("{}/{tag}", name.trim_end_matches('/')))
        }
        _ => None,
    }
}

/// The image of the single `code` container, or the errors that say why there is none.
pub fn single_image(
    prog: &Program,
    component: &Value,
    name: &Name,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let path = prog.map.path(name.span.file);
    let mut ok = true;
    if let Some(init) = component.get("init")
        && let V::List(items) = &init.kind
        && !items.is_empty()
    {
        diags.push(
            Diagnostic::error(
                "kumori-init-unsupported",
                format!(
                    "component `{}` has init containers, which a Vimana Component cannot run",
                    name.text
                ),
            )
            .at(prog.map.path(init.span.file), init.span.range(), "init containers")
            .also(path, name.span.range(), "in this component")
            .help("a Vimana Component runs exactly one container: move the init work into the image's entrypoint"),
        );
        ok = false;
    }
    let containers = component.get("code").map(Value::fields).unwrap_or_default();
    match containers {
        [] => {
            let at = component.get("code").map_or(name.span, |c| c.span);
            diags.push(
                Diagnostic::error(
                    "kumori-no-code-container",
                    format!("component `{}` has no `code` container", name.text),
                )
                .at(prog.map.path(at.file), at.range(), "no container here")
                .help("a Vimana Component runs exactly one container: add `code { NAME { image ... size { ... } } }`"),
            );
            None
        }
        [(_, c)] => {
            let image = c.get("image").and_then(image_of);
            if ok { image } else { None }
        }
        [_, (second, _), ..] => {
            let first = &containers[0].0;
            let names: Vec<&str> = containers.iter().map(|(k, _)| k.text.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    "kumori-several-code-containers",
                    format!(
                        "component `{}` has {} code containers ({}); a Vimana Component runs one",
                        name.text,
                        containers.len(),
                        names.join(", ")
                    ),
                )
                .at(prog.map.path(second.span.file), second.span.range(), "second container")
                .also(prog.map.path(first.span.file), first.span.range(), "first container")
                .help("split the component into one component per container, each bound by its own Vimana Component"),
            );
            None
        }
    }
}

fn name(text: &str, span: Span) -> Name {
    Name {
        text: text.to_owned(),
        span,
    }
}

fn num(value: f64, span: Span) -> Value {
    Value::new(
        V::Num(Num {
            value,
            unit: None,
            literal_octal: None,
        }),
        span,
    )
}

/// A file mount with its defaults filled in: text becomes `{ data }`, and every content gets
/// `mode` (0o644) and `format` ("text") unless given.
fn normalize_fs_entry(v: &Value) -> Value {
    let span = v.span;
    match &v.kind {
        V::Str(_) => Value::new(
            V::Struct(vec![
                (name("data", span), v.clone()),
                (
                    name("format", span),
                    Value::new(V::Str("text".into()), span),
                ),
                (name("mode", span), num(0o644 as f64, span)),
            ]),
            span,
        ),
        V::Struct(fields) if v.get("volume").is_none() => {
            let mut fields = fields.clone();
            if v.get("mode").is_none() {
                fields.push((name("mode", span), num(0o644 as f64, span)));
            }
            if v.get("format").is_none() {
                fields.push((
                    name("format", span),
                    Value::new(V::Str("text".into()), span),
                ));
            }
            Value::new(V::Struct(fields), span)
        }
        _ => v.clone(),
    }
}

fn map_fields(v: &Value, f: impl Fn(&str, &Value) -> Value) -> Value {
    match &v.kind {
        V::Struct(fields) => Value::new(
            V::Struct(
                fields
                    .iter()
                    .map(|(k, fv)| (k.clone(), f(&k.text, fv)))
                    .collect(),
            ),
            v.span,
        ),
        _ => v.clone(),
    }
}

/// The component as rendered: the kept fields, file mounts normalized.
pub fn canonical(component: &Value) -> Value {
    let fields: Vec<(Name, Value)> = component
        .fields()
        .iter()
        .filter(|(k, _)| RENDERED_FIELDS.contains(&k.text.as_str()))
        .map(|(k, v)| {
            let v = if k.text == "code" {
                map_fields(v, |_, container| {
                    map_fields(container, |field, fv| {
                        if field == "fs" {
                            map_fields(fv, |_, entry| normalize_fs_entry(entry))
                        } else {
                            fv.clone()
                        }
                    })
                })
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    Value::new(V::Struct(fields), component.span)
}

/// Canonical JSON and its `sha256:` digest.
pub fn digest(component: &Value, env: &TypeEnv) -> Option<(String, String)> {
    let json = to_json(&canonical(component), env)?;
    let hash = Sha256::digest(json.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Some((json, format!("sha256:{hex}")))
}
