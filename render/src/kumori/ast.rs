//! The syntax tree of a `.kumori` file. Types and values share one expression grammar (`string`,
//! `kumori.Port` and `interface.config.x` are all paths); later phases decide what an expression
//! means from where it stands, which keeps the parser simple and its recovery uniform.

use std::fmt::Write as _;

use super::lexer::NumLit;

/// Index of a file in a [`super::module::SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span of `file`.
    pub fn new(file: FileId, range: std::ops::Range<usize>) -> Self {
        Span {
            file,
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    /// The range as `usize` offsets, for labels and slicing.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A name with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    /// The name as written (a quoted key without its quotes).
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// `package NAME`, if given.
    pub package: Option<Name>,
    /// The imports, in order.
    pub imports: Vec<Import>,
    /// `library` marker (the file declares types), if present.
    pub library: Option<Span>,
    /// Declarations and artifacts, in order.
    pub items: Vec<Item>,
}

/// `import "path"` or `import alias "path"` (single or in a group).
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// Explicit alias.
    pub alias: Option<Name>,
    /// Import path as written: `kumori`, `io`, `strconv`, or `<module path>[/<folder>]`.
    pub path: String,
    /// Span of the path string.
    pub span: Span,
}

impl Import {
    /// The name the package is known by in the file: the alias, else the last path segment.
    pub fn local_name(&self) -> &str {
        match &self.alias {
            Some(a) => &a.text,
            None => self.path.rsplit('/').next().unwrap_or(&self.path),
        }
    }
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `alias NAME TYPE` or `type NAME TYPE`.
    TypeDecl(TypeDecl),
    /// `component NAME { ... }` or an unscoped component.
    Component(Component),
    /// `deployment [NAME] { ... }`.
    Deployment(Deployment),
    /// `service ...`: parsed, reported as unsupported.
    Service(Service),
    /// `var ( ... )` at file level.
    Vars(Vec<VarBinding>),
}

/// Whether a type declaration is a synonym or a distinct named type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    /// `alias`: a synonym.
    Alias,
    /// `type`: a distinct named type, callable as a constructor.
    Type,
}

/// `alias NAME TYPE` or `type NAME TYPE`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeDecl {
    /// Alias or type.
    pub kind: DeclKind,
    /// The name the declaration introduces in its package.
    pub name: Name,
    /// What it stands for, an expression of the type grammar.
    pub ty: Expr,
    /// From the keyword to the end of the type.
    pub span: Span,
}

/// A component, interface or implementation depending on the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// The name that pairs an interface with its implementation.
    pub name: Name,
    /// Its fields: the sections (`srv`, `config`, `resource`, `code`, ...).
    pub body: Block,
    /// `component X { ... }` (true) or unscoped (false).
    pub scoped: bool,
    /// The `component NAME` header.
    pub span: Span,
}

/// A kdsl deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// `deployment NAME { ... }` name, if given.
    pub name: Option<Name>,
    /// Its fields (`name`, `artifact`, `config`, `resource`, ...).
    pub body: Block,
    /// The `deployment` keyword (and name).
    pub span: Span,
}

/// A service (not supported for Vimana).
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Its name, if given.
    pub name: Option<Name>,
    /// The `service` keyword (and name).
    pub span: Span,
}

/// `NAME = expr` inside `var ( ... )`.
#[derive(Clone, Debug, PartialEq)]
pub struct VarBinding {
    /// The name `var.NAME` refers to.
    pub name: Name,
    /// Evaluated on first use, once.
    pub value: Expr,
}

/// `{ fields }`, a component body, or the fields of a struct type.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The fields in order.
    pub fields: Vec<Field>,
    /// `var ( ... )` bindings written inside the block.
    pub vars: Vec<VarBinding>,
    /// From `{` to `}` (or the whole body of an unscoped component).
    pub span: Span,
}

impl Block {
    /// The field named `name` (the first, if repeated).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key.text == name)
    }
}

/// One field: `key value`, `key: T`, `key?: T`, `key? T`, `key: T = default`.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key (a name or a quoted string).
    pub key: Name,
    /// Whether the key was quoted.
    pub quoted: bool,
    /// `?` after the key.
    pub optional: Option<Span>,
    /// `:` after the key.
    pub colon: Option<Span>,
    /// The value or type.
    pub value: Expr,
    /// `= default`.
    pub default: Option<Expr>,
    /// From the key to the end of the value (or of the default).
    pub span: Span,
}

/// An expression (a value or a type).
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// Which expression, with its parts.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The kinds of expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `"text"`.
    Str(String),
    /// `100M`, `0o755`, `3`.
    Num(NumLit),
    /// `true`, `false`.
    Bool(bool),
    /// `a`, `a.b.c`.
    Path(Vec<Name>),
    /// `a.b(args)`.
    Call {
        /// `string`, `io.Open`, `kumori.Port`: a path of one or two names.
        callee: Vec<Name>,
        /// In order.
        args: Vec<Expr>,
    },
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{ fields }`.
    Struct(Block),
    /// `struct { fields }`, `struct open[]`, `struct open[T]`.
    StructType {
        /// `open[...]`: `None` closed, `Some(None)` any fields, `Some(Some(T))` fields of `T`.
        open: Option<Option<Box<Expr>>>,
        /// Declared fields.
        fields: Block,
    },
    /// `[]T`.
    ListType(Box<Expr>),
    /// `A | B | C`.
    Union(Vec<Expr>),
    /// Something that could not be parsed (already reported).
    Error,
}

impl Expr {
    /// The dotted path, if this is one.
    pub fn path(&self) -> Option<&[Name]> {
        match &self.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// Joins a path as written.
pub fn path_text(path: &[Name]) -> String {
    path.iter()
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// A compact, stable dump of a file, for golden tests of the parser.
pub fn dump(file: &File) -> String {
    let mut out = String::new();
    if let Some(p) = &file.package {
        let _ = writeln!(out, "package {}", p.text);
    }
    for i in &file.imports {
        match &i.alias {
            Some(a) => {
                let _ = writeln!(out, "import {} {:?}", a.text, i.path);
            }
            None => {
                let _ = writeln!(out, "import {:?}", i.path);
            }
        }
    }
    if file.library.is_some() {
        out.push_str("library\n");
    }
    for item in &file.items {
        match item {
            Item::TypeDecl(d) => {
                let kw = match d.kind {
                    DeclKind::Alias => "alias",
                    DeclKind::Type => "type",
                };
                let _ = writeln!(out, "{kw} {} {}", d.name.text, expr_text(&d.ty, 0));
            }
            Item::Component(c) => {
                let scope = if c.scoped { "" } else { " (unscoped)" };
                let _ = writeln!(
                    out,
                    "component {}{scope} {}",
                    c.name.text,
                    block_text(&c.body, 0)
                );
            }
            Item::Deployment(d) => {
                let name = d.name.as_ref().map_or("", |n| n.text.as_str());
                let _ = writeln!(out, "deployment {name} {}", block_text(&d.body, 0));
            }
            Item::Service(s) => {
                let name = s.name.as_ref().map_or("", |n| n.text.as_str());
                let _ = writeln!(out, "service {name}");
            }
            Item::Vars(vars) => {
                let _ = writeln!(out, "var {}", vars_text(vars, 0));
            }
        }
    }
    out
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn vars_text(vars: &[VarBinding], depth: usize) -> String {
    let mut out = String::from("(\n");
    for v in vars {
        let _ = writeln!(
            out,
            "{}{} = {}",
            indent(depth + 1),
            v.name.text,
            expr_text(&v.value, depth + 1)
        );
    }
    out.push_str(&indent(depth));
    out.push(')');
    out
}

fn block_text(block: &Block, depth: usize) -> String {
    if block.fields.is_empty() && block.vars.is_empty() {
        return "{}".into();
    }
    let mut out = String::from("{\n");
    if !block.vars.is_empty() {
        let _ = writeln!(
            out,
            "{}var {}",
            indent(depth + 1),
            vars_text(&block.vars, depth + 1)
        );
    }
    for f in &block.fields {
        out.push_str(&indent(depth + 1));
        if f.quoted {
            let _ = write!(out, "{:?}", f.key.text);
        } else {
            out.push_str(&f.key.text);
        }
        if f.optional.is_some() {
            out.push('?');
        }
        if f.colon.is_some() {
            out.push(':');
        }
        out.push(' ');
        out.push_str(&expr_text(&f.value, depth + 1));
        if let Some(d) = &f.default {
            out.push_str(" = ");
            out.push_str(&expr_text(d, depth + 1));
        }
        out.push('\n');
    }
    out.push_str(&indent(depth));
    out.push('}');
    out
}

fn expr_text(e: &Expr, depth: usize) -> String {
    match &e.kind {
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Num(n) => {
            let mut s = if n.octal {
                format!("0o{:o}", n.value as i64)
            } else {
                format!("{}", n.value / n.unit.map_or(1.0, |u| u.factor()))
            };
            if let Some(u) = n.unit {
                s.push_str(u.suffix());
            }
            s
        }
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Path(p) => path_text(p),
        ExprKind::Call { callee, args } => format!(
            "{}({})",
            path_text(callee),
            args.iter()
                .map(|a| expr_text(a, depth))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|a| expr_text(a, depth))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::Struct(b) => block_text(b, depth),
        ExprKind::StructType { open, fields } => {
            let mut s = String::from("struct");
            match open {
                None => {}
                Some(None) => s.push_str(" open[]"),
                Some(Some(t)) => {
                    let _ = write!(s, " open[{}]", expr_text(t, depth));
                }
            }
            if open.is_none() || !fields.fields.is_empty() {
                s.push(' ');
                s.push_str(&block_text(fields, depth));
            }
            s
        }
        ExprKind::ListType(t) => format!("[]{}", expr_text(t, depth)),
        ExprKind::Union(alts) => alts
            .iter()
            .map(|a| expr_text(a, depth))
            .collect::<Vec<_>>()
            .join(" | "),
        ExprKind::Error => "<error>".into(),
    }
}
