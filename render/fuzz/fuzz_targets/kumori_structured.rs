//! The Kumori front end on modules built from a structure (issue 15): an interface with config
//! declarations typed by a library of aliases (chains, doublings, cycles), an implementation
//! with `var`s (free expressions, chains of references, doubling `strconv.Concat`s and lists,
//! vars nesting each other) and an env that uses them, `io.Open` of files of given sizes, and
//! optionally a deployment. A Vimana Component binds it and the whole repository is rendered
//! through `render::render`, then the module is checked with `check_module`, on a 2 MiB stack:
//! never a panic. Run with `-rss_limit_mb` and `-timeout` so that a blow-up in memory or time
//! counts as a failure.
#![no_main]

use std::fmt::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use render::{Diagnostics, Limits, MemTree, Options};

const MAX_NEST: usize = 100_000;
const MAX_CHAIN: usize = 12_000;
const MAX_FILE: usize = (2 << 20) + 1;
const MAX_TEXT: usize = 9 << 20;
/// At most this many files for `io.Open` (of up to `MAX_FILE` bytes each).
const MAX_FILES: usize = 8;

#[derive(Arbitrary, Debug)]
struct Input {
    vars: Vec<Expr>,
    gens: Vec<Gen>,
    /// Env values, inside `strconv.JSON(...)` when the flag is set (env takes scalars).
    env: Vec<(bool, Expr)>,
    config: Vec<ConfigDecl>,
    aliases: Vec<TypeExpr>,
    alias_gens: Vec<AliasGen>,
    /// Sizes and fill bytes of `f0.txt`, `f1.txt`, ...
    files: Vec<(u32, u8)>,
    /// Values of the binding's `config`, by index of declaration.
    binding: Vec<(u8, Yaml)>,
    deployment: Option<Vec<(u8, Expr)>>,
    /// Shrinks every limit to this many (hit limits cheaply) when set.
    small_limits: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Expr {
    Num(i32),
    Sized(u16, Unit),
    Str(String),
    Word(u8),
    Bool(bool),
    /// `var.V<n>` of the free vars.
    Var(u8),
    /// `var.V<n>.f<m>`.
    VarField(u8, u8),
    /// `var.<last name of generator n>`.
    Gen(u8),
    Config(u8),
    SelfEnv(u8),
    List(Vec<Expr>),
    Struct(Vec<(u8, Expr)>),
    Concat(Vec<Expr>),
    Json(Box<Expr>),
    StringOf(Box<Expr>),
    Format(Box<Expr>, u8),
    Open(u8),
    OpenPath(String),
    Constructor(u8, Box<Expr>),
    Nest {
        kind: NestKind,
        depth: u32,
        inner: Box<Expr>,
    },
    /// Opening brackets without their closing ones.
    Unclosed {
        kind: NestKind,
        depth: u32,
    },
    Token(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Unit {
    K,
    M,
    G,
    Ki,
    Mi,
    Gi,
    Milli,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum NestKind {
    List,
    Struct,
    Call,
    Paren,
    Concat,
}

/// A family of generated vars `<prefix>0 ... <prefix>n` (what `Expr::Gen` names is the last).
#[derive(Arbitrary, Debug)]
enum Gen {
    /// `W1 = var.W0`, ...
    Chain(u16),
    /// `S1 = strconv.Concat([var.S0, var.S0])`, ...
    ConcatDoubling(u8),
    /// `L1 = [var.L0, var.L0]`, ...
    ListDoubling(u8),
    /// `V1 = { x { y var.V0.x.y } }`, ...
    StructChain(u16),
    /// Each var nests `depth` lists around the one before.
    NestedVars { count: u16, depth: u8 },
    /// `C0 = var.C1`, ..., `Cn = var.C0`.
    Cycle(u16),
}

#[derive(Arbitrary, Debug)]
enum TypeExpr {
    Prim(u8),
    /// A name of the library (an alias of `aliases` or of `alias_gens`).
    Name(u8),
    Kumori(u8),
    List(Box<TypeExpr>),
    Struct(Vec<(u8, bool, TypeExpr)>),
    Open(Option<Box<TypeExpr>>),
    Union(Vec<TypeExpr>),
    Lit(u8),
    Nest {
        depth: u32,
        inner: Box<TypeExpr>,
    },
}

#[derive(Arbitrary, Debug)]
enum AliasGen {
    /// `alias T1 T0`, ...
    Chain(u16),
    /// `alias U1 U0 | U0`, ...
    Doubling(u8),
    /// `alias C0 C1 | string`, ..., `alias Cn C0 | string`.
    Cycle(u16),
    /// `type Tn Tn-1`, ...
    DistinctChain(u16),
}

#[derive(Arbitrary, Debug)]
struct ConfigDecl {
    ty: TypeExpr,
    optional: bool,
    default: Option<Expr>,
}

#[derive(Arbitrary, Debug)]
enum Yaml {
    Int(i64),
    Str(String),
    Word(u8),
    Bool(bool),
    Null,
    List(Vec<Yaml>),
    Map(Vec<(u8, Yaml)>),
    Nest { depth: u32, inner: Box<Yaml> },
}

const WORDS: &[&str] = &[
    "info",
    "debug",
    "",
    "x",
    "10Gi",
    "512Mi",
    "250m",
    "db-password",
    "é",
    "\u{202e}",
    "adder 1.1.0 ; rm -rf /",
    "\\u12",
    "\n",
];

const PRIMS: &[&str] = &["bool", "string", "number", "any", "list", "[]string"];

const KUMORI_TYPES: &[&str] = &[
    "kumori.Secret",
    "kumori.Volume",
    "kumori.Port",
    "kumori.RAMSized",
    "kumori.CPUSized",
    "kumori.Resource",
    "kumori.Domain",
    "kumori.Volatile",
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    "?",
    "=",
    "|",
    ".",
    ",",
    "\n",
    "\"",
    "/*",
    "//",
    "'",
    "0o9",
    "1.5",
    "-",
    "self.",
    "var.",
    "interface.config.",
    "io.Open(",
    "kumori.",
    "struct",
    "open[",
];

/// Writes Kumori text, giving up (and keeping what is written) past `MAX_TEXT`.
struct Writer<'a> {
    out: String,
    input: &'a Input,
    /// The last var of each generator.
    gen_names: Vec<String>,
    /// The names of the library.
    type_names: Vec<String>,
}

impl Writer<'_> {
    fn full(&self) -> bool {
        self.out.len() > MAX_TEXT
    }

    fn expr(&mut self, e: &Expr) {
        if self.full() {
            return;
        }
        let nvars = self.input.vars.len().max(1);
        match e {
            Expr::Num(n) => write!(self.out, "{n}").unwrap(),
            Expr::Sized(n, u) => write!(
                self.out,
                "{n}{}",
                match u {
                    Unit::K => "K",
                    Unit::M => "M",
                    Unit::G => "G",
                    Unit::Ki => "Ki",
                    Unit::Mi => "Mi",
                    Unit::Gi => "Gi",
                    Unit::Milli => "m",
                }
            )
            .unwrap(),
            Expr::Str(s) => quote(&mut self.out, s),
            Expr::Word(w) => quote(&mut self.out, WORDS[*w as usize % WORDS.len()]),
            Expr::Bool(b) => write!(self.out, "{b}").unwrap(),
            Expr::Var(n) => write!(self.out, "var.V{}", *n as usize % nvars).unwrap(),
            Expr::VarField(n, f) => {
                write!(self.out, "var.V{}.f{}", *n as usize % nvars, f % 4).unwrap()
            }
            Expr::Gen(n) => match self.gen_names.len() {
                0 => self.out.push_str("var.V0"),
                len => {
                    let name = self.gen_names[*n as usize % len].clone();
                    write!(self.out, "var.{name}").unwrap();
                }
            },
            Expr::Config(n) => write!(
                self.out,
                "interface.config.c{}",
                *n as usize % self.input.config.len().max(1)
            )
            .unwrap(),
            Expr::SelfEnv(n) => write!(
                self.out,
                "self.code.main.env.E{}",
                *n as usize % self.input.env.len().max(1)
            )
            .unwrap(),
            Expr::List(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(item);
                }
                self.out.push(']');
            }
            Expr::Struct(fields) => {
                self.out.push_str("{ ");
                for (i, (f, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    write!(self.out, "f{} ", f % 4).unwrap();
                    self.expr(v);
                }
                self.out.push_str(" }");
            }
            Expr::Concat(items) => {
                self.out.push_str("strconv.Concat([");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(item);
                }
                self.out.push_str("])");
            }
            Expr::Json(inner) => {
                self.out.push_str("strconv.JSON(");
                self.expr(inner);
                self.out.push(')');
            }
            Expr::StringOf(inner) => {
                self.out.push_str("string(");
                self.expr(inner);
                self.out.push(')');
            }
            Expr::Format(inner, base) => {
                self.out.push_str("strconv.Format(");
                self.expr(inner);
                write!(self.out, ", {base})").unwrap();
            }
            Expr::Open(n) => write!(
                self.out,
                "io.Open(\"f{}.txt\")",
                *n as usize % self.input.files.len().clamp(1, MAX_FILES)
            )
            .unwrap(),
            Expr::OpenPath(p) => {
                self.out.push_str("io.Open(");
                quote(&mut self.out, p);
                self.out.push(')');
            }
            Expr::Constructor(t, inner) => {
                write!(
                    self.out,
                    "{}(",
                    KUMORI_TYPES[*t as usize % KUMORI_TYPES.len()]
                )
                .unwrap();
                self.expr(inner);
                self.out.push(')');
            }
            Expr::Nest { kind, depth, inner } => {
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                let (open, close) = brackets(*kind);
                self.out.push_str(&open.repeat(depth));
                self.expr(inner);
                self.out.push_str(&close.repeat(depth));
            }
            Expr::Unclosed { kind, depth } => {
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                self.out.push_str(&brackets(*kind).0.repeat(depth));
                self.out.push('1');
            }
            Expr::Token(t) => self.out.push_str(TOKENS[*t as usize % TOKENS.len()]),
        }
    }

    /// `ty` as written in the library (`in_lib`) or elsewhere (names with `lib.`).
    fn ty(&mut self, ty: &TypeExpr, in_lib: bool) {
        if self.full() {
            return;
        }
        match ty {
            TypeExpr::Prim(p) => self.out.push_str(PRIMS[*p as usize % PRIMS.len()]),
            TypeExpr::Name(n) => match self.type_names.len() {
                0 => self.out.push_str("string"),
                len => {
                    let name = self.type_names[*n as usize % len].clone();
                    if !in_lib {
                        self.out.push_str("lib.");
                    }
                    self.out.push_str(&name);
                }
            },
            TypeExpr::Kumori(k) => self
                .out
                .push_str(KUMORI_TYPES[*k as usize % KUMORI_TYPES.len()]),
            TypeExpr::List(inner) => {
                self.out.push_str("[]");
                self.ty(inner, in_lib);
            }
            TypeExpr::Struct(fields) => {
                self.out.push_str("struct { ");
                for (i, (f, opt, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    write!(self.out, "f{}{}: ", f % 4, if *opt { "?" } else { "" }).unwrap();
                    self.ty(t, in_lib);
                }
                self.out.push_str(" }");
            }
            TypeExpr::Open(None) => self.out.push_str("struct open[]"),
            TypeExpr::Open(Some(t)) => {
                self.out.push_str("struct open[");
                self.ty(t, in_lib);
                self.out.push(']');
            }
            TypeExpr::Union(members) => {
                if members.is_empty() {
                    self.out.push_str("\"u\"");
                }
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(" | ");
                    }
                    self.ty(m, in_lib);
                }
            }
            TypeExpr::Lit(w) => quote(&mut self.out, WORDS[*w as usize % WORDS.len()]),
            TypeExpr::Nest { depth, inner } => {
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                self.out.push_str(&"[]".repeat(depth / 2));
                self.out.push_str(&"struct { f0: ".repeat(depth / 2));
                self.ty(inner, in_lib);
                self.out.push_str(&" }".repeat(depth / 2));
            }
        }
    }

    fn yaml(&mut self, y: &Yaml) {
        if self.full() {
            return;
        }
        match y {
            Yaml::Int(i) => write!(self.out, "{i}").unwrap(),
            Yaml::Str(s) => quote(&mut self.out, s),
            Yaml::Word(w) => quote(&mut self.out, WORDS[*w as usize % WORDS.len()]),
            Yaml::Bool(b) => write!(self.out, "{b}").unwrap(),
            Yaml::Null => self.out.push_str("null"),
            Yaml::List(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.yaml(item);
                }
                self.out.push(']');
            }
            Yaml::Map(entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    write!(self.out, "f{}: ", k % 4).unwrap();
                    self.yaml(v);
                }
                self.out.push('}');
            }
            Yaml::Nest { depth, inner } => {
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                self.out.push_str(&"[".repeat(depth));
                self.yaml(inner);
                self.out.push_str(&"]".repeat(depth));
            }
        }
    }

    fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// `s` as a JSON string (Kumori strings take JSON escapes; YAML's double-quoted ones too).
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `x` on a logarithmic scale: as often in [0, 2), [2, 4), ... [2^max_shift, 2^(max_shift + 1)),
/// so that most inputs stay small and fast while the largest ones still come up.
fn log_scale(x: u32, max_shift: u32) -> usize {
    let base = 1usize << (x % (max_shift + 1));
    base - 1 + ((x >> 5) as usize % base)
}

fn brackets(kind: NestKind) -> (&'static str, &'static str) {
    match kind {
        NestKind::List => ("[", "]"),
        NestKind::Struct => ("{ a ", " }"),
        NestKind::Call => ("string(", ")"),
        NestKind::Paren => ("(", ")"),
        NestKind::Concat => ("strconv.Concat([", "])"),
    }
}

/// The `var` declarations of the generators, and the last name of each.
fn generated_vars(gens: &[Gen], out: &mut String) -> Vec<String> {
    let mut names = Vec::new();
    for (g, family) in gens.iter().enumerate() {
        if out.len() > MAX_TEXT {
            break;
        }
        let p = format!("G{g}x");
        let last = match family {
            Gen::Chain(n) => {
                let n = log_scale(u32::from(*n), 13).min(MAX_CHAIN);
                writeln!(out, "    {p}0 = \"x\"").unwrap();
                for i in 1..=n {
                    writeln!(out, "    {p}{i} = var.{p}{}", i - 1).unwrap();
                }
                n
            }
            Gen::ConcatDoubling(n) => {
                let n = *n as usize % 64;
                writeln!(out, "    {p}0 = \"0123456789abcdef\"").unwrap();
                for i in 1..=n {
                    writeln!(
                        out,
                        "    {p}{i} = strconv.Concat([var.{p}{j}, var.{p}{j}])",
                        j = i - 1
                    )
                    .unwrap();
                }
                n
            }
            Gen::ListDoubling(n) => {
                let n = *n as usize % 64;
                writeln!(out, "    {p}0 = [1, 2]").unwrap();
                for i in 1..=n {
                    writeln!(out, "    {p}{i} = [var.{p}{j}, var.{p}{j}]", j = i - 1).unwrap();
                }
                n
            }
            Gen::StructChain(n) => {
                let n = log_scale(u32::from(*n), 13).min(MAX_CHAIN);
                writeln!(out, "    {p}0 = {{ x {{ y \"end\" }} }}").unwrap();
                for i in 1..=n {
                    writeln!(out, "    {p}{i} = {{ x {{ y var.{p}{}.x.y }} }}", i - 1).unwrap();
                }
                names.push(format!("{p}{n}.x.y"));
                continue;
            }
            Gen::NestedVars { count, depth } => {
                let n = log_scale(u32::from(*count), 10);
                let d = *depth as usize;
                writeln!(out, "    {p}0 = 1").unwrap();
                for i in 1..=n {
                    writeln!(
                        out,
                        "    {p}{i} = {}var.{p}{}{}",
                        "[".repeat(d),
                        i - 1,
                        "]".repeat(d)
                    )
                    .unwrap();
                }
                n
            }
            Gen::Cycle(n) => {
                let n = log_scale(u32::from(*n), 13).clamp(1, MAX_CHAIN);
                for i in 0..n {
                    writeln!(out, "    {p}{i} = var.{p}{}", (i + 1) % n).unwrap();
                }
                n - 1
            }
        };
        names.push(format!("{p}{last}"));
    }
    names
}

/// The generated aliases of the library, and their names.
fn generated_aliases(gens: &[AliasGen], out: &mut String) -> Vec<String> {
    let mut names = Vec::new();
    for (g, family) in gens.iter().enumerate() {
        if out.len() > MAX_TEXT {
            break;
        }
        let p = format!("G{g}x");
        match family {
            AliasGen::Chain(n) => {
                let n = log_scale(u32::from(*n), 13).min(MAX_CHAIN);
                writeln!(out, "alias {p}0 string").unwrap();
                for i in 1..=n {
                    writeln!(out, "alias {p}{i} {p}{}", i - 1).unwrap();
                }
                names.push(format!("{p}{n}"));
            }
            AliasGen::Doubling(n) => {
                let n = *n as usize % 64;
                writeln!(out, "alias {p}0 \"a\" | \"b\"").unwrap();
                for i in 1..=n {
                    writeln!(out, "alias {p}{i} {p}{j} | {p}{j}", j = i - 1).unwrap();
                }
                names.push(format!("{p}{n}"));
            }
            AliasGen::Cycle(n) => {
                let n = log_scale(u32::from(*n), 13).clamp(1, MAX_CHAIN);
                for i in 0..n {
                    writeln!(out, "alias {p}{i} {p}{} | string", (i + 1) % n).unwrap();
                }
                names.push(format!("{p}0"));
            }
            AliasGen::DistinctChain(n) => {
                let n = log_scale(u32::from(*n), 13).min(MAX_CHAIN);
                writeln!(out, "type {p}0 number").unwrap();
                for i in 1..=n {
                    writeln!(out, "type {p}{i} {p}{}", i - 1).unwrap();
                }
                names.push(format!("{p}{n}"));
            }
        }
    }
    names
}

const DOMAIN: &str = "apiVersion: api.vimana.host/v1alpha1
kind: Domain
metadata: { name: shop }
spec:
  id: 0123456789abcdef0123456789abcdef
---
apiVersion: api.vimana.host/v1alpha1
kind: Server
metadata: { name: cart }
spec:
  id: cart
  domain: 0123456789abcdef0123456789abcdef
";

const MANIFEST: &str =
    r#"{"spec": "kumori/module/v1", "module": "example.org/shop", "kumori": "1.0.0"}"#;

fn tree(input: &Input) -> MemTree {
    let mut w = Writer {
        out: String::new(),
        input,
        gen_names: Vec::new(),
        type_names: Vec::new(),
    };

    // The library: free aliases A0..An, then the generated ones.
    let mut lib = String::from("package lib\n\nimport \"kumori\"\n\nlibrary\n\n");
    let generated = generated_aliases(&input.alias_gens, &mut lib);
    w.type_names = (0..input.aliases.len()).map(|i| format!("A{i}")).collect();
    w.type_names.extend(generated);
    for (i, t) in input.aliases.iter().enumerate() {
        write!(w.out, "alias A{i} ").unwrap();
        w.ty(t, true);
        w.out.push('\n');
    }
    lib.push_str(&w.take());

    // The interface: one config declaration per `config`.
    w.out.push_str(
        "package shop\n\nimport (\n    \"kumori\"\n    lib \"example.org/shop/lib\"\n)\n\ncomponent Cart {\n    config {\n",
    );
    for (i, c) in input.config.iter().enumerate() {
        write!(w.out, "        c{i}{}: ", if c.optional { "?" } else { "" }).unwrap();
        w.ty(&c.ty, false);
        if let Some(d) = &c.default {
            w.out.push_str(" = ");
            w.expr(d);
        }
        w.out.push('\n');
    }
    w.out.push_str("    }\n}\n");
    let interface = w.take();

    // The implementation: free vars V0..Vn, the generated vars, a container whose env uses them.
    let mut gen_vars = String::new();
    w.gen_names = generated_vars(&input.gens, &mut gen_vars);
    w.out.push_str(
        "package shop\n\nimport (\n    \"kumori\"\n    \"io\"\n    \"strconv\"\n    lib \"example.org/shop/lib\"\n)\n\nvar (\n",
    );
    w.out.push_str(&gen_vars);
    drop(gen_vars);
    for (i, v) in input.vars.iter().enumerate() {
        write!(w.out, "    V{i} = ").unwrap();
        w.expr(v);
        w.out.push('\n');
    }
    w.out.push_str(
        ")\n\ncomponent Cart {\n    size {\n        bandwidth 10M\n        mincpu 100m\n    }\n    code {\n        main {\n            image \"registry.example.org/cart:1\"\n            size {\n                memory 64Mi\n                cpu 200m\n            }\n            env {\n",
    );
    for (i, (json, e)) in input.env.iter().enumerate() {
        write!(w.out, "                E{i} ").unwrap();
        if *json {
            w.out.push_str("strconv.JSON(");
        }
        w.expr(e);
        if *json {
            w.out.push(')');
        }
        w.out.push('\n');
    }
    w.out.push_str("            }\n        }\n    }\n}\n");
    let implementation = w.take();

    let mut tree = MemTree::new()
        .with("m/kumori.mod.json", MANIFEST)
        .with("m/cart.h.kumori", interface)
        .with("m/cart.kumori", implementation)
        .with("m/lib/types.kumori", lib);

    if let Some(values) = &input.deployment {
        w.out
            .push_str("package shop\n\nimport \"kumori\"\n\ndeployment cart {\n    artifact Cart\n    config {\n");
        for (c, v) in values {
            write!(
                w.out,
                "        c{} ",
                *c as usize % input.config.len().max(1)
            )
            .unwrap();
            w.expr(v);
            w.out.push('\n');
        }
        w.out.push_str("    }\n}\n");
        tree.insert("m/deployment.kumori", w.take());
    }

    for (i, (size, fill)) in input.files.iter().take(MAX_FILES).enumerate() {
        let size = log_scale(*size, 20).min(MAX_FILE);
        let byte = match fill % 4 {
            0 => b'a',
            1 => b'\n',
            2 => 0xff,
            _ => b'"',
        };
        tree.insert(format!("m/f{i}.txt"), vec![byte; size]);
    }

    // The binding.
    w.out.push_str(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: { name: cart-1-0-0 }\nspec:\n  domain: \"0123456789abcdef0123456789abcdef\"\n  server: cart\n  version: 1.0.0\n  kumori:\n    module: ../m\n",
    );
    if input.deployment.is_some() {
        w.out.push_str("    deployment: cart\n");
    } else {
        w.out.push_str("    component: Cart\n");
    }
    if !input.binding.is_empty() {
        w.out.push_str("    config: {");
        for (i, (c, v)) in input.binding.iter().enumerate() {
            if i > 0 {
                w.out.push_str(", ");
            }
            write!(w.out, "c{}: ", *c as usize % input.config.len().max(1)).unwrap();
            w.yaml(v);
        }
        w.out.push_str("}\n");
    }
    tree.insert("src/cart.yaml", w.take());
    tree.insert("src/domain.yaml", DOMAIN);
    tree
}

/// `FUZZ_DUMP=1`: print every file of each input (to look at what the structure gives, or at a
/// crash: `cargo fuzz run ... ARTIFACT` with it set).
static DUMP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn dump(tree: &MemTree) {
    if !*DUMP.get_or_init(|| std::env::var_os("FUZZ_DUMP").is_some()) {
        return;
    }
    use render::SourceTree;
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        for f in tree.files(&dir).unwrap_or_default() {
            if tree.is_dir(&f) {
                dirs.push(f);
                continue;
            }
            let bytes = tree.read(&f).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            let shown: String = text.chars().take(2000).collect();
            eprintln!("//- {f} ({} bytes)\n{shown}", bytes.len());
        }
    }
}

fuzz_target!(|input: Input| {
    let tree = tree(&input);
    dump(&tree);
    let mut limits = Limits::default();
    if let Some(n) = input.small_limits {
        let n = n.max(1) as usize;
        limits.depth = n.min(render::limits::MAX_DEPTH);
        limits.references = n;
        limits.union_width = n;
        limits.string_bytes = n * 64;
        limits.list_items = n;
        limits.document_nodes = n * 64;
    }
    // On a 2 MiB stack, as the daemon renders (tokio's blocking threads).
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let out = render::render(
                &tree,
                &Options {
                    path: "src".into(),
                    limits,
                    ..Options::default()
                },
            );
            let _ = out.to_yaml();
            if *DUMP.get().unwrap_or(&false) {
                eprintln!("=> {}", out.diagnostics.to_text(&|p| p.to_owned(), false));
            }
            let mut ds = Diagnostics::default();
            let ok = render::kumori::check_module(&tree, "m", &limits, &mut ds);
            assert_eq!(ok, !ds.has_errors());
        })
        .unwrap()
        .join()
        .expect("no panic and no stack overflow on a 2 MiB stack");
});
