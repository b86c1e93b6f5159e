//! The evaluator: expressions into [`Value`]s. References (`interface.`, `self.`, `var.`) are
//! evaluated lazily and memoized, with cycle detection; config and resource values come from the
//! binding (YAML), a kdsl deployment, or the interface's defaults. Values not known yet (a config
//! without default when only checking a module) are [`V::Unknown`] with their declared type, so
//! that the checker can still check them statically.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::diagnostic::Diagnostic;
use crate::source::{self, SourceError, SourceTree};
use crate::yaml;

use super::ast::{
    self, Block, DeclKind, Expr, ExprKind, FileId, Name, Span, VarBinding, path_text,
};
use super::check::Checker;
use super::lexer::Unit;
use super::module::{ImportTarget, Program};
use super::types::{DeclId, Known, Ty, TypeEnv, not_imported, suggest};

/// A number: its value in base units, its unit as written, and whether it was an octal literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num {
    /// Value in base units (bytes, cores, bits per second).
    pub value: f64,
    /// Unit suffix as written.
    pub unit: Option<Unit>,
    /// `Some(octal?)` when the number is a literal of the Kumori source.
    pub literal_octal: Option<bool>,
}

/// An evaluated value and the place that produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The value.
    pub kind: V,
    /// Where it comes from (for a reference: the reference).
    pub span: Span,
}

/// The kinds of values.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    /// `true`/`false`.
    Bool(bool),
    /// A number.
    Num(Num),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A struct, fields in source order (keys with their spans).
    Struct(Vec<(Name, Value)>),
    /// A value of a distinct type: `kumori.Port("http")`.
    Named(DeclId, Box<Value>),
    /// Not known yet; of this type.
    Unknown(Ty),
    /// Could not be evaluated (already reported).
    Error,
}

impl Value {
    /// A value at `span`.
    pub fn new(kind: V, span: Span) -> Self {
        Value { kind, span }
    }

    /// The field `name` of a struct value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match &self.kind {
            V::Struct(fields) => fields.iter().find(|(k, _)| k.text == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The fields of a struct value (empty otherwise).
    pub fn fields(&self) -> &[(Name, Value)] {
        match &self.kind {
            V::Struct(fields) => fields,
            _ => &[],
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_num(&self) -> Option<f64> {
        match &self.kind {
            V::Num(n) => Some(n.value),
            _ => None,
        }
    }

    /// Whether the value (or a part of it) is not known yet.
    pub fn has_unknown(&self) -> bool {
        match &self.kind {
            V::Unknown(_) | V::Error => true,
            V::List(items) => items.iter().any(Value::has_unknown),
            V::Struct(fields) => fields.iter().any(|(_, v)| v.has_unknown()),
            V::Named(_, v) => v.has_unknown(),
            _ => false,
        }
    }
}

/// Canonical JSON of a value: sorted keys, no white space, integers without fraction, sizes in
/// base units, a value of a distinct type as `{"TypeName": value}`. `None` if a part is unknown.
pub fn to_json(v: &Value, env: &TypeEnv) -> Option<String> {
    let mut out = String::new();
    write_json(v, env, &mut out).then_some(out)
}

fn write_json(v: &Value, env: &TypeEnv, out: &mut String) -> bool {
    match &v.kind {
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Num(n) => out.push_str(&number_text(n.value)),
        V::Str(s) => out.push_str(&serde_json::to_string(s).expect("strings serialize")),
        V::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_json(item, env, out) {
                    return false;
                }
            }
            out.push(']');
        }
        V::Struct(fields) => {
            let mut sorted: Vec<&(Name, Value)> = fields.iter().collect();
            sorted.sort_by(|a, b| a.0.text.cmp(&b.0.text));
            out.push('{');
            for (i, (k, val)) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&k.text).expect("strings serialize"));
                out.push(':');
                if !write_json(val, env, out) {
                    return false;
                }
            }
            out.push('}');
        }
        V::Named(id, inner) => {
            let q = &env.decls[*id].qname;
            let short = q.rsplit('.').next().unwrap_or(q);
            let _ = write!(
                out,
                "{{{}:",
                serde_json::to_string(short).expect("strings serialize")
            );
            if !write_json(inner, env, out) {
                return false;
            }
            out.push('}');
        }
        V::Unknown(_) | V::Error => return false,
    }
    true
}

/// A number as JSON: integers without fraction, others in shortest form.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        format!("{}", n as i64)
    } else if n.is_finite() {
        format!("{n}")
    } else {
        "null".into()
    }
}

/// A declared config or resource of a component.
#[derive(Clone, Debug)]
pub struct Declared<'a> {
    /// Its name.
    pub name: &'a Name,
    /// Its declared type.
    pub ty: Ty,
    /// Its default.
    pub default: Option<&'a Expr>,
}

/// A value given for a config or resource.
#[derive(Clone, Debug)]
pub enum Given<'a> {
    /// From the binding's YAML (the node and the YAML file).
    Yaml(&'a yaml::Node, FileId),
    /// From a kdsl deployment.
    Expr(&'a Expr),
}

/// Whether missing config values are errors (render) or unknowns (check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Check a module without values: unknowns are fine.
    Check,
    /// Render a binding: every config needs a value.
    Render,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Expr(FileId, u32, u32),
    Config(String),
    Resource(String),
    Var(String),
}

/// The component being evaluated.
#[derive(Default)]
pub struct Scope<'a> {
    /// The implementation's body (for `self.`).
    pub body: Option<&'a Block>,
    /// `srv` sections of the interface and implementation.
    pub srv: Vec<&'a ast::Field>,
    /// Declared config.
    pub config: Vec<Declared<'a>>,
    /// Declared resources.
    pub resource: Vec<Declared<'a>>,
    /// Given config values.
    pub given_config: HashMap<String, Given<'a>>,
    /// Given resource values.
    pub given_resource: HashMap<String, Given<'a>>,
    /// `var` bindings in scope.
    pub vars: HashMap<String, &'a VarBinding>,
}

/// Evaluates expressions of one component (or deployment).
pub struct Evaluator<'a> {
    /// The program.
    pub prog: &'a Program,
    /// Its types.
    pub env: &'a TypeEnv,
    /// Special types.
    pub known: &'a Known,
    /// For `io.Open`.
    pub tree: &'a dyn SourceTree,
    /// What is in scope.
    pub scope: Scope<'a>,
    /// Render or check.
    pub mode: Mode,
    /// Diagnostics found.
    pub diags: Vec<Diagnostic>,
    memo: HashMap<Key, Value>,
    active: Vec<(Key, String)>,
    /// Field names from the component body down to the value being evaluated, for messages.
    trail: Vec<String>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with an empty scope.
    pub fn new(
        prog: &'a Program,
        env: &'a TypeEnv,
        known: &'a Known,
        tree: &'a dyn SourceTree,
        mode: Mode,
    ) -> Self {
        Evaluator {
            prog,
            env,
            known,
            tree,
            scope: Scope::default(),
            mode,
            diags: Vec::new(),
            memo: HashMap::new(),
            active: Vec::new(),
            trail: Vec::new(),
        }
    }

    fn path(&self, span: Span) -> &str {
        self.prog.map.path(span.file)
    }

    fn err(&mut self, code: &'static str, span: Span, message: String, label: &str, help: &str) {
        let d = Diagnostic::error(code, message).at(self.path(span), span.range(), label);
        self.diags
            .push(if help.is_empty() { d } else { d.help(help) });
    }

    /// Evaluates `key` once; re-entering it while it is being evaluated is a cycle.
    fn memo(
        &mut self,
        key: Key,
        what: String,
        span: Span,
        f: impl FnOnce(&mut Self) -> Value,
    ) -> Value {
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        if let Some(i) = self.active.iter().position(|(k, _)| *k == key) {
            let chain: Vec<&str> = self.active[i..].iter().map(|(_, w)| w.as_str()).collect();
            let message = format!("cycle of references: {} -> {what}", chain.join(" -> "));
            self.err(
                "kumori-reference-cycle",
                span,
                message,
                "this reference closes the cycle",
                "a value cannot depend on itself; replace one reference of the cycle by a value",
            );
            return Value::new(V::Error, span);
        }
        self.active.push((key.clone(), what));
        let v = f(self);
        self.active.pop();
        self.memo.insert(key, v.clone());
        v
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &'a Expr) -> Value {
        let span = e.span;
        match &e.kind {
            ExprKind::Str(s) => Value::new(V::Str(s.clone()), span),
            ExprKind::Num(n) => Value::new(
                V::Num(Num {
                    value: n.value,
                    unit: n.unit,
                    literal_octal: Some(n.octal),
                }),
                span,
            ),
            ExprKind::Bool(b) => Value::new(V::Bool(*b), span),
            ExprKind::List(items) => {
                let items = items.iter().map(|i| self.eval(i)).collect();
                Value::new(V::List(items), span)
            }
            ExprKind::Struct(block) => self.eval_block(block),
            ExprKind::Path(path) => self.reference(path, span),
            ExprKind::Call { callee, args } => self.call(callee, args, span),
            ExprKind::StructType { .. } | ExprKind::ListType(_) | ExprKind::Union(_) => {
                self.err(
                    "kumori-type-as-value",
                    span,
                    "a type where a value is expected".into(),
                    "this is a type",
                    "declarations with types (`name: Type`) belong in `config`, `resource` or a library",
                );
                Value::new(V::Error, span)
            }
            ExprKind::Error => Value::new(V::Error, span),
        }
    }

    /// Evaluates a field's value through the memo, so that `self.` references share it.
    fn eval_field(&mut self, f: &'a ast::Field, what: String) -> Value {
        let v = &f.value;
        let key = Key::Expr(v.span.file, v.span.start, v.span.end);
        self.memo(key, what, v.span, |this| this.eval(v))
    }

    /// Evaluates a `{ ... }` block as a struct value.
    pub fn eval_block(&mut self, block: &'a Block) -> Value {
        if let Some(v) = block.vars.first() {
            self.err(
                "kumori-misplaced-var",
                v.name.span,
                "`var` blocks go at the top level of a file or of a component".into(),
                "inside a value",
                "move the `var ( ... )` block up to the component body",
            );
        }
        self.eval_fields(block.fields.iter(), block.span)
    }

    /// Evaluates fields as a struct value at `span`.
    pub fn eval_fields(
        &mut self,
        block: impl Iterator<Item = &'a ast::Field>,
        span: Span,
    ) -> Value {
        let mut fields: Vec<(Name, Value)> = Vec::new();
        for f in block {
            if let Some(q) = f.optional {
                self.err(
                    "kumori-declaration-in-value",
                    q,
                    format!("`{}?` declares an optional field, but this is a value", f.key.text),
                    "declaration syntax",
                    "write `name value`; optional fields and defaults belong in `config`, `resource` or types",
                );
            }
            if let Some(d) = &f.default {
                self.err(
                    "kumori-declaration-in-value",
                    d.span,
                    format!("`{}` has a default, but this is a value", f.key.text),
                    "declaration syntax",
                    "write `name value`; defaults belong in `config` declarations",
                );
            }
            if let Some((first, _)) = fields.iter().find(|(k, _)| k.text == f.key.text) {
                let d = Diagnostic::error(
                    "kumori-duplicate-field",
                    format!("field `{}` is given twice", f.key.text),
                )
                .at(
                    self.path(f.key.span),
                    f.key.span.range(),
                    "given again here",
                )
                .also(
                    self.path(first.span),
                    first.span.range(),
                    "first given here",
                )
                .help("remove one of them");
                self.diags.push(d);
                continue;
            }
            self.trail.push(f.key.text.clone());
            let what = format!("self.{}", self.trail.join("."));
            let v = self.eval_field(f, what);
            self.trail.pop();
            fields.push((f.key.clone(), v));
        }
        Value::new(V::Struct(fields), span)
    }

    /// The `srv` sections of the interface and the implementation, merged.
    pub fn srv_value(&mut self, span: Span) -> Value {
        let mut fields: Vec<(Name, Value)> = Vec::new();
        for f in self.scope.srv.clone() {
            let v = self.eval_field(f, "srv".into());
            if let V::Struct(fs) = v.kind {
                for (k, v) in fs {
                    match fields.iter_mut().find(|(n, _)| n.text == k.text) {
                        Some((_, existing)) => {
                            if let (V::Struct(a), V::Struct(b)) = (&mut existing.kind, v.kind) {
                                a.extend(b);
                            }
                        }
                        None => fields.push((k, v)),
                    }
                }
            }
        }
        Value::new(V::Struct(fields), span)
    }

    fn reference(&mut self, path: &'a [Name], span: Span) -> Value {
        let head = path[0].text.as_str();
        let v = match head {
            "interface" => self.interface_ref(path, span),
            "self" => self.self_ref(path, span),
            "var" => self.var_ref(path, span),
            _ => {
                let text = path_text(path);
                let is_type =
                    self.prog.file(span.file).imports.contains_key(head) && path.len() == 2;
                let help = if is_type {
                    "a type is not a value; to build a value of a type call it: `kumori.Port(\"name\")`"
                } else {
                    "references start with `interface.` (config, resource, srv), `self.` (this \
                     component) or `var.` (variables); strings need double quotes"
                };
                self.err(
                    "kumori-unresolved-reference",
                    span,
                    format!("cannot resolve `{text}`"),
                    "unknown reference",
                    help,
                );
                return Value::new(V::Error, span);
            }
        };
        Value { span, ..v }
    }

    fn interface_ref(&mut self, path: &'a [Name], span: Span) -> Value {
        let Some(section) = path.get(1) else {
            self.err(
                "kumori-unresolved-reference",
                span,
                "`interface` alone is not a value".into(),
                "incomplete reference",
                "name a section: `interface.config.NAME`, `interface.resource.NAME` or `interface.srv...`",
            );
            return Value::new(V::Error, span);
        };
        match section.text.as_str() {
            "config" | "resource" => {
                let is_config = section.text == "config";
                let Some(name) = path.get(2) else {
                    // The whole section.
                    let names: Vec<&'a Name> = if is_config {
                        self.scope.config.iter().map(|d| d.name).collect()
                    } else {
                        self.scope.resource.iter().map(|d| d.name).collect()
                    };
                    let fields = names
                        .into_iter()
                        .map(|n| {
                            let v = if is_config {
                                self.config_value(n, span)
                            } else {
                                self.resource_value(n, span)
                            };
                            (n.clone(), v)
                        })
                        .collect();
                    return Value::new(V::Struct(fields), span);
                };
                let decls = if is_config {
                    &self.scope.config
                } else {
                    &self.scope.resource
                };
                let Some(decl) = decls.iter().find(|d| d.name.text == name.text) else {
                    let candidates: Vec<&str> =
                        decls.iter().map(|d| d.name.text.as_str()).collect();
                    let help = match suggest(&name.text, candidates.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if candidates.is_empty() => {
                            format!("the interface declares no {}", section.text)
                        }
                        None => format!("declared: {}", candidates.join(", ")),
                    };
                    self.err(
                        "kumori-unresolved-reference",
                        name.span,
                        format!("the interface declares no {} `{}`", section.text, name.text),
                        "not declared",
                        &help,
                    );
                    return Value::new(V::Error, span);
                };
                let decl_name = decl.name;
                let v = if is_config {
                    self.config_value(decl_name, span)
                } else {
                    self.resource_value(decl_name, span)
                };
                self.navigate(v, &path[3..], &path[..3], span)
            }
            "srv" => {
                let v = self.srv_value(span);
                self.navigate(v, &path[2..], &path[..2], span)
            }
            other => {
                self.err(
                    "kumori-unresolved-reference",
                    section.span,
                    format!("the interface has no section `{other}`"),
                    "unknown section",
                    "interface sections are `config`, `resource` and `srv`",
                );
                Value::new(V::Error, span)
            }
        }
    }

    /// Follows `rest` into a value.
    fn navigate(&mut self, mut v: Value, rest: &[Name], done: &[Name], span: Span) -> Value {
        for (i, seg) in rest.iter().enumerate() {
            let so_far = || path_text(&[done, &rest[..i]].concat());
            v = match v.kind {
                V::Struct(fields) => match fields.into_iter().find(|(k, _)| k.text == seg.text) {
                    Some((_, fv)) => fv,
                    None => {
                        self.err(
                            "kumori-unresolved-reference",
                            seg.span,
                            format!("`{}` has no field `{}`", so_far(), seg.text),
                            "no such field",
                            "",
                        );
                        return Value::new(V::Error, span);
                    }
                },
                V::Named(_, inner) => {
                    v = *inner;
                    // Look through the distinct type once more for this segment.
                    return self.navigate(v, &rest[i..], &[done, &rest[..i]].concat(), span);
                }
                V::Unknown(ty) => {
                    let t = self.env.expand(&ty).clone();
                    match t {
                        Ty::Struct(st) => match st.field(&seg.text) {
                            Some(f) => Value::new(V::Unknown(f.ty.clone()), span),
                            None => match &st.open {
                                Some(o) => Value::new(V::Unknown(o.clone()), span),
                                None => {
                                    self.err(
                                        "kumori-unresolved-reference",
                                        seg.span,
                                        format!("`{}` has no field `{}`", so_far(), seg.text),
                                        "no such field",
                                        "",
                                    );
                                    return Value::new(V::Error, span);
                                }
                            },
                        },
                        Ty::Any | Ty::Error => Value::new(V::Unknown(Ty::Any), span),
                        other => {
                            let d = self.env.describe(&other);
                            self.err(
                                "kumori-unresolved-reference",
                                seg.span,
                                format!("`{}` is of type {d}, which has no fields", so_far()),
                                "no fields here",
                                "",
                            );
                            return Value::new(V::Error, span);
                        }
                    }
                }
                V::Error => return Value::new(V::Error, span),
                _ => {
                    self.err(
                        "kumori-unresolved-reference",
                        seg.span,
                        format!(
                            "`{}` is not a struct and has no field `{}`",
                            so_far(),
                            seg.text
                        ),
                        "no fields here",
                        "",
                    );
                    return Value::new(V::Error, span);
                }
            };
        }
        v
    }

    fn self_ref(&mut self, path: &'a [Name], span: Span) -> Value {
        let Some(mut block) = self.scope.body else {
            self.err(
                "kumori-unresolved-reference",
                span,
                "`self` is only available inside a component implementation".into(),
                "no component here",
                "",
            );
            return Value::new(V::Error, span);
        };
        if path.len() == 1 {
            self.err(
                "kumori-unresolved-reference",
                span,
                "`self` alone is not a value".into(),
                "incomplete reference",
                "name a field: `self.code.NAME.size.cpu`",
            );
            return Value::new(V::Error, span);
        }
        for i in 1..path.len() {
            let seg = &path[i];
            let Some(f) = block.field(&seg.text) else {
                let candidates: Vec<&str> =
                    block.fields.iter().map(|f| f.key.text.as_str()).collect();
                let help = suggest(&seg.text, candidates)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_default();
                self.err(
                    "kumori-unresolved-reference",
                    seg.span,
                    format!("`{}` has no field `{}`", path_text(&path[..i]), seg.text),
                    "no such field",
                    &help,
                );
                return Value::new(V::Error, span);
            };
            match &f.value.kind {
                ExprKind::Struct(inner) if i + 1 < path.len() => block = inner,
                _ => {
                    let trail: Vec<String> = path[1..=i].iter().map(|n| n.text.clone()).collect();
                    let saved = std::mem::replace(&mut self.trail, trail);
                    let v = self.eval_field(f, path_text(&path[..=i]));
                    self.trail = saved;
                    return self.navigate(v, &path[i + 1..], &path[..=i], span);
                }
            }
        }
        unreachable!("the loop returns at the last segment")
    }

    fn var_ref(&mut self, path: &'a [Name], span: Span) -> Value {
        let Some(name) = path.get(1) else {
            self.err(
                "kumori-unresolved-reference",
                span,
                "`var` alone is not a value".into(),
                "incomplete reference",
                "name a variable: `var.NAME`",
            );
            return Value::new(V::Error, span);
        };
        let Some(binding) = self.scope.vars.get(&name.text).copied() else {
            let candidates: Vec<&str> = self.scope.vars.keys().map(String::as_str).collect();
            let help = suggest(&name.text, candidates)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "declare it in a `var ( NAME = value )` block".into());
            self.err(
                "kumori-unresolved-reference",
                name.span,
                format!("no variable `{}`", name.text),
                "not declared",
                &help,
            );
            return Value::new(V::Error, span);
        };
        let v = self.memo(
            Key::Var(name.text.clone()),
            format!("var.{}", name.text),
            span,
            |this| this.eval(&binding.value),
        );
        self.navigate(v, &path[2..], &path[..2], span)
    }

    /// The value of config `name` (given, default, or unknown).
    pub fn config_value(&mut self, name: &'a Name, at: Span) -> Value {
        let key = Key::Config(name.text.clone());
        self.memo(key, format!("interface.config.{}", name.text), at, |this| {
            let Some(decl) = this
                .scope
                .config
                .iter()
                .find(|d| d.name.text == name.text)
                .cloned()
            else {
                return Value::new(V::Error, at);
            };
            this.declared_value(
                &decl,
                this.scope.given_config.get(&name.text).cloned(),
                true,
            )
        })
    }

    /// The value of resource `name` (given, default, or unknown).
    pub fn resource_value(&mut self, name: &'a Name, at: Span) -> Value {
        let key = Key::Resource(name.text.clone());
        self.memo(
            key,
            format!("interface.resource.{}", name.text),
            at,
            |this| {
                let Some(decl) = this
                    .scope
                    .resource
                    .iter()
                    .find(|d| d.name.text == name.text)
                    .cloned()
                else {
                    return Value::new(V::Error, at);
                };
                this.declared_value(
                    &decl,
                    this.scope.given_resource.get(&name.text).cloned(),
                    false,
                )
            },
        )
    }

    fn declared_value(
        &mut self,
        decl: &Declared<'a>,
        given: Option<Given<'a>>,
        config: bool,
    ) -> Value {
        let v = match given {
            Some(Given::Yaml(node, file)) => self.from_yaml(node, file, &decl.ty),
            Some(Given::Expr(e)) => self.eval(e),
            None => match decl.default {
                Some(e) => self.eval(e),
                None => return Value::new(V::Unknown(decl.ty.clone()), decl.name.span),
            },
        };
        let what = if config { "config" } else { "resource" };
        let mut checker = Checker::new(self.prog, self.env, self.known);
        let ok = checker.check(
            &v,
            &decl.ty,
            &format!("interface.{what}.{}", decl.name.text),
        );
        self.diags.extend(checker.diags);
        // A value of the wrong type is reported once, here, not again where it is used.
        if ok { v } else { Value::new(V::Error, v.span) }
    }

    /// Converts a YAML value given for a declaration of type `ty`. Strings become sizes where
    /// a size is expected, and values of distinct types where one is declared (`Secret:
    /// db-password` for a `kumori.Secret`); inline volumes are written `{ volatile: 10Gi }`.
    pub fn from_yaml(&mut self, node: &yaml::Node, file: FileId, ty: &Ty) -> Value {
        let span = Span::new(file, node.span.clone());
        let known = self.known;
        let env = self.env;
        match env.expand(ty) {
            Ty::Decl(id) => {
                let id = *id;
                if [known.ram, known.cpu, known.bandwidth, known.storage].contains(&id) {
                    if let Some(v) = self.yaml_size(node, span) {
                        return v;
                    }
                } else if env.decls[id].kind == DeclKind::Type {
                    let underlying = env.decls[id].ty.clone();
                    let inner = self.from_yaml(node, file, &underlying);
                    let mut checker = Checker::new(self.prog, self.env, self.known);
                    checker.check(&inner, &underlying, &format!("a {}", env.decls[id].qname));
                    self.diags.extend(checker.diags);
                    let id = if id == known.ephemeral {
                        known.volatile
                    } else {
                        id
                    };
                    return Value::new(V::Named(id, Box::new(inner)), span);
                }
            }
            Ty::Union(_) => {
                let alts: Vec<Ty> = env.alternatives(ty).into_iter().cloned().collect();
                // `{ volatile: 10Gi }`: a one-key mapping naming a distinct type of the union.
                if let yaml::Value::Map(entries) = &node.value
                    && entries.len() == 1
                {
                    let key = entries[0].0.key_text();
                    for a in &alts {
                        if let Ty::Decl(id) = a {
                            let q = &env.decls[*id].qname;
                            let short = q.rsplit('.').next().unwrap_or(q);
                            if short.eq_ignore_ascii_case(&key) {
                                let inner_ty = env.decls[*id].ty.clone();
                                let inner = self.from_yaml(&entries[0].1, file, &inner_ty);
                                return Value::new(V::Named(*id, Box::new(inner)), span);
                            }
                        }
                    }
                }
                // Otherwise the first alternative that accepts it.
                for a in &alts {
                    let saved = self.diags.len();
                    let v = self.from_yaml(node, file, a);
                    let mut checker = Checker::new(self.prog, self.env, self.known);
                    checker.check(&v, a, "value");
                    if self.diags.len() == saved && checker.diags.is_empty() {
                        return v;
                    }
                    self.diags.truncate(saved);
                }
            }
            _ => {}
        }
        let kind = match &node.value {
            yaml::Value::Null => V::Error,
            yaml::Value::Bool(b) => V::Bool(*b),
            yaml::Value::Int(i) => V::Num(Num {
                value: *i as f64,
                unit: None,
                literal_octal: None,
            }),
            yaml::Value::Float(f) => V::Num(Num {
                value: *f,
                unit: None,
                literal_octal: None,
            }),
            yaml::Value::String(s) => V::Str(s.clone()),
            yaml::Value::Seq(items) => {
                let elem = match env.expand(ty) {
                    Ty::List(t) => (**t).clone(),
                    _ => Ty::Any,
                };
                V::List(
                    items
                        .iter()
                        .map(|i| self.from_yaml(i, file, &elem))
                        .collect(),
                )
            }
            yaml::Value::Map(entries) => {
                let st = match env.expand(ty) {
                    Ty::Struct(st) => Some((**st).clone()),
                    _ => None,
                };
                V::Struct(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            let fty = st
                                .as_ref()
                                .and_then(|s| {
                                    s.field(&k.key_text())
                                        .map(|f| f.ty.clone())
                                        .or(s.open.clone())
                                })
                                .unwrap_or(Ty::Any);
                            let name = Name {
                                text: k.key_text(),
                                span: Span::new(file, k.span.clone()),
                            };
                            (name, self.from_yaml(v, file, &fty))
                        })
                        .collect(),
                )
            }
        };
        if matches!(node.value, yaml::Value::Null) {
            self.err(
                "kumori-invalid-value",
                span,
                "null is not a Kumori value".into(),
                "null",
                "give a value or leave the key out to use the default",
            );
        }
        Value::new(kind, span)
    }

    fn yaml_size(&mut self, node: &yaml::Node, span: Span) -> Option<Value> {
        let num = |value: f64, unit| {
            Value::new(
                V::Num(Num {
                    value,
                    unit,
                    literal_octal: None,
                }),
                span,
            )
        };
        Some(match &node.value {
            yaml::Value::Int(i) => num(*i as f64, None),
            yaml::Value::Float(f) => num(*f, None),
            yaml::Value::String(s) => {
                let digits_end = s
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(s.len());
                let (digits, suffix) = s.split_at(digits_end);
                match (digits.parse::<f64>(), Unit::parse(suffix)) {
                    (Ok(v), Some(u)) => num(v * u.factor(), Some(u)),
                    _ => {
                        self.err(
                            "kumori-invalid-value",
                            span,
                            format!("`{s}` is not a size"),
                            "expected a number with an optional unit",
                            "write a size such as 512Mi, 1G, 250m or a plain number",
                        );
                        Value::new(V::Error, span)
                    }
                }
            }
            _ => return None,
        })
    }

    fn call(&mut self, callee: &'a [Name], args: &'a [Expr], span: Span) -> Value {
        let file = span.file;
        let imports = &self.prog.file(file).imports;
        let pkg = self.prog.file(file).package;
        match callee {
            [f] if f.text == "string" => {
                let Some(a) = self.one_arg(args, span, "string") else {
                    return Value::new(V::Error, span);
                };
                self.stringify(a, span)
            }
            [f] => match self.env.lookup(pkg, &f.text) {
                Some(id) => self.construct(id, f, args, span),
                None => {
                    self.err(
                        "kumori-unknown-function",
                        f.span,
                        format!("unknown function `{}`", f.text),
                        "not a function",
                        "functions are `string(x)`, `io.Open`, `strconv.Concat`, `strconv.Format`, \
                         `strconv.JSON` and type constructors such as `kumori.Port(\"name\")`",
                    );
                    Value::new(V::Error, span)
                }
            },
            [head, f] => match imports.get(&head.text).copied() {
                None => {
                    self.diags.push(not_imported(self.prog, head));
                    Value::new(V::Error, span)
                }
                Some(ImportTarget::Io) if f.text == "Open" => self.io_open(args, span),
                Some(ImportTarget::Strconv) if f.text == "Concat" => self.concat(args, span),
                Some(ImportTarget::Strconv) if f.text == "Format" => self.format(args, span),
                Some(ImportTarget::Strconv) if f.text == "JSON" => {
                    let Some(a) = self.one_arg(args, span, "strconv.JSON") else {
                        return Value::new(V::Error, span);
                    };
                    match to_json(&a, self.env) {
                        Some(j) => Value::new(V::Str(j), span),
                        None => Value::new(V::Unknown(Ty::String), span),
                    }
                }
                Some(ImportTarget::Kumori) => match self.env.lookup(None, &f.text) {
                    Some(id) => self.construct(id, f, args, span),
                    None => self.unknown_function(head, f),
                },
                Some(ImportTarget::Package(p)) => match self.env.lookup(Some(p), &f.text) {
                    Some(id) => self.construct(id, f, args, span),
                    None => self.unknown_function(head, f),
                },
                Some(ImportTarget::Io | ImportTarget::Strconv) => self.unknown_function(head, f),
            },
            _ => {
                let whole = callee[0].span.to(callee[callee.len() - 1].span);
                self.err(
                    "kumori-unknown-function",
                    whole,
                    format!("unknown function `{}`", path_text(callee)),
                    "not a function",
                    "",
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn unknown_function(&mut self, head: &Name, f: &Name) -> Value {
        let help = match head.text.as_str() {
            "io" => "`io` provides `Open(path)`",
            "strconv" => {
                "`strconv` provides `Concat([]string)`, `Format(number, base)` and `JSON(value)`"
            }
            _ => "call a `type` declared in that package, such as `kumori.Port(\"name\")`",
        };
        self.err(
            "kumori-unknown-function",
            f.span,
            format!("`{}.{}` is not a function", head.text, f.text),
            "unknown function",
            help,
        );
        Value::new(V::Error, head.span.to(f.span))
    }

    fn one_arg(&mut self, args: &'a [Expr], span: Span, name: &str) -> Option<Value> {
        if args.len() != 1 {
            self.err(
                "kumori-wrong-arguments",
                span,
                format!("`{name}` takes one argument, {} given", args.len()),
                "wrong number of arguments",
                "",
            );
            return None;
        }
        Some(self.eval(&args[0]))
    }

    fn construct(&mut self, id: DeclId, f: &Name, args: &'a [Expr], span: Span) -> Value {
        let decl = &self.env.decls[id];
        if decl.kind == DeclKind::Alias {
            let q = decl.qname.clone();
            self.err(
                "kumori-not-a-constructor",
                f.span,
                format!("`{q}` is an alias, not a distinct type: it has no constructor"),
                "alias",
                "only `type` declarations can be called; give a value of one of its alternatives, \
                 such as `kumori.Registered(\"name\")` for a volume",
            );
            return Value::new(V::Error, span);
        }
        let q = decl.qname.clone();
        let underlying = decl.ty.clone();
        let Some(arg) = self.one_arg(args, span, &q) else {
            return Value::new(V::Error, span);
        };
        let mut checker = Checker::new(self.prog, self.env, self.known);
        checker.check(&arg, &underlying, &format!("the argument of {q}"));
        self.diags.extend(checker.diags);
        // `kumori.Ephemeral(size)` (seen in public examples) is a volatile volume.
        let id = if id == self.known.ephemeral {
            self.known.volatile
        } else {
            id
        };
        Value::new(V::Named(id, Box::new(arg)), span)
    }

    fn stringify(&mut self, a: Value, span: Span) -> Value {
        match a.kind {
            V::Str(s) => Value::new(V::Str(s), span),
            V::Num(n) => Value::new(V::Str(number_text(n.value)), span),
            V::Bool(b) => Value::new(V::Str(b.to_string()), span),
            V::Named(_, inner) => self.stringify(*inner, span),
            V::Unknown(_) => Value::new(V::Unknown(Ty::String), span),
            V::Error => Value::new(V::Error, span),
            V::List(_) | V::Struct(_) => {
                self.err(
                    "kumori-wrong-arguments",
                    a.span,
                    "`string(...)` converts a number, bool or string".into(),
                    "a list or struct",
                    "use `strconv.JSON(value)` to turn a list or struct into text",
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn io_open(&mut self, args: &'a [Expr], span: Span) -> Value {
        let Some(arg) = self.one_arg(args, span, "io.Open") else {
            return Value::new(V::Error, span);
        };
        let rel = match &arg.kind {
            V::Str(s) => s.clone(),
            V::Unknown(_) => return Value::new(V::Unknown(Ty::String), span),
            V::Error => return Value::new(V::Error, span),
            _ => {
                self.err(
                    "kumori-wrong-arguments",
                    arg.span,
                    "`io.Open` takes a path string".into(),
                    "not a string",
                    "write `io.Open(\"file.txt\")`, relative to this .kumori file",
                );
                return Value::new(V::Error, span);
            }
        };
        let file_path = self.path(span).to_owned();
        let module_dir = self
            .prog
            .file(span.file)
            .package
            .map(|p| self.prog.modules[self.prog.packages[p].module].dir.clone())
            .unwrap_or_default();
        let escape = |this: &mut Self, why: &str| {
            this.err(
                "kumori-io-escape",
                arg.span,
                format!("`io.Open(\"{rel}\")` reads outside the module: {why}"),
                "outside the module",
                "files read by a component must be inside its module folder (no `..` past it, no absolute paths, no links out)",
            );
            Value::new(V::Error, span)
        };
        let joined = match source::join(source::parent(&file_path), &rel) {
            Ok(j) => j,
            Err(_) => return escape(self, "the path leaves the repository"),
        };
        let inside = module_dir.is_empty() || joined.starts_with(&format!("{module_dir}/"));
        if !inside {
            return escape(self, &format!("it resolves to `{joined}`"));
        }
        match self.tree.read(&joined) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Value::new(V::Str(text), span),
                Err(_) => {
                    self.err(
                        "kumori-io-not-text",
                        arg.span,
                        format!("`{joined}` is not UTF-8 text"),
                        "binary file",
                        "`io.Open` reads text files",
                    );
                    Value::new(V::Error, span)
                }
            },
            Err(SourceError::OutsideRoot { .. }) => escape(self, "a symbolic link leads out"),
            Err(e) => {
                self.err(
                    "kumori-io-not-found",
                    arg.span,
                    format!("`io.Open` cannot read `{joined}`: {e}"),
                    "cannot read this file",
                    "the path is relative to the .kumori file that calls `io.Open`",
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn concat(&mut self, args: &'a [Expr], span: Span) -> Value {
        let Some(arg) = self.one_arg(args, span, "strconv.Concat") else {
            return Value::new(V::Error, span);
        };
        let V::List(items) = &arg.kind else {
            if matches!(arg.kind, V::Unknown(_) | V::Error) {
                return Value::new(V::Unknown(Ty::String), span);
            }
            self.err(
                "kumori-wrong-arguments",
                arg.span,
                "`strconv.Concat` takes a list of strings".into(),
                "not a list",
                "write `strconv.Concat([\"a\", interface.config.b])`",
            );
            return Value::new(V::Error, span);
        };
        let mut out = String::new();
        let mut unknown = false;
        for item in items {
            match &item.kind {
                V::Str(s) => out.push_str(s),
                V::Unknown(_) | V::Error => unknown = true,
                _ => {
                    self.err(
                        "kumori-wrong-arguments",
                        item.span,
                        "`strconv.Concat` joins strings only".into(),
                        "not a string",
                        "convert it first: `string(x)`",
                    );
                    unknown = true;
                }
            }
        }
        if unknown {
            return Value::new(V::Unknown(Ty::String), span);
        }
        Value::new(V::Str(out), span)
    }

    fn format(&mut self, args: &'a [Expr], span: Span) -> Value {
        if args.len() != 2 {
            self.err(
                "kumori-wrong-arguments",
                span,
                format!(
                    "`strconv.Format` takes a number and a base, {} arguments given",
                    args.len()
                ),
                "wrong number of arguments",
                "write `strconv.Format(255, 16)`",
            );
            return Value::new(V::Error, span);
        }
        let n = self.eval(&args[0]);
        let base = self.eval(&args[1]);
        let (Some(n), Some(b)) = (n.as_num(), base.as_num()) else {
            if n.has_unknown() || base.has_unknown() {
                return Value::new(V::Unknown(Ty::String), span);
            }
            self.err(
                "kumori-wrong-arguments",
                span,
                "`strconv.Format` takes a number and a base".into(),
                "not numbers",
                "write `strconv.Format(255, 16)`",
            );
            return Value::new(V::Error, span);
        };
        if b.fract() != 0.0 || !(2.0..=36.0).contains(&b) {
            self.err(
                "kumori-wrong-arguments",
                base.span,
                format!("base {} is not between 2 and 36", number_text(b)),
                "invalid base",
                "",
            );
            return Value::new(V::Error, span);
        }
        if n.fract() != 0.0 || n.abs() >= 9.007_199_254_740_992e15 {
            if b == 10.0 {
                return Value::new(V::Str(number_text(n)), span);
            }
            self.err(
                "kumori-wrong-arguments",
                args[0].span,
                format!(
                    "{} is not an integer: only base 10 formats fractions",
                    number_text(n)
                ),
                "not an integer",
                "",
            );
            return Value::new(V::Error, span);
        }
        Value::new(V::Str(radix(n as i64, b as u32)), span)
    }
}

fn radix(n: i64, base: u32) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    let mut m = n.unsigned_abs();
    while m > 0 {
        digits
            .push(std::char::from_digit((m % base as u64) as u32, base).expect("digit below base"));
        m /= base as u64;
    }
    if n < 0 {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_radix() {
        assert_eq!(number_text(8080.0), "8080");
        assert_eq!(number_text(0.25), "0.25");
        assert_eq!(radix(255, 16), "ff");
        assert_eq!(radix(-8, 2), "-1000");
        assert_eq!(radix(0, 8), "0");
    }
}
