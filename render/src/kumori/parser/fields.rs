//! Blocks and fields: `{ ... }` with fields in both forms (`name value`, `name: Type = default`,
//! `name?: Type`), separated by line breaks or commas, and `var` blocks among them.

use super::{ITEM_KEYWORDS, Parser};
use crate::kumori::ast::{Block, Expr, ExprKind, Field, Name, Span, VarBinding};
use crate::kumori::lexer::TokenKind;

impl Parser<'_> {
    pub(super) fn braced_block(&mut self) -> Block {
        let open = self.span();
        self.bump();
        self.depth += 1;
        let (fields, vars) = if self.depth > self.max_depth {
            self.too_deep(open, true);
            (Vec::new(), Vec::new())
        } else {
            self.fields(TokenKind::RBrace, false)
        };
        self.depth -= 1;
        let end = self.span();
        if self.eat(TokenKind::RBrace).is_none() {
            self.unclosed(open, "`{`");
        }
        Block {
            fields,
            vars,
            span: open.to(end),
        }
    }

    /// Fields up to `closing` (not consumed). At file level (`top`), a line that starts with a
    /// top-level keyword ends the fields too.
    pub(super) fn fields(
        &mut self,
        closing: TokenKind,
        top: bool,
    ) -> (Vec<Field>, Vec<VarBinding>) {
        let mut fields = Vec::new();
        let mut vars = Vec::new();
        loop {
            while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                self.bump();
            }
            let k = self.kind();
            if k == closing || k == TokenKind::Eof {
                break;
            }
            if top
                && k == TokenKind::Ident
                && ITEM_KEYWORDS.contains(&self.peek().text.as_str())
                && self.peek().text != "var"
                && matches!(self.nth_kind(1), TokenKind::Ident | TokenKind::Str)
            {
                break;
            }
            if matches!(
                k,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen
            ) {
                let span = self.span();
                let message = format!("unexpected {}", k.describe());
                let opening = match k {
                    TokenKind::RBrace => "`{`",
                    TokenKind::RBracket => "`[`",
                    _ => "`(`",
                };
                let help = format!("remove it, or add the {opening} it closes");
                self.error(
                    "kumori-syntax",
                    span,
                    message,
                    "nothing opens this here",
                    &help,
                );
                self.bump();
                continue;
            }
            let start = self.pos;
            if self.at_ident("var")
                && matches!(self.nth_kind(1), TokenKind::LParen | TokenKind::Ident)
            {
                self.bump();
                vars.extend(self.var_bindings());
            } else if let Some(f) = self.field() {
                fields.push(f);
            }
            self.end_of_entry(closing);
            if self.pos == start {
                self.bump();
            }
        }
        (fields, vars)
    }

    fn field(&mut self) -> Option<Field> {
        let (key, quoted) = match self.kind() {
            TokenKind::Ident => {
                let t = self.bump();
                (
                    Name {
                        text: t.text,
                        span: Span::new(self.file, t.span),
                    },
                    false,
                )
            }
            TokenKind::Str => {
                let t = self.bump();
                (
                    Name {
                        text: t.text,
                        span: Span::new(self.file, t.span),
                    },
                    true,
                )
            }
            _ => {
                self.expected("a field name");
                self.recover();
                return None;
            }
        };
        let optional = self.eat(TokenKind::Question);
        let colon = self.eat(TokenKind::Colon);
        if colon.is_none()
            && let Some(eq) = self.eat(TokenKind::Eq)
        {
            let message = format!("unexpected `=` after field `{}`", key.text);
            self.error(
                "kumori-syntax",
                eq,
                message,
                "not needed",
                "fields are written `name value`; `name: Type = default` declares a default",
            );
        }
        if matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Comma | TokenKind::RBrace | TokenKind::Eof
        ) {
            let message = format!("field `{}` has no value", key.text);
            self.error(
                "kumori-missing-value",
                key.span,
                message,
                "this field",
                "write the value after the name on the same line, as in `name \"value\"` or \
                 `name: Type`",
            );
            return Some(Field {
                span: key.span,
                value: Expr {
                    kind: ExprKind::Error,
                    span: key.span,
                },
                key,
                quoted,
                optional,
                colon,
                default: None,
            });
        }
        let value = self.expr();
        let default = if self.eat(TokenKind::Eq).is_some() {
            Some(self.expr())
        } else {
            None
        };
        let end = default.as_ref().map_or(value.span, |d| d.span);
        Some(Field {
            span: key.span.to(end),
            key,
            quoted,
            optional,
            colon,
            value,
            default,
        })
    }
}
