//! Kumori rendering through the public API (issue 3): golden files under
//! `tests/data/kumori/**`, the example modules under `fixtures/kumori`, and a fuzz-style test of
//! the parser.
//!
//! Golden inputs are `.kumori` files. Under `parse/` each is one file, and its `.expect` holds
//! the syntax tree and the diagnostics. Elsewhere each input is a small repository written as
//! sections headed `//- path` (as rust-analyzer's fixtures are); when one section is a `.yaml`
//! Component, its `spec.kumori` binding is rendered, otherwise the module at the root is checked.
//! A section `//- link PATH -> TARGET` is a symbolic link (`links`). Run with
//! `UPDATE_EXPECT=1` to rewrite the `.expect` files.

mod fuzz;
pub(crate) mod harness;
mod hostile;
mod links;

use render::MemTree;
use render::kumori::{Artifact, Binding, render_binding};
use render::yaml;

use harness::{binding_of, fixture_tree, run_case};

#[test]
fn golden_files() {
    harness::check_dir("parse");
    harness::check_dir("check");
    harness::check_dir("render");
    harness::check_dir("seed");
}

#[test]
fn builtin_library_has_no_errors_and_every_seed_type() {
    let text = render::kumori::module::BUILTIN_SOURCE;
    let parse =
        render::kumori::parser::parse("kumori.kumori", render::kumori::ast::FileId(0), text);
    assert!(parse.diagnostics.is_empty(), "{:#?}", parse.diagnostics);
    let dump = render::kumori::ast::dump(&parse.file);
    for name in [
        "Resource",
        "Volume",
        "CA",
        "Certificate",
        "Secret",
        "Domain",
        "Port",
        "Registered",
        "InlineVolume",
        "NonReplicated",
        "Persisted",
        "Volatile",
        "RAMSized",
        "CPUSized",
        "BandwidthSized",
        "StorageSized",
        "ComponentInterface",
        "component",
        "Code",
        "Image",
        "Env",
        "File",
        "FSMap",
        "FSData",
        "FSSecret",
        "FSPort",
        "FSDomain",
        "FSCertificate",
        "FSCa",
        "AllowedFormat",
        "Probes",
        "LivenessProbeAttributes",
        "ReadinessProbeAttributes",
        "PrometheusMetricsProbeAttributes",
        "ProbeProtocol",
        "HTTPOnlyProbeProtocol",
        "HTTPProbeProtocol",
        "TCPProbeProtocol",
        "ExecProbeProtocol",
        "StartupGraceWindow",
    ] {
        assert!(
            dump.lines()
                .any(|l| l.starts_with(&format!("alias {name} "))
                    || l.starts_with(&format!("type {name} "))),
            "the built-in library lacks {name}"
        );
    }
    // A module that only imports the library checks cleanly: the library's own types resolve.
    let tree = MemTree::new()
        .with(
            "m/kumori.mod.json",
            r#"{"spec":"kumori/module/v1","module":"x.org/m","kumori":"1.0.0"}"#,
        )
        .with("m/a.h.kumori", "import \"kumori\"\ncomponent A {}\n");
    let mut ds = render::Diagnostics::default();
    assert!(
        render::kumori::check_module(&tree, "m", &render::Limits::default(), &mut ds),
        "{}",
        ds.to_text(&|p| p.to_owned(), false)
    );
}

const ADDER_YAML: &str = "apiVersion: api.vimana.host/v1alpha1
kind: Component
metadata: { name: adder-1-1-0 }
spec:
  domain: \"0123456789abcdef0123456789abcdef\"
  server: adder
  version: 1.1.0
  kumori:
    module: ../fixtures/kumori/adder
    component: Adder
    config: { Port: 8080 }
    resource: { Secret: db-password }
";

#[test]
fn adder_fixture_renders_its_image_and_annotations() {
    let tree = fixture_tree("adder").with("components/adder.yaml", ADDER_YAML);
    let out = run_case(&tree, "components/adder.yaml");
    assert_eq!(out.diagnostics, "", "unexpected diagnostics");
    let r = out.rendered.expect("rendered");
    assert_eq!(r.image, "registry.example.org/vimana/adder:1.1.0");
    assert_eq!(r.source, "kumori.examples/adder#Adder");
    assert!(
        r.digest.starts_with("sha256:") && r.digest.len() == 7 + 64,
        "{}",
        r.digest
    );
    let json: serde_json::Value = serde_json::from_str(&r.rendered).unwrap();
    assert_eq!(json["config"]["Port"], 8080);
    assert_eq!(json["config"]["LogLevel"], "info", "defaults apply");
    assert_eq!(
        json["resource"]["Secret"],
        serde_json::json!({"Secret": "db-password"})
    );
    let c = &json["code"]["adder"];
    assert_eq!(c["size"]["memory"], 134217728);
    assert_eq!(c["size"]["cpu"], 0.5);
    assert_eq!(c["env"]["LISTEN"], "0.0.0.0:8080");
    assert_eq!(
        c["fs"]["/etc/adder/motd"]["data"],
        "Welcome to the adder.\n"
    );
    assert_eq!(
        c["fs"]["/etc/adder/motd"]["mode"], 420,
        "default mode 0o644"
    );
    assert_eq!(c["fs"]["/run/secrets/db"]["mode"], 256);
    assert_eq!(
        c["fs"]["/etc/adder/config.json"]["data"],
        r#"{"level":"info","port":8080}"#
    );
    assert_eq!(
        json["probe"]["adder"]["liveness"]["protocol"]["http"]["port"], 8080,
        "self. reference"
    );
}

#[test]
fn rendering_is_deterministic_and_the_digest_follows_the_values() {
    let tree = fixture_tree("adder").with("components/adder.yaml", ADDER_YAML);
    let a = run_case(&tree, "components/adder.yaml").rendered.unwrap();
    let b = run_case(&tree, "components/adder.yaml").rendered.unwrap();
    assert_eq!(a, b);
    let other = ADDER_YAML.replace("Port: 8080", "Port: 8081");
    let tree = fixture_tree("adder").with("components/adder.yaml", other);
    let c = run_case(&tree, "components/adder.yaml").rendered.unwrap();
    assert_ne!(a.digest, c.digest);
    assert_eq!(a.image, c.image);
}

#[test]
fn adder_deployment_renders_with_its_own_values() {
    let yaml = ADDER_YAML
        .replace("component: Adder", "deployment: adder")
        .replace(
            "    config: { Port: 8080 }\n    resource: { Secret: db-password }\n",
            "",
        );
    let tree = fixture_tree("adder").with("components/adder.yaml", yaml);
    let out = run_case(&tree, "components/adder.yaml");
    assert_eq!(out.diagnostics, "");
    let r = out.rendered.unwrap();
    assert_eq!(r.source, "kumori.examples/adder#adder");
    let json: serde_json::Value = serde_json::from_str(&r.rendered).unwrap();
    assert_eq!(json["config"]["Port"], 9000);
    assert_eq!(json["config"]["LogLevel"], "debug");
    assert_eq!(json["resource"]["Secret"]["Secret"], "adder-db-password");
}

#[test]
fn binding_values_override_a_deployments_values() {
    let yaml = ADDER_YAML
        .replace("component: Adder", "deployment: adder")
        .replace(
            "resource: { Secret: db-password }",
            "resource: { Secret: other }",
        );
    let tree = fixture_tree("adder").with("components/adder.yaml", yaml);
    let r = run_case(&tree, "components/adder.yaml").rendered.unwrap();
    let json: serde_json::Value = serde_json::from_str(&r.rendered).unwrap();
    assert_eq!(json["config"]["Port"], 8080);
    assert_eq!(json["config"]["LogLevel"], "debug");
    assert_eq!(json["resource"]["Secret"]["Secret"], "other");
}

#[test]
fn adder_fixture_checks_without_values() {
    let tree = fixture_tree("adder");
    let mut ds = render::Diagnostics::default();
    let ok = render::kumori::check_module(
        &tree,
        "fixtures/kumori/adder",
        &render::Limits::default(),
        &mut ds,
    );
    assert!(ok, "{}", ds.to_text(&|p| p.to_owned(), false));
}

#[test]
fn a_binding_built_by_hand_reports_missing_values_in_the_yaml() {
    let tree = fixture_tree("adder").with("c.yaml", "kumori: {}\n");
    let binding = Binding {
        file: "c.yaml",
        span: 0..6,
        module: "fixtures/kumori/adder".into(),
        module_span: 0..6,
        artifact: Artifact::Component("Adder".into()),
        artifact_span: 0..6,
        config: None,
        resource: None,
    };
    let mut ds = render::Diagnostics::default();
    assert!(render_binding(&tree, &binding, &render::Limits::default(), &mut ds).is_none());
    let codes: Vec<_> = ds.items.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["kumori-missing-resource"]);
    let text = ds.to_text(&|p| p.to_owned(), false);
    assert!(text.contains("--> c.yaml:1:1"), "{text}");
    assert!(
        text.contains("fixtures/kumori/adder/adder.h.kumori:23:9"),
        "{text}"
    );
}

#[test]
fn symlink_and_dotdot_escapes_of_io_open_are_refused() {
    let tree = fixture_tree("adder")
        .with("secret.txt", "outside")
        .with("components/adder.yaml", ADDER_YAML);
    let patched =
        std::fs::read_to_string(harness::repo_root().join("fixtures/kumori/adder/adder.kumori"))
            .unwrap()
            .replace("io.Open(\"motd.txt\")", "io.Open(\"../../../secret.txt\")");
    let tree = tree.with("fixtures/kumori/adder/adder.kumori", patched);
    let out = run_case(&tree, "components/adder.yaml");
    assert!(out.rendered.is_none());
    assert!(
        out.diagnostics.contains("error[kumori-io-escape]"),
        "{}",
        out.diagnostics
    );
}

#[test]
fn bindings_that_share_a_module_render_as_they_do_alone() {
    // One render loads each clean module once for all its bindings; every binding must still get
    // exactly what it gets alone: its values, its diagnostics with its own file, and a broken
    // module reported for each binding that names it.
    let broken = ADDER_YAML.replace("../fixtures/kumori/adder", "../nowhere");
    let files = [
        ("components/a.yaml", ADDER_YAML.to_owned()),
        (
            "components/b.yaml",
            ADDER_YAML.replace("{ Port: 8080 }", "{ Port: 8081, LogLevel: warn }"),
        ),
        (
            "components/c.yaml",
            ADDER_YAML.replace("{ Port: 8080 }", "{ Prot: 8080 }"),
        ),
        ("components/d.yaml", broken.clone()),
        (
            "other/e.yaml",
            broken.replace("../nowhere", "../../nowhere"),
        ),
        (
            "components/f.yaml",
            ADDER_YAML.replace("{ Port: 8080 }", "{ Port: \"x\" }"),
        ),
        ("components/g.yaml", ADDER_YAML.to_owned()),
    ];
    let mut tree = fixture_tree("adder");
    for (path, text) in &files {
        tree.insert(*path, text.as_bytes());
    }
    let mut cache = render::kumori::ModuleCache::new(render::Limits::default());
    let mut texts = Vec::new();
    for (path, text) in &files {
        let parsed = yaml::parse(text);
        let binding = binding_of(path, &parsed.documents[0].root);
        let mut alone = render::Diagnostics::default();
        let expected = render_binding(&tree, &binding, &render::Limits::default(), &mut alone);
        let mut shared = render::Diagnostics::default();
        let got = render::kumori::render_binding_cached(&tree, &binding, &mut cache, &mut shared);
        assert_eq!(got, expected, "{path}");
        let text = |ds: &render::Diagnostics| ds.to_text(&|p| p.to_owned(), false);
        assert_eq!(text(&shared), text(&alone), "{path}");
        texts.push(text(&shared));
    }
    assert_eq!(texts[0], "");
    assert!(texts[2].contains("components/c.yaml"), "{}", texts[2]);
    assert!(texts[3].contains("kumori-module-not-found"), "{}", texts[3]);
    assert!(texts[4].contains("other/e.yaml"), "{}", texts[4]);
    assert!(texts[5].contains("components/f.yaml"), "{}", texts[5]);
}

#[test]
fn yaml_helper_reads_the_binding() {
    let doc = yaml::parse(ADDER_YAML);
    let b = binding_of("c.yaml", &doc.documents[0].root);
    assert_eq!(b.artifact, Artifact::Component("Adder".into()));
    assert_eq!(b.module, "../fixtures/kumori/adder");
}

/// Benchmark, not a timed test: renders 1,000 Components bound to the adder module and prints
/// the time. Run with `cargo test -p render --release --test it -- --ignored --nocapture
/// kumori_benchmark`.
#[test]
#[ignore = "benchmark; run explicitly in release mode"]
fn kumori_benchmark_1000_components() {
    let mut tree = fixture_tree("adder");
    for i in 0..1000 {
        let yaml = ADDER_YAML.replace("Port: 8080", &format!("Port: {}", 1000 + i));
        tree.insert(format!("components/c{i}.yaml"), yaml);
    }
    let start = std::time::Instant::now();
    for i in 0..1000 {
        let out = run_case(&tree, &format!("components/c{i}.yaml"));
        assert!(out.rendered.is_some());
    }
    let elapsed = start.elapsed();
    println!("rendered 1000 bound Components in {elapsed:?}");
}

/// A whole repository through `render::render`: the Vimana loader parses `spec.kumori`, the
/// front end renders it, and the Component carries the image and the three annotations.
#[test]
fn bound_components_render_through_the_loader() {
    let d = "0123456789abcdef0123456789abcdef";
    let sources = format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: calc}}\nspec: {{id: \"{d}\"}}\n---\n\
         apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: adder}}\nspec: {{id: adder, domain: \"{d}\", versionWeights: {{1.1.0: 1}}}}\n---\n{ADDER_YAML}"
    );
    let tree = fixture_tree("adder").with("components/all.yaml", sources);
    let out = render::render(
        &tree,
        &render::Options {
            path: "components".into(),
            ..render::Options::default()
        },
    );
    assert!(
        out.diagnostics.items.is_empty(),
        "{}",
        out.diagnostics.to_text(&|p| p.to_owned(), false)
    );
    let component = out
        .manifests
        .iter()
        .find_map(|m| match &m.object {
            model::Object::Component(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        component.spec.image,
        "registry.example.org/vimana/adder:1.1.0"
    );
    let a = &component.metadata.annotations;
    assert_eq!(
        a.get("kumori.vimana.host/source").unwrap(),
        "kumori.examples/adder#Adder"
    );
    assert!(
        a.get("kumori.vimana.host/digest")
            .unwrap()
            .starts_with("sha256:")
    );
    let rendered: serde_json::Value =
        serde_json::from_str(a.get("kumori.vimana.host/rendered").unwrap()).unwrap();
    assert_eq!(rendered["config"]["Port"], 8080);
    // The source-only binding never reaches the rendered object.
    assert!(!out.to_yaml().contains("kumori:\n"));

    // A binding error is reported with the location of the YAML file, and nothing renders.
    let broken = ADDER_YAML.replace("component: Adder", "component: Subtractor");
    let tree = fixture_tree("adder").with("components/all.yaml", broken);
    let out = render::render(
        &tree,
        &render::Options {
            path: "components".into(),
            ..render::Options::default()
        },
    );
    assert!(out.diagnostics.has_errors());
    let text = out.diagnostics.to_text(&|p| p.to_owned(), false);
    assert!(text.contains("components/all.yaml:"), "{text}");
    assert!(text.contains("Subtractor"), "{text}");
}
