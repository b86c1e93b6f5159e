//! Config declared as a block of declarations (the tutorial's
//! `config { Greeting { Text: string = "hello"  Copies: number = 1 } }`): a struct whose fields
//! have types and defaults. Its type is lowered here, and the value given for it (by a binding
//! or a deployment) is merged with the defaults field by field.

use crate::diagnostic::Diagnostic;

use super::{Evaluator, V, Value};
use crate::kumori::ast::{Block, ExprKind, Field, Span};
use crate::kumori::module::Program;
use crate::kumori::types::{FieldTy, StructTy, Ty, TypeEnv};

/// Whether a field is written as a declaration (`name: T`, `name?: T`, `name: T = default`).
fn declares(f: &Field) -> bool {
    f.colon.is_some() || f.optional.is_some() || f.default.is_some()
}

/// The block of declarations of a config field written `Name { Field: T = default ... }`: a
/// block (no type, no default) holding at least one declaration, directly or nested.
pub fn nested_declarations(f: &Field) -> Option<&Block> {
    if declares(f) {
        return None;
    }
    match &f.value.kind {
        ExprKind::Struct(b)
            if b.fields
                .iter()
                .any(|g| declares(g) || nested_declarations(g).is_some()) =>
        {
            Some(b)
        }
        _ => None,
    }
}

/// The struct type that a block of declarations declares: `Field: T` as declared, nested
/// blocks as structs, `name value` as `any` (its value is its default). Closed: a value with
/// another field is an error.
pub fn nested_type(
    env: &TypeEnv,
    prog: &Program,
    block: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Ty {
    let mut fields: Vec<FieldTy> = Vec::new();
    for f in &block.fields {
        if fields.iter().any(|g| g.name == f.key.text) {
            continue; // reported where the block's values are evaluated
        }
        let ty = match nested_declarations(f) {
            Some(b) => nested_type(env, prog, b, diags),
            None if declares(f) => env.lower(prog, &f.value, diags),
            None => Ty::Any,
        };
        fields.push(FieldTy {
            name: f.key.text.clone(),
            ty,
            optional: f.optional.is_some(),
            default: None,
            span: f.key.span,
        });
    }
    Ty::Struct(Box::new(StructTy { fields, open: None }))
}

impl<'a> Evaluator<'a> {
    /// The value of a nested config declared by `block` (of type `ty`): each field from `given`
    /// if it has it, else its default, else unknown (reported as missing when rendering);
    /// optional fields without either are left out. Fields the block does not declare are kept,
    /// for the checker to report.
    pub fn merge_nested(
        &mut self,
        block: &'a Block,
        ty: &Ty,
        given: Option<Value>,
        span: Span,
    ) -> Value {
        let st = match self.env.expand(ty) {
            Ty::Struct(st) => st.clone(),
            _ => return given.unwrap_or_else(|| Value::new(V::Error, span)),
        };
        let (mut rest, at) = match given {
            Some(Value {
                kind: V::Struct(fields),
                span,
                ..
            }) => (fields, span),
            // Not a struct: the checker reports it against the declared struct.
            Some(other) => return other,
            None => (Vec::new(), span),
        };
        let mut out = Vec::new();
        for f in &block.fields {
            if out
                .iter()
                .any(|(n, _): &(crate::kumori::ast::Name, Value)| n.text == f.key.text)
            {
                continue;
            }
            let fty = st.field(&f.key.text).map_or(Ty::Any, |g| g.ty.clone());
            let g = rest
                .iter()
                .position(|(n, _)| n.text == f.key.text)
                .map(|i| rest.remove(i).1);
            let v = match nested_declarations(f) {
                Some(b) => Some(self.merge_nested(b, &fty, g, f.key.span)),
                None => match (g, declares(f)) {
                    (Some(g), _) => Some(g),
                    (None, true) => match &f.default {
                        Some(d) => Some(self.eval(d)),
                        None if f.optional.is_some() => None,
                        None => Some(Value::new(V::Unknown(fty), f.key.span)),
                    },
                    (None, false) => Some(self.eval(&f.value)),
                },
            };
            if let Some(v) = v {
                out.push((f.key.clone(), v));
            }
        }
        out.extend(rest);
        let v = Value::new(V::Struct(out), at);
        if !self.within(v.size, at) {
            return Value::new(V::Error, at);
        }
        v
    }
}

/// The first value of `v` not known yet (a nested config field without a value or default):
/// its path below `v` and where it is declared.
pub fn first_unknown(v: &Value) -> Option<(String, Span)> {
    match &v.kind {
        V::Unknown(_) => Some((String::new(), v.span)),
        V::Struct(fields) => fields.iter().find_map(|(n, f)| {
            first_unknown(f).map(|(p, s)| {
                let p = if p.is_empty() {
                    n.text.clone()
                } else {
                    format!("{}.{p}", n.text)
                };
                (p, s)
            })
        }),
        _ => None,
    }
}
