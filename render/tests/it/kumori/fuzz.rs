//! A fuzz-style test: random byte and token mutations of the fixtures and golden inputs
//! (proptest, from a fixed seed and with a bounded count, so a failure reproduces and shrinks to
//! a small mutation). The parser (and, on a smaller budget, the whole front end) must never
//! panic, and every diagnostic must point inside its file on character boundaries.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::{Strategy, any, prop_oneof};
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use render::kumori::ast::FileId;
use render::kumori::parser::parse;
use render::{Diagnostics, MemTree};

use super::harness::{repo_root, split_fixture};

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
    "*/",
    "//",
    "\u{201c}",
    "'",
    "0o",
    "0o9",
    "100Mi",
    "1.5",
    "-",
    "component",
    "struct",
    "open[",
    "[]",
    "var (",
    "import (",
    "library",
    "alias X",
    "type",
    "deployment",
    "service",
    "self.",
    "interface.config.",
    "io.Open(",
    "strconv.Concat([",
    "kumori.",
    "\\u12",
    "é",
    "\t",
];

/// One edit of a mutation; positions are fractions of the input's length at the time.
#[derive(Clone, Debug)]
enum Edit {
    /// Overwrite one byte (insert it as a token's first byte in an empty input).
    Byte { at: Index, byte: u8 },
    /// Delete up to `len` bytes.
    Delete { at: Index, len: usize },
    /// Copy up to `len` bytes to another place.
    Copy { at: Index, len: usize, to: Index },
    /// Insert one of [`TOKENS`].
    Token { at: Index, token: Index },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::Byte { at, byte }),
        1 => (any::<Index>(), 0..16usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        1 => (any::<Index>(), 0..32usize, any::<Index>())
            .prop_map(|(at, len, to)| Edit::Copy { at, len, to }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Edit::Token { at, token }),
    ]
}

/// One to four edits.
fn mutation() -> impl Strategy<Value = Vec<Edit>> {
    vec(edit(), 1..=4)
}

fn mutate(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = input.to_vec();
    for e in edits {
        match e {
            Edit::Byte { at, byte } if !b.is_empty() => {
                let i = at.index(b.len());
                b[i] = *byte;
            }
            Edit::Byte { byte, .. } => b.push(*byte),
            Edit::Delete { at, len } => {
                let at = at.index(b.len() + 1);
                let end = (at + len).min(b.len());
                b.drain(at..end);
            }
            Edit::Copy { at, len, to } => {
                let at = at.index(b.len() + 1);
                let end = (at + len).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = to.index(b.len() + 1);
                b.splice(to..to, chunk);
            }
            Edit::Token { at, token } => {
                let at = at.index(b.len() + 1);
                let t = token.get(TOKENS).as_bytes();
                b.splice(at..at, t.iter().copied());
            }
        }
    }
    b
}

/// A runner of `cases` cases from a fixed seed; nothing is written to disk.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let root = repo_root();
    for dir in ["fixtures/kumori", "render/tests/data/kumori"] {
        collect(&root.join(dir), &mut out);
    }
    out.sort();
    assert!(out.len() >= 5, "the fuzz corpus is too small");
    out
}

fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "kumori") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

fn spans_are_sane(text: &str, ds: &[render::Diagnostic]) {
    for d in ds {
        for l in d.primary.iter().chain(d.secondary.iter()) {
            assert!(
                l.span.start <= l.span.end && l.span.end <= text.len(),
                "{d:?} out of {}",
                text.len()
            );
            assert!(
                text.is_char_boundary(l.span.start) && text.is_char_boundary(l.span.end),
                "{d:?}"
            );
        }
    }
}

#[test]
fn the_parser_never_panics_on_mutated_sources() {
    let corpus = corpus();
    let cases = (any::<Index>(), mutation());
    let result = runner(3000).run(&cases, |(file, edits)| {
        let (name, text) = file.get(&corpus);
        let bytes = mutate(text.as_bytes(), &edits);
        let text = String::from_utf8_lossy(&bytes);
        let result = std::panic::catch_unwind(|| parse("f.kumori", FileId(0), &text));
        let p =
            result.unwrap_or_else(|_| panic!("parser panicked on a mutation of {name}:\n{text}"));
        spans_are_sane(&text, &p.diagnostics);
        // Diagnostics render without panicking too.
        let mut ds = Diagnostics::default();
        ds.files.add("f.kumori", &text);
        ds.items = p.diagnostics;
        let _ = ds.to_text(&|p| p.to_owned(), false);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn the_front_end_never_panics_on_mutated_modules() {
    let corpus: Vec<(String, String)> = corpus()
        .into_iter()
        .filter(|(_, t)| t.starts_with("//- ") || t.contains("\n//- "))
        .collect();
    assert!(!corpus.is_empty());
    let cases = (any::<Index>(), any::<Index>(), mutation());
    let result = runner(400).run(&cases, |(file, victim, edits)| {
        let (name, text) = file.get(&corpus);
        let files = split_fixture(text);
        let mut tree = MemTree::new();
        let victim = victim.index(files.len());
        for (j, (path, body)) in files.iter().enumerate() {
            if j == victim && path.ends_with(".kumori") {
                let bytes = mutate(body.as_bytes(), &edits);
                tree.insert(path.clone(), String::from_utf8_lossy(&bytes).into_owned());
            } else {
                tree.insert(path.clone(), body.clone());
            }
        }
        let result = std::panic::catch_unwind(|| {
            let mut ds = Diagnostics::default();
            render::kumori::check_module(&tree, "", &render::Limits::default(), &mut ds);
            let _ = ds.to_text(&|p| p.to_owned(), false);
        });
        assert!(
            result.is_ok(),
            "the front end panicked on a mutation of {name}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
