//! The parser: tokens into a [`File`] tree. It never gives up: a malformed field, item or
//! expression is reported, replaced by an error node, and parsing resumes at the next separator
//! it can trust (a line break, a comma or a closing bracket at the same depth), so one file yields
//! its whole tree and every syntax error at once.

//!
//! This module holds the entry point, the token cursor and the reporting and recovery that every
//! rule shares; the rules are in [`items`] (top-level declarations), [`fields`] (blocks and
//! fields) and [`expr`] (values and types).

mod expr;
mod fields;
mod items;

use crate::diagnostic::Diagnostic;
use crate::limits::Limits;

use super::ast::{Block, File, FileId, Name, Span};
use super::lexer::{Token, TokenKind, lex};

/// The result of parsing one file: the tree (always) and the diagnostics.
#[derive(Clone, Debug)]
pub struct Parse {
    /// The syntax tree, with error nodes where the text made no sense.
    pub file: File,
    /// Every lexical and syntax error, in order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses `text`, the content of the file `path` known as `file`, within the default limits.
pub fn parse(path: &str, file: FileId, text: &str) -> Parse {
    parse_within(path, file, text, &Limits::default())
}

/// Parses `text`, the content of the file `path` known as `file`: nesting deeper than
/// `limits.depth` is reported (`kumori-too-deep`) and skipped, so that the recursive descent
/// stays within a small stack whatever the input.
pub fn parse_within(path: &str, file: FileId, text: &str, limits: &Limits) -> Parse {
    let (tokens, lex_errors) = lex(text);
    let mut diagnostics: Vec<Diagnostic> = lex_errors
        .into_iter()
        .map(|e| {
            Diagnostic::error(e.code, e.message)
                .at(path, e.span, e.label)
                .help(e.help)
        })
        .collect();
    let mut p = Parser {
        tokens,
        pos: 0,
        file,
        path,
        diagnostics: Vec::new(),
        depth: 0,
        max_depth: limits.depth,
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

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    file: FileId,
    path: &'a str,
    diagnostics: Vec<Diagnostic>,
    /// Brackets and blocks open around the current token.
    depth: usize,
    /// `limits.depth`: nesting deeper than this is refused, so that hostile input cannot
    /// overflow the stack.
    max_depth: usize,
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

    fn error(&mut self, code: &'static str, span: Span, message: String, label: &str, help: &str) {
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
            let help = format!("write {what} here");
            self.error("kumori-syntax", span, message, &label, &help);
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
                self.error(
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

    /// Reports nesting over `limits.depth` at `span` and skips what is nested there: the term
    /// at the current token or, `in_block`, the rest of the block just opened.
    fn too_deep(&mut self, span: Span, in_block: bool) {
        let message = format!("nesting is deeper than {} levels", self.max_depth);
        let help = format!(
            "nest values, types and blocks at most {} levels deep (the limit `depth`); name \
             inner parts with `var` or a type alias",
            self.max_depth
        );
        self.error("kumori-too-deep", span, message, "too deep", &help);
        if in_block {
            self.skip_to_close();
        } else {
            self.recover();
        }
    }

    /// Skips to the closing bracket of the current depth (not consumed) or the end of the file,
    /// over line breaks and commas.
    fn skip_to_close(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.kind() {
                TokenKind::Eof => return,
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

    fn unclosed(&mut self, open: Span, what: &str) {
        let at = self.span();
        self.diagnostics.push(
            Diagnostic::error("kumori-unclosed", format!("unclosed {what}"))
                .at(self.path, at.range(), "the file ends here")
                .also(self.path, open.range(), "opened here")
                .help("add the missing closing bracket"),
        );
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
    use crate::kumori::ast::{Item, dump};

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
