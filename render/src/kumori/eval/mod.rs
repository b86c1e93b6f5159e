//! The evaluator: expressions into [`Value`]s. References (`interface.`, `self.`, `var.`) are
//! evaluated lazily and memoized, with cycle detection; config and resource values come from the
//! binding (YAML), a kdsl deployment, or the interface's defaults. Values not known yet (a config
//! without default when only checking a module) are [`V::Unknown`] with their declared type, so
//! that the checker can still check them statically.
//!
//! This module holds the evaluator and the evaluation of literals and blocks; the rest is in
//! one module per idea: [`value`] (what evaluation yields), [`json`] (its canonical JSON),
//! [`reference`] (`interface.`, `self.` and `var.` paths), [`from_yaml`] (values given in the
//! YAML of a binding) and [`builtins`] (calls: `string`, `io.Open`, `strconv.*`, constructors).

mod builtins;
mod from_yaml;
mod json;
mod reference;
mod value;

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::source::SourceTree;
use crate::yaml;

use super::ast::{self, Block, Expr, ExprKind, FileId, Name, Span, VarBinding};
use super::module::Program;
use super::types::{Known, Ty, TypeEnv};

pub use json::{number_text, to_json};
pub use value::{Num, V, Value};

/// A declared config or resource of a component.
#[derive(Clone, Debug)]
pub struct Declared<'a> {
    /// Its name, where it is declared.
    pub name: &'a Name,
    /// Its declared type.
    pub ty: Ty,
    /// The value used when none is given; `None`: a value is required (or it is optional).
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
    /// Every loaded file, for paths and imports.
    pub prog: &'a Program,
    /// The types of the program, to convert and check values.
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
        let d = Diagnostic::error(code, message)
            .at(self.path(span), span.range(), label)
            .help(help);
        self.diags.push(d);
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
                let d = Diagnostic::duplicate(
                    "kumori-duplicate-field",
                    format!("field `{}` is given twice", f.key.text),
                    "given",
                    (self.path(f.key.span), f.key.span.range()),
                    (self.path(first.span), first.span.range()),
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
}
