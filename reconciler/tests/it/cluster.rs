//! A cluster for a test: a real one from `RECONCILER_E2E_KUBECONFIG` (with the CRDs of
//! `deploy/crds` installed), else a fresh simulated cluster in this process. Each test gets its
//! own namespace and reconciler instance, and runs the `reconciler` binary against it as a user
//! would.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

/// Names the kubeconfig of a real cluster to run the cluster tests against.
pub const E2E_ENV: &str = "RECONCILER_E2E_KUBECONFIG";

/// A cluster, a namespace and an instance for one test.
pub struct TestCluster {
    /// Client for inspecting and changing the cluster directly.
    pub client: kube::Client,
    /// The test's namespace (also the instance name).
    pub ns: String,
    /// The simulated cluster, unless the test runs against a real one.
    pub sim: Option<simcluster::Handle>,
    /// Kubeconfig for the `reconciler` binary.
    pub kubeconfig: PathBuf,
    /// Scratch folder: the kubeconfig and the test's sources.
    pub dir: tempfile::TempDir,
}

impl TestCluster {
    /// A cluster whose simulated operator answers quickly.
    pub async fn new(test: &str) -> TestCluster {
        TestCluster::with(test, |_| {}).await
    }

    /// A cluster; `configure` adjusts the simulated one.
    pub async fn with(test: &str, configure: impl FnOnce(&mut simcluster::Config)) -> TestCluster {
        let dir = tempfile::tempdir().unwrap();
        let (sim, kubeconfig) = match std::env::var_os(E2E_ENV) {
            Some(path) => (None, PathBuf::from(path)),
            None => {
                let mut config = simcluster::Config {
                    operator_delay: Duration::from_millis(50),
                    log_requests: false,
                    ..simcluster::Config::default()
                };
                configure(&mut config);
                let sim = simcluster::SimCluster::start(config).await.unwrap();
                let path = dir.path().join("kubeconfig");
                sim.write_kubeconfig(&path).unwrap();
                (Some(sim), path)
            }
        };
        let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let ns: String = format!(
            "r-{}-{}",
            test.replace('_', "-"),
            std::process::id() % 100_000
        )
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .patch(
                &ns,
                &PatchParams::apply("reconciler-tests"),
                &Patch::Apply(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                ),
            )
            .await
            .unwrap();
        TestCluster {
            client,
            ns,
            sim,
            kubeconfig,
            dir,
        }
    }

    /// The simulated cluster, or `None` with a note when the test runs against a real one.
    pub fn sim_only(&self, what: &str) -> Option<&simcluster::Handle> {
        if self.sim.is_none() {
            eprintln!("skipped on a real cluster: {what} needs the simulated cluster");
        }
        self.sim.as_ref()
    }

    /// Folder of the test's sources.
    pub fn sources(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// Replaces the test's sources with these files.
    pub fn write_sources(&self, files: &[(&str, &str)]) {
        let src = self.sources();
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(&src).unwrap();
        for (name, text) in files {
            std::fs::write(src.join(name), text).unwrap();
        }
    }

    /// [`TestCluster::write_sources`] with owned names and texts.
    pub fn write_all(&self, files: &[(String, String)]) {
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        self.write_sources(&refs);
    }

    /// Runs `reconciler COMMAND <sources> ARGS` against this cluster, namespace and instance.
    pub async fn run(&self, command: &str, args: &[&str]) -> Output {
        let all = self.args(command, args);
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
                .args(&all)
                .env("NO_COLOR", "1")
                .env_remove("KUBECONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    fn args(&self, command: &str, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = vec![
            command.into(),
            self.sources().display().to_string(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
            "--namespace".into(),
            self.ns.clone(),
            "--instance".into(),
            self.ns.clone(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    /// Starts `reconciler COMMAND <sources> ARGS` and returns at once (to kill it).
    pub fn spawn(&self, command: &str, args: &[&str]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
            .args(self.args(command, args))
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Runs `reconciler ARGS --kubeconfig K --namespace NS` (commands without sources).
    pub async fn run_plain(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend([
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
            "--namespace".into(),
            self.ns.clone(),
        ]);
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
                .args(&all)
                .env("NO_COLOR", "1")
                .env_remove("KUBECONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// The API of a Vimana kind (`components`, ...) in the test's namespace.
    pub fn api(&self, plural: &str) -> Api<DynamicObject> {
        let kind = match plural {
            "vimanas" => "Vimana",
            "domains" => "Domain",
            "servers" => "Server",
            _ => "Component",
        };
        let ar = ApiResource {
            group: "api.vimana.host".into(),
            version: "v1alpha1".into(),
            api_version: "api.vimana.host/v1alpha1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::namespaced_with(self.client.clone(), &self.ns, &ar)
    }

    /// Names of the live objects of a kind in the test's namespace.
    pub async fn names(&self, plural: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .api(plural)
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        names.sort();
        names
    }

    /// Requests that write (create, update, patch, apply, delete) served so far by the
    /// simulated cluster.
    pub fn writes(&self) -> u64 {
        let Some(sim) = &self.sim else { return 0 };
        let resources = [
            "vimanas",
            "domains",
            "servers",
            "components",
            "configmaps",
            "namespaces",
        ];
        ["create", "update", "patch", "apply", "delete"]
            .iter()
            .flat_map(|verb| resources.iter().map(move |r| sim.requests(verb, r)))
            .sum()
    }

    /// Every request served so far by the simulated cluster.
    pub fn requests(&self) -> u64 {
        let Some(sim) = &self.sim else { return 0 };
        sim.metrics_text()
            .lines()
            .filter(|l| l.starts_with("simcluster_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Deletes the namespace and stops the simulated cluster.
    pub async fn cleanup(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces.delete(&self.ns, &Default::default()).await;
        if let Some(sim) = self.sim {
            sim.shutdown().await.unwrap();
        }
    }
}
