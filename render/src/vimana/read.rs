//! Reading typed values out of positioned YAML nodes, reporting every mismatch as a diagnostic
//! instead of stopping at the first.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::yaml::{Node, Value};

/// The file being read and where its diagnostics go.
pub struct Cx<'a> {
    /// Repository-relative path of the file.
    pub file: &'a str,
    /// Where diagnostics go.
    pub diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    /// Reports an error at `span` of the current file.
    pub fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags.push(
            Diagnostic::error(code, message)
                .at(self.file, span, label)
                .help(help),
        );
    }

    /// Reports a diagnostic built by the caller, located in the current file.
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reports a value of the wrong type.
    pub fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let found = node.value.type_name();
        let help = match (&node.value, expected) {
            (Value::Int(_) | Value::Float(_) | Value::Bool(_), e) if e.contains("string") => {
                format!("quote the value so that YAML reads it as a string: {path}: \"...\"")
            }
            (Value::Null, _) => format!("give `{path}` a value, or remove the key"),
            _ => format!("write `{path}` as {expected}"),
        };
        self.error(
            "wrong-type",
            node.span.clone(),
            format!("`{path}` must be {expected}, found {found}"),
            format!("{found}, expected {expected}"),
            help,
        );
    }

    /// Reads a string.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    /// Reads a boolean.
    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, path, "a boolean (true or false)");
                None
            }
        }
    }

    /// Reads a list of strings, each checked by `check` (failures reported under `code`);
    /// duplicates are reported.
    pub fn string_list(
        &mut self,
        node: &Node,
        path: &str,
        code: &'static str,
        check: &ItemCheck<'_>,
    ) -> Vec<String> {
        let Value::Seq(items) = &node.value else {
            self.wrong_type(node, path, "a list of strings");
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        let mut spans: Vec<Range<usize>> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(s) = self.string(item, &item_path) else {
                continue;
            };
            if let Err((message, help)) = check(&s) {
                self.error(
                    code,
                    item.span.clone(),
                    format!("`{item_path}` is not valid: {message}"),
                    "invalid value",
                    help,
                );
                continue;
            }
            if let Some(first) = out.iter().position(|o| *o == s) {
                self.push(
                    Diagnostic::duplicate(
                        "duplicate-entry",
                        format!("`{path}` lists {s:?} twice"),
                        "listed",
                        (self.file, item.span.clone()),
                        (self.file, spans[first].clone()),
                    )
                    .help("remove one of the two entries"),
                );
                continue;
            }
            out.push(s);
            spans.push(item.span.clone());
        }
        out
    }
}

/// Checks one list item: `Err((what is wrong, how to fix it))`.
pub type ItemCheck<'c> = dyn Fn(&str) -> Result<(), (String, String)> + 'c;

/// Accepts any non-empty string.
pub fn non_empty(s: &str) -> Result<(), (String, String)> {
    if s.trim().is_empty() {
        Err(("it is empty".into(), "remove the empty entry".into()))
    } else {
        Ok(())
    }
}

/// The entries of a mapping, tracking which keys were read so that the rest can be reported as
/// unknown fields.
pub struct Fields<'n> {
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    /// Dotted path of the mapping (`spec`, `metadata`).
    pub path: String,
    /// Span of the whole mapping.
    pub span: Range<usize>,
}

impl<'n> Fields<'n> {
    /// Opens a mapping node; reports and returns `None` if the node is not a mapping.
    pub fn open(cx: &mut Cx<'_>, node: &'n Node, path: &str) -> Option<Fields<'n>> {
        match &node.value {
            Value::Map(entries) => Some(Fields {
                entries,
                used: vec![false; entries.len()],
                path: path.to_owned(),
                span: node.span.clone(),
            }),
            _ => {
                cx.wrong_type(node, path, "a mapping");
                None
            }
        }
    }

    /// The dotted path of a field of this mapping.
    pub fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key` (a `null` value counts as absent), marking the key as known.
    pub fn get(&mut self, key: &str) -> Option<&'n Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.as_str() == Some(key))?;
        // A repeated key is reported as a duplicate by the YAML layer, not as unknown here.
        for (j, (k, _)) in self.entries.iter().enumerate() {
            if k.as_str() == Some(key) {
                self.used[j] = true;
            }
        }
        let v = &self.entries[i].1;
        (v.value != Value::Null).then_some(v)
    }

    /// The key node of `key`, if present.
    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.span.clone())
    }

    /// The value of a required `key`; reports its absence.
    pub fn require(&mut self, cx: &mut Cx<'_>, key: &str, help: &str) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_none() {
            let path = self.child(key);
            cx.error(
                "missing-field",
                self.span.start..self.span.start,
                format!("`{path}` is required"),
                format!("`{key}` is missing here"),
                help.to_owned(),
            );
        }
        v
    }

    /// Reports every key that was not read, with a suggestion for near misses.
    pub fn finish(&self, cx: &mut Cx<'_>, what: &str, known: &[&str]) {
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let name = key.key_text();
            let path = self.child(&name);
            let suggestion = known
                .iter()
                .map(|k| {
                    (
                        strsim::damerau_levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                        k,
                    )
                })
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, k)| *k);
            let help = did_you_mean(suggestion, || {
                if known.is_empty() {
                    format!("{what} has no fields; remove `{name}`")
                } else {
                    format!("{what} accepts: {}", known.join(", "))
                }
            });
            cx.error(
                "unknown-field",
                key.span.clone(),
                format!("unknown field `{path}` in {what}"),
                "unknown field",
                help,
            );
        }
    }
}
