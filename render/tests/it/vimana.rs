//! Vimana sources through the public API: one failing and one passing case per rule.
//!
//! Each case starts from a small valid repository, replaces or adds files, and lists the
//! diagnostics it expects as `code@file:line:col`.

use render::{MemTree, Options, Output, Severity, render};

const D1: &str = "6c1d0e5f8a2b4c7d9e0f1a2b3c4d5e6f";
const D2: &str = "a3f1c9e2b7d84f6a9c0e1d2b3a4f5e6d";

fn base() -> Vec<(&'static str, String)> {
    vec![
        (
            "src/vimana.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata:\n  name: edge\nspec:\n  regions: [eu-west-1]\n".into(),
        ),
        ("src/domain.yaml", domain("calc", D1, "[calc.example.org]")),
        ("src/server.yaml", server("adder", "adder", D1, "{ 1.0.0: 100 }")),
        ("src/component.yaml", component(D1, "adder", "1.0.0", "")),
    ]
}

fn domain(name: &str, id: &str, aliases: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata:\n  name: {name}\nspec:\n  id: {id}\n  vimana: edge\n  aliases: {aliases}\n"
    )
}

fn server(name: &str, id: &str, domain: &str, weights: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata:\n  name: {name}\nspec:\n  id: {id}\n  domain: {domain}\n  versionWeights: {weights}\n"
    )
}

fn component(domain: &str, server: &str, version: &str, name: &str) -> String {
    let meta = if name.is_empty() {
        String::new()
    } else {
        format!("metadata:\n  name: {name}\n")
    };
    let tag = version.replace('+', "-");
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\n{meta}spec:\n  domain: {domain}\n  server: {server}\n  version: {version}\n  image: ghcr.io/acme/{server}:{tag}\n"
    )
}

/// Renders `base()` with `changes` applied (a file with empty content is removed).
fn render_with(changes: &[(&str, &str)]) -> Output {
    let mut files = base();
    for (path, content) in changes {
        files.retain(|(p, _)| p != path);
        if !content.is_empty() {
            files.push((path, (*content).to_owned()));
        }
    }
    let mut tree = MemTree::new();
    for (path, content) in files {
        tree.insert(path, content);
    }
    render(
        &tree,
        &Options {
            path: "src".into(),
            ..Options::default()
        },
    )
}

/// The diagnostics of a render as `code@file:line:col` (warnings prefixed with `warning:`).
fn findings(out: &Output) -> Vec<String> {
    crate::help::assert_helpful(&out.diagnostics.items);
    out.diagnostics
        .items
        .iter()
        .map(|d| {
            let at = d.primary.as_ref().map_or_else(String::new, |l| {
                let loc = out.diagnostics.files.location(&l.file, l.span.start);
                format!("@{loc}")
            });
            let prefix = if d.severity == Severity::Warning {
                "warning:"
            } else {
                ""
            };
            format!("{prefix}{}{at}", d.code)
        })
        .collect()
}

#[track_caller]
fn expect(changes: &[(&str, &str)], expected: &[&str]) {
    let out = render_with(changes);
    let found = findings(&out);
    assert_eq!(
        found,
        expected,
        "\n{}",
        out.diagnostics.to_text(&|p| p.to_owned(), false)
    );
    if expected.iter().all(|e| e.starts_with("warning:")) {
        assert!(
            !out.manifests.is_empty(),
            "a valid repository renders objects"
        );
    }
}

#[test]
fn the_base_repository_is_valid_and_labelled() {
    let out = render_with(&[]);
    assert_eq!(findings(&out), Vec::<String>::new());
    let names: Vec<String> = out
        .manifests
        .iter()
        .map(|m| m.object.key().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Vimana/vimana/edge",
            "Domain/vimana/calc",
            "Server/vimana/adder",
            "Component/vimana/adder-1-0-0"
        ]
    );
    let c = out.manifests[3].object.meta();
    assert_eq!(c.labels.get("vimana.host/version").unwrap(), "1.0.0");
    assert_eq!(c.labels.get("vimana.host/server").unwrap(), "adder");
    assert_eq!(c.labels.get("vimana.host/domain").unwrap(), D1);
    assert_eq!(
        c.labels.get("app.kubernetes.io/managed-by").unwrap(),
        "vimana-reconciler"
    );
    assert_eq!(
        c.labels.get("reconciler.vimana.host/instance").unwrap(),
        "default"
    );
    let src = out.manifests[3].source.as_ref().unwrap();
    assert_eq!(
        src.field("spec.version").to_string(),
        "src/component.yaml:6:12"
    );
}

#[test]
fn output_is_deterministic_whatever_the_file_order() {
    let a = render_with(&[("src/z.yaml", &component(D1, "adder", "1.1.0", ""))]);
    let b = render_with(&[("src/a.yaml", &component(D1, "adder", "1.1.0", ""))]);
    assert_eq!(a.to_yaml(), b.to_yaml());
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(
        a.to_yaml(),
        render_with(&[("src/z.yaml", &component(D1, "adder", "1.1.0", ""))]).to_yaml()
    );
    let json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
}

#[test]
fn namespace_comes_from_the_source_else_the_default() {
    let c = component(D1, "adder", "1.0.0", "").replace(
        "kind: Component\n",
        "kind: Component\nmetadata:\n  namespace: team-a\n",
    );
    let out = render_with(&[("src/component.yaml", &c)]);
    assert_eq!(findings(&out), Vec::<String>::new());
    assert_eq!(out.manifests[3].object.key().namespace, "team-a");
    assert_eq!(out.manifests[0].object.key().namespace, "vimana");
}

#[test]
fn domain_id_format() {
    expect(
        &[("src/domain.yaml", &domain("calc", "6C1D0E5F", "[]"))],
        &["invalid-domain-id@src/domain.yaml:6:7"],
    );
    let no_id = domain("calc", D1, "[]").replace(&format!("  id: {D1}\n"), "");
    expect(
        &[("src/domain.yaml", &no_id)],
        &["missing-field@src/domain.yaml:6:3"],
    );
    expect(&[("src/domain.yaml", &domain("calc", D1, "[]"))], &[]);
}

#[test]
fn domain_id_uniqueness() {
    expect(
        &[("src/d2.yaml", &domain("calc-2", D1, "[]"))],
        &["duplicate-domain-id@src/domain.yaml:6:7"],
    );
    expect(&[("src/d2.yaml", &domain("calc-2", D2, "[]"))], &[]);
}

#[test]
fn server_id_unique_per_domain() {
    expect(
        &[(
            "src/s2.yaml",
            &server("adder-2", "adder", D1, "{ 1.0.0: 1 }"),
        )],
        &["duplicate-server-id@src/server.yaml:6:7"],
    );
    // The same server id in another domain is another server.
    expect(
        &[
            ("src/d2.yaml", &domain("shop", D2, "[]")),
            (
                "src/s2.yaml",
                &server("adder-2", "adder", D2, "{ 1.0.0: 1 }"),
            ),
            (
                "src/c2.yaml",
                &component(D2, "adder", "1.0.0", "adder-shop-1-0-0"),
            ),
        ],
        &[],
    );
    expect(
        &[("src/s2.yaml", &server("adder-2", "Adder", D1, "{}"))],
        &["invalid-server-id@src/s2.yaml:6:7"],
    );
}

#[test]
fn versions_are_semver_and_unique_per_server() {
    expect(
        &[(
            "src/c2.yaml",
            &component(D1, "adder", "1.0.0", "adder-copy"),
        )],
        &["duplicate-version@src/component.yaml:6:12"],
    );
    expect(
        &[("src/c2.yaml", &component(D1, "adder", "1.0", "adder-x"))],
        &["invalid-version@src/c2.yaml:8:12"],
    );
    expect(
        &[("src/c2.yaml", &component(D1, "adder", "v1.2.0", "adder-x"))],
        &["invalid-version@src/c2.yaml:8:12"],
    );
    expect(
        &[(
            "src/c2.yaml",
            &component(D1, "adder", "1.2.0+build.7", "adder-x"),
        )],
        &["invalid-version@src/c2.yaml:8:12"],
    );
    expect(
        &[("src/c2.yaml", &component(D1, "adder", "1.2.0-rc.1", ""))],
        &[],
    );
}

#[test]
fn aliases_are_dns_names_unique_across_domains() {
    expect(
        &[("src/domain.yaml", &domain("calc", D1, "[calc_example]"))],
        &["invalid-alias@src/domain.yaml:8:13"],
    );
    expect(
        &[("src/d2.yaml", &domain("shop", D2, "[calc.example.org]"))],
        &["duplicate-alias@src/domain.yaml:8:13"],
    );
    expect(
        &[(
            "src/domain.yaml",
            &domain("calc", D1, "[a.example.org, a.example.org]"),
        )],
        &["duplicate-entry@src/domain.yaml:8:28"],
    );
    let canonical = format!("[{D2}.vimana.host]");
    expect(
        &[("src/domain.yaml", &domain("calc", D1, &canonical))],
        &["alias-is-canonical@src/domain.yaml:8:13"],
    );
    expect(
        &[(
            "src/d2.yaml",
            &domain("shop", D2, "[shop.example.org, \"*.shop.example.org\"]"),
        )],
        &[],
    );
}

#[test]
fn reflection_lists_are_mutually_exclusive() {
    let both = format!(
        "{}  grpc:\n    reflection:\n      noneBut: [calc.v1.Adder]\n      allBut: [calc.v1.Admin]\n",
        domain("calc", D1, "[]")
    );
    expect(
        &[("src/domain.yaml", &both)],
        &["reflection-lists-exclusive@src/domain.yaml:12:15"],
    );
    let one = format!(
        "{}  grpc:\n    reflection:\n      allBut: [calc.v1.Admin]\n",
        domain("calc", D1, "[]")
    );
    expect(&[("src/domain.yaml", &one)], &[]);
    let bad = format!(
        "{}  grpc:\n    reflection:\n      noneBut: [Adder]\n",
        domain("calc", D1, "[]")
    );
    expect(
        &[("src/domain.yaml", &bad)],
        &["invalid-service@src/domain.yaml:11:17"],
    );
}

#[test]
fn weights_are_non_negative_with_a_positive_sum() {
    let two = component(D1, "adder", "1.1.0", "");
    expect(
        &[
            (
                "src/server.yaml",
                &server("adder", "adder", D1, "{ 1.0.0: -1, 1.1.0: 2 }"),
            ),
            ("src/c2.yaml", &two),
        ],
        &["negative-weight@src/server.yaml:8:28"],
    );
    expect(
        &[
            (
                "src/server.yaml",
                &server("adder", "adder", D1, "{ 1.0.0: 0, 1.1.0: 0 }"),
            ),
            ("src/c2.yaml", &two),
        ],
        &["zero-weight-sum@src/server.yaml:8:19"],
    );
    expect(
        &[(
            "src/server.yaml",
            &server("adder", "adder", D1, "{ 1.0.0: ten }"),
        )],
        &["wrong-type@src/server.yaml:8:28"],
    );
    expect(
        &[(
            "src/server.yaml",
            &server("adder", "adder", D1, "{ 1.0.0: 3000000000 }"),
        )],
        &["weight-out-of-range@src/server.yaml:8:28"],
    );
    // A zero weight next to a positive one keeps a version deployed without traffic.
    expect(
        &[
            (
                "src/server.yaml",
                &server("adder", "adder", D1, "{ 1.0.0: 0, 1.1.0: 5 }"),
            ),
            ("src/c2.yaml", &two),
        ],
        &[],
    );
    // No weights at all: a server that takes no traffic yet.
    expect(
        &[("src/server.yaml", &server("adder", "adder", D1, "{}"))],
        &[],
    );
}

#[test]
fn weights_name_existing_versions() {
    expect(
        &[(
            "src/server.yaml",
            &server("adder", "adder", D1, "{ 1.0.0: 50, 2.0.0: 50 }"),
        )],
        &["weight-unknown-version@src/server.yaml:8:32"],
    );
    expect(
        &[(
            "src/server.yaml",
            &server("adder", "adder", D1, "{ \"1.0\": 50 }"),
        )],
        &["invalid-version@src/server.yaml:8:21"],
    );
}

#[test]
fn references_between_kinds() {
    expect(
        &[("src/vimana.yaml", "")],
        &["unknown-vimana@src/domain.yaml:7:11"],
    );
    expect(
        &[("src/domain.yaml", "")],
        &[
            "unknown-domain@src/component.yaml:4:11",
            "unknown-domain@src/server.yaml:7:11",
        ],
    );
    expect(
        &[("src/server.yaml", "")],
        &["unknown-server@src/component.yaml:5:11"],
    );
    // A Domain without `vimana` refers to none.
    expect(
        &[
            ("src/vimana.yaml", ""),
            (
                "src/domain.yaml",
                &domain("calc", D1, "[]").replace("  vimana: edge\n", ""),
            ),
        ],
        &[],
    );
    // References stay within a namespace.
    let other_ns = "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata:\n  name: edge\n  namespace: other\n";
    expect(
        &[("src/vimana.yaml", other_ns)],
        &["unknown-vimana@src/domain.yaml:7:11"],
    );
}

#[test]
fn kubernetes_name_rules() {
    expect(
        &[("src/c2.yaml", &component(D1, "adder", "1.1.0", "Adder_1"))],
        &["invalid-name@src/c2.yaml:4:9"],
    );
    let ns = component(D1, "adder", "1.1.0", "").replace(
        "kind: Component\n",
        "kind: Component\nmetadata:\n  namespace: Team.A\n",
    );
    expect(
        &[("src/c2.yaml", &ns)],
        &["invalid-namespace@src/c2.yaml:4:14"],
    );
    let long = "a".repeat(254);
    expect(
        &[("src/c2.yaml", &component(D1, "adder", "1.1.0", &long))],
        &["invalid-name@src/c2.yaml:4:9"],
    );
    let no_name = "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nspec: {}\n";
    expect(
        &[("src/v2.yaml", no_name)],
        &["missing-field@src/v2.yaml:1:1"],
    );
}

#[test]
fn derived_component_names_that_collide_are_reported() {
    expect(
        &[
            ("src/d2.yaml", &domain("shop", D2, "[]")),
            (
                "src/s2.yaml",
                &server("adder-2", "adder", D2, "{ 1.0.0: 1 }"),
            ),
            ("src/c2.yaml", &component(D2, "adder", "1.0.0", "")),
        ],
        &["duplicate-name@src/component.yaml:1:1"],
    );
}

#[test]
fn labels_and_annotations() {
    let with = |meta: &str| {
        component(D1, "adder", "1.1.0", "").replace(
            "kind: Component\n",
            &format!("kind: Component\nmetadata:\n{meta}"),
        )
    };
    expect(
        &[(
            "src/c2.yaml",
            &with(
                "  labels: { team: numerics, example.org/tier: gold }\n  annotations: { note: hi }\n",
            ),
        )],
        &[],
    );
    expect(
        &[(
            "src/c2.yaml",
            &with("  labels: { vimana.host/version: 9.9.9 }\n"),
        )],
        &["reserved-label@src/c2.yaml:4:13"],
    );
    expect(
        &[("src/c2.yaml", &with("  labels: { \"bad key!\": x }\n"))],
        &["invalid-label@src/c2.yaml:4:13"],
    );
    expect(
        &[("src/c2.yaml", &with("  labels: { team: \"a b\" }\n"))],
        &["invalid-label@src/c2.yaml:4:13"],
    );
    expect(
        &[("src/c2.yaml", &with("  labels: { team: 3 }\n"))],
        &["wrong-type@src/c2.yaml:4:19"],
    );
    expect(
        &[(
            "src/c2.yaml",
            &with("  annotations: { kumori.vimana.host/digest: x }\n"),
        )],
        &["reserved-annotation@src/c2.yaml:4:18"],
    );
    expect(
        &[("src/c2.yaml", &with("  annotations: { \"-bad\": x }\n"))],
        &["invalid-annotation@src/c2.yaml:4:18"],
    );
}

#[test]
fn unknown_fields_kinds_and_documents() {
    let typo =
        server("adder", "adder", D1, "{ 1.0.0: 100 }").replace("versionWeights", "versionWeight");
    let out = render_with(&[("src/server.yaml", &typo)]);
    assert_eq!(findings(&out), ["unknown-field@src/server.yaml:8:3"]);
    assert_eq!(
        out.diagnostics.items[0].help,
        "did you mean `versionWeights`?"
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Gateway\nmetadata: {name: x}\n",
        )],
        &["unknown-kind@src/x.yaml:2:7"],
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )],
        &["foreign-document@src/x.yaml:1:13"],
    );
    expect(
        &[("src/x.yaml", "kind: Vimana\nmetadata: {name: x}\n")],
        &["missing-api-version@src/x.yaml:1:1"],
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: x, uid: abc}\n",
        )],
        &["server-set-field@src/x.yaml:3:21"],
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: x}\nstatus: {conditions: []}\n",
        )],
        &["status-in-source@src/x.yaml:4:1"],
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: x}\nspec: {regions: [a], zones: [b]}\n",
        )],
        &["unknown-field@src/x.yaml:4:22"],
    );
    // Files that are not YAML are not Vimana sources; neither are ignored files.
    expect(
        &[("src/notes.md", "# notes"), ("src/kumori.mod.json", "{}")],
        &[],
    );
}

#[test]
fn ignore_files_exclude_sources() {
    let foreign = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    expect(
        &[("src/extra/cm.yaml", foreign)],
        &["foreign-document@src/extra/cm.yaml:1:13"],
    );
    expect(
        &[
            ("src/extra/cm.yaml", foreign),
            ("src/.reconcilerignore", "extra/\n"),
        ],
        &[],
    );
    expect(
        &[
            ("src/extra/cm.yaml", foreign),
            (".reconcilerignore", "cm.yaml\n"),
        ],
        &[],
    );
    expect(
        &[
            ("src/extra/cm.yaml", foreign),
            (
                "src/.reconcilerignore",
                "*.yaml\n!vimana.yaml\n!domain.yaml\n!server.yaml\n!component.yaml\n!cm.yaml\n",
            ),
        ],
        &["foreign-document@src/extra/cm.yaml:1:13"],
    );
}

#[test]
fn yaml_errors_are_located() {
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: x\n",
        )],
        &["yaml-syntax@src/x.yaml:4:1"],
    );
    expect(
        &[(
            "src/x.yaml",
            "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: x}\nkind: Vimana\n",
        )],
        &["duplicate-key@src/x.yaml:4:1"],
    );
    let out = {
        let mut tree = MemTree::new();
        tree.insert("src/x.yaml", vec![0xff, 0xfe, b'a']);
        render(
            &tree,
            &Options {
                path: "src".into(),
                ..Options::default()
            },
        )
    };
    assert_eq!(findings(&out), ["not-utf8"]);
}

#[test]
fn images() {
    let bad = component(D1, "adder", "1.1.0", "")
        .replace("ghcr.io/acme/adder:1.1.0", "ghcr.io/Acme/adder:1.1.0");
    expect(
        &[("src/c2.yaml", &bad)],
        &["invalid-image@src/c2.yaml:7:10"],
    );
    let none =
        component(D1, "adder", "1.1.0", "").replace("  image: ghcr.io/acme/adder:1.1.0\n", "");
    expect(
        &[("src/c2.yaml", &none)],
        &["missing-image@src/c2.yaml:4:3"],
    );
    let both = format!(
        "{}  kumori: {{ module: ../m, component: Adder }}\n",
        component(D1, "adder", "1.1.0", "")
    );
    expect(
        &[("src/c2.yaml", &both)],
        &["image-and-kumori@src/c2.yaml:8:11"],
    );
    let by_digest = component(D1, "adder", "1.1.0", "").replace(
        ":1.1.0\n",
        "@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
    );
    expect(&[("src/c2.yaml", &by_digest)], &[]);
}

#[test]
fn the_drift_annotation_is_the_one_reconciler_key_a_source_may_set() {
    let with = |annotations: &str| {
        server("adder", "adder", D1, "{ 1.0.0: 100 }").replace(
            "  name: adder\n",
            &format!("  name: adder\n  annotations:\n{annotations}"),
        )
    };
    for value in ["correct", "detect", "ignore"] {
        expect(
            &[(
                "src/server.yaml",
                &with(&format!("    reconciler.vimana.host/drift: {value}\n")),
            )],
            &[],
        );
    }
    expect(
        &[(
            "src/server.yaml",
            &with("    reconciler.vimana.host/drift: fix\n"),
        )],
        &["invalid-drift-annotation@src/server.yaml:6:5"],
    );
    // The rest of the prefix stays the reconciler's.
    expect(
        &[(
            "src/server.yaml",
            &with("    reconciler.vimana.host/rollout-paused: \"true\"\n"),
        )],
        &["reserved-annotation@src/server.yaml:6:5"],
    );
}

#[test]
fn rollout_annotations_on_servers() {
    let with = |annotations: &str| {
        server("adder", "adder", D1, "{ 1.0.0: 100 }").replace(
            "  name: adder\n",
            &format!("  name: adder\n  annotations:\n{annotations}"),
        )
    };
    expect(
        &[(
            "src/server.yaml",
            &with(
                "    rollout.vimana.host/steps: \"10,50,100\"\n    rollout.vimana.host/interval: 90s\n    rollout.vimana.host/analysis: error-rate\n    rollout.vimana.host/max-failures: \"2\"\n    rollout.vimana.host/progress-deadline: 15m\n",
            ),
        )],
        &[],
    );
    expect(
        &[(
            "src/server.yaml",
            &with("    rollout.vimana.host/steps: \"50,10\"\n"),
        )],
        &["invalid-rollout-annotation@src/server.yaml:6:32"],
    );
    expect(
        &[(
            "src/server.yaml",
            &with("    rollout.vimana.host/interval: soon\n"),
        )],
        &["invalid-rollout-annotation@src/server.yaml:6:35"],
    );
    expect(
        &[(
            "src/server.yaml",
            &with("    rollout.vimana.host/max-failures: 2\n"),
        )],
        &["wrong-type@src/server.yaml:6:39"],
    );
    expect(
        &[(
            "src/server.yaml",
            &with("    rollout.vimana.host/stepz: \"100\"\n"),
        )],
        &["unknown-rollout-annotation@src/server.yaml:6:32"],
    );
    let on_domain = domain("calc", D1, "[]").replace(
        "  name: calc\n",
        "  name: calc\n  annotations:\n    rollout.vimana.host/interval: 1m\n",
    );
    expect(
        &[("src/domain.yaml", &on_domain)],
        &["warning:rollout-annotation-ignored@src/domain.yaml:6:35"],
    );
}

#[test]
fn server_fields() {
    let with = |extra: &str| format!("{}{extra}", server("adder", "adder", D1, "{ 1.0.0: 100 }"));
    expect(
        &[(
            "src/server.yaml",
            &with(
                "  services: [calc.v1.Adder]\n  auth: { jwks: [\"https://auth.example.org/jwks.json\"] }\n  features: { fast: { on: true } }\n",
            ),
        )],
        &[],
    );
    expect(
        &[(
            "src/server.yaml",
            &with("  auth: { jwks: [\"ftp://x\"] }\n"),
        )],
        &["invalid-url@src/server.yaml:9:18"],
    );
    expect(
        &[("src/server.yaml", &with("  features: { fast: true }\n"))],
        &["wrong-type@src/server.yaml:9:21"],
    );
    expect(
        &[("src/server.yaml", &with("  services: calc.v1.Adder\n"))],
        &["wrong-type@src/server.yaml:9:13"],
    );
}

#[test]
fn every_error_of_a_render_is_reported() {
    let out = render_with(&[
        ("src/domain.yaml", &domain("calc", "nope", "[x]")),
        ("src/c2.yaml", &component(D1, "adder", "1.0", "Bad")),
        ("src/x.yaml", "apiVersion: v1\nkind: Pod\n"),
    ]);
    let found = findings(&out);
    assert_eq!(
        found,
        [
            "invalid-name@src/c2.yaml:4:9",
            "invalid-version@src/c2.yaml:8:12",
            "invalid-domain-id@src/domain.yaml:6:7",
            "invalid-alias@src/domain.yaml:8:13",
            "foreign-document@src/x.yaml:1:13",
        ]
    );
    assert!(out.diagnostics.has_errors());
}

#[test]
fn an_empty_render_is_a_warning() {
    let tree = MemTree::new().with("src/README.md", "nothing here");
    let out = render(
        &tree,
        &Options {
            path: "src".into(),
            ..Options::default()
        },
    );
    assert_eq!(findings(&out), ["warning:empty-render"]);
    let missing = render(
        &tree,
        &Options {
            path: "nope".into(),
            ..Options::default()
        },
    );
    assert_eq!(findings(&missing), ["source-path"]);
}
