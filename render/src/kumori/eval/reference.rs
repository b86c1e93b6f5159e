//! References: `interface.config.NAME`, `interface.resource.NAME`, `interface.srv...`,
//! `self.FIELD...` and `var.NAME`, each evaluated once through the memo, and the values of
//! declared config and resources (given, default, or unknown).

use super::{Declared, Evaluator, Given, Key, V, Value};
use crate::diagnostic::{closest, did_you_mean};
use crate::kumori::ast::{ExprKind, Name, Span, path_text};
use crate::kumori::check::Checker;
use crate::kumori::types::Ty;

impl<'a> Evaluator<'a> {
    pub(super) fn reference(&mut self, path: &'a [Name], span: Span) -> Value {
        let max = self.prog.limits.references;
        if self.refs >= max {
            self.chain_too_long(path, span, max);
            return Value::new(V::Error, span);
        }
        self.refs += 1;
        let v = self.reference_inner(path, span);
        self.refs -= 1;
        v
    }

    /// Reports a reference at the end of a chain longer than `max`.
    fn chain_too_long(&mut self, path: &[Name], span: Span, max: usize) {
        let mut names: Vec<&str> = self.active.iter().map(|(_, w)| w.as_str()).collect();
        if names.len() > 6 {
            names.drain(3..names.len() - 2);
            names.insert(3, "...");
        }
        let message = format!(
            "a chain of more than {max} references: {} -> {}",
            names.join(" -> "),
            path_text(path)
        );
        self.err(
            "kumori-reference-chain",
            span,
            message,
            "one reference too many",
            &format!(
                "a reference may lead through at most {max} others (the limit `references`): \
                 write the value where the chain is long, or shorten it"
            ),
        );
    }

    fn reference_inner(&mut self, path: &'a [Name], span: Span) -> Value {
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
                    let suggestion = closest(&name.text, candidates.iter().copied());
                    let help = did_you_mean(suggestion, || {
                        if candidates.is_empty() {
                            format!("the interface declares no {}", section.text)
                        } else {
                            format!("declared: {}", candidates.join(", "))
                        }
                    });
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
                V::Struct(mut fields) => {
                    match fields.iter().position(|(k, _)| k.text == seg.text) {
                        Some(at) => fields.swap_remove(at).1,
                        None => {
                            let names: Vec<&str> =
                                fields.iter().map(|(k, _)| k.text.as_str()).collect();
                            self.err(
                                "kumori-unresolved-reference",
                                seg.span,
                                format!("`{}` has no field `{}`", so_far(), seg.text),
                                "no such field",
                                &field_help(&seg.text, &names),
                            );
                            return Value::new(V::Error, span);
                        }
                    }
                }
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
                                    let names: Vec<&str> =
                                        st.fields.iter().map(|f| f.name.as_str()).collect();
                                    self.err(
                                        "kumori-unresolved-reference",
                                        seg.span,
                                        format!("`{}` has no field `{}`", so_far(), seg.text),
                                        "no such field",
                                        &field_help(&seg.text, &names),
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
                                &format!("end the reference at `{}`", so_far()),
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
                        &format!("end the reference at `{}`", so_far()),
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
                "write the value itself here, or refer to `var.NAME`",
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
                let help = field_help(&seg.text, &candidates);
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
            let help = did_you_mean(closest(&name.text, candidates), || {
                "declare it in a `var ( NAME = value )` block".into()
            });
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
        let v = match (given, decl.nested) {
            (given, Some(block)) => {
                let given = given.map(|g| match g {
                    Given::Yaml(node, file) => self.from_yaml(node, file, &decl.ty),
                    Given::Expr(e) => self.eval(e),
                });
                self.merge_nested(block, &decl.ty, given, decl.name.span)
            }
            (Some(Given::Yaml(node, file)), None) => self.from_yaml(node, file, &decl.ty),
            (Some(Given::Expr(e)), None) => self.eval(e),
            (None, None) => match decl.default {
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
}

/// The help line for a field `name` that a struct with the fields `fields` does not have.
fn field_help(name: &str, fields: &[&str]) -> String {
    did_you_mean(closest(name, fields.iter().copied()), || {
        if fields.is_empty() {
            "it has no fields".into()
        } else {
            format!("its fields are: {}", fields.join(", "))
        }
    })
}
