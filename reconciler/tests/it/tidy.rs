//! Tidy: keeps the invariants of ARCHITECTURE.md true as the code changes. The pure crates have
//! no I/O dependencies, exit codes are decided in one place, the reconciler crate reads in layers
//! with no circle of imports, every module says what it holds in a `//!` line, source files stay
//! short, and a doc comment says more than the name it documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;

/// The workspace members, read from the workspace manifest (one line, as the tidy keeps it).
fn members() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = "))
        .expect("`members = [...]` on one line in the workspace manifest");
    line.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

#[test]
fn the_crates_are_the_workspace_members_at_the_top_level() {
    let members = members();
    for crate_name in ["model", "render", "graph", "simcluster", "reconciler"] {
        assert!(
            members.iter().any(|m| m == crate_name),
            "{crate_name} is not a workspace member: {members:?}"
        );
    }
    for m in &members {
        assert!(
            !m.contains('/') && !m.contains('*'),
            "member {m}: top level, named explicitly"
        );
        assert!(
            root().join(m).join("Cargo.toml").is_file(),
            "{m}/Cargo.toml"
        );
    }
    assert!(!root().join("crates").exists(), "no crates/ folder");
}

/// The pure crates reach no network, process, Git or async runtime, even through a dependency
/// (`cargo tree`, development dependencies included), and their code touches no file system.
#[test]
fn the_pure_crates_have_no_io_dependencies() {
    const FORBIDDEN: &[&str] = &[
        "tokio",
        "kube",
        "kube-client",
        "git2",
        "libgit2-sys",
        "reqwest",
        "hyper",
        "axum",
        "mio",
        "socket2",
        "rustls",
        "openssl",
        "tracing-subscriber",
    ];
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for pure in ["model", "render", "graph"] {
        let out = Command::new(&cargo)
            .args(["tree", "--offline", "--locked", "--prefix", "none"])
            .args(["--format", "{p}", "-p", pure])
            .current_dir(root())
            .output()
            .expect("cargo tree");
        assert!(
            out.status.success(),
            "cargo tree -p {pure}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8(out.stdout).unwrap();
        let names: BTreeSet<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for bad in FORBIDDEN {
            assert!(!names.contains(bad), "{pure} depends on {bad}:\n{tree}");
        }
        for file in rust_files(&root().join(pure).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for io in ["std::fs", "std::net", "std::process", "std::env::var"] {
                assert!(
                    !code_lines(&text).any(|l| l.contains(io)),
                    "{} uses {io}: the pure crates do no I/O (files reach render through SourceTree)",
                    relative(&file)
                );
            }
        }
    }
}

/// Lines of code, without line comments and doc comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

#[test]
fn exit_codes_are_decided_in_one_place() {
    let src = root().join("reconciler/src");
    for file in rust_files(&src) {
        let rel = relative(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        for decides in ["ExitCode::from", "ExitCode::SUCCESS", "process::exit("] {
            if code_lines(&text).any(|l| l.contains(decides)) {
                assert_eq!(
                    rel, "reconciler/src/cli.rs",
                    "{rel} uses {decides}: exit codes are decided in cli.rs only"
                );
            }
        }
    }
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    assert!(
        main.contains("reconciler::cli::main()"),
        "main.rs only calls cli::main"
    );
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let mut missing = Vec::new();
    for member in members() {
        for folder in ["src", "tests", "benches"] {
            for file in rust_files(&root().join(&member).join(folder)) {
                let text = std::fs::read_to_string(&file).unwrap();
                if !text.starts_with("//!") {
                    missing.push(relative(&file));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:#?}"
    );
}

/// A file holds one idea; past about 800 lines it holds several and is split along its seams.
/// Test modules (`tests.rs`, `tests/`) are not counted.
#[test]
fn source_files_stay_short() {
    const LIMIT: usize = 850;
    let mut long = Vec::new();
    for member in members() {
        for file in rust_files(&root().join(&member).join("src")) {
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            // Unit tests at the end of a file are not what the file holds.
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
            let lines = code.lines().count();
            if lines > LIMIT {
                long.push(format!("{} ({lines} lines)", relative(&file)));
            }
        }
    }
    assert!(long.is_empty(), "split these along their seams: {long:#?}");
}

/// `/// The file.` above `file: ...` tells nothing the name does not.
#[test]
fn doc_comments_say_more_than_the_name() {
    let mut restating = Vec::new();
    for member in members() {
        for folder in ["src", "tests", "benches"] {
            for file in rust_files(&root().join(&member).join(folder)) {
                let text = std::fs::read_to_string(&file).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    if let Some(name) = restated_name(&lines, i) {
                        restating.push(format!(
                            "{}:{}: {} ({name})",
                            relative(&file),
                            i + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        restating.is_empty(),
        "doc comments that only restate a name: say what it is for, or remove them: {restating:#?}"
    );
}

/// The name of the item below line `i` when line `i` is a one-line doc comment that only says
/// that name (`/// The file.`, `/// Kind.`).
fn restated_name(lines: &[&str], i: usize) -> Option<String> {
    let doc = lines[i].trim().strip_prefix("/// ")?.strip_suffix('.')?;
    if i > 0 && lines[i - 1].trim().starts_with("///") {
        return None;
    }
    if lines.get(i + 1)?.trim().starts_with("///") {
        return None;
    }
    let words = ["The ", "A ", "An "]
        .iter()
        .find_map(|a| doc.strip_prefix(a))
        .unwrap_or(doc);
    if !words.chars().all(|c| c.is_alphanumeric() || c == ' ') {
        return None;
    }
    let item = lines[i + 1..]
        .iter()
        .find(|l| !l.trim().starts_with("#["))?
        .trim();
    let mut rest = item;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "async ",
        "const fn ",
        "fn ",
        "struct ",
        "enum ",
        "mod ",
        "const ",
        "static ",
        "type ",
        "trait ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let squash = |s: &str| s.replace(['_', ' '], "").to_lowercase();
    let (name_key, words_key) = (squash(&name), squash(words));
    (!name.is_empty() && (name_key == words_key || name_key == words_key.trim_end_matches('s')))
        .then_some(name)
}

/// The layers of the reconciler crate, bottom up: a module imports only from its own layer or
/// the ones below (ARCHITECTURE.md, "Layers").
const LAYERS: &[(&str, &[&str])] = &[
    (
        "cluster access",
        &[
            "error", "retry", "stop", "verb", "cluster", "sources", "git",
        ],
    ),
    ("engine", &["sync", "rollout", "drift", "report", "notify"]),
    ("daemon", &["daemon"]),
    ("command line", &["commands", "cli"]),
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

#[test]
fn the_reconciler_crate_reads_in_layers() {
    let graph = module_graph(&root().join("reconciler/src"));
    let mut unknown = BTreeSet::new();
    let mut wrong = Vec::new();
    for (from, tos) in &graph.edges {
        let Some(top) = from.first() else { continue };
        let Some(layer) = layer_of(top) else {
            unknown.insert(top.clone());
            continue;
        };
        for to in tos {
            let Some(to_top) = to.first() else { continue };
            match layer_of(to_top) {
                None => {
                    unknown.insert(to_top.clone());
                }
                Some(l) if l > layer => wrong.push(format!(
                    "{} ({}) imports {} ({})",
                    from.join("::"),
                    LAYERS[layer].0,
                    to.join("::"),
                    LAYERS[l].0
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules of no layer: add them to LAYERS and ARCHITECTURE.md: {unknown:?}"
    );
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}

/// No circle of imports between modules of a crate (a child using its parent's items is not
/// one: the parent is the face of its folder).
#[test]
fn no_crate_has_a_circle_of_imports() {
    for member in members() {
        let graph = module_graph(&root().join(&member).join("src"));
        if let Some(circle) = graph.find_cycle() {
            let names: Vec<String> = circle
                .iter()
                .map(|m| format!("{member}::{}", m.join("::")))
                .collect();
            panic!("a circle of imports: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_module_graph_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "//! x\nmod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "//! x\nuse crate::b::{B, c::C};\n").unwrap();
    std::fs::write(
        src.join("b/mod.rs"),
        "//! x\nmod c;\nuse super::a::A;\npub fn g() { c::f(); }\n",
    )
    .unwrap();
    std::fs::write(src.join("b/c.rs"), "//! x\npub fn f() { super::g(); }\n").unwrap();
    let graph = module_graph(src);
    let b = vec!["b".to_owned()];
    let c = vec!["b".to_owned(), "c".to_owned()];
    assert!(graph.edges[&b].contains(&c), "a parent's call of its child");
    assert!(
        graph.edges[&c].is_empty(),
        "a child's use of its parent is no edge"
    );
    let circle = graph.find_cycle().expect("a -> b -> a");
    assert!(circle.contains(&vec!["a".to_owned()]), "{circle:?}");
    // Without b's import of `a` no circle is left.
    std::fs::write(
        src.join("b/mod.rs"),
        "//! x\nmod c;\npub fn g() { c::f(); }\n",
    )
    .unwrap();
    assert_eq!(module_graph(src).find_cycle(), None);
}

/// Modules (as paths under the crate root) and the modules each one imports from.
struct ModuleGraph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn module_graph(src: &Path) -> ModuleGraph {
    // `main.rs` is the binary's root, a crate of its own.
    let modules: BTreeMap<Vec<String>, PathBuf> = rust_files(src)
        .into_iter()
        .filter(|f| f != &src.join("main.rs"))
        .map(|f| (module_path(src, &f), f))
        .collect();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let reexports = crate_root_reexports(src);
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
        let mut targets = BTreeSet::new();
        for path in referenced_paths(text) {
            let Some(absolute) = absolute_path(module, &path, &known, &reexports) else {
                continue;
            };
            // The longest prefix that is a module of the crate.
            let target = (1..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|p| known.contains(p));
            if let Some(target) = target
                && &target != module
                && !module.starts_with(&target)
            {
                targets.insert(target);
            }
        }
        edges.insert(module.clone(), targets);
    }
    ModuleGraph { edges }
}

impl ModuleGraph {
    /// A circle of imports, if there is one, as the modules along it.
    fn find_cycle(&self) -> Option<Vec<Vec<String>>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        fn visit(
            g: &ModuleGraph,
            m: &Vec<String>,
            marks: &mut BTreeMap<Vec<String>, Mark>,
            stack: &mut Vec<Vec<String>>,
        ) -> Option<Vec<Vec<String>>> {
            match marks.get(m) {
                Some(Mark::Done) => return None,
                Some(Mark::Open) => {
                    let start = stack.iter().position(|s| s == m).unwrap();
                    let mut circle = stack[start..].to_vec();
                    circle.push(m.clone());
                    return Some(circle);
                }
                None => {}
            }
            marks.insert(m.clone(), Mark::Open);
            stack.push(m.clone());
            for next in g.edges.get(m).into_iter().flatten() {
                if let Some(c) = visit(g, next, marks, stack) {
                    return Some(c);
                }
            }
            stack.pop();
            marks.insert(m.clone(), Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for m in self.edges.keys() {
            if let Some(c) = visit(self, m, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
        None
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` → `[a, b]`; `src/lib.rs`, `src/main.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod")) {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

/// `pub use a::B;` in the crate root: `crate::B` is `crate::a::B`.
fn crate_root_reexports(src: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for path in referenced_paths(&text) {
        if let [first, .., last] = path.as_slice()
            && first != "crate"
            && first != "std"
        {
            out.insert(last.clone(), path.clone());
        }
    }
    out
}

/// The path as seen from the crate root, or `None` for paths of other crates.
fn absolute_path(
    module: &[String],
    path: &[String],
    known: &BTreeSet<Vec<String>>,
    reexports: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut child = module.to_vec();
    child.push(first.clone());
    let (mut base, mut rest): (Vec<String>, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), rest),
        "self" => (module.to_vec(), rest),
        // In `a/b.rs` (module a::b) `super` is `a`; in `a/mod.rs` (module a) it is the root.
        "super" => (module[..module.len().saturating_sub(1)].to_vec(), rest),
        // A path that starts with a child module's name (`drive::run` in `rollout/mod.rs`).
        _ if known.contains(&child) => (module.to_vec(), path),
        _ => return None,
    };
    while let Some((s, r)) = rest.split_first()
        && s == "super"
    {
        base.pop();
        rest = r;
    }
    if first == "crate"
        && let Some(head) = rest.first()
        && let Some(target) = reexports.get(head)
    {
        base.extend(target.iter().cloned());
        return Some(base);
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Every path written in `use` items (braces expanded) and inline (`crate::a::b::f(...)`,
/// `super::x`), outside comments.
fn referenced_paths(text: &str) -> Vec<Vec<String>> {
    let code: String = code_lines(text).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    // `use` items (a line that starts one), up to their semicolon.
    let mut rest = code.as_str();
    while let Some(at) = find_use_item(rest) {
        let item = &rest[at..];
        let end = item.find(';').unwrap_or(item.len());
        expand_use_tree(&item[..end], &mut Vec::new(), &mut out);
        rest = &item[end..];
    }
    // Inline paths: every `a::b::c` written outside `use` items (those give the same paths).
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !(starts_word && (chars[i].is_alphabetic() || chars[i] == '_')) {
            i += 1;
            continue;
        }
        let begin = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':')
        {
            i += 1;
        }
        let token: String = chars[begin..i].iter().collect();
        if token.contains("::") {
            out.push(
                token
                    .split("::")
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    out
}

/// Where the path of the next `use` item starts: after `use ` at the start of a line, with
/// any visibility before it (not the word "use" in a message).
fn find_use_item(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let after_visibility = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|v| trimmed.strip_prefix(v))
            .unwrap_or(trimmed);
        if let Some(path) = after_visibility.strip_prefix("use ") {
            return Some(offset + indent + (trimmed.len() - path.len()));
        }
        offset += line.len();
    }
    None
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
        let inner = &tree[open + 1..close];
        let added: Vec<String> = head
            .split("::")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let n = added.len();
        prefix.extend(added);
        for part in split_top_level(inner) {
            expand_use_tree(part, prefix, out);
        }
        prefix.truncate(prefix.len() - n);
    } else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let mut full = prefix.clone();
        full.extend(
            path.split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "*")
                .map(str::to_owned),
        );
        if !full.is_empty() {
            out.push(full);
        }
    }
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0usize, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}
