//! Every diagnostic has a help line, as ARCHITECTURE.md promises. [`Diagnostic`]s are made
//! through a draft that only `.help(...)` finishes, and that call refuses an empty line in
//! debug builds; these checks hold in release builds too, over every corpus the tests render:
//! the golden Kumori inputs (`tests/data/kumori/**`), `fixtures/broken`, and (through
//! [`assert_helpful`], called by their helpers) the Vimana rule tests and the Kumori tests.

use std::path::Path;

use render::kumori::ast::FileId;
use render::kumori::{check_module, parser, render_binding};
use render::{Diagnostic, Diagnostics, MemTree, Options, yaml};

use crate::kumori::harness::{binding_of, repo_root, split_fixture};

/// Fails with the diagnostics whose help line is empty.
#[track_caller]
pub fn assert_helpful<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>) {
    let without: Vec<String> = diagnostics
        .into_iter()
        .filter(|d| d.help.trim().is_empty())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(
        without.is_empty(),
        "diagnostics without a help line:\n{}",
        without.join("\n")
    );
}

/// The diagnostics of one golden Kumori input, as the golden test makes them.
fn kumori_case(group: &str, text: &str) -> Vec<Diagnostic> {
    if group == "parse" {
        return parser::parse("input.kumori", FileId(0), text).diagnostics;
    }
    let files = split_fixture(text);
    let mut tree = MemTree::new();
    for (path, body) in &files {
        tree.insert(path.clone(), body.clone());
    }
    let mut ds = Diagnostics::default();
    match files.iter().find(|(p, _)| p.ends_with(".yaml")) {
        Some((path, body)) => {
            let parsed = yaml::parse(body);
            let binding = binding_of(path, &parsed.documents[0].root);
            render_binding(&tree, &binding, &render::Limits::default(), &mut ds);
        }
        None => {
            check_module(&tree, "", &render::Limits::default(), &mut ds);
        }
    }
    ds.items
}

/// Reads a folder of the repository into a tree, at the same paths.
fn tree_of(dir: &str) -> MemTree {
    let mut tree = MemTree::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(repo_root().join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let path = format!("{rel}/{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                tree.insert(path, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    tree
}

#[test]
fn every_diagnostic_of_the_corpora_has_a_help_line() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kumori");
    let mut count = 0;
    for group in ["parse", "check", "render", "seed"] {
        for entry in std::fs::read_dir(data.join(group)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "kumori") {
                let text = std::fs::read_to_string(&path).unwrap();
                let diagnostics = kumori_case(group, &text);
                count += diagnostics.len();
                assert_helpful(&diagnostics);
            }
        }
    }
    let broken = render::render(
        &tree_of("fixtures/broken"),
        &Options {
            path: "fixtures/broken".into(),
            ..Options::default()
        },
    );
    assert!(broken.diagnostics.has_errors(), "fixtures/broken is broken");
    count += broken.diagnostics.items.len();
    assert_helpful(&broken.diagnostics.items);
    assert!(
        count > 100,
        "the corpora give diagnostics to check ({count})"
    );
}
