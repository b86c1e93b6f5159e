//! The golden-file helper and the builders shared by the Kumori tests.

use std::path::{Path, PathBuf};

use render::kumori::{Artifact, Binding, Rendered, render_binding};
use render::yaml::{self, Node, Value};
use render::{Diagnostics, MemTree, SourceTree};

use super::links::Linked;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kumori")
}

/// A tree holding `fixtures/kumori/<name>` as it is on disk.
pub fn fixture_tree(name: &str) -> MemTree {
    let mut tree = MemTree::new();
    add_dir(&mut tree, &repo_root(), &format!("fixtures/kumori/{name}"));
    tree
}

fn add_dir(tree: &mut MemTree, root: &Path, rel: &str) {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{rel}/{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            add_dir(tree, root, &name);
        } else {
            tree.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.key_text() == key)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The binding of a Component document (or of a bare `spec.kumori` mapping), as the Vimana
/// loader builds it.
pub fn binding_of<'a>(file: &'a str, root: &'a Node) -> Binding<'a> {
    let k = get(root, "spec")
        .and_then(|s| get(s, "kumori"))
        .unwrap_or(root);
    let module = get(k, "module").expect("module");
    let (artifact, span) = match (get(k, "component"), get(k, "deployment")) {
        (Some(c), _) => (Artifact::Component(c.key_text()), c.span.clone()),
        (None, Some(d)) => (Artifact::Deployment(d.key_text()), d.span.clone()),
        _ => panic!("no artifact"),
    };
    Binding {
        file,
        span: k.span.clone(),
        module: module.key_text(),
        module_span: module.span.clone(),
        artifact,
        artifact_span: span,
        config: get(k, "config"),
        resource: get(k, "resource"),
    }
}

/// What rendering one binding gave.
pub struct CaseOutput {
    /// Diagnostics as text (sorted), empty when none.
    pub diagnostics: String,
    /// The rendering, if any.
    pub rendered: Option<Rendered>,
}

/// Renders the Component in `yaml_path` of `tree`.
pub fn run_case(tree: &dyn SourceTree, yaml_path: &str) -> CaseOutput {
    let text = String::from_utf8(tree.read(yaml_path).unwrap()).unwrap();
    let parsed = yaml::parse(&text);
    let binding = binding_of(yaml_path, &parsed.documents[0].root);
    let mut ds = Diagnostics::default();
    ds.files.add(yaml_path, &text);
    let rendered = render_binding(tree, &binding, &render::Limits::default(), &mut ds);
    crate::help::assert_helpful(&ds.items);
    assert_eq!(
        rendered.is_some(),
        !ds.has_errors(),
        "a rendering comes exactly when there is no error"
    );
    ds.sort();
    CaseOutput {
        diagnostics: ds.to_text(&|p| p.to_owned(), false),
        rendered,
    }
}

/// Splits a `//- path` fixture into files.
pub fn split_fixture(text: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("//- ") {
            files.push((path.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
        } else {
            assert!(
                line.trim().is_empty() || line.starts_with("//"),
                "text before the first `//- path`: {line}"
            );
        }
    }
    files
}

fn actual(group: &str, text: &str) -> String {
    if group == "parse" {
        let p = render::kumori::parser::parse("input.kumori", render::kumori::ast::FileId(0), text);
        let mut ds = Diagnostics::default();
        ds.files.add("input.kumori", text);
        ds.items = p.diagnostics;
        crate::help::assert_helpful(&ds.items);
        ds.sort();
        let mut out = render::kumori::ast::dump(&p.file);
        if !ds.items.is_empty() {
            out.push_str("\n== diagnostics ==\n");
            out.push_str(&ds.to_text(&|p| p.to_owned(), false));
        }
        return out;
    }
    let files = split_fixture(text);
    let mut tree = Linked {
        tree: MemTree::new(),
        links: Default::default(),
    };
    for (path, body) in &files {
        match path
            .strip_prefix("link ")
            .and_then(|l| l.split_once(" -> "))
        {
            Some((link, target)) => {
                tree.links.insert(link.to_owned(), target.to_owned());
            }
            None => {
                tree.tree.insert(path.clone(), body.clone());
            }
        }
    }
    let yaml = files
        .iter()
        .find(|(p, _)| p.ends_with(".yaml"))
        .map(|(p, _)| p.clone());
    let (diagnostics, rendered) = match yaml {
        Some(y) => {
            let out = run_case(&tree, &y);
            (out.diagnostics, out.rendered)
        }
        None => {
            let mut ds = Diagnostics::default();
            let ok = render::kumori::check_module(&tree, "", &render::Limits::default(), &mut ds);
            assert_eq!(ok, !ds.has_errors());
            crate::help::assert_helpful(&ds.items);
            ds.sort();
            (ds.to_text(&|p| p.to_owned(), false), None)
        }
    };
    let mut out = String::new();
    if diagnostics.is_empty() {
        out.push_str("no diagnostics\n");
    } else {
        out.push_str(&diagnostics);
    }
    if let Some(r) = rendered {
        let pretty: serde_json::Value = serde_json::from_str(&r.rendered).unwrap();
        out.push_str(&format!(
            "\n== rendered ==\nimage: {}\nsource: {}\ndigest: {}\n{}\n",
            r.image,
            r.source,
            r.digest,
            serde_json::to_string_pretty(&pretty).unwrap()
        ));
    }
    out
}

/// Checks every `tests/data/kumori/<group>/*.kumori` against its `.expect` (rewritten when
/// `UPDATE_EXPECT=1`).
pub fn check_dir(group: &str) {
    let dir = data_dir().join(group);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kumori"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for input in inputs {
        let text = std::fs::read_to_string(&input).unwrap();
        let got = actual(group, &text);
        check(&input, &got, update, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (run with UPDATE_EXPECT=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// Compares `got` with the `.expect` file next to `input`.
pub fn check(input: &Path, got: &str, update: bool, failures: &mut Vec<String>) {
    let expect = input.with_extension("expect");
    let want = std::fs::read_to_string(&expect).unwrap_or_default();
    if want == got {
        return;
    }
    if update {
        std::fs::write(&expect, got).unwrap();
        return;
    }
    let diff = similar_lines(&want, got);
    failures.push(format!("--- {}\n{diff}", expect.display()));
}

fn similar_lines(want: &str, got: &str) -> String {
    let mut out = String::new();
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                out.push_str(&format!(
                    "line {}:\n  - {}\n  + {}\n",
                    i + 1,
                    a.unwrap_or(&"<none>"),
                    b.unwrap_or(&"<none>")
                ));
            }
        }
    }
    out
}
