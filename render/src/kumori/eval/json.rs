//! Canonical JSON of a [`Value`]: the form the `kumori.vimana.host/rendered` annotation holds
//! and its digest is computed over, so it must not change for equal values.

use std::fmt::Write as _;

use super::value::{V, Value};
use crate::kumori::ast::Name;
use crate::kumori::types::TypeEnv;

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
