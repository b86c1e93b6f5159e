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

/// Issue 15: hostile sources end in a diagnostic and exit 2, quickly, whatever reads them.
mod hostile {
    use std::path::Path;
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use super::super::stderr;

    const VIMANA: &str =
        "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata:\n  name: edge\n";

    /// Runs the binary in `cwd`, killed if it takes more than `seconds`.
    fn run_within(cwd: &Path, args: &[&str], seconds: u64) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reconciler"))
            .args(args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(seconds) {
                child.kill().unwrap();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "reconciler {args:?} still ran after {seconds} s: {}",
                    stderr(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    #[test]
    fn render_of_yaml_nested_300000_levels_exits_2_with_the_depth_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deep.yaml"), "- ".repeat(300_000) + "x\n").unwrap();
        let out = run_within(dir.path(), &["render", "."], 5);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("error[yaml-too-deep]: nested deeper than 128 levels"),
            "{err}"
        );
        assert!(err.contains("deep.yaml:1:"), "{err}");
        assert!(err.contains("= help: "), "{err}");
        // Set lower on the command line, the limit is the one reported.
        let out = run_within(dir.path(), &["render", ".", "--limit", "depth=16"], 5);
        assert!(stderr(&out).contains("nested deeper than 16 levels"));
    }

    #[test]
    fn render_of_a_200_mb_yaml_file_is_refused_by_size() {
        let dir = tempfile::tempdir().unwrap();
        // Sparse: nothing is written, the file only says it is 200 MB.
        let f = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
        f.set_len(200_000_000).unwrap();
        let out = run_within(dir.path(), &["render", "."], 5);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("error[file-too-large]"), "{err}");
        assert!(
            err.contains("huge.yaml has 190.7 MiB, over the limit of 8 MiB (fileBytes)"),
            "{err}"
        );
        assert!(err.contains("--limit fileBytes="), "{err}");
    }

    #[test]
    fn git_blob_of_256_mib_of_zeros_fails_fast_on_the_size_header() {
        let dir = tempfile::tempdir().unwrap();
        let work = reconciler::git::WorkTree::init(dir.path()).unwrap();
        work.write("src/vimana.yaml", VIMANA).unwrap();
        let repo = work.repository();
        // Streamed: the 256 MiB are never held in memory; zeros compress to a few hundred KB.
        let zeros = {
            use std::io::Write;
            let mut w = repo.blob_writer(None).unwrap();
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..256 {
                w.write_all(&chunk).unwrap();
            }
            w.commit().unwrap()
        };
        let vimana = repo.blob(VIMANA.as_bytes()).unwrap();
        let mut src = repo.treebuilder(None).unwrap();
        src.insert("vimana.yaml", vimana, 0o100644).unwrap();
        src.insert("zeros.yaml", zeros, 0o100644).unwrap();
        let src = src.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("src", src, 0o040000).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@localhost").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "zeros", &tree, &[])
            .unwrap();

        let started = Instant::now();
        let git = reconciler::git::GitTree::at_revision(repo, "HEAD").unwrap();
        let out = render::render(
            &git,
            &render::Options {
                path: "src".into(),
                ..render::Options::default()
            },
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let d = out
            .diagnostics
            .items
            .iter()
            .find(|d| d.code == "file-too-large")
            .expect("refused by size");
        assert_eq!(
            d.message,
            "src/zeros.yaml has 256 MiB, over the limit of 8 MiB (fileBytes); it was not read"
        );

        // Through `diff --base`: the base does not render, the working tree does.
        let out = run_within(
            dir.path(),
            &["diff", "src", "--base", "HEAD", "--format", "json"],
            5,
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        assert!(
            report.to_string().contains("base-invalid"),
            "{report:#}\n{}",
            stderr(&out)
        );
    }

    #[test]
    fn fifo_in_the_work_tree_does_not_hang_render_or_diff() {
        let dir = tempfile::tempdir().unwrap();
        let work = reconciler::git::WorkTree::init(dir.path()).unwrap();
        work.write("src/vimana.yaml", VIMANA).unwrap();
        work.commit("sources").unwrap();
        let mkfifo = |name: &str| {
            let status = Command::new("mkfifo")
                .arg(dir.path().join("src").join(name))
                .status()
                .unwrap();
            assert!(status.success());
        };
        // A FIFO that is not a source is listed, never opened.
        mkfifo("notes");
        let out = run_within(dir.path(), &["render", "src"], 10);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // One that is a source is refused before it is opened.
        mkfifo("pipe.yaml");
        for args in [
            &["render", "src"][..],
            &["diff", "src", "--base", "HEAD"][..],
        ] {
            let out = run_within(dir.path(), args, 10);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains("error[not-a-file]")
                    && err.contains("pipe.yaml is not a regular file"),
                "{args:?}: {err}"
            );
        }
    }
}
