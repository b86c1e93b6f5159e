//! The Kumori DSL front end (see `kumori-language.md` and `docs/kumori.md`): lexer, parser,
//! module loading, type checker and evaluator, and the rendering of a Component source that binds
//! a Kumori artifact through `spec.kumori` (DESIGN section 3).
//!
//! The phases, each in its own module: [`lexer`] and [`parser`] turn text into an [`ast`] and
//! diagnostics (never giving up); [`module`] loads `kumori.mod.json`, packages and imports;
//! [`types`] lowers the declarations of the built-in library (`kumori.kumori`, embedded) and of
//! user libraries; [`eval`] evaluates a component with its config and resources; [`check`] checks
//! the result against the library's types and the rules of the component model; [`render`] turns
//! it into an image, canonical JSON and a digest.
//!
//! Around them, private modules hold the steps of a binding: `binding` (a Component's
//! `spec.kumori`, its values and what it renders to), `artifact` (the artifact it names),
//! `load` (a module loaded, checked and typed), `component` and `deployment` (their
//! evaluation), `cache` (what the bindings of one render share) and `report` (diagnostics
//! handed over with their files). This file holds the entry points.

mod artifact;
pub mod ast;
mod binding;
mod cache;
pub mod check;
mod component;
mod deployment;
pub mod eval;
pub mod lexer;
mod load;
pub mod module;
pub mod parser;
pub mod render;
mod report;
pub mod types;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::limits::Limits;
use crate::source::SourceTree;

pub use artifact::Artifact;
pub use binding::{Binding, Rendered};
pub use cache::ModuleCache;

use component::Cx;
use module::Program;
use report::finish;

/// Renders a binding within `limits`, or reports why it cannot be rendered.
pub fn render_binding(
    tree: &dyn SourceTree,
    binding: &Binding<'_>,
    limits: &Limits,
    diagnostics: &mut Diagnostics,
) -> Option<Rendered> {
    let mut prog = Program::new(*limits);
    let yaml_text = tree
        .read_at_most(binding.file, limits.file_bytes, "fileBytes")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let yaml_file = prog.add_text(binding.file, yaml_text);
    let mut diags = Vec::new();
    let rendered = binding::bind(tree, binding, &mut prog, yaml_file, &mut diags);
    finish(&prog, diags, diagnostics);
    rendered
}

/// [`render_binding`] with the modules of earlier bindings of the same render: the same result
/// and diagnostics, without loading a module once per Component (within the cache's limits).
pub fn render_binding_cached(
    tree: &dyn SourceTree,
    binding: &Binding<'_>,
    cache: &mut ModuleCache,
    diagnostics: &mut Diagnostics,
) -> Option<Rendered> {
    cache.render(tree, binding, diagnostics)
}

/// Loads and checks every component and deployment of the module in the repository folder
/// `dir`, without values for their config (check mode), within `limits`. Returns whether it is
/// free of errors.
pub fn check_module(
    tree: &dyn SourceTree,
    dir: &str,
    limits: &Limits,
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut prog = Program::new(*limits);
    let mut diags = Vec::new();
    if let Some(typed) = load::load(&mut prog, tree, dir, None, &mut diags) {
        let cx = Cx {
            prog: &prog,
            env: &typed.env,
            known: &typed.known,
            tree,
        };
        cx.check_all(typed.module, &mut diags);
    }
    let ok = !diags.iter().any(Diagnostic::is_error)
        && !prog.diagnostics.iter().any(Diagnostic::is_error);
    finish(&prog, diags, diagnostics);
    ok
}
