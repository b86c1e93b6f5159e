//! Types: the declarations of the built-in `kumori` library and of user libraries, lowered from
//! expressions into [`Ty`]; static assignability (for values not known until a binding gives
//! them); and how types are named in messages.

use foldhash::HashMap;

use crate::diagnostic::{Diagnostic, closest, did_you_mean};

use super::ast::{DeclKind, Expr, ExprKind, FileId, Item, Name, Span, path_text};
use super::module::{ImportTarget, Program};

/// Index into [`TypeEnv::decls`].
pub type DeclId = usize;

/// A Kumori type, lowered from a type expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `any`.
    Any,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `number`.
    Number,
    /// A literal string type: `"ms"`.
    Lit(String),
    /// `[]T` (`list` is `[]any`).
    List(Box<Ty>),
    /// `struct { ... }`, `struct open[...]`.
    Struct(Box<StructTy>),
    /// `A | B`.
    Union(Vec<Ty>),
    /// A declared `alias` or `type`.
    Decl(DeclId),
    /// A type that could not be resolved (already reported): accepts anything.
    Error,
}

/// The fields of a struct type.
#[derive(Clone, Debug, PartialEq)]
pub struct StructTy {
    /// Declared fields.
    pub fields: Vec<FieldTy>,
    /// `open[T]`: other fields are allowed, of type T (`open[]`: any).
    pub open: Option<Ty>,
}

impl StructTy {
    /// The field `name`.
    pub fn field(&self, name: &str) -> Option<&FieldTy> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A field of a struct type.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldTy {
    /// The field's key.
    pub name: String,
    /// The type its value must have.
    pub ty: Ty,
    /// `name?`.
    pub optional: bool,
    /// `= default`.
    pub default: Option<Expr>,
    /// Where the field's key is written.
    pub span: Span,
}

/// A type declaration (`alias` or `type`) of a package or of the built-in library, lowered.
#[derive(Clone, Debug)]
pub struct Decl {
    /// Qualified name for messages: `kumori.Port`, `utils.Mode`.
    pub qname: String,
    /// Alias or distinct type.
    pub kind: DeclKind,
    /// The type it stands for (the underlying type of a distinct type).
    pub ty: Ty,
    /// Where the declared name is written.
    pub span: Span,
}

/// Every type declaration of a program.
#[derive(Clone, Debug, Default)]
pub struct TypeEnv {
    /// Every declaration, indexed by [`DeclId`].
    pub decls: Vec<Decl>,
    names: HashMap<(Option<usize>, String), DeclId>,
    /// The width of each declaration ([`TypeEnv::width`]), known once the program's
    /// declarations are all lowered.
    widths: Vec<usize>,
}

/// Declarations of the built-in library that the checker and evaluator treat specially.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub struct Known {
    pub ram: DeclId,
    pub cpu: DeclId,
    pub bandwidth: DeclId,
    pub storage: DeclId,
    pub secret: DeclId,
    pub port: DeclId,
    pub domain: DeclId,
    pub certificate: DeclId,
    pub ca: DeclId,
    pub registered: DeclId,
    pub non_replicated: DeclId,
    pub persisted: DeclId,
    pub volatile: DeclId,
    pub ephemeral: DeclId,
    pub resource: DeclId,
    pub volume: DeclId,
    pub component: DeclId,
    pub env: DeclId,
    pub file: DeclId,
    pub allowed_format: DeclId,
    pub container_size: DeclId,
    pub http_only: DeclId,
    pub grace: DeclId,
    pub channel: DeclId,
    pub client: DeclId,
    pub links: DeclId,
}

/// The primitive type names.
const PRIMITIVES: &[&str] = &["string", "number", "bool", "any", "list"];

impl TypeEnv {
    /// Collects and lowers the declarations of the built-in library (file 0) and of every
    /// library file of the program.
    pub fn build(prog: &Program, diags: &mut Vec<Diagnostic>) -> TypeEnv {
        let mut env = TypeEnv::default();
        let mut pending = Vec::new();
        for (i, info) in prog.files.iter().enumerate() {
            let Some(info) = info else { continue };
            if i != 0 && info.ast.library.is_none() {
                continue;
            }
            let pkg = info.package;
            let prefix = match pkg {
                None => "kumori".to_owned(),
                Some(p) => {
                    let key = &prog.packages[p].key;
                    key.rsplit('/').next().unwrap_or(key).to_owned()
                }
            };
            for item in &info.ast.items {
                let Item::TypeDecl(d) = item else { continue };
                if d.name.text.is_empty() {
                    continue;
                }
                let key = (pkg, d.name.text.clone());
                if let Some(&first) = env.names.get(&key) {
                    let first_span = env.decls[first].span;
                    diags.push(
                        Diagnostic::duplicate(
                            "kumori-duplicate-type",
                            format!("type `{}` is declared twice", d.name.text),
                            "declared",
                            (prog.map.path(d.name.span.file), d.name.span.range()),
                            (prog.map.path(first_span.file), first_span.range()),
                        )
                        .help("rename one of them"),
                    );
                    continue;
                }
                if PRIMITIVES.contains(&d.name.text.as_str()) {
                    diags.push(
                        Diagnostic::error(
                            "kumori-duplicate-type",
                            format!(
                                "`{}` is a built-in type and cannot be redeclared",
                                d.name.text
                            ),
                        )
                        .at(
                            prog.map.path(d.name.span.file),
                            d.name.span.range(),
                            "built-in name",
                        )
                        .help("choose another name"),
                    );
                    continue;
                }
                let id = env.decls.len();
                env.names.insert(key, id);
                env.decls.push(Decl {
                    qname: format!("{prefix}.{}", d.name.text),
                    kind: d.kind,
                    ty: Ty::Error,
                    span: d.name.span,
                });
                pending.push((id, d.ty.clone()));
            }
        }
        for (id, expr) in pending {
            let ty = env.lower(prog, &expr, diags);
            env.decls[id].ty = ty;
        }
        env.check_graph(prog, diags);
        env
    }

    /// The declaration named `name` in package `pkg` (`None`: the built-in library).
    pub fn lookup(&self, pkg: Option<usize>, name: &str) -> Option<DeclId> {
        self.names.get(&(pkg, name.to_owned())).copied()
    }

    /// The special declarations of the built-in library.
    pub fn known(&self) -> Known {
        let k = |n: &str| {
            self.lookup(None, n)
                .unwrap_or_else(|| panic!("the built-in library declares {n}"))
        };
        Known {
            ram: k("RAMSized"),
            cpu: k("CPUSized"),
            bandwidth: k("BandwidthSized"),
            storage: k("StorageSized"),
            secret: k("Secret"),
            port: k("Port"),
            domain: k("Domain"),
            certificate: k("Certificate"),
            ca: k("CA"),
            registered: k("Registered"),
            non_replicated: k("NonReplicated"),
            persisted: k("Persisted"),
            volatile: k("Volatile"),
            ephemeral: k("Ephemeral"),
            resource: k("Resource"),
            volume: k("Volume"),
            component: k("component"),
            env: k("Env"),
            file: k("File"),
            allowed_format: k("AllowedFormat"),
            container_size: k("ContainerSize"),
            http_only: k("HTTPOnlyProbeProtocol"),
            grace: k("StartupGraceWindow"),
            channel: k("Channel"),
            client: k("Client"),
            links: k("Links"),
        }
    }

    fn unknown_type(
        &self,
        prog: &Program,
        path: &[Name],
        pkg: Option<usize>,
        note: &str,
    ) -> Diagnostic {
        let name = path_text(path);
        let span = path[0].span.to(path[path.len() - 1].span);
        let last = &path[path.len() - 1].text;
        let candidates = self
            .names
            .keys()
            .filter(|(p, _)| *p == pkg)
            .map(|(_, n)| n.as_str())
            .chain(PRIMITIVES.iter().copied());
        Diagnostic::error("kumori-unknown-type", format!("unknown type `{name}`"))
            .at(prog.map.path(span.file), span.range(), "not declared")
            .help(did_you_mean(closest(last, candidates), || note.to_owned()))
    }

    /// Lowers a type expression written in its file.
    pub fn lower(&self, prog: &Program, e: &Expr, diags: &mut Vec<Diagnostic>) -> Ty {
        let file = e.span.file;
        match &e.kind {
            ExprKind::Str(s) => Ty::Lit(s.clone()),
            ExprKind::Path(path) => match self.resolve(prog, file, path) {
                Ok(t) => t,
                Err(d) => {
                    diags.push(*d);
                    Ty::Error
                }
            },
            ExprKind::ListType(elem) => Ty::List(Box::new(self.lower(prog, elem, diags))),
            ExprKind::Union(alts) => {
                let ty = Ty::Union(alts.iter().map(|a| self.lower(prog, a, diags)).collect());
                let limit = prog.limits.union_width;
                // Declarations are checked together once lowered (`check_graph`); a union of a
                // component's declarations is checked here.
                if self.widths.len() == self.decls.len() && self.width(&ty) > limit {
                    diags.push(
                        Diagnostic::error(
                            "kumori-union-too-wide",
                            format!(
                                "this union has more than {limit} alternatives once its aliases \
                                 are expanded"
                            ),
                        )
                        .at(prog.map.path(file), e.span.range(), "too wide")
                        .help(format!(
                            "a union may have at most {limit} alternatives (the limit \
                             `unionWidth`): list the alternatives once"
                        )),
                    );
                    return Ty::Error;
                }
                ty
            }
            ExprKind::StructType { open, fields } => {
                let open = open.as_ref().map(|o| match o {
                    None => Ty::Any,
                    Some(t) => self.lower(prog, t, diags),
                });
                let mut out: Vec<FieldTy> = Vec::new();
                for f in &fields.fields {
                    if let Some(first) = out.iter().find(|o| o.name == f.key.text) {
                        diags.push(
                            Diagnostic::duplicate(
                                "kumori-duplicate-field",
                                format!("field `{}` is declared twice", f.key.text),
                                "declared",
                                (prog.map.path(f.key.span.file), f.key.span.range()),
                                (prog.map.path(first.span.file), first.span.range()),
                            )
                            .help("remove one of them"),
                        );
                        continue;
                    }
                    out.push(FieldTy {
                        name: f.key.text.clone(),
                        ty: self.lower(prog, &f.value, diags),
                        optional: f.optional.is_some(),
                        default: f.default.clone(),
                        span: f.key.span,
                    });
                }
                Ty::Struct(Box::new(StructTy { fields: out, open }))
            }
            ExprKind::Error => Ty::Error,
            ExprKind::Num(_)
            | ExprKind::Bool(_)
            | ExprKind::List(_)
            | ExprKind::Struct(_)
            | ExprKind::Call { .. } => {
                diags.push(
                    Diagnostic::error("kumori-value-as-type", "a value where a type is expected")
                        .at(prog.map.path(file), e.span.range(), "this is a value")
                        .help(
                            "types are `string`, `number`, `bool`, `any`, `[]T`, `struct { ... }`, \
                             literal strings such as \"ms\", unions `A | B`, or declared names \
                             such as `kumori.Port`",
                        ),
                );
                Ty::Error
            }
        }
    }

    fn resolve(&self, prog: &Program, file: FileId, path: &[Name]) -> Result<Ty, Box<Diagnostic>> {
        let info = prog.file(file);
        let pkg = info.package;
        match path {
            [one] => {
                match one.text.as_str() {
                    "string" => return Ok(Ty::String),
                    "number" => return Ok(Ty::Number),
                    "bool" => return Ok(Ty::Bool),
                    "any" => return Ok(Ty::Any),
                    "list" => return Ok(Ty::List(Box::new(Ty::Any))),
                    _ => {}
                }
                self.lookup(pkg, &one.text).map(Ty::Decl).ok_or_else(|| {
                    Box::new(self.unknown_type(
                        prog,
                        path,
                        pkg,
                        "declare it in a library of this package, or qualify it with an imported \
                         package: `kumori.Port`",
                    ))
                })
            }
            [head, name] => {
                let target = if pkg.is_none() && head.text == "kumori" {
                    Some(ImportTarget::Kumori)
                } else {
                    info.imports.get(&head.text).copied()
                };
                match target {
                    Some(ImportTarget::Kumori) => {
                        self.lookup(None, &name.text).map(Ty::Decl).ok_or_else(|| {
                            Box::new(self.unknown_type(
                                prog,
                                path,
                                None,
                                "see the built-in library for its types",
                            ))
                        })
                    }
                    Some(ImportTarget::Package(p)) => self
                        .lookup(Some(p), &name.text)
                        .map(Ty::Decl)
                        .ok_or_else(|| {
                            Box::new(self.unknown_type(
                                prog,
                                path,
                                Some(p),
                                "that package declares no such type",
                            ))
                        }),
                    Some(ImportTarget::Io | ImportTarget::Strconv) => Err(Box::new(
                        Diagnostic::error(
                            "kumori-unknown-type",
                            format!("`{}` declares functions, not types", head.text),
                        )
                        .at(
                            prog.map.path(file),
                            head.span.to(name.span).range(),
                            "not a type",
                        )
                        .help("types come from `kumori` or from library packages"),
                    )),
                    None => Err(Box::new(not_imported(prog, head))),
                }
            }
            _ => {
                let span = path[0].span.to(path[path.len() - 1].span);
                Err(Box::new(
                    Diagnostic::error(
                        "kumori-unknown-type",
                        format!("`{}` is not a type name", path_text(path)),
                    )
                    .at(prog.map.path(file), span.range(), "too many parts")
                    .help("a type is `Name` or `package.Name`"),
                ))
            }
        }
    }

    /// Checks the graph of declarations in one pass (a depth-first search with colors, linear in
    /// the declarations): a declaration that names itself through aliases and unions (not
    /// through a struct or a list, which a value must nest to follow) is a cycle; a chain of
    /// declarations longer than `limits.references` and a union wider than `limits.union_width`
    /// once its aliases are expanded are refused. A refused declaration stands for
    /// [`Ty::Error`] from then on, so that nothing later follows it or expands it.
    fn check_graph(&mut self, prog: &Program, diags: &mut Vec<Diagnostic>) {
        let limits = &prog.limits;
        let n = self.decls.len();
        // 0: not seen, 1: on the stack, 2: done.
        let mut color = vec![0u8; n];
        let mut chain = vec![0usize; n];
        let mut width = vec![1usize; n];
        // The cycle a declaration is on (index into `cycles`), the first one found.
        let mut cycle_of: Vec<Option<usize>> = vec![None; n];
        let mut cycles: Vec<(usize, Vec<DeclId>)> = Vec::new();
        // Where a declaration on the stack is on it.
        let mut at_depth = vec![0usize; n];
        let mut refused = vec![false; n];
        let edges: Vec<Vec<DeclId>> = self.decls.iter().map(|d| unguarded(&d.ty)).collect();
        for root in 0..n {
            if color[root] != 0 {
                continue;
            }
            // (declaration, index of the next edge to follow)
            let mut stack: Vec<(DeclId, usize)> = vec![(root, 0)];
            color[root] = 1;
            at_depth[root] = 0;
            while let Some(&mut (id, ref mut next)) = stack.last_mut() {
                if let Some(&to) = edges[id].get(*next) {
                    *next += 1;
                    match color[to] {
                        0 => {
                            color[to] = 1;
                            at_depth[to] = stack.len();
                            stack.push((to, 0));
                        }
                        1 => {
                            let members = &stack[at_depth[to]..];
                            if members.iter().any(|&(m, _)| cycle_of[m].is_none()) {
                                for &(m, _) in members {
                                    cycle_of[m].get_or_insert(cycles.len());
                                }
                                // A long cycle is kept by its ends, for the message: a
                                // copy of each would cost the square of its length.
                                let ends: Vec<DeclId> = if members.len() > 8 {
                                    let tail = &members[members.len() - 3..];
                                    members[..4].iter().chain(tail).map(|&(m, _)| m).collect()
                                } else {
                                    members.iter().map(|&(m, _)| m).collect()
                                };
                                cycles.push((members.len(), ends));
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                stack.pop();
                color[id] = 2;
                if cycle_of[id].is_some() {
                    continue;
                }
                // A declaration that names a refused one is refused with it, without a
                // diagnostic of its own: one long chain or wide union is one error.
                if edges[id].iter().any(|&to| refused[to]) {
                    refused[id] = true;
                    continue;
                }
                let links = edges[id].iter().filter(|&&to| cycle_of[to].is_none());
                chain[id] = 1 + links.map(|&to| chain[to]).max().unwrap_or(0);
                let alias = self.decls[id].kind == DeclKind::Alias;
                if alias {
                    width[id] = union_width(&self.decls[id].ty, &|d| width[d]);
                }
                if chain[id] > limits.references {
                    refused[id] = true;
                    let d = &self.decls[id];
                    diags.push(
                        Diagnostic::error(
                            "kumori-reference-chain",
                            format!(
                                "type `{}` is defined through a chain of more than {} declarations",
                                d.qname, limits.references
                            ),
                        )
                        .at(
                            prog.map.path(d.span.file),
                            d.span.range(),
                            "too long a chain",
                        )
                        .help(format!(
                            "a chain of aliases and types may be at most {} long (the limit \
                             `references`): define this type by what it stands for",
                            limits.references
                        )),
                    );
                } else if alias && width[id] > limits.union_width {
                    refused[id] = true;
                    diags.push(too_wide(prog, &self.decls[id], limits.union_width));
                }
            }
        }
        // Widths are known now (they follow unions and aliases, the edges above); a union nested
        // in a struct or a list is checked with them.
        for id in 0..n {
            if refused[id] || cycle_of[id].is_some() {
                continue;
            }
            if widest_union(&self.decls[id].ty, &|d| width[d]) > limits.union_width {
                refused[id] = true;
                diags.push(too_wide(prog, &self.decls[id], limits.union_width));
            }
        }
        for (id, cycle) in cycle_of.iter().enumerate() {
            let Some(cycle) = cycle else { continue };
            let (len, cycle) = &cycles[*cycle];
            let d = &self.decls[id];
            let name = |&i: &DeclId| self.decls[i].qname.as_str();
            let path = if *len == cycle.len() {
                // The cycle as seen from this declaration.
                let from = cycle.iter().position(|&m| m == id).unwrap_or(0);
                let names: Vec<&str> = cycle[from..]
                    .iter()
                    .chain(&cycle[..from])
                    .map(name)
                    .collect();
                format!("{} -> {}", names.join(" -> "), d.qname)
            } else {
                let head: Vec<&str> = cycle[..4].iter().map(name).collect();
                let tail: Vec<&str> = cycle[4..].iter().map(name).collect();
                format!(
                    "a cycle of {len} declarations, {} -> ... -> {} -> {}",
                    head.join(" -> "),
                    tail.join(" -> "),
                    head[0]
                )
            };
            diags.push(
                Diagnostic::error(
                    "kumori-type-cycle",
                    format!("type `{}` is defined in terms of itself: {path}", d.qname),
                )
                .at(
                    prog.map.path(d.span.file),
                    d.span.range(),
                    "cyclic definition",
                )
                .help("break the cycle with a struct or a distinct base type"),
            );
            refused[id] = true;
        }
        for (id, refused) in refused.into_iter().enumerate() {
            if refused {
                self.decls[id].ty = Ty::Error;
                width[id] = 1;
            }
        }
        self.widths = width;
    }

    /// The number of alternatives of `ty` with its aliases expanded (1 for a type that is not a
    /// union), saturating.
    pub fn width(&self, ty: &Ty) -> usize {
        union_width(ty, &|d| self.widths.get(d).copied().unwrap_or(1))
    }

    /// Follows aliases (not distinct types) to the type they stand for.
    pub fn expand<'a>(&'a self, ty: &'a Ty) -> &'a Ty {
        let mut t = ty;
        // Declarations in a cycle or over a limit stand for `Ty::Error`: the chain ends.
        for _ in 0..=self.decls.len() {
            match t {
                Ty::Decl(id) if self.decls[*id].kind == DeclKind::Alias => t = &self.decls[*id].ty,
                _ => return t,
            }
        }
        &Ty::Error
    }

    /// The alternatives of a type, unions and aliases flattened.
    pub fn alternatives<'a>(&'a self, ty: &'a Ty) -> Vec<&'a Ty> {
        let mut out = Vec::new();
        self.collect_alts(ty, &mut out, 0);
        out
    }

    fn collect_alts<'a>(&'a self, ty: &'a Ty, out: &mut Vec<&'a Ty>, depth: usize) {
        // Unions are acyclic and no wider than `unionWidth` once built (`check_graph`); this
        // bounds what a type lowered without those checks could cost.
        if depth > 2 * self.decls.len() + 64 || out.len() > 1 << 16 {
            return;
        }
        match self.expand(ty) {
            Ty::Union(alts) => {
                for a in alts {
                    self.collect_alts(a, out, depth + 1);
                }
            }
            t => out.push(t),
        }
    }

    /// Whether every alternative of `ty` is one of the distinct types `allowed`.
    pub fn only_named(&self, ty: &Ty, allowed: &[DeclId]) -> bool {
        self.alternatives(ty)
            .iter()
            .all(|t| matches!(t, Ty::Decl(id) if allowed.contains(id)))
    }

    /// Whether a value of type `from` is always acceptable where `to` is expected. `any` goes
    /// both ways (gradual typing).
    pub fn assignable(&self, from: &Ty, to: &Ty, known: &Known) -> bool {
        self.assignable_at(from, to, known, 0)
    }

    fn assignable_at(&self, from: &Ty, to: &Ty, known: &Known, depth: usize) -> bool {
        if depth > 32 {
            return true;
        }
        let (from, to) = (self.expand(from), self.expand(to));
        match (from, to) {
            (Ty::Error, _) | (_, Ty::Error) | (Ty::Any, _) | (_, Ty::Any) => true,
            (Ty::Union(alts), _) => alts
                .iter()
                .all(|a| self.assignable_at(a, to, known, depth + 1)),
            (_, Ty::Union(alts)) => alts
                .iter()
                .any(|a| self.assignable_at(from, a, known, depth + 1)),
            (Ty::Decl(a), Ty::Decl(b)) => a == b || (*a == known.ephemeral && *b == known.volatile),
            (Ty::Number, Ty::Decl(b)) => {
                [known.ram, known.cpu, known.bandwidth, known.storage].contains(b)
            }
            (Ty::Lit(a), Ty::Lit(b)) => a == b,
            (Ty::Lit(_), Ty::String) => true,
            (Ty::List(a), Ty::List(b)) => self.assignable_at(a, b, known, depth + 1),
            (Ty::Struct(a), Ty::Struct(b)) => {
                let required_ok = b.fields.iter().all(|bf| match a.field(&bf.name) {
                    Some(af) => {
                        (bf.optional || !af.optional)
                            && self.assignable_at(&af.ty, &bf.ty, known, depth + 1)
                    }
                    None => bf.optional,
                });
                let extra_ok = a.fields.iter().all(|af| match b.field(&af.name) {
                    Some(_) => true,
                    None => match &b.open {
                        Some(t) => self.assignable_at(&af.ty, t, known, depth + 1),
                        None => false,
                    },
                });
                let open_ok = match (&a.open, &b.open) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(x), Some(y)) => self.assignable_at(x, y, known, depth + 1),
                };
                required_ok && extra_ok && open_ok
            }
            (a, b) => a == b,
        }
    }

    /// How a type is named in messages.
    pub fn describe(&self, ty: &Ty) -> String {
        match ty {
            Ty::Any => "any".into(),
            Ty::Bool => "bool".into(),
            Ty::String => "string".into(),
            Ty::Number => "number".into(),
            Ty::Lit(s) => format!("{s:?}"),
            Ty::List(t) => format!("[]{}", self.describe(t)),
            Ty::Struct(s) => {
                let names: Vec<String> = s
                    .fields
                    .iter()
                    .map(|f| format!("{}{}", f.name, if f.optional { "?" } else { "" }))
                    .collect();
                match (&s.open, names.is_empty()) {
                    (Some(Ty::Any), true) => "struct open[]".into(),
                    (Some(t), true) => format!("struct open[{}]", self.describe(t)),
                    _ => format!("struct {{ {} }}", names.join(", ")),
                }
            }
            Ty::Union(alts) => alts
                .iter()
                .map(|a| self.describe(a))
                .collect::<Vec<_>>()
                .join(" | "),
            Ty::Decl(id) => self.decls[*id].qname.clone(),
            Ty::Error => "an unknown type".into(),
        }
    }
}

/// A declaration refused for a union wider than `limit`.
fn too_wide(prog: &Program, d: &Decl, limit: usize) -> Diagnostic {
    Diagnostic::error(
        "kumori-union-too-wide",
        format!(
            "type `{}` is a union of more than {limit} types once its aliases are expanded",
            d.qname
        ),
    )
    .at(prog.map.path(d.span.file), d.span.range(), "too wide")
    .help(format!(
        "a union may have at most {limit} alternatives (the limit `unionWidth`); each alias \
         used twice in a union doubles it: list the alternatives once"
    ))
}

/// The declarations a type names where a value of it need not nest: itself, or an alternative
/// of a union (not in a list or a struct).
fn unguarded(ty: &Ty) -> Vec<DeclId> {
    let mut out = Vec::new();
    let mut todo = vec![ty];
    while let Some(t) = todo.pop() {
        match t {
            Ty::Decl(id) => out.push(*id),
            Ty::Union(alts) => todo.extend(alts.iter().rev()),
            _ => {}
        }
    }
    out
}

/// The number of alternatives of `ty`, aliases counted by `alias_width`, saturating.
fn union_width(ty: &Ty, alias_width: &dyn Fn(DeclId) -> usize) -> usize {
    match ty {
        Ty::Union(alts) => alts
            .iter()
            .fold(0usize, |n, a| n.saturating_add(union_width(a, alias_width))),
        Ty::Decl(id) => alias_width(*id),
        _ => 1,
    }
}

/// The width of `ty` ([`union_width`]), or of the widest union nested in it (in a list, a
/// struct's fields or its `open[...]`), whichever is larger.
fn widest_union(ty: &Ty, alias_width: &dyn Fn(DeclId) -> usize) -> usize {
    let mut widest = union_width(ty, alias_width);
    let mut todo = vec![ty];
    while let Some(t) = todo.pop() {
        match t {
            Ty::Union(alts) => {
                widest = widest.max(union_width(t, alias_width));
                todo.extend(alts.iter());
            }
            Ty::List(elem) => todo.push(elem),
            Ty::Struct(st) => {
                todo.extend(st.fields.iter().map(|f| &f.ty));
                todo.extend(st.open.iter());
            }
            _ => {}
        }
    }
    widest
}

/// The diagnostic for a package name that is not imported.
pub fn not_imported(prog: &Program, head: &Name) -> Diagnostic {
    let builtin = matches!(head.text.as_str(), "kumori" | "io" | "strconv");
    let help = if builtin {
        format!("add `import \"{}\"` at the top of the file", head.text)
    } else {
        "import the package that declares it: `import name \"module/path/folder\"`".to_owned()
    };
    Diagnostic::error(
        "kumori-not-imported",
        format!("`{}` is not imported in this file", head.text),
    )
    .at(
        prog.map.path(head.span.file),
        head.span.range(),
        "not imported",
    )
    .help(help)
}
