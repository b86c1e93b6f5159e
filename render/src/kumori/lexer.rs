//! The lexer: `.kumori` text into tokens with byte spans. It never stops early: every problem
//! becomes a [`LexError`] and lexing goes on, so that the parser sees the whole file.

use std::ops::Range;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A name: `component`, `Redis`, `kumori`.
    Ident,
    /// A string literal (value in [`Token::text`]).
    Str,
    /// A number literal (value in [`Token::number`]).
    Num,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:`
    Colon,
    /// `?`
    Question,
    /// `=`
    Eq,
    /// `|`
    Pipe,
    /// `.`
    Dot,
    /// `,`
    Comma,
    /// One or more line breaks (fields are separated by newlines or commas).
    Newline,
    /// A character that starts no token (already reported).
    Unknown,
    /// End of the file.
    Eof,
}

impl TokenKind {
    /// How the token is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Ident => "a name",
            TokenKind::Str => "a string",
            TokenKind::Num => "a number",
            TokenKind::LBrace => "`{`",
            TokenKind::RBrace => "`}`",
            TokenKind::LBracket => "`[`",
            TokenKind::RBracket => "`]`",
            TokenKind::LParen => "`(`",
            TokenKind::RParen => "`)`",
            TokenKind::Colon => "`:`",
            TokenKind::Question => "`?`",
            TokenKind::Eq => "`=`",
            TokenKind::Pipe => "`|`",
            TokenKind::Dot => "`.`",
            TokenKind::Comma => "`,`",
            TokenKind::Newline => "a line break",
            TokenKind::Unknown => "an unexpected character",
            TokenKind::Eof => "the end of the file",
        }
    }
}

/// A unit suffix of a number literal. `K M G T` are powers of 1000, `Ki Mi Gi Ti` powers of
/// 1024, `m` is a thousandth (millicores).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `K`: 10^3.
    K,
    /// `M`: 10^6.
    M,
    /// `G`: 10^9.
    G,
    /// `T`: 10^12.
    T,
    /// `Ki`: 2^10.
    Ki,
    /// `Mi`: 2^20.
    Mi,
    /// `Gi`: 2^30.
    Gi,
    /// `Ti`: 2^40.
    Ti,
    /// `m`: 10^-3 (millicores).
    Milli,
}

impl Unit {
    /// The suffix of a literal, if it is a unit.
    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "K" => Unit::K,
            "M" => Unit::M,
            "G" => Unit::G,
            "T" => Unit::T,
            "Ki" => Unit::Ki,
            "Mi" => Unit::Mi,
            "Gi" => Unit::Gi,
            "Ti" => Unit::Ti,
            "m" => Unit::Milli,
            _ => return None,
        })
    }

    /// The suffix as written.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::K => "K",
            Unit::M => "M",
            Unit::G => "G",
            Unit::T => "T",
            Unit::Ki => "Ki",
            Unit::Mi => "Mi",
            Unit::Gi => "Gi",
            Unit::Ti => "Ti",
            Unit::Milli => "m",
        }
    }

    /// What one unit is worth in base units (bytes, cores, bits per second).
    pub fn factor(self) -> f64 {
        match self {
            Unit::K => 1e3,
            Unit::M => 1e6,
            Unit::G => 1e9,
            Unit::T => 1e12,
            Unit::Ki => 1024.0,
            Unit::Mi => 1024.0 * 1024.0,
            Unit::Gi => 1024.0 * 1024.0 * 1024.0,
            Unit::Ti => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            Unit::Milli => 1e-3,
        }
    }
}

/// A number literal: its value in base units, the unit it was written with, and whether it
/// was written in octal (`0o755`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumLit {
    /// The value, scaled by the unit.
    pub value: f64,
    /// The unit suffix, if any.
    pub unit: Option<Unit>,
    /// Written as `0o...`.
    pub octal: bool,
}

/// A token: its kind, its place, and the text or number it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// Which token; only names, strings and numbers carry more.
    pub kind: TokenKind,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// Identifier text or decoded string value.
    pub text: String,
    /// Value of a number.
    pub number: Option<NumLit>,
}

/// A lexical error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// Stable diagnostic code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Range<usize>,
    /// Label under the span.
    pub label: String,
    /// How to fix it.
    pub help: String,
}

/// Splits `text` into tokens (always ending with [`TokenKind::Eof`]) and lexical errors.
pub fn lex(text: &str) -> (Vec<Token>, Vec<LexError>) {
    let mut lx = Lexer {
        text,
        pos: 0,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lx.run();
    (lx.tokens, lx.errors)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    errors: Vec<LexError>,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.text[self.pos..].chars();
        it.next();
        it.next()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: start..self.pos,
            text: String::new(),
            number: None,
        });
    }

    fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.errors.push(LexError {
            code,
            message: message.into(),
            span,
            label: label.into(),
            help: help.into(),
        });
    }

    fn newline(&mut self, start: usize) {
        // Consecutive line breaks are one separator.
        if let Some(last) = self.tokens.last_mut()
            && last.kind == TokenKind::Newline
        {
            last.span.end = self.pos;
            return;
        }
        self.push(TokenKind::Newline, start);
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                '\n' => {
                    self.pos += 1;
                    self.newline(start);
                }
                ' ' | '\t' | '\r' | '\u{feff}' => self.pos += c.len_utf8(),
                '/' if self.peek2() == Some('/') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += c.len_utf8();
                    }
                }
                '/' if self.peek2() == Some('*') => self.block_comment(),
                '"' => self.string(),
                '\u{201c}' | '\u{201d}' => self.typographic_string(),
                '\'' => self.single_quoted(),
                '{' => self.single(TokenKind::LBrace),
                '}' => self.single(TokenKind::RBrace),
                '[' => self.single(TokenKind::LBracket),
                ']' => self.single(TokenKind::RBracket),
                '(' => self.single(TokenKind::LParen),
                ')' => self.single(TokenKind::RParen),
                ':' => self.single(TokenKind::Colon),
                '?' => self.single(TokenKind::Question),
                '=' => self.single(TokenKind::Eq),
                '|' => self.single(TokenKind::Pipe),
                '.' if !self.peek2().is_some_and(|d| d.is_ascii_digit()) => {
                    self.single(TokenKind::Dot)
                }
                ',' => self.single(TokenKind::Comma),
                c if c.is_ascii_digit()
                    || c == '.'
                    || (c == '-' && self.peek2().is_some_and(|d| d.is_ascii_digit())) =>
                {
                    self.number()
                }
                c if is_ident_start(c) => {
                    while self.peek().is_some_and(is_ident_char) {
                        self.pos += 1;
                    }
                    let text = self.text[start..self.pos].to_owned();
                    self.tokens.push(Token {
                        kind: TokenKind::Ident,
                        span: start..self.pos,
                        text,
                        number: None,
                    });
                }
                c => {
                    self.pos += c.len_utf8();
                    self.push(TokenKind::Unknown, start);
                    self.error(
                        "kumori-unexpected-character",
                        start..self.pos,
                        format!("unexpected character `{}`", c.escape_debug()),
                        "not part of the Kumori language",
                        "remove it; Kumori is written with names, numbers, strings in double quotes \
                         and the punctuation { } [ ] ( ) : ? = | . ,",
                    );
                }
            }
        }
        let end = self.text.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: end..end,
            text: String::new(),
            number: None,
        });
    }

    fn single(&mut self, kind: TokenKind) {
        let start = self.pos;
        self.pos += 1;
        self.push(kind, start);
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1;
        let mut lines = false;
        while depth > 0 {
            let rest = &self.text[self.pos..];
            if rest.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
            } else if rest.starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if let Some(c) = rest.chars().next() {
                lines |= c == '\n';
                self.pos += c.len_utf8();
            } else {
                self.error(
                    "kumori-unterminated-comment",
                    start..start + 2,
                    "unterminated block comment",
                    "this comment is never closed",
                    "close it with `*/`",
                );
                break;
            }
        }
        // A comment that spans lines separates fields like the line break it contains.
        if lines {
            self.newline(start);
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.unterminated(start);
                break;
            };
            match c {
                '"' => {
                    self.pos += 1;
                    break;
                }
                '\n' => {
                    self.unterminated(start);
                    break;
                }
                '\\' => self.escape(&mut value),
                c => {
                    value.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        self.tokens.push(Token {
            kind: TokenKind::Str,
            span: start..self.pos,
            text: value,
            number: None,
        });
    }

    fn unterminated(&mut self, start: usize) {
        self.error(
            "kumori-unterminated-string",
            start..self.pos,
            "unterminated string",
            "this string has no closing `\"` on its line",
            "close the string with `\"`; strings cannot span lines (use `\\n`)",
        );
    }

    fn escape(&mut self, value: &mut String) {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else { return };
        self.pos += c.len_utf8();
        let decoded = match c {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'u' => self.unicode_escape(),
            _ => None,
        };
        match decoded {
            Some(d) => value.push(d),
            None => self.error(
                "kumori-invalid-escape",
                start..self.pos,
                format!(
                    "invalid escape `{}` in a string",
                    &self.text[start..self.pos]
                ),
                "not a JSON escape",
                "use one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, or write `\\\\` for a backslash",
            ),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(digits, 16).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        Some(v)
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if (0xd800..0xdc00).contains(&hi) && self.text[self.pos..].starts_with("\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Some(lo) = self.hex4()
                && (0xdc00..0xe000).contains(&lo)
            {
                return char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
            }
            self.pos = save;
            return None;
        }
        char::from_u32(hi)
    }

    /// `“text”`: the seed's own examples contain typographic quotes. Lexed as a string so that
    /// parsing goes on, and reported with the fix.
    fn typographic_string(&mut self) {
        let start = self.pos;
        self.pos += 3;
        let mut value = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += c.len_utf8();
            if matches!(c, '\u{201c}' | '\u{201d}' | '"') {
                break;
            }
            value.push(c);
        }
        self.error(
            "kumori-typographic-quotes",
            start..self.pos,
            "typographic quotes around a string",
            "these are `“` `”`, not `\"`",
            format!("use straight double quotes: \"{}\"", value.escape_debug()),
        );
        self.tokens.push(Token {
            kind: TokenKind::Str,
            span: start..self.pos,
            text: value,
            number: None,
        });
    }

    fn single_quoted(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += c.len_utf8();
            if c == '\'' {
                break;
            }
            value.push(c);
        }
        self.error(
            "kumori-single-quotes",
            start..self.pos,
            "strings are written in double quotes",
            "single quotes",
            format!("write \"{}\"", value.escape_debug()),
        );
        self.tokens.push(Token {
            kind: TokenKind::Str,
            span: start..self.pos,
            text: value,
            number: None,
        });
    }

    fn number(&mut self) {
        let start = self.pos;
        let negative = self.peek() == Some('-');
        if negative {
            self.pos += 1;
        }
        let mut octal = false;
        let value;
        if self.text[self.pos..].starts_with("0o") {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                self.pos += 1;
            }
            let digits = &self.text[digits_start..self.pos];
            octal = true;
            value = match u64::from_str_radix(digits, 8) {
                Ok(v) => v as f64,
                Err(_) => {
                    self.error(
                        "kumori-invalid-number",
                        start..self.pos,
                        format!("`{}` is not an octal number", &self.text[start..self.pos]),
                        "octal digits are 0 to 7",
                        "write an octal number such as `0o755`",
                    );
                    0.0
                }
            };
        } else {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
            let digits = &self.text[start..self.pos];
            // Digits with at most one inner `.` always parse; a lone `-` cannot reach here.
            value = digits.parse::<f64>().unwrap_or(0.0);
        }
        let suffix_start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let suffix = &self.text[suffix_start..self.pos];
        let mut unit = None;
        if !suffix.is_empty() {
            match Unit::parse(suffix) {
                Some(u) if !octal => unit = Some(u),
                _ => self.error(
                    "kumori-invalid-unit",
                    suffix_start..self.pos,
                    format!("unknown unit `{suffix}`"),
                    "not a unit",
                    "sizes take K, M, G, T (powers of 1000), Ki, Mi, Gi, Ti (powers of 1024) \
                     or m (millicores); put a space between a number and a name",
                ),
            }
        }
        let scaled = value * unit.map_or(1.0, Unit::factor);
        self.tokens.push(Token {
            kind: TokenKind::Num,
            span: start..self.pos,
            text: String::new(),
            number: Some(NumLit {
                value: if negative && octal { -scaled } else { scaled },
                unit,
                octal,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(text).0.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_with_units_and_octal() {
        let (tokens, errors) = lex("100M 100m 1Gi 0o755 2.5 -3 10X");
        let nums: Vec<_> = tokens.iter().filter_map(|t| t.number).collect();
        assert_eq!(nums[0].value, 1e8);
        assert_eq!(nums[0].unit, Some(Unit::M));
        assert!((nums[1].value - 0.1).abs() < 1e-12);
        assert_eq!(nums[2].value, 1073741824.0);
        assert_eq!(nums[3].value, 493.0);
        assert!(nums[3].octal);
        assert_eq!(nums[4].value, 2.5);
        assert_eq!(nums[5].value, -3.0);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "kumori-invalid-unit");
    }

    #[test]
    fn strings_comments_and_newlines() {
        let (tokens, errors) = lex("a \"x\\n\\u00e9\" // c\n\n/* a\nb */ b");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(tokens[1].text, "x\né");
        assert_eq!(
            kinds("a \"x\" // c\n\n/* a\nb */ b"),
            vec![
                TokenKind::Ident,
                TokenKind::Str,
                TokenKind::Newline,
                TokenKind::Ident,
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn typographic_quotes_are_strings_with_an_error() {
        let (tokens, errors) = lex("sh “sh”\n");
        assert_eq!(tokens[1].kind, TokenKind::Str);
        assert_eq!(tokens[1].text, "sh");
        assert_eq!(errors[0].code, "kumori-typographic-quotes");
    }

    #[test]
    fn unterminated_things_are_reported() {
        assert_eq!(lex("\"abc\n").1[0].code, "kumori-unterminated-string");
        assert_eq!(lex("/* abc").1[0].code, "kumori-unterminated-comment");
        assert_eq!(lex("\"\\q\"").1[0].code, "kumori-invalid-escape");
        assert_eq!(lex("0o9").1[0].code, "kumori-invalid-number");
        assert_eq!(lex("#").1[0].code, "kumori-unexpected-character");
    }
}
