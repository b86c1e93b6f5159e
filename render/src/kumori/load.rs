//! Loading a module for evaluation: its packages and imports read into a [`Program`], its
//! structure and the pairing of interfaces with implementations checked, and its types lowered.

use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::source::SourceTree;

use super::module::Program;
use super::types::{Known, TypeEnv};

/// A module loaded into a program, with the types of every package the program holds.
pub(super) struct Typed {
    /// Index of the module in `Program::modules`.
    pub module: usize,
    /// The types of the program's packages and of the built-in library.
    pub env: TypeEnv,
    /// The built-in types that evaluation and checking treat specially.
    pub known: Known,
}

/// Loads the module in the repository folder `dir` into `prog`. `blame` is where a module that
/// cannot be read is reported (a binding's `module`). Diagnostics of reading and structure stay
/// in `prog.diagnostics`, those of the types go to `diags`. `None` when the module has no
/// readable manifest.
pub(super) fn load(
    prog: &mut Program,
    tree: &dyn SourceTree,
    dir: &str,
    blame: Option<(&str, Range<usize>)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Typed> {
    let module = prog.load_module(tree, dir, blame)?;
    prog.resolve_imports(tree);
    prog.check_structure();
    prog.check_pairing(module);
    let env = TypeEnv::build(prog, diags);
    let known = env.known();
    Some(Typed { module, env, known })
}
