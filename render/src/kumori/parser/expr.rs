//! Expressions, values and types alike: strings, numbers, booleans, lists and `[]T`, blocks,
//! `struct { ... }` and `struct open[...]`, paths, calls and unions `A | B`.

use super::{Parser, empty_block};
use crate::kumori::ast::{Expr, ExprKind};
use crate::kumori::lexer::TokenKind;

impl Parser<'_> {
    pub(super) fn expr(&mut self) -> Expr {
        self.union()
    }

    pub(super) fn term(&mut self) -> Expr {
        // A block counts once, in `braced_block`.
        if self.kind() == TokenKind::LBrace {
            return self.term_inner();
        }
        self.depth += 1;
        let e = if self.depth > self.max_depth {
            let span = self.span();
            self.too_deep(span, false);
            Expr {
                kind: ExprKind::Error,
                span,
            }
        } else {
            self.term_inner()
        };
        self.depth -= 1;
        e
    }

    fn union(&mut self) -> Expr {
        let first = self.term();
        if self.kind() != TokenKind::Pipe {
            return first;
        }
        let mut alts = vec![first];
        while self.eat(TokenKind::Pipe).is_some() {
            // A union may continue on the next line after `|`.
            self.skip_newlines();
            alts.push(self.term());
        }
        let span = alts[0].span.to(alts[alts.len() - 1].span);
        Expr {
            kind: ExprKind::Union(alts),
            span,
        }
    }

    fn term_inner(&mut self) -> Expr {
        let start = self.span();
        match self.kind() {
            TokenKind::Str => {
                let t = self.bump();
                Expr {
                    kind: ExprKind::Str(t.text),
                    span: start,
                }
            }
            TokenKind::Num => {
                let t = self.bump();
                Expr {
                    kind: ExprKind::Num(t.number.expect("number tokens carry a value")),
                    span: start,
                }
            }
            TokenKind::LBrace => {
                let b = self.braced_block();
                Expr {
                    span: b.span,
                    kind: ExprKind::Struct(b),
                }
            }
            TokenKind::LBracket => self.list(),
            TokenKind::Ident => match self.peek().text.as_str() {
                "true" | "false" => {
                    let t = self.bump();
                    Expr {
                        kind: ExprKind::Bool(t.text == "true"),
                        span: start,
                    }
                }
                "struct" if self.nth_kind(1) != TokenKind::Dot => self.struct_type(),
                _ => self.path_or_call(),
            },
            _ => {
                self.expected("a value or a type");
                if !matches!(
                    self.kind(),
                    TokenKind::Newline
                        | TokenKind::Comma
                        | TokenKind::RBrace
                        | TokenKind::RBracket
                        | TokenKind::RParen
                        | TokenKind::Eof
                ) {
                    self.bump();
                }
                Expr {
                    kind: ExprKind::Error,
                    span: start,
                }
            }
        }
    }

    fn list(&mut self) -> Expr {
        let open = self.span();
        self.bump();
        if self.kind() == TokenKind::RBracket {
            let close = self.span();
            self.bump();
            // `[]T` is a list type; `[]` followed by a separator is an empty list.
            if matches!(
                self.kind(),
                TokenKind::Ident | TokenKind::LBracket | TokenKind::Str
            ) && !self.at_ident("true")
                && !self.at_ident("false")
            {
                let elem = self.term();
                let span = open.to(elem.span);
                return Expr {
                    kind: ExprKind::ListType(Box::new(elem)),
                    span,
                };
            }
            return Expr {
                kind: ExprKind::List(Vec::new()),
                span: open.to(close),
            };
        }
        let mut items = Vec::new();
        loop {
            while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                self.bump();
            }
            match self.kind() {
                TokenKind::RBracket => break,
                TokenKind::Eof | TokenKind::RBrace | TokenKind::RParen => {
                    self.unclosed(open, "`[`");
                    let span = open.to(self.prev_span());
                    return Expr {
                        kind: ExprKind::List(items),
                        span,
                    };
                }
                _ => {
                    let start = self.pos;
                    items.push(self.expr());
                    self.end_of_entry(TokenKind::RBracket);
                    if self.pos == start {
                        self.bump();
                    }
                }
            }
        }
        let close = self.span();
        self.bump();
        Expr {
            kind: ExprKind::List(items),
            span: open.to(close),
        }
    }

    fn struct_type(&mut self) -> Expr {
        let kw = self.span();
        self.bump();
        let mut open = None;
        let mut end = kw;
        if self.at_ident("open") {
            self.bump();
            let bracket = self.span();
            if self.eat(TokenKind::LBracket).is_some() {
                if self.kind() == TokenKind::RBracket {
                    open = Some(None);
                } else {
                    open = Some(Some(Box::new(self.expr())));
                }
                end = self.span();
                if self.eat(TokenKind::RBracket).is_none() {
                    self.unclosed(bracket, "`open[`");
                }
            } else {
                self.expected("`[` after `open`");
                open = Some(None);
            }
        }
        let fields = if self.kind() == TokenKind::LBrace {
            let b = self.braced_block();
            end = b.span;
            b
        } else {
            if open.is_none() {
                self.expected("`{` or `open[...]` after `struct`");
            }
            empty_block(end)
        };
        Expr {
            kind: ExprKind::StructType { open, fields },
            span: kw.to(end),
        }
    }

    fn path_or_call(&mut self) -> Expr {
        let mut path = Vec::new();
        if let Some(n) = self.name("a name") {
            path.push(n);
        }
        while self.kind() == TokenKind::Dot {
            self.bump();
            match self.name("a name after `.`") {
                Some(n) => path.push(n),
                None => break,
            }
        }
        let first = path[0].span;
        let mut span = first.to(path[path.len() - 1].span);
        if self.kind() == TokenKind::LParen {
            let open = self.span();
            self.bump();
            let mut args = Vec::new();
            loop {
                while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                    self.bump();
                }
                match self.kind() {
                    TokenKind::RParen => {
                        span = span.to(self.span());
                        self.bump();
                        break;
                    }
                    TokenKind::Eof | TokenKind::RBrace | TokenKind::RBracket => {
                        self.unclosed(open, "`(`");
                        break;
                    }
                    _ => {
                        let start = self.pos;
                        let a = self.expr();
                        span = span.to(a.span);
                        args.push(a);
                        self.end_of_entry(TokenKind::RParen);
                        if self.pos == start {
                            self.bump();
                        }
                    }
                }
            }
            return Expr {
                kind: ExprKind::Call { callee: path, args },
                span,
            };
        }
        Expr {
            kind: ExprKind::Path(path),
            span,
        }
    }
}
