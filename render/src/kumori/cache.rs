//! What the bindings of one render share: the modules they bind, loaded once, and the files
//! their components read with `io.Open`, read once.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::diagnostic::Diagnostics;
use crate::limits::Limits;
use crate::source::{self, SourceError, SourceTree};

use super::ast;
use super::binding::{Binding, Rendered, evaluate};
use super::component::Cx;
use super::load::load;
use super::module::Program;
use super::report::finish;
use super::types::{Known, TypeEnv};

/// What the bindings of one render share. A repository binds a handful of modules from
/// thousands of Components: each module that loads without a diagnostic is read, parsed, checked
/// and typed once, and the files its components read with `io.Open` are read once. A module with
/// diagnostics is loaded again for every binding, as [`super::render_binding`] does, so that
/// every binding reports them with its own location.
pub struct ModuleCache {
    limits: Limits,
    modules: HashMap<String, Option<Loaded>>,
    reads: RefCell<HashMap<String, Vec<u8>>>,
}

impl ModuleCache {
    /// An empty cache for a render within `limits`.
    pub fn new(limits: Limits) -> Self {
        ModuleCache {
            limits,
            modules: HashMap::new(),
            reads: RefCell::default(),
        }
    }

    /// Renders `binding` with the module loaded by an earlier binding of the same folder, or
    /// falls back to [`super::render_binding`] when that module has diagnostics.
    pub(super) fn render(
        &mut self,
        tree: &dyn SourceTree,
        binding: &Binding<'_>,
        diagnostics: &mut Diagnostics,
    ) -> Option<Rendered> {
        let Ok(dir) = source::join(source::parent(binding.file), &binding.module) else {
            return super::render_binding(tree, binding, &self.limits, diagnostics);
        };
        let ModuleCache {
            limits,
            modules,
            reads,
        } = self;
        let loaded = modules
            .entry(dir)
            .or_insert_with_key(|dir| Loaded::load(tree, dir, *limits));
        let Some(loaded) = loaded else {
            return super::render_binding(tree, binding, limits, diagnostics);
        };
        if loaded.prog.map.path(loaded.yaml) != binding.file {
            let text = tree
                .read_at_most(binding.file, limits.file_bytes, "fileBytes")
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            loaded.prog.map.replace(loaded.yaml, binding.file, text);
        }
        let reads = CachedReads { tree, reads };
        let cx = Cx {
            prog: &loaded.prog,
            env: &loaded.env,
            known: &loaded.known,
            tree: &reads,
        };
        let mut diags = Vec::new();
        let rendered = evaluate(&cx, loaded.module, binding, loaded.yaml, &mut diags);
        finish(&loaded.prog, diags, diagnostics);
        rendered
    }
}

/// A module loaded without diagnostics, ready to evaluate bindings.
struct Loaded {
    prog: Program,
    module: usize,
    env: TypeEnv,
    known: Known,
    /// The file of `prog.map` that holds the text of the YAML source of the binding being
    /// evaluated (values given by the binding point into it); replaced when the file changes.
    yaml: ast::FileId,
}

impl Loaded {
    /// Loads the module in `dir`, or `None` when loading it reports anything.
    fn load(tree: &dyn SourceTree, dir: &str, limits: Limits) -> Option<Loaded> {
        let mut prog = Program::new(limits);
        let mut diags = Vec::new();
        let typed = load(&mut prog, tree, dir, None, &mut diags)?;
        if !diags.is_empty() || !prog.diagnostics.is_empty() {
            return None;
        }
        let yaml = prog.add_text("", String::new());
        Some(Loaded {
            prog,
            module: typed.module,
            env: typed.env,
            known: typed.known,
            yaml,
        })
    }
}

/// A source tree that remembers the files it read (the small files of `io.Open`).
struct CachedReads<'t> {
    tree: &'t dyn SourceTree,
    reads: &'t RefCell<HashMap<String, Vec<u8>>>,
}

impl SourceTree for CachedReads<'_> {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.tree.files(dir)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        if let Some(bytes) = self.reads.borrow().get(path) {
            return Ok(bytes.len() as u64);
        }
        self.tree.size(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        if let Some(bytes) = self.reads.borrow().get(path) {
            return Ok(bytes.clone());
        }
        let bytes = self.tree.read(path)?;
        self.reads
            .borrow_mut()
            .insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.tree.is_dir(path)
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        self.tree.resolve(path)
    }
}
