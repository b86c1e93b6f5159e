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

pub mod ast;
pub mod check;
pub mod eval;
pub mod lexer;
pub mod module;
pub mod parser;
pub mod render;
pub mod types;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{self, SourceTree};
use crate::yaml::{self, Node};

use ast::{Block, ExprKind, Item, Name, Span};
use check::{Checker, Rules};
use eval::{Declared, Evaluator, Given, Mode, V, Value};
use module::{ImportTarget, ItemRef, Program};
use types::{Known, Ty, TypeEnv, suggest};

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
    tree: &dyn SourceTree,
    binding: &Binding<'_>,
    diagnostics: &mut Diagnostics,
) -> Option<Rendered> {
    let mut prog = Program::new();
    let yaml_text = tree
        .read(binding.file)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let yaml_file = prog.add_text(binding.file, yaml_text);
    let mut diags = Vec::new();
    let rendered = bind(tree, binding, &mut prog, yaml_file, &mut diags);
    finish(&prog, diags, diagnostics);
    rendered
}

/// What the bindings of one render share. A repository binds a handful of modules from
/// thousands of Components: each module that loads without a diagnostic is read, parsed, checked
/// and typed once, and the files its components read with `io.Open` are read once. A module with
/// diagnostics is loaded again for every binding, as [`render_binding`] does, so that every
/// binding reports them with its own location.
#[derive(Default)]
pub struct ModuleCache {
    modules: HashMap<String, Option<Loaded>>,
    reads: RefCell<HashMap<String, Vec<u8>>>,
}

impl ModuleCache {
    /// An empty cache.
    pub fn new() -> Self {
        ModuleCache::default()
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
    fn load(tree: &dyn SourceTree, dir: &str) -> Option<Loaded> {
        let mut prog = Program::new();
        let module = prog.load_module(tree, dir, None)?;
        prog.resolve_imports(tree);
        prog.check_structure();
        prog.check_pairing(module);
        let mut diags = Vec::new();
        let env = TypeEnv::build(&prog, &mut diags);
        if !diags.is_empty() || !prog.diagnostics.is_empty() {
            return None;
        }
        let known = env.known();
        let yaml = prog.add_text("", String::new());
        Some(Loaded {
            prog,
            module,
            env,
            known,
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
    fn files(&self, dir: &str) -> Result<Vec<String>, source::SourceError> {
        self.tree.files(dir)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, source::SourceError> {
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
}

/// [`render_binding`] with the modules of earlier bindings of the same render: the same result
/// and diagnostics, without loading a module once per Component.
pub fn render_binding_cached(
    tree: &dyn SourceTree,
    binding: &Binding<'_>,
    cache: &mut ModuleCache,
    diagnostics: &mut Diagnostics,
) -> Option<Rendered> {
    let Ok(dir) = source::join(source::parent(binding.file), &binding.module) else {
        return render_binding(tree, binding, diagnostics);
    };
    let ModuleCache { modules, reads } = cache;
    let loaded = modules
        .entry(dir)
        .or_insert_with_key(|dir| Loaded::load(tree, dir));
    let Some(loaded) = loaded else {
        return render_binding(tree, binding, diagnostics);
    };
    if loaded.prog.map.path(loaded.yaml) != binding.file {
        let text = tree
            .read(binding.file)
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

/// Loads and checks every component and deployment of the module in the repository folder
/// `dir`, without values for their config (check mode). Returns whether it is free of errors.
pub fn check_module(tree: &dyn SourceTree, dir: &str, diagnostics: &mut Diagnostics) -> bool {
    let mut prog = Program::new();
    let mut diags = Vec::new();
    if let Some(module) = prog.load_module(tree, dir, None) {
        prog.resolve_imports(tree);
        prog.check_structure();
        prog.check_pairing(module);
        let env = TypeEnv::build(&prog, &mut diags);
        let known = env.known();
        let cx = Cx {
            prog: &prog,
            env: &env,
            known: &known,
            tree,
        };
        for pkg in 0..prog.packages.len() {
            if prog.packages[pkg].module != module {
                continue;
            }
            let (_, implementations) = prog.components(pkg);
            for imp in implementations {
                let values = Values::default();
                cx.component(pkg, imp, &values, Mode::Check, &mut diags);
            }
            for (_, d) in prog.deployments(pkg) {
                cx.deployment(d, &Values::default(), Mode::Check, &mut diags);
            }
        }
    }
    let ok = !diags.iter().any(Diagnostic::is_error)
        && !prog.diagnostics.iter().any(Diagnostic::is_error);
    finish(&prog, diags, diagnostics);
    ok
}

/// Moves the diagnostics out, with the texts of the files they point into.
fn finish(prog: &Program, mut diags: Vec<Diagnostic>, out: &mut Diagnostics) {
    let mut all = prog.diagnostics.clone();
    all.append(&mut diags);
    // A label over several lines (a block, a binding) is shown by its first line.
    for d in &mut all {
        for label in d.primary.iter_mut().chain(d.secondary.iter_mut()) {
            if let Some(id) = prog.map.find(&label.file)
                && let Some(nl) = prog
                    .map
                    .text(id)
                    .get(label.span.clone())
                    .and_then(|t| t.find('\n'))
            {
                let line = &prog.map.text(id)[label.span.start..label.span.start + nl];
                label.span.end = label.span.start + line.trim_end().len();
            }
        }
    }
    for d in &all {
        for label in d.primary.iter().chain(d.secondary.iter()) {
            if let Some(id) = prog.map.find(&label.file) {
                out.files.add(&label.file, prog.map.text(id));
            }
        }
    }
    for d in all {
        out.push(d);
    }
}

/// Values given to a component by a binding or a deployment.
#[derive(Default)]
struct Values<'a> {
    config: HashMap<String, Given<'a>>,
    resource: HashMap<String, Given<'a>>,
    /// Where each given value's key is written, by section and name.
    keys: HashMap<(bool, String), Span>,
    /// Where missing values are reported (the binding or the deployment), file and range.
    blame: Option<(String, Range<usize>, &'static str)>,
}

struct Cx<'p> {
    prog: &'p Program,
    env: &'p TypeEnv,
    known: &'p Known,
    tree: &'p dyn SourceTree,
}

fn bind<'a>(
    tree: &dyn SourceTree,
    binding: &Binding<'a>,
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
    let module = prog.load_module(
        tree,
        &dir,
        Some((binding.file, binding.module_span.clone())),
    )?;
    prog.resolve_imports(tree);
    prog.check_structure();
    prog.check_pairing(module);
    let env = TypeEnv::build(prog, diags);
    let known = env.known();
    let cx = Cx {
        prog,
        env: &env,
        known: &known,
        tree,
    };
    evaluate(&cx, module, binding, yaml_file, diags)
}

/// Evaluates a binding against its loaded module: the values, the artifact, the evaluation,
/// the image and the digest.
fn evaluate(
    cx: &Cx<'_>,
    module: usize,
    binding: &Binding<'_>,
    yaml_file: ast::FileId,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rendered> {
    let prog = cx.prog;
    let env = cx.env;
    // Binding values, checked for shape here and against declarations later.
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
    let (pkg, name, found) = match &binding.artifact {
        Artifact::Component(name) => {
            let (pkg, short) = cx.find_package(module, name);
            let imp = pkg.and_then(|p| {
                prog.components(p)
                    .1
                    .into_iter()
                    .find(|r| prog.component(*r).name.text == short)
                    .map(|r| (p, r))
            });
            match imp {
                Some((p, r)) => (p, short.to_owned(), Found::Component(r)),
                None => {
                    cx.unknown_artifact(module, binding, "component", name, diags);
                    return None;
                }
            }
        }
        Artifact::Deployment(name) => {
            let (pkg, short) = cx.find_package(module, name);
            let dep = pkg.and_then(|p| {
                prog.deployments(p)
                    .into_iter()
                    .find(|(n, _)| n == short)
                    .map(|(_, r)| (p, r))
            });
            match dep {
                Some((p, r)) => (p, short.to_owned(), Found::Deployment(r)),
                None => {
                    cx.unknown_artifact(module, binding, "deployment", name, diags);
                    return None;
                }
            }
        }
    };
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
    let Some((rendered, digest)) = render::digest(&component, env) else {
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

enum Found {
    Component(ItemRef),
    Deployment(ItemRef),
}

impl<'p> Cx<'p> {
    /// The package an artifact name points into: `Name` in any package of the module (the
    /// root first), `folder/Name` in that folder of the module.
    fn find_package<'n>(&self, module: usize, name: &'n str) -> (Option<usize>, &'n str) {
        let dir = &self.prog.modules[module].dir;
        match name.rsplit_once('/') {
            Some((folder, short)) => {
                let want = source::join(dir, folder).ok();
                let pkg = self
                    .prog
                    .packages
                    .iter()
                    .position(|p| p.module == module && Some(&p.dir) == want.as_ref());
                (pkg, short)
            }
            None => {
                let mut candidates: Vec<usize> = (0..self.prog.packages.len())
                    .filter(|&p| self.prog.packages[p].module == module)
                    .collect();
                candidates.sort_by_key(|&p| {
                    (
                        self.prog.packages[p].dir != *dir,
                        self.prog.packages[p].dir.clone(),
                    )
                });
                let pkg = candidates.into_iter().find(|&p| {
                    self.prog
                        .components(p)
                        .1
                        .iter()
                        .any(|r| self.prog.component(*r).name.text == name)
                        || self.prog.deployments(p).iter().any(|(n, _)| n == name)
                });
                (pkg, name)
            }
        }
    }

    fn unknown_artifact(
        &self,
        module: usize,
        binding: &Binding<'_>,
        kind: &str,
        name: &str,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut names: Vec<String> = Vec::new();
        let mut interface_only = false;
        for p in 0..self.prog.packages.len() {
            if self.prog.packages[p].module != module {
                continue;
            }
            if kind == "component" {
                let (ifaces, imps) = self.prog.components(p);
                names.extend(
                    imps.iter()
                        .map(|r| self.prog.component(*r).name.text.clone()),
                );
                interface_only |= ifaces
                    .iter()
                    .any(|r| self.prog.component(*r).name.text == name);
            } else {
                names.extend(self.prog.deployments(p).into_iter().map(|(n, _)| n));
            }
        }
        let mpath = &self.prog.modules[module].path;
        let mut d = Diagnostic::error(
            "kumori-unknown-artifact",
            format!("module \"{mpath}\" has no {kind} `{name}`"),
        )
        .at(
            binding.file,
            binding.artifact_span.clone(),
            format!("no such {kind}"),
        );
        d = if interface_only {
            d.help(format!("`{name}` has an interface but no implementation: add `component {name} {{ ... }}` to a .kumori file"))
        } else if let Some(s) = suggest(
            name.rsplit('/').next().unwrap_or(name),
            names.iter().map(String::as_str),
        ) {
            d.help(format!("did you mean `{s}`?"))
        } else if names.is_empty() {
            d.help(format!("the module defines no {kind}s"))
        } else {
            d.help(format!("the module's {kind}s: {}", names.join(", ")))
        };
        diags.push(d);
    }

    /// Declarations of a `config` or `resource` section.
    fn declarations(
        &self,
        block: &'p Block,
        resource: bool,
        out: &mut Vec<Declared<'p>>,
        optional: &mut Vec<String>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for f in &block.fields {
            if let Some(first) = out.iter().find(|d| d.name.text == f.key.text) {
                diags.push(
                    Diagnostic::error(
                        "kumori-duplicate-declaration",
                        format!(
                            "{} `{}` is declared twice",
                            if resource { "resource" } else { "config" },
                            f.key.text
                        ),
                    )
                    .at(
                        self.prog.map.path(f.key.span.file),
                        f.key.span.range(),
                        "declared again here",
                    )
                    .also(
                        self.prog.map.path(first.name.span.file),
                        first.name.span.range(),
                        "first declared here",
                    )
                    .help("interface and implementation sections merge; declare each name once"),
                );
                continue;
            }
            let declared = f.colon.is_some() || f.optional.is_some() || f.default.is_some();
            let (ty, default) = if declared {
                (
                    self.env.lower(self.prog, &f.value, diags),
                    f.default.as_ref(),
                )
            } else if resource {
                (Ty::Decl(self.known.resource), Some(&f.value))
            } else {
                // `name value` declares a config whose default is the value.
                (Ty::Any, Some(&f.value))
            };
            if resource && !matches!(ty, Ty::Error) {
                let all = [
                    self.known.secret,
                    self.known.port,
                    self.known.domain,
                    self.known.certificate,
                    self.known.ca,
                    self.known.registered,
                    self.known.non_replicated,
                    self.known.persisted,
                    self.known.volatile,
                ];
                if !self.env.only_named(&ty, &all) {
                    diags.push(
                        Diagnostic::error(
                            "kumori-not-a-resource",
                            format!("resource `{}` is declared as {}, which is not a resource type", f.key.text, self.env.describe(&ty)),
                        )
                        .at(self.prog.map.path(f.value.span.file), f.value.span.range(), "not a resource type")
                        .help("resources are kumori.Volume, kumori.CA, kumori.Certificate, kumori.Secret, kumori.Domain or kumori.Port (or kumori.Resource)"),
                    );
                }
            }
            if f.optional.is_some() {
                optional.push(f.key.text.clone());
            }
            out.push(Declared {
                name: &f.key,
                ty,
                default,
            });
        }
    }

    /// Evaluates and checks the implementation `imp` of package `pkg` with `values`. Returns the
    /// evaluated component and its name.
    fn component(
        &self,
        pkg: usize,
        imp_ref: ItemRef,
        values: &Values<'p>,
        mode: Mode,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Value, &'p Name)> {
        let prog = self.prog;
        let imp = prog.component(imp_ref);
        let (ifaces, _) = prog.components(pkg);
        let iface_ref = ifaces
            .into_iter()
            .find(|r| prog.component(*r).name.text == imp.name.text);
        let mut ev = Evaluator::new(prog, self.env, self.known, self.tree, mode);
        let mut optional = Vec::new();
        let mut config = Vec::new();
        let mut resource = Vec::new();
        let mut srv = Vec::new();
        let mut vars = HashMap::new();
        let mut files = vec![imp_ref.file];
        let mut bodies: Vec<&'p Block> = Vec::new();
        if let Some(r) = iface_ref {
            let iface = prog.component(r);
            files.push(r.file);
            bodies.push(&iface.body);
            for f in &iface.body.fields {
                if !matches!(f.key.text.as_str(), "srv" | "config" | "resource") {
                    diags.push(
                        Diagnostic::error(
                            "kumori-interface-field",
                            format!(
                                "an interface declares `srv`, `config` and `resource`, not `{}`",
                                f.key.text
                            ),
                        )
                        .at(
                            prog.map.path(f.key.span.file),
                            f.key.span.range(),
                            "not part of an interface",
                        )
                        .help("move it to the implementation (the .kumori file)"),
                    );
                }
            }
        }
        bodies.push(&imp.body);
        for body in &bodies {
            for f in &body.fields {
                match (f.key.text.as_str(), &f.value.kind) {
                    ("config", ExprKind::Struct(b)) => {
                        self.declarations(b, false, &mut config, &mut optional, diags)
                    }
                    ("resource", ExprKind::Struct(b)) => {
                        self.declarations(b, true, &mut resource, &mut optional, diags)
                    }
                    ("srv", _) => srv.push(f),
                    ("config" | "resource", _) => diags.push(
                        Diagnostic::error(
                            "kumori-invalid-section",
                            format!("`{}` must be a block of declarations", f.key.text),
                        )
                        .at(
                            prog.map.path(f.value.span.file),
                            f.value.span.range(),
                            "not a block",
                        )
                        .help(format!("write `{} {{ name: Type }}`", f.key.text)),
                    ),
                    _ => {}
                }
            }
            for v in &body.vars {
                vars.entry(v.name.text.clone()).or_insert(v);
            }
        }
        for file in &files {
            for item in &prog.file(*file).ast.items {
                if let Item::Vars(vs) = item {
                    for v in vs {
                        vars.entry(v.name.text.clone()).or_insert(v);
                    }
                }
            }
        }
        // Values given for names that are not declared.
        for (section, given, decls) in [
            ("config", &values.config, &config),
            ("resource", &values.resource, &resource),
        ] {
            let mut keys: Vec<&String> = given.keys().collect();
            keys.sort();
            for k in keys {
                if decls.iter().any(|d| d.name.text == *k) {
                    continue;
                }
                let span = values.keys[&(section == "config", k.clone())];
                let names: Vec<&str> = decls.iter().map(|d| d.name.text.as_str()).collect();
                let help = match suggest(k, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => {
                        format!("the interface of `{}` declares no {section}", imp.name.text)
                    }
                    None => format!(
                        "the interface of `{}` declares: {}",
                        imp.name.text,
                        names.join(", ")
                    ),
                };
                diags.push(
                    Diagnostic::error(
                        "kumori-unknown-value",
                        format!("`{}` has no {section} `{k}`", imp.name.text),
                    )
                    .at(
                        prog.map.path(span.file),
                        span.range(),
                        format!("not a declared {section}"),
                    )
                    .help(help),
                );
            }
        }
        ev.scope = eval::Scope {
            body: Some(&imp.body),
            srv: srv.clone(),
            config,
            resource,
            given_config: values.config.clone(),
            given_resource: values.resource.clone(),
            vars,
        };
        // Evaluate the implementation's own fields (declaration sections aside).
        let mut fields: Vec<(Name, Value)> = Vec::new();
        let body_value = ev.eval_fields(
            imp.body
                .fields
                .iter()
                .filter(|f| !matches!(f.key.text.as_str(), "config" | "resource" | "srv")),
            imp.body.span,
        );
        if let Some(first) = srv.first() {
            let v = ev.srv_value(first.value.span);
            fields.push((first.key.clone(), v));
        }
        let decl_names: Vec<(&'p Name, bool)> = ev
            .scope
            .config
            .iter()
            .map(|d| (d.name, true))
            .chain(ev.scope.resource.iter().map(|d| (d.name, false)))
            .collect();
        let mut config_values = Vec::new();
        let mut resource_values = Vec::new();
        for (n, is_config) in decl_names {
            let v = if is_config {
                ev.config_value(n, n.span)
            } else {
                ev.resource_value(n, n.span)
            };
            let absent = matches!(v.kind, V::Unknown(_));
            if absent && mode == Mode::Render && !optional.contains(&n.text) {
                let (section, code) = if is_config {
                    ("config", "kumori-missing-config")
                } else {
                    ("resource", "kumori-missing-resource")
                };
                let mut d = Diagnostic::error(
                    code,
                    format!("no value for {section} `{}` of `{}`", n.text, imp.name.text),
                );
                if let Some((file, span, what)) = &values.blame {
                    d = d.at(
                        file.clone(),
                        span.clone(),
                        format!("this {what} gives no `{}`", n.text),
                    );
                }
                let via_deployment = values.blame.as_ref().is_some_and(|b| b.2 == "deployment");
                let help = if via_deployment {
                    format!(
                        "give it in the deployment's `{section} {{ {} ... }}`, or a default in the interface",
                        n.text
                    )
                } else {
                    format!(
                        "give it in `{section}: {{ {}: ... }}` of the binding, or a default in the interface",
                        n.text
                    )
                };
                d = d
                    .also(
                        prog.map.path(n.span.file),
                        n.span.range(),
                        "declared here without a default",
                    )
                    .help(help);
                diags.push(d);
                continue;
            }
            if absent && optional.contains(&n.text) && mode == Mode::Render {
                continue;
            }
            if is_config {
                config_values.push((n.clone(), v));
            } else {
                resource_values.push((n.clone(), v));
            }
        }
        let resources: Vec<(String, Ty, Span)> = ev
            .scope
            .resource
            .iter()
            .map(|d| (d.name.text.clone(), d.ty.clone(), d.name.span))
            .collect();
        diags.append(&mut ev.diags);
        // Check the implementation against `kumori.component` (config and resources were
        // checked against their declarations when evaluated).
        if let V::Struct(own) = body_value.kind {
            fields.extend(own);
        }
        let checked = Value::new(V::Struct(fields.clone()), imp.body.span);
        let mut checker = Checker::new(prog, self.env, self.known);
        checker.check_component(&checked);
        let mut rules = Rules { checker, resources };
        rules.run(&checked);
        diags.append(&mut rules.checker.diags);
        let span = imp.body.span;
        fields.push((
            Name {
                text: "config".into(),
                span,
            },
            Value::new(V::Struct(config_values), span),
        ));
        fields.push((
            Name {
                text: "resource".into(),
                span,
            },
            Value::new(V::Struct(resource_values), span),
        ));
        Some((Value::new(V::Struct(fields), span), &imp.name))
    }

    /// Evaluates a kdsl deployment: its own fields, then its artifact with its values (the
    /// binding's values override them).
    fn deployment(
        &self,
        r: ItemRef,
        outer: &Values<'p>,
        mode: Mode,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Value, &'p Name)> {
        let prog = self.prog;
        let dep = prog.deployment(r);
        let path = prog.map.path(r.file);
        let mut values = Values {
            // The deployment is what should give every value.
            blame: Some((path.to_owned(), dep.span.range(), "deployment")),
            ..Values::default()
        };
        let mut artifact = None;
        let mut others = Vec::new();
        for f in &dep.body.fields {
            match (f.key.text.as_str(), &f.value.kind) {
                ("artifact", _) => artifact = Some(&f.value),
                ("config" | "resource", ExprKind::Struct(b)) => {
                    let map = if f.key.text == "config" {
                        &mut values.config
                    } else {
                        &mut values.resource
                    };
                    for g in &b.fields {
                        map.insert(g.key.text.clone(), Given::Expr(&g.value));
                        values
                            .keys
                            .insert((f.key.text == "config", g.key.text.clone()), g.key.span);
                    }
                }
                ("config" | "resource", _) => diags.push(
                    Diagnostic::error(
                        "kumori-invalid-section",
                        format!("`{}` of a deployment must be a block of values", f.key.text),
                    )
                    .at(path, f.value.span.range(), "not a block")
                    .help(format!("write `{} {{ NAME value }}`", f.key.text)),
                ),
                _ => others.push(f),
            }
        }
        // The deployment's other fields against `kumori.Deployment`.
        let mut ev = Evaluator::new(prog, self.env, self.known, self.tree, mode);
        let mut own = ev.eval_fields(others.into_iter(), dep.body.span);
        diags.append(&mut ev.diags);
        if let V::Struct(fs) = &mut own.kind {
            fs.push((
                Name {
                    text: "artifact".into(),
                    span: dep.span,
                },
                Value::new(V::Unknown(Ty::Any), dep.span),
            ));
        }
        let dep_ty = self
            .env
            .lookup(None, "Deployment")
            .map(Ty::Decl)
            .unwrap_or(Ty::Any);
        let mut checker = Checker::new(prog, self.env, self.known);
        checker.check(&own, &dep_ty, "the deployment");
        diags.append(&mut checker.diags);
        let Some(artifact) = artifact else {
            diags.push(
                Diagnostic::error("kumori-deployment-artifact", "the deployment names no `artifact`")
                    .at(path, dep.span.range(), "deployment")
                    .help("add `artifact NAME` (a component of this package) or `artifact pkg.NAME` (of an imported package)"),
            );
            return None;
        };
        let target = match artifact.path() {
            Some([name]) => Some((prog.file(r.file).package?, name)),
            Some([head, name]) => match prog.file(r.file).imports.get(&head.text) {
                Some(ImportTarget::Package(p)) => Some((*p, name)),
                _ => None,
            },
            _ => None,
        };
        let found = target.and_then(|(p, name)| {
            prog.components(p)
                .1
                .into_iter()
                .find(|c| prog.component(*c).name.text == name.text)
                .map(|c| (p, c))
        });
        let Some((pkg, imp)) = found else {
            diags.push(
                Diagnostic::error("kumori-deployment-artifact", "the deployment's `artifact` is not a component implementation")
                    .at(path, artifact.span.range(), "no such component")
                    .help("name a component of this package (`artifact Name`) or of an imported package (`artifact pkg.Name`)"),
            );
            return None;
        };
        for (k, v) in &outer.config {
            values.config.insert(k.clone(), v.clone());
        }
        for (k, v) in &outer.resource {
            values.resource.insert(k.clone(), v.clone());
        }
        values
            .keys
            .extend(outer.keys.iter().map(|(k, v)| (k.clone(), *v)));
        self.component(pkg, imp, &values, mode, diags)
    }
}
