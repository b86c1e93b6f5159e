//! `kubectl` as an outside client: api-resources, get, apply --server-side, diff, conflicts,
//! --force-conflicts, delete, watch. Skipped with a message when kubectl is not installed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{DOMAIN_ID, TestCluster};

const KUBECTL: &str = "/usr/bin/kubectl";

/// kubectl, or `None` (the test is skipped) when it is not installed; under `CI=true` a
/// missing kubectl fails the test, since CI installs it (`.ci/run`).
fn kubectl_path() -> Option<PathBuf> {
    let p = Path::new(KUBECTL);
    if p.exists() {
        Some(p.to_owned())
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("kubectl is not installed at {KUBECTL}, and CI must run the kubectl tests");
    } else {
        eprintln!("skipped: kubectl is not installed at {KUBECTL}");
        None
    }
}

/// Runs kubectl against the test cluster and namespace, off the async runtime.
async fn kubectl(c: &TestCluster, args: &[&str]) -> Output {
    let mut cmd = Command::new(KUBECTL);
    cmd.arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["--request-timeout=20s", "-n", &c.ns])
        .args(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("kubectl runs"))
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn manifest(image: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1
kind: Component
metadata:
  name: adder-1-0-0
  labels: {{vimana.host/server: adder}}
spec:
  version: 1.0.0
  server: adder
  domain: \"{DOMAIN_ID}\"
  image: {image}
"
    )
}

#[tokio::test]
async fn kubectl_lists_the_api_resources() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-resources").await;
    let out = kubectl(
        &c,
        &["api-resources", "--api-group=api.vimana.host", "-o", "name"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let names = String::from_utf8_lossy(&out.stdout);
    for plural in ["components", "domains", "servers", "vimanas"] {
        assert!(
            names.contains(&format!("{plural}.api.vimana.host")),
            "{names}"
        );
    }
    c.cleanup().await;
}

#[tokio::test]
async fn kubectl_applies_diffs_conflicts_forces_and_deletes() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-apply").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, manifest("ghcr.io/acme/adder:1.0.0")).unwrap();

    let out = kubectl(&c, &["apply", "--server-side", "-f", f]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = kubectl(
        &c,
        &[
            "get",
            "components",
            "adder-1-0-0",
            "-o",
            "jsonpath={.spec.image}",
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ghcr.io/acme/adder:1.0.0",
        "{}",
        text(&out)
    );
    let out = kubectl(&c, &["get", "components"]).await;
    assert!(
        text(&out).contains("VERSION") && text(&out).contains("adder-1-0-0"),
        "{}",
        text(&out)
    );

    let out = kubectl(&c, &["diff", "--server-side", "-f", f]).await;
    assert_eq!(out.status.code(), Some(0), "no differences: {}", text(&out));
    std::fs::write(&file, manifest("ghcr.io/acme/adder:1.0.1")).unwrap();
    let out = kubectl(&c, &["diff", "--server-side", "-f", f]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("+  image: ghcr.io/acme/adder:1.0.1"),
        "{}",
        text(&out)
    );

    // Another manager changes the image: the next apply conflicts until forced.
    let out = kubectl(
        &c,
        &[
            "patch",
            "components",
            "adder-1-0-0",
            "--type=merge",
            "-p",
            r#"{"spec":{"image":"ghcr.io/acme/adder:hotfix"}}"#,
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = kubectl(&c, &["apply", "--server-side", "-f", f]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("conflict with \"kubectl-patch\"")
            && text(&out).contains(".spec.image"),
        "{}",
        text(&out)
    );
    let out = kubectl(
        &c,
        &["apply", "--server-side", "--force-conflicts", "-f", f],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = kubectl(
        &c,
        &[
            "get",
            "components",
            "adder-1-0-0",
            "-o",
            "jsonpath={.spec.image}",
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ghcr.io/acme/adder:1.0.1"
    );

    let out = kubectl(&c, &["delete", "-f", f]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = kubectl(&c, &["get", "components", "adder-1-0-0"]).await;
    assert!(
        !out.status.success() && text(&out).contains("NotFound"),
        "{}",
        text(&out)
    );
    c.cleanup().await;
}

/// kubectl sends built-in kinds in protobuf (`Content-Type: application/vnd.kubernetes.protobuf`)
/// on create; label, annotate and patch send merge patches and read the answer as JSON.
#[tokio::test]
async fn kubectl_creates_labels_annotates_and_patches_built_in_objects() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-builtin").await;
    let ns = format!("{}-x", c.ns);
    for args in [
        vec!["create", "namespace", &ns],
        vec!["label", "namespace", &ns, "team=adders"],
        vec!["create", "configmap", "settings", "--from-literal=a=b"],
        vec!["label", "configmap", "settings", "app=adder"],
        vec!["annotate", "configmap", "settings", "note=hello"],
        vec![
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"c":"d"}}"#,
        ],
    ] {
        let out = kubectl(&c, &args).await;
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    }
    let out = kubectl(
        &c,
        &[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.a} {.data.c} {.metadata.labels.app} {.metadata.annotations.note} {.metadata.generateName}",
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "b d adder hello ",
        "{}",
        text(&out)
    );
    let out = kubectl(
        &c,
        &[
            "get",
            "namespace",
            &ns,
            "-o",
            "jsonpath={.metadata.labels.team} {.status.phase}",
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "adders Active",
        "{}",
        text(&out)
    );
    let out = kubectl(&c, &["delete", "namespace", &ns]).await;
    assert!(out.status.success(), "{}", text(&out));
    c.cleanup().await;
}

/// A field the CRD does not declare refuses the whole server-side apply (see
/// `store/apply.rs`, `refuse_undeclared`), as kubectl shows it.
#[tokio::test]
async fn kubectl_apply_of_an_undeclared_field_is_refused() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-undeclared").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        format!("{}  replicas: 3\n", manifest("ghcr.io/acme/adder:1.0.0")),
    )
    .unwrap();
    let out = kubectl(
        &c,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains(".spec.replicas: field not declared in schema"),
        "{}",
        text(&out)
    );
    let out = kubectl(&c, &["get", "components", "adder-1-0-0"]).await;
    assert!(text(&out).contains("NotFound"), "{}", text(&out));
    c.cleanup().await;
}

#[tokio::test]
async fn kubectl_reports_validation_errors() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-invalid").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        manifest("ghcr.io/acme/adder:1.0.0").replace("version: 1.0.0", "version: one"),
    )
    .unwrap();
    let out = kubectl(
        &c,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("spec.version"), "{}", text(&out));
    c.cleanup().await;
}

#[tokio::test]
async fn kubectl_watches() {
    let Some(_) = kubectl_path() else { return };
    let c = TestCluster::new("kubectl-watch").await;
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["-n", &c.ns, "get", "components", "--watch", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl starts");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if line.contains("adder-1-0-0") {
                return true;
            }
            if Instant::now() > deadline {
                break;
            }
        }
        false
    });
    // Give kubectl time to start its watch; the object also shows if it lists it first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, manifest("ghcr.io/acme/adder:1.0.0")).unwrap();
    let out = kubectl(
        &c,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let seen = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || reader.join().unwrap()),
    )
    .await
    .expect("kubectl printed in time")
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "kubectl --watch showed the new Component");
    c.cleanup().await;
}
