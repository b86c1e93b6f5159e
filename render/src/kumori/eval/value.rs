//! Evaluated values: [`Value`] (a [`V`] and the span that produced it) and [`Num`], with the
//! accessors the checker and the renderer read them through.

use crate::kumori::ast::{Name, Span};
use crate::kumori::lexer::Unit;
use crate::kumori::types::{DeclId, Ty};

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
    /// What was evaluated.
    pub kind: V,
    /// Where it comes from (for a reference: the reference).
    pub span: Span,
    /// How big it is, computed from its parts when it is made, so that the evaluator can
    /// refuse a value over the limits before it is copied again.
    pub size: Size,
}

/// The size of a value: every quantity the limits bound, for the value with all it holds.
/// References share memoized values, so a few lines can name a value twice, four times, ...
/// (`[var.a, var.a]`): sizes add up as the copies do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// Nesting: 1 for a scalar, one more than its deepest part for a list, struct or named
    /// value.
    pub depth: usize,
    /// Values it holds, itself included (the items of nested lists and structs count too).
    pub items: usize,
    /// Bytes of all its strings.
    pub bytes: usize,
}

impl Size {
    /// The size of a value of `kind`, from the sizes of its parts.
    pub fn of(kind: &V) -> Size {
        let scalar = Size {
            depth: 1,
            items: 1,
            bytes: 0,
        };
        let parts = |values: &mut dyn Iterator<Item = &Value>| {
            values.fold(scalar, |acc, v| Size {
                depth: acc.depth.max(v.size.depth.saturating_add(1)),
                items: acc.items.saturating_add(v.size.items),
                bytes: acc.bytes.saturating_add(v.size.bytes),
            })
        };
        match kind {
            V::Str(s) => Size {
                bytes: s.len(),
                ..scalar
            },
            V::List(items) => parts(&mut items.iter()),
            V::Struct(fields) => parts(&mut fields.iter().map(|(_, v)| v)),
            V::Named(_, inner) => parts(&mut std::iter::once(&**inner)),
            V::Bool(_) | V::Num(_) | V::Unknown(_) | V::Error => scalar,
        }
    }
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
    /// A list, items in order.
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
        Value {
            size: Size::of(&kind),
            kind,
            span,
        }
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
