//! `reconciler diff DIR --base REV` on real Git repositories with two commits: the base is
//! committed, the head is the working tree.

use std::path::Path;

use super::{stderr, stdout};

const D: &str = "6c1d0e5f8a2b4c7d9e0f1a2b3c4d5e6f";

/// A Git repository in a temporary folder with sources under `src/`.
struct Repo {
    dir: tempfile::TempDir,
    work: reconciler::git::WorkTree,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let work = reconciler::git::WorkTree::init(dir.path()).unwrap();
        Repo { dir, work }
    }

    fn write(&self, rel: &str, text: &str) {
        self.work.write(rel, text).unwrap();
    }

    fn remove(&self, rel: &str) {
        self.work.remove(rel).unwrap();
    }

    /// Commits everything in the work tree.
    fn commit(&self, message: &str) {
        self.work.commit(message).unwrap();
    }

    fn diff(&self, format: &str) -> std::process::Output {
        diff_in(&self.dir.path().join("src"), "HEAD", format)
    }
}

fn diff_in(dir: &Path, rev: &str, format: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args([
            "diff",
            dir.to_str().unwrap(),
            "--base",
            rev,
            "--format",
            format,
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)))
}

fn domain() -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: calc}}\nspec: {{id: {D}}}\n"
    )
}

fn server(weights: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata:\n  name: adder\n  annotations: {{rollout.vimana.host/steps: \"20,50,100\", rollout.vimana.host/interval: 3m}}\nspec: {{id: adder, domain: {D}, versionWeights: {weights}}}\n"
    )
}

fn component(version: &str, image: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\nspec: {{domain: {D}, server: adder, version: {version}, image: \"{image}\"}}\n"
    )
}

/// A base commit with one domain, the adder server on 1.0.0 and its Component.
fn base() -> Repo {
    let r = Repo::new();
    r.write("src/domain.yaml", &domain());
    r.write("src/server.yaml", &server("{1.0.0: 100}"));
    r.write(
        "src/c-1.0.0.yaml",
        &component("1.0.0", "ghcr.io/acme/adder:1.0.0"),
    );
    r.commit("base");
    r
}

fn actions(report: &serde_json::Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["action"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["level"].as_str().unwrap(),
                f["code"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn no_change_exits_0() {
    let r = base();
    let out = r.diff("json");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(actions(&report), Vec::<String>::new());
    assert_eq!(report["summary"]["create"], 0);
}

#[test]
fn a_version_bump_with_a_weight_shift_shows_objects_and_rollout_steps() {
    let r = base();
    r.write(
        "src/c-1.1.0.yaml",
        &component("1.1.0", "ghcr.io/acme/adder:1.1.0"),
    );
    r.write("src/server.yaml", &server("{1.0.0: 0, 1.1.0: 100}"));
    let out = r.diff("json");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        actions(&report),
        ["update Server adder", "create Component adder-1-1-0"]
    );
    let diff = report["changes"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-    1.0.0: 100\n+    1.0.0: 0\n+    1.1.0: 100\n"),
        "{diff}"
    );
    let rollout = &report["rollouts"][0];
    assert_eq!(rollout["identity"], format!("{D}:adder"));
    let steps: Vec<(u64, i64, i64)> = rollout["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["percent"].as_u64().unwrap(),
                s["weights"]["1.0.0"].as_i64().unwrap(),
                s["weights"]["1.1.0"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps, [(20, 80, 20), (50, 50, 50), (100, 0, 100)]);
    assert_eq!(rollout["interval"], "3m");
    assert_eq!(rollout["expected_duration"], "9m");
    assert_eq!(codes(&report), Vec::<String>::new());

    let md = stdout(&r.diff("markdown"));
    assert!(
        md.contains("**1 to create, 1 to update, 0 to delete; 1 rollout; 0 warnings, 0 errors**"),
        "{md}"
    );
    assert!(
        md.contains(
            "<details><summary><code>~</code> update <b>Server</b> <code>vimana/adder</code>"
        ),
        "{md}"
    );
    assert!(md.contains("| 1 | 20 | 80 | 20 |"), "{md}");
    assert!(md.contains("expected **9m**"), "{md}");
    let text = stdout(&r.diff("text"));
    assert!(
        text.contains("step 2 ( 50%): 1.0.0 50 (50%), 1.1.0 50 (50%)"),
        "{text}"
    );
}

#[test]
fn a_changed_image_under_an_existing_version_is_flagged() {
    let r = base();
    r.write(
        "src/c-1.0.0.yaml",
        &component("1.0.0", "ghcr.io/acme/adder:1.0.1"),
    );
    let out = r.diff("json");
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(actions(&report), ["update Component adder-1-0-0"]);
    assert_eq!(codes(&report), ["warning:immutable-version"]);
}

#[test]
fn removing_a_component_that_carries_traffic_is_flagged() {
    let r = base();
    r.write(
        "src/c-2.0.0.yaml",
        &component("2.0.0", "ghcr.io/acme/adder:2.0.0"),
    );
    r.write("src/server.yaml", &server("{2.0.0: 100}"));
    r.remove("src/c-1.0.0.yaml");
    let report = json(&r.diff("json"));
    assert_eq!(
        actions(&report),
        [
            "update Server adder",
            "create Component adder-2-0-0",
            "delete Component adder-1-0-0"
        ]
    );
    assert_eq!(codes(&report), ["warning:removed-with-traffic"]);
}

#[test]
fn weights_naming_versions_the_head_does_not_define_are_errors() {
    let r = base();
    r.write("src/server.yaml", &server("{1.0.0: 50, 3.0.0: 50}"));
    let out = r.diff("json");
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_eq!(codes(&report), ["error:weight-unknown-version"]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("server.yaml:6:"), "{message}");
}

#[test]
fn an_empty_render_is_flagged() {
    let r = base();
    for f in ["src/domain.yaml", "src/server.yaml", "src/c-1.0.0.yaml"] {
        r.remove(f);
    }
    r.write("src/README.md", "nothing yet");
    let report = json(&r.diff("json"));
    assert_eq!(report["summary"]["delete"], 3);
    assert_eq!(codes(&report), ["warning:empty-render"]);
}

#[test]
fn a_base_without_the_folder_shows_every_object_as_created() {
    let r = Repo::new();
    r.write("README.md", "first");
    r.commit("first");
    r.write("src/domain.yaml", &domain());
    let report = json(&r.diff("json"));
    assert_eq!(actions(&report), ["create Domain calc"]);
    assert_eq!(codes(&report), ["warning:base-missing-path"]);
}

#[test]
fn the_base_is_read_from_git_objects_not_the_work_tree() {
    let r = base();
    r.write(
        "src/server.yaml",
        &server("{1.0.0: 100}").replace("3m", "4m"),
    );
    r.commit("second");
    // HEAD~1 is the base commit; the work tree is at the second commit.
    let out = diff_in(&r.dir.path().join("src"), "HEAD~1", "json");
    let report = json(&out);
    assert_eq!(actions(&report), ["update Server adder"]);
    assert!(report["title"].as_str().unwrap().contains("HEAD~1"));
}

#[test]
fn outside_a_git_repository_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.yaml"), domain()).unwrap();
    let out = diff_in(dir.path(), "HEAD", "text");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not inside a Git repository"),
        "{}",
        stderr(&out)
    );
}

/// Copies the Kumori module `fixtures/kumori/<name>` into the repository at `to`.
fn copy_module(r: &Repo, name: &str, to: &str) {
    let from = super::root().join("fixtures/kumori").join(name);
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        r.write(
            &format!("{to}/{file}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
}

fn kumori_component(version: &str, log_level: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Component\nspec:\n  domain: {D}\n  server: adder\n  version: {version}\n  kumori:\n    module: ../components/adder\n    component: Adder\n    config: {{ LogLevel: {log_level} }}\n    resource: {{ Secret: db }}\n"
    )
}

#[test]
fn kumori_changes_show_as_changes_of_the_rendered_component() {
    let r = base();
    copy_module(&r, "adder", "components/adder");
    r.write("src/c-1.1.0.yaml", &kumori_component("1.1.0", "info"));
    r.commit("kumori");
    // The same version with another value: the rendered env changes, and so does the digest.
    r.write("src/c-1.1.0.yaml", &kumori_component("1.1.0", "warn"));
    let report = json(&r.diff("json"));
    assert_eq!(actions(&report), ["update Component adder-1-1-0"]);
    let diff = report["changes"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-            LOG_LEVEL: info\n+            LOG_LEVEL: warn\n"),
        "{diff}"
    );
    assert!(
        diff.contains("kumori.vimana.host/digest: sha256:"),
        "{diff}"
    );
    assert_eq!(codes(&report), ["warning:immutable-version"]);

    // A new version rendered from the module is a plain creation.
    r.write("src/c-1.1.0.yaml", &kumori_component("1.1.0", "info"));
    r.write("src/c-1.2.0.yaml", &kumori_component("1.2.0", "warn"));
    let report = json(&r.diff("json"));
    assert_eq!(actions(&report), ["create Component adder-1-2-0"]);
    assert_eq!(codes(&report), Vec::<String>::new());
}
