//! Top-level declarations: `package`, `import`, `library`, `alias` and `type`, `component`,
//! `deployment`, `service` and `var`.

use crate::diagnostic::Diagnostic;

use super::{Parser, empty_block};
use crate::kumori::ast::{
    Block, Component, DeclKind, Deployment, Expr, ExprKind, File, Import, Item, Name, Service,
    Span, TypeDecl, VarBinding,
};
use crate::kumori::lexer::TokenKind;

impl Parser<'_> {
    pub(super) fn file(&mut self) -> File {
        let mut file = File {
            package: None,
            imports: Vec::new(),
            library: None,
            items: Vec::new(),
        };
        loop {
            while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                self.bump();
            }
            if self.kind() == TokenKind::Eof {
                break;
            }
            let start = self.pos;
            self.item(&mut file);
            if self.pos == start {
                // Nothing was understood: skip the token so that parsing always progresses.
                self.bump();
            }
        }
        file
    }

    fn item(&mut self, file: &mut File) {
        if self.kind() != TokenKind::Ident {
            if self.kind() == TokenKind::RBrace {
                let span = self.span();
                self.error(
                    "kumori-syntax",
                    span,
                    "unmatched `}`".into(),
                    "no `{` opens this",
                    "remove it, or add the `{` it closes",
                );
                self.bump();
                return;
            }
            self.expected("a declaration (`component`, `deployment`, `import`, `alias`, ...)");
            self.recover();
            return;
        }
        let keyword = self.peek().text.clone();
        let kw_span = self.span();
        match keyword.as_str() {
            "package" => self.package_line(file, kw_span),
            "import" => {
                self.bump();
                self.imports(&mut file.imports);
                self.end_of_entry(TokenKind::Eof);
            }
            "library" => self.library(file, kw_span),
            "alias" | "type" => {
                let d = self.type_decl();
                file.items.push(Item::TypeDecl(d));
            }
            "component" => {
                let c = self.component();
                file.items.push(Item::Component(c));
            }
            "deployment" => {
                let d = self.deployment(kw_span);
                file.items.push(Item::Deployment(d));
            }
            "service" => {
                let s = self.service(kw_span);
                file.items.push(Item::Service(s));
            }
            "var" => {
                self.bump();
                let vars = self.var_bindings();
                file.items.push(Item::Vars(vars));
                self.end_of_entry(TokenKind::Eof);
            }
            _ => {
                let message = format!(
                    "expected a declaration (`component`, `deployment`, `import`, `alias`, ...), found `{keyword}`"
                );
                self.error(
                    "kumori-syntax",
                    kw_span,
                    message,
                    "not a declaration",
                    "a field outside a component needs an unscoped `component NAME` line above it, \
                     or braces: `component NAME { ... }`",
                );
                self.bump();
                self.recover();
            }
        }
    }

    /// `package NAME`; a second one in the same file is reported.
    fn package_line(&mut self, file: &mut File, kw_span: Span) {
        self.bump();
        if let Some(name) = self.name("a package name") {
            if let Some(first) = &file.package {
                self.diagnostics.push(
                    Diagnostic::error("kumori-syntax", "a file has one `package` line")
                        .at(self.path, kw_span.to(name.span).range(), "second package")
                        .also(self.path, first.span.range(), "first declared here")
                        .help("remove one of the two lines; a file belongs to one package"),
                );
            } else {
                file.package = Some(name);
            }
        }
        self.end_of_entry(TokenKind::Eof);
    }

    /// `library`, alone (the declarations of the file follow) or with its declarations in
    /// braces.
    fn library(&mut self, file: &mut File, kw_span: Span) {
        self.bump();
        file.library = Some(kw_span);
        if self.kind() == TokenKind::LBrace {
            let open = self.span();
            self.bump();
            loop {
                while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                    self.bump();
                }
                match self.kind() {
                    TokenKind::RBrace => {
                        self.bump();
                        break;
                    }
                    TokenKind::Eof => {
                        self.unclosed(open, "library");
                        break;
                    }
                    _ => {
                        let start = self.pos;
                        if self.at_ident("alias") || self.at_ident("type") {
                            let d = self.type_decl();
                            file.items.push(Item::TypeDecl(d));
                        } else {
                            self.expected("`alias` or `type`");
                            self.recover();
                        }
                        if self.pos == start {
                            self.bump();
                        }
                    }
                }
            }
        }
        self.end_of_entry(TokenKind::Eof);
    }

    /// `deployment [NAME] { ... }`.
    fn deployment(&mut self, kw_span: Span) -> Deployment {
        self.bump();
        let name = if self.kind() == TokenKind::Ident {
            self.name("a deployment name")
        } else {
            None
        };
        let span = name.as_ref().map_or(kw_span, |n| kw_span.to(n.span));
        let body = if self.kind() == TokenKind::LBrace {
            self.braced_block()
        } else {
            self.expected("`{` to open the deployment");
            self.recover();
            empty_block(span)
        };
        self.end_of_entry(TokenKind::Eof);
        Deployment { name, body, span }
    }

    /// `service [NAME] [{ ... }]`: only its name is kept.
    fn service(&mut self, kw_span: Span) -> Service {
        self.bump();
        let name = if self.kind() == TokenKind::Ident {
            self.name("a service name")
        } else {
            None
        };
        let span = name.as_ref().map_or(kw_span, |n| kw_span.to(n.span));
        if self.kind() == TokenKind::LBrace {
            self.braced_block();
        }
        self.end_of_entry(TokenKind::Eof);
        Service { name, span }
    }

    fn imports(&mut self, out: &mut Vec<Import>) {
        if self.kind() == TokenKind::LParen {
            out.extend(self.group("import group", Self::import_spec));
        } else if let Some(i) = self.import_spec() {
            out.push(i);
        }
    }

    /// The entries of a parenthesized group, separated by newlines or commas, from its `(` to
    /// its `)`; an unclosed group is reported as `what`. An entry that does not parse is skipped
    /// to its end, so the group always makes progress.
    fn group<T>(&mut self, what: &str, mut entry: impl FnMut(&mut Self) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        let open = self.span();
        self.bump();
        loop {
            while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                self.bump();
            }
            match self.kind() {
                TokenKind::RParen => {
                    self.bump();
                    return out;
                }
                TokenKind::Eof => {
                    self.unclosed(open, what);
                    return out;
                }
                _ => {
                    let start = self.pos;
                    if let Some(e) = entry(self) {
                        out.push(e);
                    }
                    self.end_of_entry(TokenKind::RParen);
                    if self.pos == start {
                        self.bump();
                    }
                }
            }
        }
    }

    fn import_spec(&mut self) -> Option<Import> {
        let alias = if self.kind() == TokenKind::Ident {
            self.name("an alias")
        } else {
            None
        };
        if self.kind() == TokenKind::Str {
            let t = self.bump();
            Some(Import {
                alias,
                path: t.text,
                span: Span::new(self.file, t.span),
            })
        } else {
            self.expected("an import path in double quotes");
            self.recover();
            None
        }
    }

    fn type_decl(&mut self) -> TypeDecl {
        let kw = self.bump();
        let kind = if kw.text == "alias" {
            DeclKind::Alias
        } else {
            DeclKind::Type
        };
        let kw_span = Span::new(self.file, kw.span);
        let Some(name) = self.name("a type name") else {
            self.recover();
            return TypeDecl {
                kind,
                name: Name {
                    text: String::new(),
                    span: kw_span,
                },
                ty: Expr {
                    kind: ExprKind::Error,
                    span: kw_span,
                },
                span: kw_span,
            };
        };
        let ty = if matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comma
        ) {
            self.expected("a type");
            Expr {
                kind: ExprKind::Error,
                span: self.span(),
            }
        } else {
            self.expr()
        };
        let span = kw_span.to(ty.span);
        self.end_of_entry(TokenKind::RBrace);
        TypeDecl {
            kind,
            name,
            ty,
            span,
        }
    }

    fn component(&mut self) -> Component {
        let kw = self.bump();
        let kw_span = Span::new(self.file, kw.span);
        let name = self.name("a component name").unwrap_or(Name {
            text: String::new(),
            span: kw_span,
        });
        let span = kw_span.to(name.span);
        if self.kind() == TokenKind::LBrace {
            let body = self.braced_block();
            self.end_of_entry(TokenKind::Eof);
            Component {
                name,
                body,
                scoped: true,
                span,
            }
        } else {
            // Unscoped: the rest of the file, up to the next top-level item, is the body.
            self.end_of_entry(TokenKind::Eof);
            let start = self.span();
            let (fields, vars) = self.fields(TokenKind::Eof, true);
            let end = self.prev_span();
            Component {
                name,
                body: Block {
                    fields,
                    vars,
                    span: start.to(end),
                },
                scoped: false,
                span,
            }
        }
    }

    /// `( NAME = expr ... )` or a single `NAME = expr`.
    pub(super) fn var_bindings(&mut self) -> Vec<VarBinding> {
        if self.kind() != TokenKind::LParen {
            return self.var_binding().into_iter().collect();
        }
        self.group("`var (`", Self::var_binding)
    }

    fn var_binding(&mut self) -> Option<VarBinding> {
        let name = match self.name("a variable name") {
            Some(n) => n,
            None => {
                self.recover();
                return None;
            }
        };
        if self.eat(TokenKind::Eq).is_none() {
            self.expected("`=`");
            self.recover();
            return None;
        }
        let value = self.expr();
        Some(VarBinding { name, value })
    }

    // ---- blocks and fields ----
}
