//! Diagnostics: what is wrong, where, and how to fix it. Diagnostics are data; text is made only
//! by [`Diagnostics::to_text`], rustc-like (file:line:col, the offending line, a caret, help).

use foldhash::{HashMap, HashMapExt, HashSet};
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use model::Location;

use crate::limits::bytes_text;
use crate::source::SourceError;

/// How bad a diagnostic is. Errors stop a render from being applied; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The render cannot be used.
    Error,
    /// Worth a look; the render can be used.
    Warning,
}

/// A span of a source file, in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    /// Repository-relative path of the file.
    pub file: String,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// What this span is, shown next to the caret.
    pub message: String,
}

impl Label {
    /// A label on `span` of `file`.
    pub fn new(file: impl Into<String>, span: Range<usize>, message: impl Into<String>) -> Self {
        Label {
            file: file.into(),
            span,
            message: message.into(),
        }
    }
}

/// One finding about the sources.
///
/// A diagnostic is made in two steps: [`Diagnostic::error`] or [`Diagnostic::warning`] start a
/// [`Draft`], which takes locations and notes, and [`Draft::help`] finishes it. So every
/// diagnostic has a help line, as ARCHITECTURE.md promises: there is no other way to make one
/// (but writing out the struct, which nothing does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable kebab-case code (`unknown-field`), for tests, docs and tools.
    pub code: &'static str,
    /// What is wrong, one sentence.
    pub message: String,
    /// Where it is wrong; `None` for problems of the whole repository.
    pub primary: Option<Label>,
    /// Other places that take part (the first definition of a duplicate, say).
    pub secondary: Vec<Label>,
    /// How to fix it; never empty.
    pub help: String,
    /// Extra facts.
    pub notes: Vec<String>,
}

/// A diagnostic that still lacks its help line: [`Draft::help`] makes it a [`Diagnostic`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a draft becomes a diagnostic with `.help(...)`"]
pub struct Draft(Diagnostic);

impl Diagnostic {
    /// Starts an error with a code and a message, without location yet.
    pub fn error(code: &'static str, message: impl Into<String>) -> Draft {
        Draft(Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: String::new(),
            notes: Vec::new(),
        })
    }

    /// Starts a warning with a code and a message, without location yet.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Draft {
        let Draft(d) = Diagnostic::error(code, message);
        Draft(Diagnostic {
            severity: Severity::Warning,
            ..d
        })
    }

    /// Starts the error for something given twice: primary at the second occurrence
    /// (`"{what} again here"`), secondary at the first (`"first {what} here"`), where `what` is
    /// the verb of the sources (`declared`, `defined`, `given`).
    pub fn duplicate(
        code: &'static str,
        message: impl Into<String>,
        what: &str,
        (again_file, again): (impl Into<String>, Range<usize>),
        (first_file, first): (impl Into<String>, Range<usize>),
    ) -> Draft {
        Diagnostic::error(code, message)
            .at(again_file, again, format!("{what} again here"))
            .also(first_file, first, format!("first {what} here"))
    }

    /// The diagnostic of a file that cannot be read: too large, over the render's budget, not a
    /// regular file, or failing. Nothing of such a file was read.
    pub fn unreadable(file: &str, e: &SourceError) -> Diagnostic {
        let exclude = format!("exclude it in {}", crate::IGNORE_FILE);
        match e {
            SourceError::TooLarge {
                size, limit, key, ..
            } => Diagnostic::error(
                "file-too-large",
                format!(
                    "{file} has {}, over the limit of {} ({key}); it was not read",
                    bytes_text(*size),
                    bytes_text(*limit)
                ),
            )
            .at(file, 0..0, "too large to read")
            .help(format!(
                "make the file smaller or {exclude}; the limit is raised with `--limit {key}=SIZE`, or `render.limits.{key}` in the daemon's configuration"
            )),
            SourceError::OverBudget { .. } => Diagnostic::error(
                "render-too-large",
                format!("cannot read {e}; it was not read"),
            )
            .at(file, 0..0, "over the render's budget")
            .help(format!(
                "render a narrower source path or {exclude}; the limit is raised with `--limit renderBytes=SIZE`, or `render.limits.renderBytes` in the daemon's configuration"
            )),
            SourceError::NotAFile { .. } => Diagnostic::error(
                "not-a-file",
                format!("{file} is not a regular file (a FIFO, socket or device); it was not opened"),
            )
            .at(file, 0..0, "not a regular file")
            .help(format!("remove it from the repository, or {exclude}")),
            _ => Diagnostic::error("unreadable-file", format!("cannot read {e}"))
                .at(file, 0..0, "unreadable")
                .help(format!("fix the file, or {exclude}")),
        }
    }

    /// Sets the primary location.
    pub fn at(
        mut self,
        file: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        self.primary = Some(Label::new(file, span, label));
        self
    }

    /// Adds a secondary location.
    pub fn also(
        mut self,
        file: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        self.secondary.push(Label::new(file, span, label));
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Draft {
    /// Sets the primary location.
    pub fn at(self, file: impl Into<String>, span: Range<usize>, label: impl Into<String>) -> Self {
        Draft(self.0.at(file, span, label))
    }

    /// Adds a secondary location.
    pub fn also(
        self,
        file: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        Draft(self.0.also(file, span, label))
    }

    /// Adds a note.
    pub fn note(self, note: impl Into<String>) -> Self {
        Draft(self.0.note(note))
    }

    /// Finishes the diagnostic with the line that says how to fix it, which must say
    /// something.
    pub fn help(self, help: impl Into<String>) -> Diagnostic {
        let help = help.into();
        debug_assert!(
            !help.trim().is_empty(),
            "diagnostic `{}` needs a help line",
            self.0.code
        );
        Diagnostic { help, ..self.0 }
    }
}

/// The candidate closest to `name`, if close enough to be a likely typo (Jaro-Winkler
/// similarity above 0.8; of equally close candidates, the first in alphabetical order).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// The help line for an unknown name: "did you mean `x`?" when `suggestion` (a likely typo fix,
/// from [`closest`] or a finder of the caller's) is one, else `otherwise()`: what there is to
/// choose from, or how to declare the name.
pub fn did_you_mean(suggestion: Option<&str>, otherwise: impl FnOnce() -> String) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => otherwise(),
    }
}

/// The texts of the files that diagnostics point into, so that they can be shown with their
/// lines, and byte offsets turned into lines and columns.
#[derive(Clone, Debug, Default)]
pub struct SourceFiles {
    files: Vec<(String, String)>,
    /// Byte offset of the start of every line, per file: locations are found by binary search,
    /// not by scanning the text (a render of many objects asks for many locations).
    line_starts: Vec<Vec<usize>>,
    index: HashMap<String, usize>,
}

impl SourceFiles {
    /// Records the text of `path` (the first text recorded for a path wins).
    pub fn add(&mut self, path: &str, text: &str) {
        if !self.index.contains_key(path) {
            self.index.insert(path.to_owned(), self.files.len());
            let starts = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            self.line_starts.push(starts);
            self.files.push((path.to_owned(), text.to_owned()));
        }
    }

    /// Keeps the files whose path `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let files = std::mem::take(&mut self.files);
        let starts = std::mem::take(&mut self.line_starts);
        self.index.clear();
        for ((path, text), starts) in files.into_iter().zip(starts) {
            if keep(&path) {
                self.index.insert(path.clone(), self.files.len());
                self.files.push((path, text));
                self.line_starts.push(starts);
            }
        }
    }

    /// Records the files of `other` that are not recorded yet.
    pub fn merge(&mut self, other: &SourceFiles) {
        for (i, (path, text)) in other.files.iter().enumerate() {
            if !self.index.contains_key(path) {
                self.index.insert(path.clone(), self.files.len());
                self.line_starts.push(other.line_starts[i].clone());
                self.files.push((path.clone(), text.clone()));
            }
        }
    }

    /// The text of `path`, if recorded.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.index.get(path).map(|&i| self.files[i].1.as_str())
    }

    /// The length in bytes of the line of `path` that holds `offset`, if the text is known.
    pub fn line_len(&self, path: &str, offset: usize) -> Option<usize> {
        let &i = self.index.get(path)?;
        let (text, starts) = (&self.files[i].1, &self.line_starts[i]);
        let line = starts
            .partition_point(|&s| s <= offset.min(text.len()))
            .max(1);
        let end = starts.get(line).map_or(text.len(), |&next| next - 1);
        Some(end - starts[line - 1])
    }

    /// 1-based line and character column of a byte offset of `path`.
    pub fn location(&self, path: &str, offset: usize) -> Location {
        let (line, column) = match self.index.get(path) {
            Some(&i) => {
                let text = &self.files[i].1;
                let starts = &self.line_starts[i];
                let offset = floor_char_boundary(text, offset.min(text.len()));
                let line = starts.partition_point(|&s| s <= offset).max(1);
                let column = text[starts[line - 1]..offset].chars().count() + 1;
                (line as u32, column as u32)
            }
            None => (1, 1),
        };
        Location {
            file: path.to_owned(),
            line,
            column,
        }
    }
}

/// 1-based line and character column of a byte offset of `text`.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The longest source line quoted in a diagnostic, in bytes.
const MAX_SHOWN_LINE: usize = 1000;

/// A list of diagnostics with the files they point into.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    /// The diagnostics, in the order found.
    pub items: Vec<Diagnostic>,
    /// The files they point into.
    pub files: SourceFiles,
}

impl Diagnostics {
    /// Adds a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Moves the diagnostics of `other` after these, with the texts of its files.
    pub fn append(&mut self, mut other: Diagnostics) {
        self.items.append(&mut other.items);
        self.files.merge(&other.files);
    }

    /// Forgets the texts of the files no diagnostic points into: a render of thousands of files
    /// keeps the text of the few it reports on, not of every file.
    pub fn keep_referenced_files(&mut self) {
        let referenced: HashSet<String> = self.referenced_files().map(str::to_owned).collect();
        self.files.retain(|path| referenced.contains(path));
    }

    /// The files the labels of the diagnostics point into (with repeats).
    pub fn referenced_files(&self) -> impl Iterator<Item = &str> {
        self.items.iter().flat_map(|d| {
            d.primary
                .iter()
                .chain(d.secondary.iter())
                .map(|l| l.file.as_str())
        })
    }

    /// Copies the diagnostics of `other` after these, with the texts of its files.
    pub fn extend_from(&mut self, other: &Diagnostics) {
        self.items.extend(other.items.iter().cloned());
        self.files.merge(&other.files);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Sorts by file, position, then code, so that output is stable whatever the order of
    /// discovery; diagnostics without a location come first.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let ka = a.primary.as_ref().map(|l| (&l.file, l.span.start));
            let kb = b.primary.as_ref().map(|l| (&l.file, l.span.start));
            ka.cmp(&kb)
                .then(a.code.cmp(b.code))
                .then(a.message.cmp(&b.message))
        });
        self.items.dedup();
    }

    /// Renders every diagnostic as rustc-like text. `display` maps a repository-relative path to
    /// the name shown to the user (the path they typed, say).
    pub fn to_text(&self, display: &dyn Fn(&str) -> String, color: bool) -> String {
        let mut files = SimpleFiles::new();
        let mut ids = HashMap::new();
        for (path, text) in &self.files.files {
            ids.insert(path.clone(), files.add(display(path), text.clone()));
        }
        let config = term::Config {
            chars: term::Chars::ascii(),
            ..term::Config::default()
        };
        let mut out = String::new();
        for d in &self.items {
            let mut labels = Vec::new();
            let mut loose = Vec::new();
            for (label, primary) in d
                .primary
                .iter()
                .map(|l| (l, true))
                .chain(d.secondary.iter().map(|l| (l, false)))
            {
                // A line too long to show (600 KB of `- - -`) is named, not quoted: quoting it
                // would bury the message and take seconds to lay out.
                let too_long = self
                    .files
                    .line_len(&label.file, label.span.start)
                    .is_some_and(|n| n > MAX_SHOWN_LINE);
                match ids.get(&label.file) {
                    Some(_) if too_long => {
                        let loc = self.files.location(&label.file, label.span.start);
                        loose.push(format!(
                            "{}:{}:{}: {} (the line is too long to show)",
                            display(&label.file),
                            loc.line,
                            loc.column,
                            label.message
                        ));
                    }
                    Some(&id) => {
                        let l = if primary {
                            cs::Label::primary(id, label.span.clone())
                        } else {
                            cs::Label::secondary(id, label.span.clone())
                        };
                        labels.push(l.with_message(label.message.clone()));
                    }
                    // A file whose text is unknown (a directory, an unreadable file) is named
                    // in a note instead.
                    None => loose.push(format!("{}: {}", display(&label.file), label.message)),
                }
            }
            let mut notes: Vec<String> = loose;
            notes.extend(d.notes.iter().cloned());
            notes.push(format!("help: {}", d.help));
            let diag = match d.severity {
                Severity::Error => cs::Diagnostic::error(),
                Severity::Warning => cs::Diagnostic::warning(),
            }
            .with_code(d.code)
            .with_message(d.message.clone())
            .with_labels(labels)
            .with_notes(notes);
            if color {
                let mut buffer = term::termcolor::Buffer::ansi();
                let _ = term::emit_to_write_style(&mut buffer, &config, &files, &diag);
                out.push_str(&String::from_utf8_lossy(buffer.as_slice()));
            } else {
                let _ = term::emit_to_string(&mut out, &config, &files, &diag);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a: 1\nbé: x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 5), (2, 1));
        // 'x' is after "bé: " (5 bytes, 4 characters).
        assert_eq!(line_col(text, 10), (2, 5));
    }

    #[test]
    fn indexed_locations_agree_with_scanning() {
        let text = "a: 1\nbé: x\n\nlast";
        let mut files = SourceFiles::default();
        files.add("f", text);
        for offset in 0..=text.len() + 2 {
            let loc = files.location("f", offset);
            let boundary = floor_char_boundary(text, offset.min(text.len()));
            assert_eq!((loc.line, loc.column), line_col(text, boundary), "{offset}");
        }
    }

    #[test]
    fn a_line_too_long_to_show_is_named() {
        let mut ds = Diagnostics::default();
        let text = format!("a: 1\n{}\n", "- ".repeat(5000));
        ds.files.add("deep.yaml", &text);
        ds.push(
            Diagnostic::error("yaml-too-deep", "nested deeper than 128 levels")
                .at("deep.yaml", 261..261, "level 129 starts here")
                .help("flatten it"),
        );
        assert_eq!(ds.files.line_len("deep.yaml", 0), Some(4));
        assert_eq!(ds.files.line_len("deep.yaml", 261), Some(10_000));
        let out = ds.to_text(&|p| p.to_owned(), false);
        assert!(out.len() < 1000, "{out}");
        assert!(
            out.contains("deep.yaml:2:257: level 129 starts here (the line is too long to show)"),
            "{out}"
        );
        assert!(out.contains("= help: flatten it"), "{out}");
    }

    #[test]
    fn text_has_location_caret_and_help() {
        let mut ds = Diagnostics::default();
        ds.files.add("a.yaml", "kind: Domain\nspec:\n  id: nope\n");
        ds.push(
            Diagnostic::error("invalid-domain-id", "domain id \"nope\" is not valid")
                .at("a.yaml", 25..29, "not 32 lowercase hex characters")
                .help("use 32 hex characters"),
        );
        let text = ds.to_text(&|p| format!("repo/{p}"), false);
        assert!(
            text.contains("error[invalid-domain-id]: domain id \"nope\" is not valid"),
            "{text}"
        );
        assert!(text.contains("--> repo/a.yaml:3:7"), "{text}");
        assert!(
            text.contains("^^^^ not 32 lowercase hex characters"),
            "{text}"
        );
        assert!(text.contains("= help: use 32 hex characters"), "{text}");
    }
}
