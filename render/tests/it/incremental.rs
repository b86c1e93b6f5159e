//! `render::Incremental` against a full render over random edits: files changed, added and
//! removed, Kumori module files and `io.Open` files edited, errors made and mended within a file
//! and between files. After every edit the incremental render must give the manifests, YAML
//! and diagnostics (as data and as text) of a full render of the same tree.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use render::{Incremental, Limits, MemTree, Options};

const MODULE: &str = "fixtures/kumori/adder";

/// The adder module, as the tests of this crate read it.
fn module_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(MODULE);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("the fixture exists") {
        let entry = entry.expect("readable");
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push((name, std::fs::read(entry.path()).expect("readable")));
    }
    out.sort();
    out
}

/// How a Domain file is written: which of its variants.
#[derive(Clone, Copy, Debug)]
enum Variant {
    /// Two Servers of two versions, every second Component bound to `mod/a`.
    Plain,
    /// The same with other config values and images.
    Other,
    /// Bound to `mod/b` instead.
    OtherModule,
    /// A Server whose weights name a version nobody defines, and an unknown field.
    Broken,
    /// The Domain id of Domain 0: a duplicate between files.
    SameIdAsFirst,
    /// Not YAML.
    Syntax,
}

fn domain(d: usize, variant: Variant) -> String {
    let id_of = |d: usize| format!("{:032x}", 0x5eed_0000_u128 + d as u128);
    let id = match variant {
        Variant::SameIdAsFirst => id_of(0),
        _ => id_of(d),
    };
    if let Variant::Syntax = variant {
        return format!("kind: Domain\nmetadata: {{name: domain-{d}\n  - [\n");
    }
    let module = match variant {
        Variant::OtherModule => "../mod/b",
        _ => "../mod/a",
    };
    let mut text = format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: domain-{d}}}\nspec: {{id: {id}, vimana: edge}}\n"
    );
    for s in 0..2 {
        let weights = match variant {
            Variant::Broken if s == 1 => "{1.0.0: 50, 1.7.0: 50}",
            _ => "{1.0.0: 90, 1.1.0: 10}",
        };
        let _ = write!(
            text,
            "---\napiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: d{d}-s{s}}}\nspec: {{id: s{s}, domain: {id}, services: [svc{s}.v1.Api], versionWeights: {weights}}}\n"
        );
        for v in 0..2 {
            let extra = match variant {
                Variant::Broken if v == 0 => ", colour: blue",
                _ => "",
            };
            let _ = write!(
                text,
                "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: {{name: d{d}-s{s}-1-{v}-0}}\nspec: {{domain: {id}, server: s{s}, version: 1.{v}.0{extra}, "
            );
            let port = match variant {
                Variant::Other => 9000 + d * 10 + s,
                _ => 8000 + d * 10 + s,
            };
            if (s + v) % 2 == 1 {
                let _ = writeln!(
                    text,
                    "kumori: {{module: {module}, component: Adder, config: {{Port: {port}}}, resource: {{Secret: db-{d}}}}}}}"
                );
            } else {
                let _ = writeln!(text, "image: \"registry.example.org/d{d}/s{s}:{port}\"}}");
            }
        }
    }
    text
}

/// One change to the repository.
#[derive(Clone, Debug)]
enum Edit {
    /// Writes Domain file `n` (adding it if it is not there).
    Write(usize, Variant),
    /// Removes Domain file `n`.
    Remove(usize),
    /// Writes the `io.Open` file of module `a` or `b`.
    Motd(bool, u8),
    /// Breaks (or mends) the main Kumori file of module `a` or `b`.
    Module(bool, bool),
    /// A `.reconcilerignore` that leaves Domain file `n` out, or none.
    Ignore(Option<usize>),
}

fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![
        3 => Just(Variant::Plain),
        2 => Just(Variant::Other),
        1 => Just(Variant::OtherModule),
        1 => Just(Variant::Broken),
        1 => Just(Variant::SameIdAsFirst),
        1 => Just(Variant::Syntax),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0..5usize, variant()).prop_map(|(n, v)| Edit::Write(n, v)),
        1 => (0..5usize).prop_map(Edit::Remove),
        1 => (any::<bool>(), 0..3u8).prop_map(|(m, n)| Edit::Motd(m, n)),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(m, b)| Edit::Module(m, b)),
        1 => proptest::option::of(0..5usize).prop_map(Edit::Ignore),
    ]
}

fn base() -> MemTree {
    let mut tree = MemTree::new();
    for (name, bytes) in module_files() {
        tree.insert(format!("mod/a/{name}"), bytes.clone());
        tree.insert(format!("mod/b/{name}"), bytes);
    }
    tree.insert(
        "src/vimana.yaml",
        "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: edge}\nspec: {regions: [eu-west-1]}\n",
    );
    for d in 0..3 {
        tree.insert(format!("src/domain-{d}.yaml"), domain(d, Variant::Plain));
    }
    tree
}

fn apply(tree: &mut MemTree, edit: &Edit, files: &[(String, Vec<u8>)]) {
    let module = |b: bool| if b { "mod/b" } else { "mod/a" };
    match edit {
        Edit::Write(n, v) => {
            tree.insert(format!("src/domain-{n}.yaml"), domain(*n, *v));
        }
        Edit::Remove(n) => {
            // A MemTree has no removal: rebuild it without the file.
            let path = format!("src/domain-{n}.yaml");
            let mut next = MemTree::new();
            for f in render::SourceTree::files(&*tree, "").expect("listed") {
                if f != path {
                    next.insert(
                        f.clone(),
                        render::SourceTree::read(&*tree, &f).expect("read"),
                    );
                }
            }
            *tree = next;
        }
        Edit::Motd(m, n) => {
            tree.insert(format!("{}/motd.txt", module(*m)), format!("hello {n}\n"));
        }
        Edit::Module(m, broken) => {
            let (_, original) = files
                .iter()
                .find(|(name, _)| name == "adder.kumori")
                .expect("the module has adder.kumori");
            let mut text = original.clone();
            if *broken {
                text.extend_from_slice(b"\ncomponent Broken { size { memory nonsense } }\n");
            }
            tree.insert(format!("{}/adder.kumori", module(*m)), text);
        }
        Edit::Ignore(n) => {
            let text = n.map_or(String::new(), |n| format!("domain-{n}.yaml\n"));
            tree.insert("src/.reconcilerignore", text);
        }
    }
}

fn options() -> Options {
    Options {
        path: "src".into(),
        instance: "default".into(),
        namespace: "vimana".into(),
        limits: Limits::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn incremental_renders_what_a_full_render_gives(edits in proptest::collection::vec(edit(), 1..8)) {
        let files = module_files();
        let options = options();
        let mut tree = base();
        let mut cache = Incremental::new();
        let first = cache.render(&tree, &options);
        prop_assert!(!first.diagnostics.has_errors(), "{:?}", first.diagnostics.items);
        cache.give_back(first.manifests);
        for edit in &edits {
            apply(&mut tree, edit, &files);
            let full = render::render(&tree, &options);
            let incremental = cache.render(&tree, &options);
            prop_assert_eq!(&incremental.manifests, &full.manifests, "after {:?}", edit);
            prop_assert_eq!(&incremental.diagnostics.items, &full.diagnostics.items, "after {:?}", edit);
            prop_assert_eq!(
                incremental.diagnostics.to_text(&|p| p.to_owned(), false),
                full.diagnostics.to_text(&|p| p.to_owned(), false)
            );
            prop_assert_eq!(incremental.to_yaml(), full.to_yaml());
            prop_assert!(cache.files() <= 6, "the cache keeps the files of the last render only");
            cache.give_back(incremental.manifests);
        }
    }
}

#[test]
fn one_changed_file_is_rendered_again_and_the_others_reused() {
    let options = options();
    let mut tree = base();
    let mut cache = Incremental::new();
    let pass = |cache: &mut Incremental, tree: &MemTree, options: &Options| {
        let out = cache.render(tree, options);
        cache.give_back(out.manifests.clone());
        out
    };
    pass(&mut cache, &tree, &options);
    assert_eq!(cache.rerendered(), 4);
    pass(&mut cache, &tree, &options);
    assert_eq!(cache.rerendered(), 0, "nothing changed");
    tree.insert("src/domain-1.yaml", domain(1, Variant::Other));
    let out = pass(&mut cache, &tree, &options);
    assert_eq!(cache.rerendered(), 1);
    assert_eq!(out.manifests, render::render(&tree, &options).manifests);
    // The module's `io.Open` file is read by the bindings of every Domain file.
    tree.insert("mod/a/motd.txt", "changed\n");
    pass(&mut cache, &tree, &options);
    assert_eq!(cache.rerendered(), 3, "every file that binds mod/a");
    let mut other = options.clone();
    other.instance = "other".into();
    pass(&mut cache, &tree, &other);
    assert_eq!(cache.rerendered(), 4, "new options render everything");
}

#[test]
fn files_are_reused_only_once_their_objects_are_given_back() {
    let options = options();
    let tree = base();
    let full = render::render(&tree, &options).manifests;
    let mut cache = Incremental::new();
    let first = cache.render(&tree, &options);
    assert_eq!(first.manifests, full);
    // Not given back: the objects are out, so every file is rendered again.
    let out = cache.render(&tree, &options);
    assert_eq!(cache.rerendered(), 4);
    assert_eq!(out.manifests, full);
    cache.give_back(out.manifests);
    let out = cache.render(&tree, &options);
    assert_eq!(cache.rerendered(), 0);
    assert_eq!(out.manifests, full);
    // Something other than the output (one object short, or out of order) empties the cache.
    let mut short = out.manifests;
    short.pop();
    cache.give_back(short);
    assert_eq!(cache.files(), 0);
    assert_eq!(cache.render(&tree, &options).manifests, full);
    assert_eq!(cache.rerendered(), 4);
    let mut reversed = full.clone();
    reversed.reverse();
    cache.give_back(reversed);
    assert_eq!(cache.files(), 0);
    assert_eq!(cache.render(&tree, &options).manifests, full);
}

#[test]
fn a_render_over_its_byte_budget_is_the_full_one() {
    // Which file a render refuses for renderBytes depends on the order of its reads: the
    // cache renders in full when the files it would reuse and the ones it read pass the budget.
    // The budget is a little over the size of the YAML files: the module files (3 KB) that
    // the bindings read pass it.
    let mut tree = base();
    let yaml: u64 = render::SourceTree::files(&tree, "src")
        .expect("listed")
        .iter()
        .map(|f| render::SourceTree::size(&tree, f).expect("sized"))
        .sum();
    let options = Options {
        limits: Limits {
            render_bytes: yaml + 1000,
            ..Limits::default()
        },
        ..options()
    };
    let mut cache = Incremental::new();
    let mut same = |tree: &MemTree| {
        let incremental = cache.render(tree, &options);
        let full = render::render(tree, &options);
        assert_eq!(incremental.diagnostics.items, full.diagnostics.items);
        assert_eq!(incremental.manifests, full.manifests);
        cache.give_back(incremental.manifests);
        full.diagnostics.has_errors()
    };
    assert!(same(&tree), "the budget is passed");
    tree.insert("src/domain-2.yaml", "");
    same(&tree);
    // Without bindings no module is read: within the budget, with a large file that the next
    // render reuses.
    let padding = format!("# {}\n", "x".repeat(yaml as usize + 500));
    tree.insert("src/domain-0.yaml", padding);
    tree.insert("src/domain-1.yaml", "");
    assert!(!same(&tree), "within the budget");
    // What this render reads is within the budget; with what it reuses, it is not.
    tree.insert("src/domain-1.yaml", domain(1, Variant::Plain));
    assert!(same(&tree), "the budget is passed again");
}
