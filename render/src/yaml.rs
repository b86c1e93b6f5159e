//! YAML with positions: multi-document YAML parsed into a tree whose every node knows its byte
//! span, so that diagnostics can point at the offending value. Scalars are resolved with the
//! YAML 1.2 core schema (what Kubernetes clients use): `null`/`~`/empty, `true`/`false`,
//! integers (decimal, `0x`, `0o`), floats; quoted scalars are always strings.
//!
//! The input is hostile until read: nesting is bounded ([`Limits::depth`], checked as
//! collections open, aliases counted with the height of what they copy, so that no recursive
//! function over a [`Node`] (drop included) can run deep), and so is what a document expands
//! to once its aliases are copied ([`Limits::document_nodes`], counted before the copy). Tags
//! other than the core schema's are refused, not ignored.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::Limits;

mod read_ahead;
use read_ahead::ReadAhead;

/// A YAML value with its place in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value, scalars resolved by the core schema, aliases copied in.
    pub value: Value,
    /// Byte range in the file.
    pub span: Range<usize>,
}

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A plain scalar that reads as an integer (`42`, `0x2a`, `0o52`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A quoted scalar, a `!!str` one, or a plain one that is no other type.
    String(String),
    /// A sequence, block or flow, in source order.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of the value's type, for messages (`a string`, `a mapping`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON (mapping keys become strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The text of a mapping key: strings as they are, other scalars printed.
    pub fn key_text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => "<complex key>".into(),
        }
    }
}

/// One document of a YAML stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The document's top-level node (an empty document is not kept).
    pub root: Node,
}

/// What stopped the parse of a file: where and what. Documents after it are not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte range (often empty) of the error.
    pub span: Range<usize>,
    /// What the parser found wrong.
    pub message: String,
    /// Why the parse stopped.
    pub kind: StopKind,
}

/// Why a parse stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// The text is not YAML.
    Syntax,
    /// Collections nested deeper than the limit (with aliases expanded).
    TooDeep {
        /// The limit ([`Limits::depth`]).
        limit: usize,
    },
    /// A document holds more nodes than the limit once its aliases are expanded.
    TooManyNodes {
        /// The limit ([`Limits::document_nodes`]).
        limit: usize,
    },
    /// The parser read more than the limit ahead without giving a value: a flow collection it
    /// tokenizes whole before the first event (or a scalar longer than an object may be).
    TooFarAhead {
        /// The limit in bytes ([`Limits::object_bytes`]).
        limit: usize,
    },
}

/// Something wrong in a document that does not stop the parse; the value in question is read
/// as `null`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub span: Range<usize>,
    /// What.
    pub kind: ProblemKind,
}

/// What a [`Problem`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// A tag outside the core schema (`!!binary`, `!!python/object`, `!custom`), or a core
    /// tag on a value of another type (`!!int abc`); the tag as written.
    Tag(String),
    /// An alias to an anchor that another document of the same file defines; the anchor's
    /// name.
    ForeignAnchor(String),
}

/// A duplicate key in a mapping: the first and the second occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The repeated key, as text.
    pub key: String,
    /// Span of the first occurrence.
    pub first: Range<usize>,
    /// Span of the repeated occurrence.
    pub second: Range<usize>,
}

/// The result of parsing a file: the documents up to the first syntax error, the error, and
/// duplicate keys (which YAML forbids but many parsers accept silently).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// Documents parsed; empty documents are left out.
    pub documents: Vec<Document>,
    /// The syntax error that stopped parsing, if any.
    pub error: Option<SyntaxError>,
    /// Duplicate keys found.
    pub duplicates: Vec<DuplicateKey>,
    /// Tags and aliases refused.
    pub problems: Vec<Problem>,
}

/// Turns character offsets (what the YAML parser reports) into byte offsets.
struct Offsets {
    bytes: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        Offsets {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.bytes {
            None => char_index.min(self.len),
            Some(b) => b.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn span(&self, span: Span) -> Range<usize> {
        self.byte(span.start.index())..self.byte(span.end.index())
    }
}

/// A collection being read.
struct Frame {
    kind: FrameKind,
    start: usize,
    anchor: usize,
    /// The document's node count before this collection: what it holds is the difference.
    nodes_before: usize,
    /// The height of its tallest child (0 for scalars only, or none).
    height: usize,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// An anchored node, with what copying it costs.
struct Anchored {
    node: Node,
    /// Its nodes, itself included.
    nodes: usize,
    /// How many collections deep it is (0 for a scalar).
    height: usize,
}

/// The YAML handle of the core schema's tags (`!!str` is `tag:yaml.org,2002:str`).
const CORE: &str = "tag:yaml.org,2002:";

/// Parses every document of `text` under the default [`Limits`].
pub fn parse(text: &str) -> Parsed {
    parse_with(text, &Limits::default())
}

/// Parses every document of `text`, stopping at the first syntax error or at the first limit
/// hit ([`Limits::depth`], [`Limits::document_nodes`]).
pub fn parse_with(text: &str, limits: &Limits) -> Parsed {
    let offsets = Offsets::new(text);
    let mut out = Parsed::default();
    let ahead = ReadAhead::new(limits.object_bytes);
    let mut parser = Parser::new_from_iter(ahead.reader(text));
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Anchored> = HashMap::new();
    // Anchors of earlier documents: the parser still resolves their names, but YAML scopes an
    // anchor to its document.
    let mut foreign: HashSet<usize> = HashSet::new();
    let mut root: Option<Node> = None;
    // Nodes of the current document, aliases counted with what they copy.
    let mut nodes = 0usize;
    // Nodes copied to remember anchors, under a budget of their own (as large), so that an
    // alias bomb stops at an alias, and an anchor on every level of a large value does not
    // copy it a hundred times.
    let mut anchored = 0usize;

    let stop = |out: &mut Parsed, span: Range<usize>, kind: StopKind| {
        let message = match kind {
            StopKind::TooDeep { limit } => format!("nested deeper than {limit} levels"),
            StopKind::TooManyNodes { limit } => format!(
                "the document holds more than {limit} nodes once its anchors and aliases are expanded"
            ),
            StopKind::TooFarAhead { limit } => format!(
                "the parser read more than {} ahead without finding a complete value",
                crate::limits::bytes_text(limit as u64)
            ),
            StopKind::Syntax => String::new(),
        };
        out.error = Some(SyntaxError {
            span,
            message,
            kind,
        });
    };

    while let Some(next) = parser.next_event() {
        if ahead.starved() {
            // The parser saw an end the text does not have: what it gave last is not to be
            // trusted, whether it read it as an error or not.
            let at = ahead.stopped_at();
            stop(
                &mut out,
                at..at,
                StopKind::TooFarAhead {
                    limit: limits.object_bytes,
                },
            );
            break;
        }
        ahead.advance();
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                // The scanner reads flow collections ahead of the events and stops at 255
                // levels on its own: that is nesting too, whichever limit is lower.
                if e.info() == "recursion limit exceeded" {
                    let limit = limits.depth.min(u8::MAX as usize);
                    stop(&mut out, at..at, StopKind::TooDeep { limit });
                } else {
                    out.error = Some(SyntaxError {
                        span: at..at,
                        message: e.info().to_owned(),
                        kind: StopKind::Syntax,
                    });
                }
                break;
            }
        };
        let span = offsets.span(span);
        let (node, height) = match event {
            Event::DocumentStart(_) => {
                root = None;
                foreign.extend(anchors.drain().map(|(id, _)| id));
                nodes = 0;
                anchored = 0;
                continue;
            }
            Event::DocumentEnd => {
                if let Some(r) = root.take()
                    && r.value != Value::Null
                {
                    out.documents.push(Document { root: r });
                }
                continue;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if stack.len() >= limits.depth {
                    stop(
                        &mut out,
                        span,
                        StopKind::TooDeep {
                            limit: limits.depth,
                        },
                    );
                    break;
                }
                nodes += 1;
                if nodes > limits.document_nodes {
                    stop(
                        &mut out,
                        span,
                        StopKind::TooManyNodes {
                            limit: limits.document_nodes,
                        },
                    );
                    break;
                }
                let is_seq = matches!(event, Event::SequenceStart(..));
                if let Some(tag) = tag.as_deref()
                    && !non_specific(tag)
                    && !(tag.handle == CORE && tag.suffix == if is_seq { "seq" } else { "map" })
                {
                    out.problems.push(Problem {
                        span: span.clone(),
                        kind: ProblemKind::Tag(tag_text(tag)),
                    });
                }
                stack.push(Frame {
                    kind: if is_seq {
                        FrameKind::Seq(Vec::new())
                    } else {
                        FrameKind::Map {
                            entries: Vec::new(),
                            key: None,
                        }
                    },
                    start: span.start,
                    anchor,
                    nodes_before: nodes - 1,
                    height: 0,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let value = match frame.kind {
                    FrameKind::Seq(items) => Value::Seq(items),
                    FrameKind::Map { entries, .. } => {
                        duplicate_keys(&entries, &mut out.duplicates);
                        Value::Map(entries)
                    }
                };
                let last_end = match &value {
                    Value::Seq(items) => items.last().map(|n| n.span.end),
                    Value::Map(entries) => entries.last().map(|(_, v)| v.span.end),
                    _ => None,
                };
                let node = Node {
                    value,
                    span: frame.start..last_end.map_or(span.end, |e| e.max(frame.start)),
                };
                let height = frame.height + 1;
                if frame.anchor != 0 {
                    let held = nodes - frame.nodes_before;
                    anchored += held;
                    if anchored > limits.document_nodes {
                        stop(
                            &mut out,
                            node.span.start..node.span.start,
                            StopKind::TooManyNodes {
                                limit: limits.document_nodes,
                            },
                        );
                        break;
                    }
                    anchors.insert(
                        frame.anchor,
                        Anchored {
                            node: node.clone(),
                            nodes: held,
                            height,
                        },
                    );
                }
                (node, height)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let weight = scalar_weight(&text);
                nodes += weight;
                if nodes > limits.document_nodes {
                    stop(
                        &mut out,
                        span,
                        StopKind::TooManyNodes {
                            limit: limits.document_nodes,
                        },
                    );
                    break;
                }
                let value = match scalar(text.into_owned(), style, tag.as_deref()) {
                    Ok(v) => v,
                    Err(tag) => {
                        out.problems.push(Problem {
                            span: span.clone(),
                            kind: ProblemKind::Tag(tag),
                        });
                        Value::Null
                    }
                };
                let node = Node { value, span };
                if anchor != 0 {
                    anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            nodes: weight,
                            height: 0,
                        },
                    );
                }
                (node, 0)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(a) => {
                    if stack.len() + a.height > limits.depth {
                        stop(
                            &mut out,
                            span,
                            StopKind::TooDeep {
                                limit: limits.depth,
                            },
                        );
                        break;
                    }
                    // Counted before the copy: a few hundred bytes of anchors can stand for
                    // billions of nodes.
                    nodes = nodes.saturating_add(a.nodes);
                    if nodes > limits.document_nodes {
                        stop(
                            &mut out,
                            span,
                            StopKind::TooManyNodes {
                                limit: limits.document_nodes,
                            },
                        );
                        break;
                    }
                    let node = Node {
                        value: a.node.value.clone(),
                        span,
                    };
                    (node, a.height)
                }
                None => {
                    if foreign.contains(&id) {
                        let name = text
                            .get(span.clone())
                            .unwrap_or_default()
                            .trim_start_matches('*')
                            .to_owned();
                        out.problems.push(Problem {
                            span: span.clone(),
                            kind: ProblemKind::ForeignAnchor(name),
                        });
                    }
                    (
                        Node {
                            value: Value::Null,
                            span,
                        },
                        0,
                    )
                }
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
        };
        attach(&mut stack, &mut root, node, height);
    }
    // What was read of an unfinished document is dropped here, bounded like the rest.
    drop(stack);
    out
}

/// What a scalar counts for under [`Limits::document_nodes`]: one node per started
/// [`SCALAR_BYTES`] of its text, so that aliases of one long string count for what they copy.
fn scalar_weight(text: &str) -> usize {
    1 + text.len().saturating_sub(1) / SCALAR_BYTES
}

/// The bytes of scalar text that count as one node.
pub const SCALAR_BYTES: usize = 64;

/// Whether `tag` is the non-specific `!`, which only says "not resolved by type".
fn non_specific(tag: &Tag) -> bool {
    (tag.handle.is_empty() && tag.suffix == "!") || (tag.handle == "!" && tag.suffix.is_empty())
}

/// How a tag is written: `!!binary`, `!custom`.
fn tag_text(tag: &Tag) -> String {
    if tag.handle == CORE {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Adds a complete node to the collection being read, as an item, a key or a value, or makes it
/// the root of the document.
fn attach(stack: &mut [Frame], root: &mut Option<Node>, node: Node, height: usize) {
    match stack.last_mut() {
        Some(frame) => {
            frame.height = frame.height.max(height);
            match &mut frame.kind {
                FrameKind::Seq(items) => items.push(node),
                FrameKind::Map { entries, key } => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
        None => *root = Some(node),
    }
}

/// Records every key of a mapping that an earlier key of the same mapping repeats.
fn duplicate_keys(entries: &[(Node, Node)], out: &mut Vec<DuplicateKey>) {
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for (k, _) in entries {
        if let Some(first) = seen.get(&k.key_text()) {
            out.push(DuplicateKey {
                key: k.key_text(),
                first: first.clone(),
                second: k.span.clone(),
            });
        } else {
            seen.insert(k.key_text(), k.span.clone());
        }
    }
}

/// The value of a scalar: a plain one resolved by the core schema, any other a string; a core
/// tag makes its type, which the text must read as. `Err` with the tag as written when it is
/// not a core one or the text is not of its type.
fn scalar(text: String, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag.filter(|t| !non_specific(t)) else {
        return Ok(if style == ScalarStyle::Plain && tag.is_none() {
            resolve_plain(&text)
        } else {
            // Quoted, block, or with the non-specific tag `!`: a string.
            Value::String(text)
        });
    };
    let refused = || tag_text(tag);
    if tag.handle != CORE {
        return Err(refused());
    }
    let resolved = || resolve_plain(&text);
    match tag.suffix.as_str() {
        "str" => Ok(Value::String(text)),
        "int" => match resolved() {
            v @ Value::Int(_) => Ok(v),
            _ => Err(refused()),
        },
        "float" => match resolved() {
            v @ Value::Float(_) => Ok(v),
            Value::Int(i) => Ok(Value::Float(i as f64)),
            _ => Err(refused()),
        },
        "bool" => match resolved() {
            v @ Value::Bool(_) => Ok(v),
            _ => Err(refused()),
        },
        "null" => match resolved() {
            Value::Null => Ok(Value::Null),
            _ => Err(refused()),
        },
        _ => Err(refused()),
    }
}

fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1i64, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let int = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::Int(sign * i);
    }
    let looks_float = s
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float && let Ok(f) = s.parse::<f64>() {
        return Value::Float(f);
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => Value::String(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: &Node) -> &[(Node, Node)] {
        match &n.value {
            Value::Map(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn the_parser_reads_at_most_object_bytes_past_its_last_value() {
        let limits = Limits {
            object_bytes: 1000,
            ..Limits::default()
        };
        // A flow sequence at the top is tokenized whole before its first event.
        let list = format!("[{}0]", "0,".repeat(2000));
        let e = parse_with(&list, &limits).error.expect("refused");
        assert_eq!(e.kind, StopKind::TooFarAhead { limit: 1000 });
        assert!(e.span.start <= 1001, "{:?}", e.span);
        // After a key it is not, and a value under the limit reads as usual.
        let keyed = format!("a: [{}0]", "0,".repeat(2000));
        assert!(parse_with(&keyed, &limits).error.is_none());
        let scalar = format!("a: {}\nb: 1\n", "x".repeat(900));
        let p = parse_with(&scalar, &limits);
        assert!(p.error.is_none(), "{:?}", p.error);
        // A scalar longer than an object may be is cut, and never taken as shorter.
        let long = format!("a: {}\n", "x".repeat(5000));
        let e = parse_with(&long, &limits).error.expect("refused");
        assert_eq!(e.kind, StopKind::TooFarAhead { limit: 1000 });
    }

    #[test]
    fn documents_with_spans_and_core_schema() {
        let text = "---\na: 1\nb: \"1\"\nc: 1.1.0\nd: true\ne: ~\n---\n---\nx: [1, 0o10, 0x1f]\n";
        let p = parse(text);
        assert_eq!(p.error, None);
        assert_eq!(p.documents.len(), 2);
        let e = map(&p.documents[0].root);
        assert_eq!(e[0].1.value, Value::Int(1));
        assert_eq!(e[1].1.value, Value::String("1".into()));
        assert_eq!(e[2].1.value, Value::String("1.1.0".into()));
        assert_eq!(e[3].1.value, Value::Bool(true));
        assert_eq!(e[4].1.value, Value::Null);
        assert_eq!(&text[e[2].1.span.clone()], "1.1.0");
        assert_eq!(&text[e[1].1.span.clone()], "\"1\"");
        let x = map(&p.documents[1].root);
        assert_eq!(x[0].1.to_json(), serde_json::json!([1, 8, 31]));
    }

    #[test]
    fn non_ascii_spans_are_bytes() {
        let text = "é: \"ü\"\nk: v\n";
        let p = parse(text);
        let e = map(&p.documents[0].root);
        assert_eq!(&text[e[1].0.span.clone()], "k");
        assert_eq!(&text[e[1].1.span.clone()], "v");
    }

    #[test]
    fn syntax_errors_and_duplicates_are_reported() {
        let p = parse("a: 1\na: 2\n");
        assert_eq!(p.duplicates.len(), 1);
        assert_eq!(p.duplicates[0].key, "a");
        let p = parse("a: [1, 2\nb: 3\n");
        assert!(p.error.is_some());
    }

    #[test]
    fn aliases_copy_the_anchored_value() {
        let p = parse("a: &x {k: 1}\nb: *x\n");
        let e = map(&p.documents[0].root);
        assert_eq!(e[1].1.to_json(), serde_json::json!({"k": 1}));
    }

    fn limits(depth: usize, document_nodes: usize) -> Limits {
        Limits {
            depth,
            document_nodes,
            ..Limits::default()
        }
    }

    #[test]
    fn nesting_is_bounded_in_block_and_flow_style() {
        let deep_block = "- ".repeat(300_000) + "x\n";
        let p = parse(&deep_block);
        let e = p.error.expect("too deep");
        assert_eq!(e.kind, StopKind::TooDeep { limit: 128 });
        assert!(p.documents.is_empty());
        let deep_flow = "[".repeat(300_000);
        let e = parse(&deep_flow).error.unwrap();
        assert_eq!(e.kind, StopKind::TooDeep { limit: 128 });
        let ok = "[".repeat(128) + &"]".repeat(128);
        assert_eq!(parse(&ok).error, None);
        let over = "[".repeat(129) + &"]".repeat(129);
        assert!(parse(&over).error.is_some());
    }

    #[test]
    fn aliases_count_the_height_of_what_they_copy() {
        // Each anchor nests the previous one: depth grows by aliases, not by brackets.
        let mut text = String::from("a0: &a0 [[[x]]]\n");
        for i in 1..10 {
            text.push_str(&format!("a{i}: &a{i} [[[*a{}]]]\n", i - 1));
        }
        let p = parse_with(&text, &limits(20, 1000));
        let e = p.error.expect("too deep through aliases");
        assert_eq!(e.kind, StopKind::TooDeep { limit: 20 });
        assert_eq!(&text[e.span.clone()], "*a5");
        assert_eq!(parse_with(&text, &limits(40, 1000)).error, None);
    }

    #[test]
    fn alias_bomb_stops_at_the_node_limit_before_copying() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names: Vec<char> = "abcdefghi".chars().collect();
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(",");
            text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        assert!(text.len() < 600, "{}", text.len());
        let started = std::time::Instant::now();
        let p = parse(&text);
        assert!(started.elapsed().as_secs() < 2);
        let e = p.error.expect("bomb stopped");
        assert_eq!(e.kind, StopKind::TooManyNodes { limit: 1_000_000 });
        assert!(text[e.span.clone()].starts_with('*'), "{e:?}");
    }

    #[test]
    fn aliases_of_a_long_string_count_its_length() {
        let long = "x".repeat(64 * 1000);
        let aliases = vec!["*a"; 2000].join(", ");
        let text = format!("a: &a {long}\nb: [{aliases}]\n");
        let e = parse(&text).error.expect("stopped");
        assert_eq!(e.kind, StopKind::TooManyNodes { limit: 1_000_000 });
        assert_eq!(scalar_weight(""), 1);
        assert_eq!(scalar_weight(&"x".repeat(64)), 1);
        assert_eq!(scalar_weight(&"x".repeat(65)), 2);
    }

    #[test]
    fn tags_outside_the_core_schema_are_refused() {
        let p = parse(
            "a: !!binary aGVsbG8=\nb: !!python/object:os.system x\nc: !custom {k: 1}\nd: !!int 12\ne: !!str 12\nf: !!int abc\ng: ! 12\nh: !!map {}\n",
        );
        let tags: Vec<String> = p
            .problems
            .iter()
            .map(|p| match &p.kind {
                ProblemKind::Tag(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            tags,
            ["!!binary", "!!python/object:os.system", "!custom", "!!int"]
        );
        let e = map(&p.documents[0].root);
        assert_eq!(e[0].1.value, Value::Null);
        assert_eq!(e[3].1.value, Value::Int(12));
        assert_eq!(e[4].1.value, Value::String("12".into()));
        assert_eq!(e[6].1.value, Value::String("12".into()));
    }

    #[test]
    fn alias_to_an_anchor_of_another_document_is_a_problem() {
        let text = "a: &x 1\n---\nb: *x\n";
        let p = parse(text);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].kind, ProblemKind::ForeignAnchor("x".into()));
        assert_eq!(&text[p.problems[0].span.clone()], "*x");
    }
}
