//! Hostile and oversized sources (issue 15): each case ends in a diagnostic with its code, its
//! file:line and a help line, quickly and in bounded memory, never in a crash. One test per
//! defect, named after it.

use std::time::{Duration, Instant};

use render::{Diagnostic, Limits, MemTree, Options, Output, render};

const DOMAIN: &str = "0123456789abcdef0123456789abcdef";

/// Renders `tree` under `src` with `limits`, within `seconds`.
fn render_within(tree: &MemTree, limits: Limits, seconds: u64) -> Output {
    let started = Instant::now();
    let out = render(
        tree,
        &Options {
            path: "src".into(),
            limits,
            ..Options::default()
        },
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(seconds),
        "the render took {took:?}"
    );
    crate::help::assert_helpful(&out.diagnostics.items);
    out
}

/// The one diagnostic of `code`, with its location as `file:line`.
#[track_caller]
fn only<'o>(out: &'o Output, code: &str) -> (&'o Diagnostic, String) {
    let found: Vec<&Diagnostic> = out
        .diagnostics
        .items
        .iter()
        .filter(|d| d.code == code)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{code} in {:#?}",
        out.diagnostics
            .items
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect::<Vec<_>>()
    );
    let d = found[0];
    let label = d.primary.as_ref().expect("a location");
    let loc = out
        .diagnostics
        .files
        .location(&label.file, label.span.start);
    (d, format!("{}:{}", loc.file, loc.line))
}

fn codes(out: &Output) -> Vec<&'static str> {
    out.diagnostics.items.iter().map(|d| d.code).collect()
}

fn component_with(spec_tail: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\nspec:\n  domain: \"{DOMAIN}\"\n  server: adder\n  version: 1.1.0\n{spec_tail}"
    )
}

/// The adder module of `fixtures/kumori/adder` at `m/`, with `edit` applied to its
/// implementation and `motd` as its `motd.txt`, and a Component binding it at `src/c.yaml`.
fn adder_tree(edit: impl Fn(String) -> String, motd: Vec<u8>) -> MemTree {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/kumori/adder");
    let mut tree = MemTree::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        let bytes = match name.as_str() {
            "adder.kumori" => edit(String::from_utf8(bytes).unwrap()).into_bytes(),
            "motd.txt" => motd.clone(),
            _ => bytes,
        };
        tree.insert(format!("m/{name}"), bytes);
    }
    tree.with(
        "src/c.yaml",
        component_with(
            "  kumori:\n    module: ../m\n    component: Adder\n    config: { Port: 8080 }\n    resource: { Secret: db-password }\n",
        ),
    )
}

#[test]
fn yaml_nested_300000_levels_is_an_error_not_a_stack_overflow() {
    for deep in ["- ".repeat(300_000) + "x\n", "[".repeat(300_000)] {
        let tree = MemTree::new().with("src/deep.yaml", format!("# deep\n{deep}"));
        let out = render_within(&tree, Limits::default(), 5);
        let (d, at) = only(&out, "yaml-too-deep");
        assert_eq!(at, "src/deep.yaml:2");
        assert_eq!(d.message, "nested deeper than 128 levels");
        assert!(d.help.contains("depth"), "{}", d.help);
    }
    // The limit is the configured one, and what fits under it renders as usual.
    let nested = format!("{}x{}", "{a: ".repeat(10), "}".repeat(10));
    let tree = MemTree::new().with("src/n.yaml", nested);
    let limits = Limits {
        depth: 5,
        ..Limits::default()
    };
    let out = render_within(&tree, limits, 5);
    assert_eq!(
        only(&out, "yaml-too-deep").0.message,
        "nested deeper than 5 levels"
    );
}

#[test]
fn yaml_alias_bomb_stops_at_document_nodes_before_copying() {
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names: Vec<char> = "abcdefghi".chars().collect();
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    assert!(bomb.len() < 600, "a small document: {}", bomb.len());
    let tree = MemTree::new().with("src/bomb.yaml", bomb);
    let out = render_within(&tree, Limits::default(), 5);
    let (d, at) = only(&out, "yaml-too-many-nodes");
    // g's first alias of f would pass a million nodes.
    assert_eq!(at, "src/bomb.yaml:7");
    assert!(d.message.contains("1000000 nodes"), "{}", d.message);
}

#[test]
fn yaml_tags_are_refused_not_ignored() {
    for (tag, value) in [
        ("!!binary", "aGVsbG8="),
        ("!!python/object:os.system", "x"),
        ("!custom", "x"),
    ] {
        let c = component_with(&format!("  image: {tag} {value}\n"));
        let out = render_within(&MemTree::new().with("src/c.yaml", c), Limits::default(), 5);
        let (d, at) = only(&out, "yaml-tag");
        assert_eq!(at, "src/c.yaml:7");
        assert!(d.message.contains(tag), "{}", d.message);
    }
    // The core schema's tags stay accepted on values of their type.
    let c = component_with("  image: !!str ghcr.io/acme/adder:1.1.0\n");
    let out = render_within(&MemTree::new().with("src/c.yaml", c), Limits::default(), 5);
    assert_eq!(codes(&out), ["unknown-domain"], "only the missing Domain");
}

#[test]
fn yaml_alias_to_an_anchor_of_another_document_is_an_error_not_null() {
    let text = format!(
        "{}  image: &img ghcr.io/acme/adder:1.1.0\n---\n{}  image: *img\n",
        component_with(""),
        component_with("").replace("1.1.0", "1.2.0")
    );
    let out = render_within(
        &MemTree::new().with("src/c.yaml", text),
        Limits::default(),
        5,
    );
    let (d, at) = only(&out, "yaml-foreign-anchor");
    assert_eq!(d.message, "anchor &img is defined in another document");
    assert_eq!(at, "src/c.yaml:15");
}

#[test]
fn many_small_foreign_documents_render_in_linear_time() {
    // 100,000 documents of 4 MB: the error count used to be recomputed per document (37 s).
    let text = "{a: 1}\n---\n".repeat(100_000);
    assert!(text.len() > 1_000_000);
    let tree = MemTree::new().with("src/many.yaml", text);
    let out = render_within(&tree, Limits::default(), 5);
    let items = &out.diagnostics.items;
    assert_eq!(
        items.len(),
        101,
        "the first 100 and one that counts the rest"
    );
    let (more, _) = only(&out, "more-diagnostics");
    assert!(more.is_error());
    assert_eq!(
        more.message,
        "99900 more diagnostics in src/many.yaml (99900 errors) not shown"
    );
}

#[test]
fn file_over_file_bytes_is_refused_without_parsing() {
    let big = format!("# {}\n", "x".repeat(2000));
    let tree = MemTree::new().with("src/big.yaml", big);
    let limits = Limits {
        file_bytes: 1000,
        ..Limits::default()
    };
    let out = render_within(&tree, limits, 5);
    let (d, at) = only(&out, "file-too-large");
    assert_eq!(at, "src/big.yaml:1");
    assert!(d.message.contains("fileBytes"), "{}", d.message);
    assert!(d.help.contains("--limit fileBytes="), "{}", d.help);
}

#[test]
fn render_over_render_bytes_stops_reading() {
    let c = component_with("  image: ghcr.io/acme/adder:1.1.0\n");
    let tree = MemTree::new()
        .with("src/a.yaml", c.clone())
        .with("src/b.yaml", c.replace("1.1.0", "1.2.0"));
    let limits = Limits {
        render_bytes: c.len() as u64 + 10,
        ..Limits::default()
    };
    let out = render_within(&tree, limits, 5);
    let (d, at) = only(&out, "render-too-large");
    assert_eq!(at, "src/b.yaml:1");
    assert!(d.message.contains("renderBytes"), "{}", d.message);
}

#[test]
fn kumori_image_is_validated_like_yaml_image() {
    for (tag, shown) in [
        ("adder 1.1.0 ; rm -rf /", "adder 1.1.0 ; rm -rf /"),
        ("adder:1.1.0\\nkind: Secret", "adder:1.1.0\\nkind: Secret"),
        ("adder:1.1.0\u{202e}", "adder:1.1.0\\u{202e}"),
        ("ADDER:1.1.0", "ADDER:1.1.0"),
    ] {
        let tree = adder_tree(
            |src| src.replace("tag \"adder:1.1.0\"", &format!("tag \"{tag}\"")),
            b"hello\n".to_vec(),
        );
        let out = render_within(&tree, Limits::default(), 5);
        let (d, at) = only(&out, "invalid-image");
        assert_eq!(at, "src/c.yaml:8", "{tag}");
        assert!(d.message.contains(shown), "{tag}: {}", d.message);
        assert!(!d.message.contains('\u{202e}') && !d.message.contains('\n'));
    }
    let fine = adder_tree(|src| src, b"hello\n".to_vec());
    let out = render_within(&fine, Limits::default(), 5);
    assert_eq!(codes(&out), ["unknown-domain"], "only the missing Domain");
}

#[test]
fn annotation_of_300_kb_from_io_open_is_refused() {
    let tree = adder_tree(|src| src, vec![b'a'; 300 * 1024]);
    let out = render_within(&tree, Limits::default(), 5);
    let (d, at) = only(&out, "annotations-too-large");
    assert_eq!(at, "src/c.yaml:8");
    assert!(d.message.contains("256 KiB"), "{}", d.message);
    let limits = Limits {
        annotation_bytes: 1 << 20,
        object_bytes: 200 * 1024,
        ..Limits::default()
    };
    let out = render_within(&tree, limits, 5);
    let (d, _) = only(&out, "object-too-large");
    assert!(d.message.contains("objectBytes"), "{}", d.message);
}

#[test]
fn weight_of_2_pow_63_is_out_of_range() {
    for weight in ["9223372036854775808", "1e30", "-9223372036854775809"] {
        let server = format!(
            "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata:\n  name: adder\nspec:\n  id: adder\n  domain: \"{DOMAIN}\"\n  versionWeights: {{ 1.0.0: {weight} }}\n"
        );
        let out = render_within(
            &MemTree::new().with("src/s.yaml", server),
            Limits::default(),
            5,
        );
        let codes: Vec<&str> = out.diagnostics.items.iter().map(|d| d.code).collect();
        let expected = if weight.starts_with('-') {
            "negative-weight"
        } else {
            "weight-out-of-range"
        };
        assert!(codes.contains(&expected), "{weight}: {codes:?}");
        assert!(!codes.contains(&"wrong-type"), "{weight}: {codes:?}");
    }
}
