//! The Vimana source loader on YAML built from a structure (issue 15): nesting of maps and
//! sequences to any depth, in block and flow style; anchors, aliases and alias-of-alias chains
//! (doubling ones are billion-laughs bombs); tags; several documents; long scalars. The text is
//! rendered as one Vimana source through `render::render`: it must render or report
//! diagnostics, never panic, and every diagnostic location must lie inside the file. Run with
//! `-rss_limit_mb` and `-timeout` so that a blow-up in memory or time counts as a failure.
#![no_main]

use std::fmt::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use render::{MemTree, Options};

/// The longest scalar and the most repetitions one node may ask for: past `fileBytes`'
/// neighbourhood only memory and time of the fuzzer itself would be spent.
const MAX_SCALAR: usize = 1 << 20;
const MAX_NEST: usize = 100_000;
const MAX_TEXT: usize = 9 << 20;

#[derive(Arbitrary, Debug)]
struct Input {
    /// `%YAML 1.2` before the first document.
    directive: bool,
    docs: Vec<Doc>,
}

#[derive(Arbitrary, Debug)]
struct Doc {
    /// Inside a Vimana object (`apiVersion`, `kind`, `metadata`, `spec: <root>`) so that the
    /// converter walks it, or bare.
    envelope: Option<Kind>,
    root: Node,
    /// `...` after the document.
    end_marker: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Component,
    Server,
    Domain,
    Unknown,
}

#[derive(Arbitrary, Debug)]
enum Node {
    Scalar(Scalar),
    Seq(Style, Vec<Node>),
    Map(Style, Vec<(Key, Node)>),
    /// `&aN node`.
    Anchored(u8, Box<Node>),
    /// `*aN`.
    Alias(u8),
    Tagged(Tag, Box<Node>),
    /// `depth` levels of one kind of collection around `inner`.
    Nest {
        kind: NestKind,
        depth: u32,
        inner: Box<Node>,
    },
    /// `{c0: &c0 [x, x], c1: &c1 [*c0, *c0], ...}`: each anchor holds `width` aliases of the one
    /// before (width 1: a plain chain of aliases of aliases).
    AliasChain {
        width: u8,
        len: u16,
        leaf: Scalar,
    },
    /// The same node `count` times in a flow sequence.
    Repeat {
        count: u16,
        item: Box<Node>,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Style {
    Block,
    Flow,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum NestKind {
    BlockSeq,
    FlowSeq,
    FlowMap,
    BlockMap,
    /// `[` without the closing brackets.
    Unclosed,
}

#[derive(Arbitrary, Debug)]
enum Key {
    Known(KnownKey),
    Plain(u8),
    Long(u16),
    /// A collection as a key (`? [a]`-like in flow).
    Complex(Box<Node>),
    Merge,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KnownKey {
    ApiVersion,
    Kind,
    Metadata,
    Name,
    Spec,
    Domain,
    Server,
    Version,
    Image,
    Kumori,
    Module,
    Component,
    Config,
    VersionWeights,
    Replicas,
    Env,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tag {
    Str,
    Int,
    Float,
    Bool,
    Null,
    Map,
    Seq,
    Binary,
    Python,
    Custom,
    NonSpecific,
    Verbatim,
}

#[derive(Arbitrary, Debug)]
enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Word(u8),
    Text(String),
    /// `len` copies of a character, in a style.
    Long {
        len: u32,
        ch: u8,
        style: ScalarStyle,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ScalarStyle {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

const WORDS: &[&str] = &[
    "x",
    "api.vimana.host/v1alpha1",
    "Component",
    "Server",
    "Domain",
    "0123456789abcdef0123456789abcdef",
    "1.0.0",
    "ghcr.io/acme/adder:1.1.0",
    "adder",
    "~",
    "null",
    "yes",
    "0o17",
    "0x1F",
    ".inf",
    "-.NaN",
    "9223372036854775808",
    "1e400",
    "2026-11-29",
    "<<",
    "é",
    "\u{202e}",
    "a: b",
    "- x",
    "#",
    "&",
    "*",
    "!",
    "|",
    "'",
    "\"",
];

/// Writes YAML text, giving up (and keeping what is written) once it passes `MAX_TEXT`.
struct Writer {
    out: String,
}

impl Writer {
    fn full(&self) -> bool {
        self.out.len() > MAX_TEXT
    }

    fn scalar(&mut self, s: &Scalar, indent: usize) {
        match s {
            Scalar::Int(i) => write!(self.out, "{i}").unwrap(),
            Scalar::Float(f) => write!(self.out, "{f:?}").unwrap(),
            Scalar::Bool(b) => write!(self.out, "{b}").unwrap(),
            Scalar::Null => self.out.push_str("null"),
            Scalar::Word(w) => {
                quote(&mut self.out, WORDS[*w as usize % WORDS.len()]);
            }
            Scalar::Text(t) => quote(&mut self.out, t),
            Scalar::Long { len, ch, style } => {
                let len = log_scale(*len, 19).min(MAX_SCALAR);
                let ch = match ch % 4 {
                    0 => 'a',
                    1 => ' ',
                    2 => 'é',
                    _ => '\n',
                };
                let body: String = std::iter::repeat_n(ch, len).collect();
                match style {
                    ScalarStyle::Plain => {
                        self.out.push('x');
                        self.out.push_str(&body.replace('\n', " "));
                    }
                    ScalarStyle::Single => {
                        self.out.push('\'');
                        self.out.push_str(&body);
                        self.out.push('\'');
                    }
                    ScalarStyle::Double => quote(&mut self.out, &body),
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        self.out.push_str(if matches!(style, ScalarStyle::Literal) {
                            "|\n"
                        } else {
                            ">\n"
                        });
                        let pad = " ".repeat(indent + 1);
                        for line in body.split('\n') {
                            self.out.push_str(&pad);
                            self.out.push_str(line);
                            self.out.push('\n');
                        }
                        self.out.push_str(&" ".repeat(indent));
                    }
                }
            }
        }
    }

    fn key(&mut self, k: &Key, indent: usize) {
        match k {
            Key::Known(k) => {
                let name = format!("{k:?}");
                let (first, rest) = name.split_at(1);
                write!(self.out, "{}{rest}", first.to_lowercase()).unwrap();
            }
            Key::Plain(n) => write!(self.out, "k{n}").unwrap(),
            Key::Long(n) => self.out.push_str(&"k".repeat(*n as usize)),
            Key::Complex(node) => {
                self.out.push_str("? ");
                self.flow(node, indent);
                self.out.push('\n');
                self.out.push_str(&" ".repeat(indent));
            }
            Key::Merge => self.out.push_str("<<"),
        }
    }

    /// Writes `node` in flow style (on one line).
    fn flow(&mut self, node: &Node, indent: usize) {
        if self.full() {
            return;
        }
        match node {
            Node::Scalar(s) => match s {
                // Block scalars cannot be inside flow collections: quote them.
                Scalar::Long {
                    len,
                    ch,
                    style: ScalarStyle::Literal | ScalarStyle::Folded,
                } => self.scalar(
                    &Scalar::Long {
                        len: *len,
                        ch: *ch,
                        style: ScalarStyle::Double,
                    },
                    indent,
                ),
                s => self.scalar(s, indent),
            },
            Node::Seq(_, items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.flow(item, indent);
                }
                self.out.push(']');
            }
            Node::Map(_, entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match k {
                        Key::Complex(node) => {
                            self.out.push_str("? ");
                            self.flow(node, indent);
                        }
                        k => self.key(k, indent),
                    }
                    self.out.push_str(": ");
                    self.flow(v, indent);
                }
                self.out.push('}');
            }
            Node::Anchored(a, inner) => {
                write!(self.out, "&a{} ", a % 8).unwrap();
                self.flow(inner, indent);
            }
            Node::Alias(a) => write!(self.out, "*a{}", a % 8).unwrap(),
            Node::Tagged(t, inner) => {
                self.tag(*t);
                self.flow(inner, indent);
            }
            Node::Nest { kind, depth, inner } => {
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                let (open, close) = match kind {
                    NestKind::FlowMap | NestKind::BlockMap => ("{a: ", "}"),
                    NestKind::Unclosed => ("[", ""),
                    _ => ("[", "]"),
                };
                self.out.push_str(&open.repeat(depth));
                self.flow(inner, indent);
                self.out.push_str(&close.repeat(depth));
            }
            Node::AliasChain { width, len, leaf } => self.alias_chain(*width, *len, leaf),
            Node::Repeat { count, item } => {
                self.out.push('[');
                for i in 0..log_scale(u32::from(*count), 12) {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.flow(item, indent);
                    if self.full() {
                        break;
                    }
                }
                self.out.push(']');
            }
        }
    }

    fn alias_chain(&mut self, width: u8, len: u16, leaf: &Scalar) {
        let width = (width % 12).max(1) as usize;
        self.out.push_str("{c0: &c0 [");
        for i in 0..width {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.flow(&Node::Scalar(clone_small(leaf)), 0);
        }
        self.out.push(']');
        for n in 1..=log_scale(u32::from(len), 14) {
            write!(self.out, ", c{n}: &c{n} [").unwrap();
            for i in 0..width {
                if i > 0 {
                    self.out.push_str(", ");
                }
                write!(self.out, "*c{}", n - 1).unwrap();
            }
            self.out.push(']');
            if self.full() {
                break;
            }
        }
        self.out.push('}');
    }

    fn tag(&mut self, t: Tag) {
        self.out.push_str(match t {
            Tag::Str => "!!str ",
            Tag::Int => "!!int ",
            Tag::Float => "!!float ",
            Tag::Bool => "!!bool ",
            Tag::Null => "!!null ",
            Tag::Map => "!!map ",
            Tag::Seq => "!!seq ",
            Tag::Binary => "!!binary ",
            Tag::Python => "!!python/object:os.system ",
            Tag::Custom => "!custom ",
            Tag::NonSpecific => "! ",
            Tag::Verbatim => "!<tag:yaml.org,2002:str> ",
        });
    }

    /// Writes `node` as the value after `key: ` or `- ` at `indent` (block style where asked).
    fn block(&mut self, node: &Node, indent: usize) {
        if self.full() {
            return;
        }
        let pad = |n: usize| " ".repeat(n);
        match node {
            Node::Seq(Style::Block, items) if !items.is_empty() => {
                for item in items {
                    write!(self.out, "\n{}- ", pad(indent)).unwrap();
                    self.block(item, indent + 2);
                }
            }
            Node::Map(Style::Block, entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    write!(self.out, "\n{}", pad(indent)).unwrap();
                    self.key(k, indent);
                    self.out.push_str(": ");
                    self.block(v, indent + 2);
                }
            }
            Node::Anchored(a, inner) => {
                write!(self.out, "&a{} ", a % 8).unwrap();
                self.block(inner, indent);
            }
            Node::Tagged(t, inner) => {
                self.tag(*t);
                self.block(inner, indent);
            }
            Node::Scalar(s) => self.scalar(s, indent),
            Node::Nest {
                kind: kind @ (NestKind::BlockSeq | NestKind::BlockMap),
                depth,
                inner,
            } => {
                // Each level on its own line, indented one more: `- - - x` would be the same
                // nesting on one line, for the sequence.
                let depth = log_scale(*depth, 16).min(MAX_NEST);
                if matches!(kind, NestKind::BlockSeq) && depth.is_multiple_of(2) {
                    self.out.push_str(&"- ".repeat(depth));
                    self.flow(inner, indent);
                    return;
                }
                for d in 0..depth {
                    let item = if matches!(kind, NestKind::BlockSeq) {
                        "- "
                    } else {
                        "a: "
                    };
                    write!(self.out, "\n{}{item}", pad(indent + d)).unwrap();
                    if self.full() {
                        return;
                    }
                }
                self.flow(inner, indent + depth);
            }
            node => self.flow(node, indent),
        }
    }
}

/// `s` as a JSON string (a double-quoted YAML scalar).
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

/// A scalar that stays small, for the leaves of alias chains.
fn clone_small(s: &Scalar) -> Scalar {
    match s {
        Scalar::Int(i) => Scalar::Int(*i),
        Scalar::Float(f) => Scalar::Float(*f),
        Scalar::Bool(b) => Scalar::Bool(*b),
        Scalar::Null => Scalar::Null,
        Scalar::Word(w) => Scalar::Word(*w),
        Scalar::Text(t) => Scalar::Text(t.chars().take(64).collect()),
        Scalar::Long { len, ch, .. } => Scalar::Long {
            len: len % 64,
            ch: *ch,
            style: ScalarStyle::Double,
        },
    }
}

fn text(input: &Input) -> String {
    let mut w = Writer { out: String::new() };
    if input.directive {
        w.out.push_str("%YAML 1.2\n");
    }
    for doc in &input.docs {
        w.out.push_str("---");
        match doc.envelope {
            Some(kind) => {
                let kind = match kind {
                    Kind::Component => "Component",
                    Kind::Server => "Server",
                    Kind::Domain => "Domain",
                    Kind::Unknown => "Widget",
                };
                write!(
                    w.out,
                    "\napiVersion: api.vimana.host/v1alpha1\nkind: {kind}\nmetadata:\n  name: fuzz\nspec:"
                )
                .unwrap();
                w.out.push(' ');
                w.block(&doc.root, 2);
            }
            None => {
                w.out.push(' ');
                w.block(&doc.root, 0);
            }
        }
        w.out.push('\n');
        if doc.end_marker {
            w.out.push_str("...\n");
        }
        if w.full() {
            break;
        }
    }
    w.out
}

/// `FUZZ_DUMP=1`: print each input's text (to look at what the structure gives, or at a crash:
/// `cargo fuzz run ... ARTIFACT` with it set).
static DUMP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn dump(text: &str) {
    if *DUMP.get_or_init(|| std::env::var_os("FUZZ_DUMP").is_some()) {
        let shown: String = text.chars().take(2000).collect();
        eprintln!("=== {} bytes\n{shown}", text.len());
    }
}

fuzz_target!(|input: Input| {
    let text = text(&input);
    dump(&text);
    // On a 2 MiB stack, as the daemon renders (tokio's blocking threads).
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let tree = MemTree::new().with("src/fuzz.yaml", text.as_bytes().to_vec());
            let out = render::render(
                &tree,
                &Options {
                    path: "src".into(),
                    ..Options::default()
                },
            );
            for d in &out.diagnostics.items {
                if let Some(label) = &d.primary {
                    assert!(label.span.start <= label.span.end && label.span.end <= text.len());
                }
            }
            let _ = out.to_yaml();
            if *DUMP.get().unwrap_or(&false) {
                let codes: Vec<&str> = out.diagnostics.items.iter().map(|d| d.code).collect();
                eprintln!("=> {} manifests, {codes:?}", out.manifests.len());
            }
        })
        .unwrap()
        .join()
        .expect("no panic and no stack overflow on a 2 MiB stack");
});
