//! Rendering a generated repository held in memory (`render::MemTree`), the shape that
//! `xtask generate` writes: one Vimana, Domains of 25 Servers with 3 Components each, every
//! second Component bound to the Kumori module of `fixtures/kumori/adder` with its own config
//! values. Sizes of about 1,500 and 15,000 objects (`xtask bench` measures 40,000 end to
//! end), rendered in full and, with `render::Incremental`, after a change of one file.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_main};
use render::{Limits, MemTree, Options};

const SERVERS: usize = 25;
const VERSIONS: usize = 3;

/// Adds the files of the folder `rel` (relative to the repository root) to the tree.
fn add_fixture(tree: &mut MemTree, root: &Path, rel: &str) {
    for entry in std::fs::read_dir(root.join(rel)).expect("the fixture exists") {
        let entry = entry.expect("readable");
        let name = format!("{rel}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().expect("a file type").is_dir() {
            add_fixture(tree, root, &name);
        } else {
            tree.insert(name, std::fs::read(entry.path()).expect("readable"));
        }
    }
}

/// A repository of `domains` Domains (101 objects each, plus the Vimana).
fn repository(domains: usize) -> MemTree {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut tree = MemTree::new();
    add_fixture(&mut tree, &root, "fixtures/kumori/adder");
    tree.insert(
        "src/vimana.yaml",
        "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: edge}\nspec: {regions: [eu-west-1]}\n",
    );
    for d in 0..domains {
        let id = format!("{:032x}", 0x5eed_0000_u128 + d as u128);
        let mut text = format!(
            "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: domain-{d}}}\nspec: {{id: {id}, vimana: edge}}\n"
        );
        for s in 0..SERVERS {
            let _ = write!(
                text,
                "---\napiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: d{d}-s{s}}}\nspec: {{id: s{s}, domain: {id}, services: [svc{s}.v1.Api], versionWeights: {{1.1.0: 90, 1.2.0: 10}}}}\n"
            );
            for v in 0..VERSIONS {
                let _ = write!(
                    text,
                    "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: {{name: d{d}-s{s}-1-{v}-0}}\nspec: {{domain: {id}, server: s{s}, version: 1.{v}.0, "
                );
                if (s + v) % 2 == 1 {
                    let port = 8000 + (d * SERVERS + s) % 1000;
                    let _ = writeln!(
                        text,
                        "kumori: {{module: ../fixtures/kumori/adder, component: Adder, config: {{Port: {port}}}, resource: {{Secret: db-{d}}}}}}}"
                    );
                } else {
                    let _ = writeln!(text, "image: \"registry.example.org/d{d}/s{s}:1.{v}.0\"}}");
                }
            }
        }
        tree.insert(format!("src/domain-{d}.yaml"), text);
    }
    tree
}

fn bench(c: &mut Criterion) {
    let options = Options {
        path: "src".into(),
        instance: "default".into(),
        namespace: "vimana".into(),
        limits: Limits::default(),
    };
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    for domains in [15, 150] {
        let tree = repository(domains);
        let out = render::render(&tree, &options);
        assert!(!out.diagnostics.has_errors(), "the repository renders");
        let objects = out.manifests.len();
        group.bench_function(format!("{objects} objects"), |b| {
            b.iter(|| black_box(render::render(black_box(&tree), &options)))
        });
        // A commit that changes one file: each iteration renders the other of two trees that
        // differ in the weights of one Server, with the cache warm from the one before.
        let mut changed = tree.clone();
        let text = String::from_utf8(
            render::SourceTree::read(&tree, "src/domain-0.yaml").expect("generated"),
        )
        .expect("text");
        changed.insert(
            "src/domain-0.yaml",
            text.replacen("{1.1.0: 90, 1.2.0: 10}", "{1.1.0: 80, 1.2.0: 20}", 1),
        );
        let mut cache = render::Incremental::new();
        cache.render(&tree, &options);
        let trees = [&changed, &tree];
        let mut i = 0;
        group.bench_function(format!("{objects} objects, one file changed"), |b| {
            b.iter(|| {
                i += 1;
                black_box(cache.render(black_box(trees[i % 2]), &options))
            })
        });
        assert_eq!(cache.rerendered(), 1, "one file is rendered again");
    }
    group.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
