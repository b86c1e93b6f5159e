//! A Component's `spec.kumori` binding and what it renders to: the binding's values read from
//! YAML, its artifact found and evaluated, and the image, canonical JSON and digest made.

use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::source::{self, SourceTree};
use crate::yaml::{self, Node};

use super::artifact::{Artifact, Found};
use super::ast::{self, Span};
use super::component::{Cx, Values};
use super::eval::{Given, Mode};
use super::load::load;
use super::module::Program;
use super::render;

/// The source-only `spec.kumori` block of a Component, as written in the YAML source.
#[derive(Clone, Debug)]
pub struct Binding<'a> {
    /// Repository-relative path of the YAML file that holds the Component.
    pub file: &'a str,
    /// Span of the whole `spec.kumori` block.
    pub span: Range<usize>,
    /// `module`: folder with `kumori.mod.json`, relative to the YAML file.
    pub module: String,
    /// Span of the `module` value.
    pub module_span: Range<usize>,
    /// `component: NAME` or `deployment: NAME`.
    pub artifact: Artifact,
    /// Span of the `component`/`deployment` value.
    pub artifact_span: Range<usize>,
    /// `config`: values for the interface's config (a mapping), if given.
    pub config: Option<&'a Node>,
    /// `resource`: values for the interface's resources (a mapping), if given.
    pub resource: Option<&'a Node>,
}

/// What a bound Component renders to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// `spec.image`: the image of the single `code` container.
    pub image: String,
    /// Annotation `kumori.vimana.host/rendered`: canonical JSON of the evaluated component.
    pub rendered: String,
    /// Annotation `kumori.vimana.host/digest`: `sha256:<hex>` of `rendered`.
    pub digest: String,
    /// Annotation `kumori.vimana.host/source`: `<module path>#<artifact>`.
    pub source: String,
}

/// Loads the module of `binding` into `prog` (from scratch) and evaluates the binding.
pub(super) fn bind(
    tree: &dyn SourceTree,
    binding: &Binding<'_>,
    prog: &mut Program,
    yaml_file: ast::FileId,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rendered> {
    let dir = match source::join(source::parent(binding.file), &binding.module) {
        Ok(d) => d,
        Err(_) => {
            diags.push(
                Diagnostic::error(
                    "kumori-module-outside-repository",
                    format!("module `{}` is outside the repository", binding.module),
                )
                .at(
                    binding.file,
                    binding.module_span.clone(),
                    "leaves the repository",
                )
                .help("`module` is a folder relative to this file, inside the repository"),
            );
            return None;
        }
    };
    let blame = Some((binding.file, binding.module_span.clone()));
    let typed = load(prog, tree, &dir, blame, diags)?;
    let cx = Cx {
        prog,
        env: &typed.env,
        known: &typed.known,
        tree,
    };
    evaluate(&cx, typed.module, binding, yaml_file, diags)
}

/// Evaluates a binding against its loaded module: the values, the artifact, the evaluation,
/// the image and the digest.
pub(super) fn evaluate(
    cx: &Cx<'_>,
    module: usize,
    binding: &Binding<'_>,
    yaml_file: ast::FileId,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rendered> {
    let prog = cx.prog;
    let values = binding_values(binding, yaml_file, diags);
    let at = (binding.file, binding.artifact_span.clone());
    let (pkg, name, found) = cx.find_artifact(module, &binding.artifact, at, diags)?;
    let source = format!("{}#{name}", prog.packages[pkg].key);
    let evaluated = match found {
        Found::Component(r) => cx.component(pkg, r, &values, Mode::Render, diags),
        Found::Deployment(r) => cx.deployment(r, &values, Mode::Render, diags),
    };
    let (component, component_name) = evaluated?;
    if diags.iter().any(Diagnostic::is_error) || prog.diagnostics.iter().any(Diagnostic::is_error) {
        return None;
    }
    let image = render::single_image(prog, &component, component_name, diags)?;
    let Some((rendered, digest)) = render::digest(&component, cx.env) else {
        // Unknown values left without an error cannot happen in render mode; be explicit anyway.
        diags.push(
            Diagnostic::error(
                "kumori-incomplete",
                "the component could not be fully evaluated",
            )
            .at(binding.file, binding.span.clone(), "binding")
            .help("give every config and resource a value"),
        );
        return None;
    };
    Some(Rendered {
        image,
        rendered,
        digest,
        source,
    })
}

/// The values a binding gives in `config` and `resource`, checked for shape here and against
/// the declarations when the component is evaluated.
fn binding_values<'a>(
    binding: &Binding<'a>,
    yaml_file: ast::FileId,
    diags: &mut Vec<Diagnostic>,
) -> Values<'a> {
    let mut values = Values {
        blame: Some((binding.file.to_owned(), binding.span.clone(), "binding")),
        ..Values::default()
    };
    for (node, section) in [(binding.config, "config"), (binding.resource, "resource")] {
        let Some(node) = node else { continue };
        let is_config = section == "config";
        match &node.value {
            yaml::Value::Map(entries) => {
                for (k, v) in entries {
                    let map = if is_config {
                        &mut values.config
                    } else {
                        &mut values.resource
                    };
                    map.insert(k.key_text(), Given::Yaml(v, yaml_file));
                    values.keys.insert(
                        (is_config, k.key_text()),
                        Span::new(yaml_file, k.span.clone()),
                    );
                }
            }
            yaml::Value::Null => {}
            other => diags.push(
                Diagnostic::error(
                    "kumori-invalid-binding",
                    format!(
                        "`spec.kumori.{section}` must be a mapping, found {}",
                        other.type_name()
                    ),
                )
                .at(binding.file, node.span.clone(), "not a mapping")
                .help(format!("write `{section}: {{ NAME: value }}`")),
            ),
        }
    }
    values
}
