//! YAML with positions: multi-document YAML parsed into a tree whose every node knows its byte
//! span, so that diagnostics can point at the offending value. Scalars are resolved with the
//! YAML 1.2 core schema (what Kubernetes clients use): `null`/`~`/empty, `true`/`false`,
//! integers (decimal, `0x`, `0o`), floats; quoted scalars are always strings.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

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

/// A syntax error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte range (often empty) of the error.
    pub span: Range<usize>,
    /// What the parser found wrong.
    pub message: String,
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

enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        start: usize,
        anchor: usize,
    },
}

/// Parses every document of `text`.
pub fn parse(text: &str) -> Parsed {
    let offsets = Offsets::new(text);
    let mut out = Parsed::default();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;

    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                out.error = Some(SyntaxError {
                    span: at..at,
                    message: e.info().to_owned(),
                });
                break;
            }
        };
        let span = offsets.span(span);
        let node = match event {
            Event::DocumentStart(_) => {
                root = None;
                anchors.clear();
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
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: span.start,
                    anchor,
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    start: span.start,
                    anchor,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    start,
                    anchor,
                }) => {
                    let end = items.last().map_or(span.end, |n| n.span.end.max(start));
                    let node = Node {
                        value: Value::Seq(items),
                        span: start..end,
                    };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    start,
                    anchor,
                    ..
                }) => {
                    duplicate_keys(&entries, &mut out.duplicates);
                    let end = entries
                        .last()
                        .map_or(span.end, |(_, v)| v.span.end.max(start));
                    let node = Node {
                        value: Value::Map(entries),
                        span: start..end,
                    };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => continue,
            },
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let node = Node {
                    value: scalar(
                        text.into_owned(),
                        style == ScalarStyle::Plain && !is_str_tag,
                    ),
                    span,
                };
                remember(&mut anchors, anchor, &node);
                node
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => Node {
                    value: n.value.clone(),
                    span,
                },
                None => Node {
                    value: Value::Null,
                    span,
                },
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
        };
        attach(&mut stack, &mut root, node);
    }
    out
}

/// Adds a complete node to the collection being read, as an item, a key or a value, or makes it
/// the root of the document.
fn attach(stack: &mut [Frame], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(Frame::Seq { items, .. }) => items.push(node),
        Some(Frame::Map { entries, key, .. }) => match key.take() {
            None => *key = Some(node),
            Some(k) => entries.push((k, node)),
        },
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

/// The value of a scalar: a plain one resolved by the core schema, any other a string.
fn scalar(text: String, plain: bool) -> Value {
    if plain {
        resolve_plain(&text)
    } else {
        Value::String(text)
    }
}

fn remember(anchors: &mut HashMap<usize, Node>, anchor: usize, node: &Node) {
    if anchor != 0 {
        anchors.insert(anchor, node.clone());
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
}
