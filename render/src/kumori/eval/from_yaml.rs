//! Values given in the YAML of a binding, converted against the declared type: sizes from
//! strings (`512Mi`), values of distinct types (`Secret: db-password`), inline volumes
//! (`{ volatile: 10Gi }`).

use crate::yaml;

use super::{Evaluator, Num, V, Value};
use crate::kumori::ast::{DeclKind, FileId, Name, Span};
use crate::kumori::check::Checker;
use crate::kumori::lexer::Unit;
use crate::kumori::types::{DeclId, Ty};

impl Evaluator<'_> {
    /// Converts a YAML value given for a declaration of type `ty`. Strings become sizes where
    /// a size is expected, and values of distinct types where one is declared (`Secret:
    /// db-password` for a `kumori.Secret`); inline volumes are written `{ volatile: 10Gi }`.
    pub fn from_yaml(&mut self, node: &yaml::Node, file: FileId, ty: &Ty) -> Value {
        let typed = match self.env.expand(ty) {
            Ty::Decl(id) => self.decl_from_yaml(node, file, *id),
            Ty::Union(_) => self.union_from_yaml(node, file, ty),
            _ => None,
        };
        typed.unwrap_or_else(|| self.plain_from_yaml(node, file, ty))
    }

    /// A value of the declared type `id`: a size from a string, or a value of a distinct type
    /// from its underlying value. `None` for other declarations (aliases), and for a size that
    /// is written as plain YAML, which [`Self::plain_from_yaml`] reads.
    fn decl_from_yaml(&mut self, node: &yaml::Node, file: FileId, id: DeclId) -> Option<Value> {
        let span = Span::new(file, node.span.clone());
        let (known, env) = (self.known, self.env);
        if [known.ram, known.cpu, known.bandwidth, known.storage].contains(&id) {
            return self.yaml_size(node, span);
        }
        if env.decls[id].kind != DeclKind::Type {
            return None;
        }
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
        Some(Value::new(V::Named(id, Box::new(inner)), span))
    }

    /// A value of a union: `{ volatile: 10Gi }` (a one-key mapping naming a distinct type of
    /// the union), or else the first alternative that accepts it without a diagnostic.
    fn union_from_yaml(&mut self, node: &yaml::Node, file: FileId, ty: &Ty) -> Option<Value> {
        let span = Span::new(file, node.span.clone());
        let env = self.env;
        let alts: Vec<Ty> = env.alternatives(ty).into_iter().cloned().collect();
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
                        return Some(Value::new(V::Named(*id, Box::new(inner)), span));
                    }
                }
            }
        }
        for a in &alts {
            let saved = self.diags.len();
            let v = self.from_yaml(node, file, a);
            let mut checker = Checker::new(self.prog, self.env, self.known);
            checker.check(&v, a, "value");
            if self.diags.len() == saved && checker.diags.is_empty() {
                return Some(v);
            }
            self.diags.truncate(saved);
        }
        None
    }

    /// YAML as plain data: scalars as they are, sequences and mappings converted item by item
    /// against the element and field types of `ty`. `null` is reported.
    fn plain_from_yaml(&mut self, node: &yaml::Node, file: FileId, ty: &Ty) -> Value {
        let span = Span::new(file, node.span.clone());
        let env = self.env;
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
}
