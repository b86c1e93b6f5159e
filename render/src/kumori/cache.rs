//! What the bindings of one render share: the modules they bind, loaded once, and the files
//! their components read with `io.Open`, read once.

use foldhash::{HashMap, HashMapExt};
use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::diagnostic::Diagnostics;
use crate::limits::Limits;
use crate::source::{self, Fingerprint, Log, Recorder, SourceError, SourceTree};

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
///
/// When made with [`ModuleCache::recording`], it also keeps what loading each module and its
/// `io.Open` reads asked of the tree, so that a render reusing the result of a binding can
/// know it still holds ([`ModuleCache::take_log`]).
pub struct ModuleCache {
    limits: Limits,
    modules: HashMap<String, Module>,
    record: bool,
    /// The modules used since the last [`ModuleCache::take_log`].
    used: BTreeSet<String>,
}

/// A module of the cache: loaded, or `None` when loading it reports anything.
struct Module {
    loaded: Option<Loaded>,
    /// The files its components read with `io.Open`, read once.
    reads: RefCell<HashMap<String, Vec<u8>>>,
    /// What loading it and its reads asked of the tree (when recording).
    log: RefCell<Log>,
}

impl ModuleCache {
    /// An empty cache for a render within `limits`.
    pub fn new(limits: Limits) -> Self {
        ModuleCache {
            limits,
            modules: HashMap::new(),
            record: false,
            used: BTreeSet::new(),
        }
    }

    /// An empty cache that records what each module asks of the tree.
    pub fn recording(limits: Limits) -> Self {
        ModuleCache {
            record: true,
            ..ModuleCache::new(limits)
        }
    }

    /// What the modules used since the last call asked of the tree (loading, `io.Open`).
    pub fn take_log(&mut self) -> Log {
        let mut log = Log::default();
        for dir in std::mem::take(&mut self.used) {
            if let Some(m) = self.modules.get(&dir) {
                log.extend(&m.log.borrow());
            }
        }
        log
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
            record,
            used,
        } = self;
        used.insert(dir.clone());
        let module = modules.entry(dir).or_insert_with_key(|dir| {
            let recorder = Recorder::new(tree);
            let loaded = Loaded::load(if *record { &recorder } else { tree }, dir, *limits);
            Module {
                loaded,
                reads: RefCell::default(),
                log: RefCell::new(recorder.into_log()),
            }
        });
        let Module { loaded, reads, log } = module;
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
        let reads = CachedReads {
            tree,
            reads,
            log: record.then_some(&*log),
        };
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

/// A source tree that remembers the files it read (the small files of `io.Open`), and, when
/// recording, what they asked of the tree.
struct CachedReads<'t> {
    tree: &'t dyn SourceTree,
    reads: &'t RefCell<HashMap<String, Vec<u8>>>,
    log: Option<&'t RefCell<Log>>,
}

impl CachedReads<'_> {
    /// Runs `f` on the tree, through a recorder into the module's log when recording.
    fn asking<T>(&self, f: impl FnOnce(&dyn SourceTree) -> T) -> T {
        match self.log {
            None => f(self.tree),
            Some(log) => {
                let recorder = Recorder::new(self.tree);
                let out = f(&recorder);
                log.borrow_mut().extend(&recorder.into_log());
                out
            }
        }
    }
}

impl SourceTree for CachedReads<'_> {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.asking(|t| t.files(dir))
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        if let Some(bytes) = self.reads.borrow().get(path) {
            return Ok(bytes.len() as u64);
        }
        self.asking(|t| t.size(path))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        if let Some(bytes) = self.reads.borrow().get(path) {
            return Ok(bytes.clone());
        }
        let bytes = self.asking(|t| t.read(path))?;
        self.reads
            .borrow_mut()
            .insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.asking(|t| t.is_dir(path))
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        self.asking(|t| t.resolve(path))
    }

    fn fingerprint(&self, path: &str) -> Result<Fingerprint, SourceError> {
        self.asking(|t| t.fingerprint(path))
    }
}
