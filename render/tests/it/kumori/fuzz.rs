//! A fuzz-style test: random byte and token mutations of the fixtures and golden inputs, with a
//! fixed seed and a bounded count. The parser (and, on a smaller budget, the whole front end)
//! must never panic, and every diagnostic must point inside its file on character boundaries.

use std::path::Path;

use render::kumori::ast::FileId;
use render::kumori::parser::parse;
use render::{Diagnostics, MemTree};

use super::harness::{repo_root, split_fixture};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

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

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = (rng.next() & 0xff) as u8;
            }
            1 => {
                let end = (at + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(32)).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
        }
    }
    b
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
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    for i in 0..3000 {
        let (name, text) = &corpus[i % corpus.len()];
        let bytes = mutate(&mut rng, text.as_bytes());
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
    }
}

#[test]
fn the_front_end_never_panics_on_mutated_modules() {
    let corpus: Vec<(String, String)> = corpus()
        .into_iter()
        .filter(|(_, t)| t.starts_with("//- ") || t.contains("\n//- "))
        .collect();
    assert!(!corpus.is_empty());
    let mut rng = Rng(0x0bad_5eed_1234_5678);
    for i in 0..400 {
        let (name, text) = &corpus[i % corpus.len()];
        let files = split_fixture(text);
        let mut tree = MemTree::new();
        let victim = rng.below(files.len());
        for (j, (path, body)) in files.iter().enumerate() {
            if j == victim && path.ends_with(".kumori") {
                let bytes = mutate(&mut rng, body.as_bytes());
                tree.insert(path.clone(), String::from_utf8_lossy(&bytes).into_owned());
            } else {
                tree.insert(path.clone(), body.clone());
            }
        }
        let result = std::panic::catch_unwind(|| {
            let mut ds = Diagnostics::default();
            render::kumori::check_module(&tree, "", &mut ds);
            let _ = ds.to_text(&|p| p.to_owned(), false);
        });
        assert!(
            result.is_ok(),
            "the front end panicked on a mutation of {name}"
        );
    }
}
