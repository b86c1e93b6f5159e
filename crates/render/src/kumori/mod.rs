//! The Kumori DSL front end (see `kumori-language.md`): lexer, parser, module loading, type
//! checker and evaluator, and the rendering of a Component source that binds a Kumori artifact
//! through `spec.kumori` (DESIGN section 3).

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::SourceTree;
use crate::yaml::Node;

/// Which artifact of a module a Component binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// `component: NAME`: a component, configured by the binding's `config` and `resource`.
    Component(String),
    /// `deployment: NAME`: a kdsl `deployment` of the module, which carries its own values.
    Deployment(String),
}

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
    /// The bound artifact.
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

/// Renders a binding, or reports why it cannot be rendered.
pub fn render_binding(
    _tree: &dyn SourceTree,
    binding: &Binding<'_>,
    diagnostics: &mut Diagnostics,
) -> Option<Rendered> {
    diagnostics.push(
        Diagnostic::error(
            "kumori-unsupported",
            "rendering Kumori artifacts is not available in this version of the reconciler",
        )
        .at(binding.file, binding.span.clone(), "Kumori binding")
        .help("give the Component an `image` instead of `kumori` for now"),
    );
    None
}
