//! The evaluator: expressions into [`Value`]s. References (`interface.`, `self.`, `var.`) are
//! evaluated lazily and memoized, with cycle detection; config and resource values come from the
//! binding (YAML), a kdsl deployment, or the interface's defaults. Values not known yet (a config
//! without default when only checking a module) are [`V::Unknown`] with their declared type, so
//! that the checker can still check them statically.
//!
//! This module holds the evaluator and the evaluation of literals and blocks; the rest is in
//! one module per idea: [`value`] (what evaluation yields), [`json`] (its canonical JSON),
//! `nested` (config declared as a block of declarations), [`reference`] (`interface.`, `self.` and `var.` paths), [`from_yaml`] (values given in the
//! YAML of a binding) and [`builtins`] (calls: `string`, `io.Open`, `strconv.*`, constructors).

mod builtins;
mod from_yaml;
mod json;
mod nested;
mod reference;
mod value;

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::Diagnostic;
use crate::limits::bytes_text;
use crate::source::SourceTree;
use crate::yaml;

use super::ast::{self, Block, Expr, ExprKind, FileId, Name, Span, VarBinding};
use super::module::Program;
use super::types::{Known, Ty, TypeEnv};

pub use json::{number_text, to_json};
pub use nested::{first_unknown, nested_declarations, nested_type};
pub use value::{Num, Size, V, Value};

/// A declared config or resource of a component.
#[derive(Clone, Debug)]
pub struct Declared<'a> {
    /// Its name, where it is declared.
    pub name: &'a Name,
    /// Its declared type.
    pub ty: Ty,
    /// The value used when none is given; `None`: a value is required (or it is optional).
    pub default: Option<&'a Expr>,
    /// For a config declared as a block of declarations (`Greeting { Text: string = "hi" }`),
    /// that block: a given value is merged with its defaults field by field.
    pub nested: Option<&'a Block>,
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
    /// Expressions being evaluated, one inside the other (through references too): bounded so
    /// that the evaluator's recursion stays within a small stack.
    depth: usize,
    /// References being followed, one through the other (`var.a` whose value names `var.b`...).
    refs: usize,
    /// What the memo has copied so far (its values are copied into every place that uses
    /// them, and into the memo of every field around them), bounded by [`COPIES`] times the
    /// limits of one value.
    copied: Size,
}

/// How many times the limits of one value (`listItems`, `stringBytes`) the evaluation of one
/// component may copy in all: components use a small fraction of one.
const COPIES: usize = 16;

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
            depth: 0,
            refs: 0,
            copied: Size::default(),
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
            let size = v.size;
            if !self.copy(size, span) {
                return Value::new(V::Error, span);
            }
            return self.memo[&key].clone();
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
        if !self.copy(v.size, span) {
            self.memo.insert(key, Value::new(V::Error, span));
            return Value::new(V::Error, span);
        }
        self.memo.insert(key, v.clone());
        v
    }

    /// Counts a copy of a value of `size`: whether the copies stay within their budget.
    fn copy(&mut self, size: Size, span: Span) -> bool {
        let limits = self.prog.limits;
        let (items, bytes) = (
            limits.list_items.saturating_mul(COPIES),
            limits.string_bytes.saturating_mul(COPIES),
        );
        let over = self.copied.items > items || self.copied.bytes > bytes;
        self.copied.items = self.copied.items.saturating_add(size.items);
        self.copied.bytes = self.copied.bytes.saturating_add(size.bytes);
        if over {
            // Reported once, where the budget ran out.
            return false;
        }
        if self.copied.items > items || self.copied.bytes > bytes {
            self.err(
                "kumori-too-many-copies",
                span,
                format!(
                    "evaluating this component copies more than {items} values or {} of text",
                    bytes_text(bytes as u64)
                ),
                "one copy too many",
                &format!(
                    "every use of a `var` or `self.` value copies it: a value used in many places \
                     may hold at most {COPIES} times the limits `listItems` and `stringBytes` in \
                     all; use large values fewer times"
                ),
            );
            return false;
        }
        true
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &'a Expr) -> Value {
        // Each expression nests at most `depth` deep (the parser refuses more), but references
        // splice one expression into another: the nesting of both together is bounded here.
        let limits = self.prog.limits;
        let max = limits.depth.saturating_add(limits.references);
        if self.depth >= max {
            self.err(
                "kumori-too-deep",
                e.span,
                format!("evaluation nests deeper than {max} levels"),
                "too deep",
                &format!(
                    "values nested in values through references may nest at most {max} levels \
                     (the limits `depth` and `references` together): name fewer levels"
                ),
            );
            return Value::new(V::Error, e.span);
        }
        self.depth += 1;
        let v = self.eval_inner(e);
        self.depth -= 1;
        v
    }

    /// Whether a value of `size` made at `span` is within the limits; reports it otherwise.
    fn within(&mut self, size: Size, span: Span) -> bool {
        let limits = self.prog.limits;
        if size.depth > limits.depth {
            let max = limits.depth;
            self.err(
                "kumori-too-deep",
                span,
                format!("this value nests deeper than {max} levels"),
                "too deep",
                &format!(
                    "values may nest at most {max} levels (the limit `depth`); references to \
                     values that nest add their levels"
                ),
            );
            return false;
        }
        if size.items > limits.list_items {
            let max = limits.list_items;
            self.err(
                "kumori-list-too-long",
                span,
                format!("this value holds more than {max} items"),
                "too many items",
                &format!(
                    "a value may hold at most {max} items, those of the lists and structs in it \
                     included (the limit `listItems`); a list that names another twice doubles it"
                ),
            );
            return false;
        }
        if size.bytes > limits.string_bytes {
            let max = bytes_text(limits.string_bytes as u64);
            self.err(
                "kumori-string-too-long",
                span,
                format!("this value holds more than {max} of text"),
                "too long",
                &format!(
                    "strings may be at most {max} long, those in a list or struct together (the \
                     limit `stringBytes`); a string joined with itself doubles it"
                ),
            );
            return false;
        }
        true
    }

    /// Adds `part` to the size of a list or struct being built (`sum`): whether it stays within
    /// the limits. Checked item by item, so that an oversized value is refused before the rest
    /// of it is evaluated and copied.
    fn add_within(&mut self, sum: &mut Size, part: Size, span: Span) -> bool {
        sum.depth = sum.depth.max(part.depth.saturating_add(1));
        sum.items = sum.items.saturating_add(part.items);
        sum.bytes = sum.bytes.saturating_add(part.bytes);
        self.within(*sum, span)
    }

    fn eval_inner(&mut self, e: &'a Expr) -> Value {
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
                let mut size = Size::of(&V::List(Vec::new()));
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.eval(item);
                    if !self.add_within(&mut size, v.size, span) {
                        return Value::new(V::Error, span);
                    }
                    values.push(v);
                }
                Value::new(V::List(values), span)
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
        let mut size = Size::of(&V::Struct(Vec::new()));
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
            if !self.add_within(&mut size, v.size, span) {
                return Value::new(V::Error, span);
            }
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
        // The merged sections were made within the limits one by one, not together.
        for (_, v) in &mut fields {
            *v = Value::new(std::mem::replace(&mut v.kind, V::Error), v.span);
        }
        let v = Value::new(V::Struct(fields), span);
        if !self.within(v.size, span) {
            return Value::new(V::Error, span);
        }
        v
    }
}
