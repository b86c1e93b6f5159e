//! `reconciler render`.

use super::{reconciler, stderr, stdout};

#[test]
fn renders_the_demo_deterministically() {
    let first = reconciler(&["render", "fixtures/demo"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stderr(&first).is_empty(), "{}", stderr(&first));
    let second = reconciler(&["render", "fixtures/demo"]);
    assert_eq!(
        first.stdout, second.stdout,
        "the same sources render byte-identical output"
    );
    insta::assert_snapshot!("demo_yaml", stdout(&first));
}

#[test]
fn renders_json_as_one_array() {
    let out = reconciler(&["render", "fixtures/demo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 15);
    // Dependency order: every Vimana, then Domains, Servers, Components.
    let rank = |k: &str| {
        ["Vimana", "Domain", "Server", "Component"]
            .iter()
            .position(|x| *x == k)
    };
    assert!(
        kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{kinds:?}"
    );
    // The drafts folder is excluded by fixtures/demo/.reconcilerignore.
    assert!(!objects.iter().any(|o| o["metadata"]["name"] == "search"));
}

#[test]
fn instance_and_namespace_options_label_the_output() {
    let out = reconciler(&[
        "render",
        "fixtures/demo",
        "--format",
        "json",
        "--instance",
        "prod-eu",
        "--namespace",
        "apps",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    for o in &objects {
        assert_eq!(
            o["metadata"]["labels"]["reconciler.vimana.host/instance"],
            "prod-eu"
        );
        assert_eq!(o["metadata"]["namespace"], "apps");
    }
}

#[test]
fn reports_every_mistake_with_its_location_and_exits_2() {
    let out = reconciler(&["render", "fixtures/broken"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing is rendered when a source has an error"
    );
    let err = stderr(&out);
    assert!(
        err.contains("--> fixtures/broken/domains.yaml:6:7"),
        "{err}"
    );
    assert!(
        err.ends_with("error: 21 errors in the sources; nothing was rendered\n"),
        "{err}"
    );
    insta::assert_snapshot!("broken_errors", err);
}

#[test]
fn a_missing_folder_is_an_error() {
    let out = reconciler(&["render", "fixtures/does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cannot open the source folder fixtures/does-not-exist"),
        "{err}"
    );
}
