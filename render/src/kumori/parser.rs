//! The parser: tokens into a [`File`] tree. It never gives up: a malformed field, item or
//! expression is reported, replaced by an error node, and parsing resumes at the next separator
//! it can trust (a line break, a comma or a closing bracket at the same depth), so one file yields
//! its whole tree and every syntax error at once.

use crate::diagnostic::Diagnostic;

use super::ast::{
    Block, Component, DeclKind, Deployment, Expr, ExprKind, Field, File, FileId, Import, Item,
    Name, Service, Span, TypeDecl, VarBinding,
};
use super::lexer::{Token, TokenKind, lex};

/// The result of parsing one file: the tree (always) and the diagnostics.
#[derive(Clone, Debug)]
pub struct Parse {
    /// The syntax tree, with error nodes where the text made no sense.
    pub file: File,
    /// Every lexical and syntax error, in order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses `text`, the content of the file `path` known as `file`.
pub fn parse(path: &str, file: FileId, text: &str) -> Parse {
    let (tokens, lex_errors) = lex(text);
    let mut diagnostics: Vec<Diagnostic> = lex_errors
        .into_iter()
        .map(|e| {
            let d = Diagnostic::error(e.code, e.message).at(path, e.span, e.label);
            match e.help {
                Some(h) => d.help(h),
                None => d,
            }
        })
        .collect();
    let mut p = Parser {
        tokens,
        pos: 0,
        file,
        path,
        diagnostics: Vec::new(),
        depth: 0,
    };
    let tree = p.file();
    diagnostics.append(&mut p.diagnostics);
    Parse {
        file: tree,
        diagnostics,
    }
}

/// Keywords that start a top-level item.
const ITEM_KEYWORDS: &[&str] = &[
    "package",
    "import",
    "library",
    "alias",
    "type",
    "component",
    "deployment",
    "service",
    "var",
];

/// Nesting deeper than this is refused, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    file: FileId,
    path: &'a str,
    diagnostics: Vec<Diagnostic>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn kind(&self) -> TokenKind {
        self.peek().kind
    }

    fn nth_kind(&self, n: usize) -> TokenKind {
        self.tokens[(self.pos + n).min(self.tokens.len() - 1)].kind
    }

    fn at_ident(&self, text: &str) -> bool {
        self.kind() == TokenKind::Ident && self.peek().text == text
    }

    fn span(&self) -> Span {
        Span::new(self.file, self.peek().span.clone())
    }

    fn prev_span(&self) -> Span {
        let i = self.pos.saturating_sub(1);
        Span::new(self.file, self.tokens[i].span.clone())
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Span> {
        if self.kind() == kind {
            let s = self.span();
            self.bump();
            Some(s)
        } else {
            None
        }
    }

    fn skip_newlines(&mut self) {
        while self.kind() == TokenKind::Newline {
            self.bump();
        }
    }

    fn found(&self) -> String {
        let t = self.peek();
        match t.kind {
            TokenKind::Ident => format!("`{}`", t.text),
            k => k.describe().to_owned(),
        }
    }

    fn error(&mut self, code: &'static str, span: Span, message: String, label: &str) {
        self.diagnostics
            .push(Diagnostic::error(code, message).at(self.path, span.range(), label));
    }

    fn error_help(
        &mut self,
        code: &'static str,
        span: Span,
        message: String,
        label: &str,
        help: &str,
    ) {
        self.diagnostics.push(
            Diagnostic::error(code, message)
                .at(self.path, span.range(), label)
                .help(help),
        );
    }

    /// Reports "expected X" at the current token.
    fn expected(&mut self, what: &str) {
        let message = format!("expected {what}, found {}", self.found());
        let label = format!("expected {what}");
        let mut span = self.span();
        // A missing thing at the end of a line is shown at the end of that line.
        if matches!(self.kind(), TokenKind::Newline | TokenKind::Eof) {
            span.end = span.start;
        }
        // An unexpected character was already reported by the lexer.
        if self.kind() != TokenKind::Unknown {
            self.error("kumori-syntax", span, message, &label);
        }
    }

    /// Skips to the next separator at the current depth: a line break, a comma, or (without
    /// consuming it) a closing bracket or the end of the file. Balanced brackets are skipped.
    fn recover(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.kind() {
                TokenKind::Eof => return,
                TokenKind::Newline | TokenKind::Comma if depth == 0 => return,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => depth += 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn name(&mut self, what: &str) -> Option<Name> {
        if self.kind() == TokenKind::Ident {
            let t = self.bump();
            Some(Name {
                text: t.text,
                span: Span::new(self.file, t.span),
            })
        } else {
            self.expected(what);
            None
        }
    }

    /// After an item or field: a separator, a closing bracket or the end must follow.
    fn end_of_entry(&mut self, closing: TokenKind) {
        match self.kind() {
            TokenKind::Newline | TokenKind::Comma | TokenKind::Eof => {}
            k if k == closing => {}
            // The next entry starts on the same line: report the missing separator and parse
            // it, rather than skipping it (text whose line breaks were lost stays readable).
            TokenKind::Ident
            | TokenKind::Str
            | TokenKind::Num
            | TokenKind::LBrace
            | TokenKind::LBracket => {
                let at = self.span();
                let span = Span {
                    end: at.start,
                    ..at
                };
                self.error_help(
                    "kumori-missing-separator",
                    span,
                    format!("expected a line break or `,` before {}", self.found()),
                    "separator missing here",
                    "entries are separated by line breaks or commas: `{ name \"x\", tag \"y\" }`",
                );
            }
            _ => {
                self.expected("a line break or `,`");
                self.recover();
            }
        }
    }

    // ---- file level ----

    fn file(&mut self) -> File {
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
            "package" => {
                self.bump();
                if let Some(name) = self.name("a package name") {
                    if let Some(first) = &file.package {
                        self.diagnostics.push(
                            Diagnostic::error("kumori-syntax", "a file has one `package` line")
                                .at(self.path, kw_span.to(name.span).range(), "second package")
                                .also(self.path, first.span.range(), "first declared here"),
                        );
                    } else {
                        file.package = Some(name);
                    }
                }
                self.end_of_entry(TokenKind::Eof);
            }
            "import" => {
                self.bump();
                self.imports(&mut file.imports);
                self.end_of_entry(TokenKind::Eof);
            }
            "library" => {
                self.bump();
                file.library = Some(kw_span);
                if self.kind() == TokenKind::LBrace {
                    // `library { ... }`: declarations inside braces.
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
            "alias" | "type" => {
                let d = self.type_decl();
                file.items.push(Item::TypeDecl(d));
            }
            "component" => {
                let c = self.component();
                file.items.push(Item::Component(c));
            }
            "deployment" => {
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
                file.items
                    .push(Item::Deployment(Deployment { name, body, span }));
                self.end_of_entry(TokenKind::Eof);
            }
            "service" => {
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
                file.items.push(Item::Service(Service { name, span }));
                self.end_of_entry(TokenKind::Eof);
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
                self.error_help(
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

    fn unclosed(&mut self, open: Span, what: &str) {
        let at = self.span();
        self.diagnostics.push(
            Diagnostic::error("kumori-unclosed", format!("unclosed {what}"))
                .at(self.path, at.range(), "the file ends here")
                .also(self.path, open.range(), "opened here")
                .help("add the missing closing bracket"),
        );
    }

    /// `( NAME = expr ... )` or a single `NAME = expr`.
    fn var_bindings(&mut self) -> Vec<VarBinding> {
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

    fn braced_block(&mut self) -> Block {
        let open = self.span();
        self.bump();
        self.depth += 1;
        let (fields, vars) = if self.depth > MAX_DEPTH {
            self.error(
                "kumori-too-deep",
                open,
                "nesting is too deep".into(),
                "too many levels",
            );
            self.recover();
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
    fn fields(&mut self, closing: TokenKind, top: bool) -> (Vec<Field>, Vec<VarBinding>) {
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
                self.error("kumori-syntax", span, message, "nothing opens this here");
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
            self.error_help(
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
            self.error_help(
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

    // ---- expressions ----

    fn expr(&mut self) -> Expr {
        self.union()
    }

    fn term(&mut self) -> Expr {
        self.depth += 1;
        let e = if self.depth > MAX_DEPTH {
            let span = self.span();
            self.error(
                "kumori-too-deep",
                span,
                "nesting is too deep".into(),
                "too many levels",
            );
            self.recover();
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

fn empty_block(span: Span) -> Block {
    Block {
        fields: Vec::new(),
        vars: Vec::new(),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kumori::ast::dump;

    fn ok(text: &str) -> File {
        let p = parse("t.kumori", FileId(0), text);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        p.file
    }

    #[test]
    fn fields_in_both_forms_and_separators() {
        let f = ok("component A { a \"x\", b: string = \"y\"\n c?: number\n \"/k\" 1, }");
        let Item::Component(c) = &f.items[0] else {
            panic!()
        };
        assert_eq!(c.body.fields.len(), 4);
        assert!(c.body.fields[1].default.is_some());
        assert!(c.body.fields[2].optional.is_some());
        assert!(c.body.fields[3].quoted);
    }

    #[test]
    fn types_parse() {
        let f = ok("library\nalias X []string | struct open[] | struct { a? X } | \"ms\"\n");
        assert_eq!(
            dump(&f),
            "library\nalias X []string | struct open[] | struct {\n  a? X\n} | \"ms\"\n"
        );
    }

    #[test]
    fn errors_do_not_stop_the_parse() {
        let p = parse(
            "t.kumori",
            FileId(0),
            "component A {\n a\n b = 3\n c \"ok\"\n}\ncomponent B {\n",
        );
        let codes: Vec<_> = p.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            vec!["kumori-missing-value", "kumori-syntax", "kumori-unclosed"]
        );
        assert_eq!(p.file.items.len(), 2);
    }

    #[test]
    fn unscoped_component_takes_the_rest_of_the_file() {
        let f = ok("package p\nimport \"kumori\"\ncomponent A\n\nsize { mincpu 1 }\ncode {}\n");
        let Item::Component(c) = &f.items[0] else {
            panic!()
        };
        assert!(!c.scoped);
        assert_eq!(c.body.fields.len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("component A {{ a {} }}", "[".repeat(10_000));
        let p = parse("t.kumori", FileId(0), &text);
        assert!(p.diagnostics.iter().any(|d| d.code == "kumori-too-deep"));
    }
}
