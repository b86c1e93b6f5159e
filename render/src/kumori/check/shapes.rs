//! Shapes that the generic checker would report only as "must be T, found U": a channel
//! protocol that is not one of the library's, a client channel written with a port, and init
//! containers written with identifiers. Each gets its own message naming the cause and the form
//! to write instead.

use super::{Checker, Cx};
use crate::kumori::eval::{V, Value};
use crate::kumori::types::{DeclId, Ty};

impl Checker<'_> {
    /// Checks `v` against the channel declarations of the library (`kumori.Channel`,
    /// `kumori.Client`) when its shape has a message of its own. Whether it was handled.
    pub(super) fn channel_shape(&mut self, v: &Value, id: DeclId, cx: &Cx) -> bool {
        let k = self.known;
        if id == k.channel
            && let V::Str(s) = &v.kind
        {
            let allowed = self.protocols();
            if !allowed.iter().any(|p| p == s) {
                let list = allowed
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(
                    "kumori-invalid-protocol",
                    v.span,
                    format!("{} is not a channel protocol: found {s:?}", cx.what()),
                    "unknown protocol".into(),
                    format!("a channel's protocol is one of {list} (kumori.Channel)"),
                );
            }
            return true;
        }
        if id == k.client && matches!(v.kind, V::Struct(_)) {
            self.push(
                "kumori-type-mismatch",
                v.span,
                format!(
                    "client channel {} names only its protocol, found a struct",
                    cx.what()
                ),
                "expected a protocol".into(),
                "write `NAME \"tcp\"` (kumori.Client is kumori.Channel): a client has no port of \
                 its own; ports are given on server and duplex channels"
                    .into(),
            );
            return true;
        }
        false
    }

    /// The protocols `kumori.Channel` allows, as the library declares them.
    fn protocols(&self) -> Vec<String> {
        let decl = &self.env.decls[self.known.channel];
        self.env
            .alternatives(&decl.ty)
            .into_iter()
            .filter_map(|t| match t {
                Ty::Lit(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Reports `init` written as a struct of named containers (`init { Setup { ... } }`).
    /// Whether it was.
    pub(super) fn named_init(&mut self, name: &str, v: &Value, cx: &Cx) -> bool {
        if name != "init" || cx.alias != Some(self.known.component) {
            return false;
        }
        let V::Struct(fields) = &v.kind else {
            return false;
        };
        let (span, label, first) = match fields.first() {
            Some((n, _)) => (n.span, "an identifier", n.text.as_str()),
            None => (v.span, "a block", ""),
        };
        let named = if first.is_empty() {
            String::new()
        } else {
            format!(" (`{first}` names one)")
        };
        self.push(
            "kumori-named-init",
            span,
            format!("init containers are a list and take no identifier{named}"),
            label.into(),
            "write `init [{ image \"...\" size { memory ... cpu ... } }, { ... }]`: init containers \
             run in the order listed; named containers go in `code`"
                .into(),
        );
        true
    }
}
