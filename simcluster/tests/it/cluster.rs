//! The test cluster helper: a real cluster from `RECONCILER_E2E_KUBECONFIG`, else a fresh
//! simulated cluster; each test gets a namespace of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// Environment variable naming the kubeconfig of a real cluster to run against.
pub const E2E_ENV: &str = "RECONCILER_E2E_KUBECONFIG";

/// A Domain id used throughout the tests.
pub const DOMAIN_ID: &str = "0123456789abcdef0123456789abcdef";

/// A cluster for one test.
pub struct TestCluster {
    /// Client for the cluster.
    pub client: kube::Client,
    /// The test's namespace.
    pub ns: String,
    /// The simulated cluster, when not running against a real one.
    pub sim: Option<simcluster::Handle>,
    /// Path of a kubeconfig for kubectl.
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

/// Settings of the simulated cluster that tests use unless they need others.
pub fn test_config() -> simcluster::Config {
    simcluster::Config {
        operator_delay: Duration::from_millis(100),
        bookmark_interval: Duration::from_millis(300),
        ..simcluster::Config::default()
    }
}

impl TestCluster {
    /// A cluster with the default test settings.
    pub async fn new(test: &str) -> TestCluster {
        TestCluster::with_config(test, test_config()).await
    }

    /// A cluster; `config` applies to the simulated one.
    pub async fn with_config(test: &str, config: simcluster::Config) -> TestCluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (sim, kubeconfig) = match std::env::var_os(E2E_ENV) {
            Some(path) => (None, PathBuf::from(path)),
            None => {
                let sim = simcluster::SimCluster::start(config)
                    .await
                    .expect("simcluster starts");
                let path = dir.path().join("kubeconfig");
                sim.write_kubeconfig(&path).expect("kubeconfig written");
                (Some(sim), path)
            }
        };
        let client = client_for(&kubeconfig).await;
        let ns = format!(
            "t-{}-{}",
            test.replace('_', "-"),
            std::process::id() % 100_000
        );
        let ns = ns
            .chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches('-')
            .to_owned();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let _ = namespaces.delete(&ns, &Default::default()).await;
        wait_gone(&namespaces, &ns).await;
        namespaces
            .patch(
                &ns,
                &PatchParams::apply("simcluster-tests"),
                &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
            )
            .await
            .expect("test namespace created");
        TestCluster {
            client,
            ns,
            sim,
            kubeconfig,
            _dir: dir,
        }
    }

    /// The simulated cluster, or `None` (with a note) on a real cluster.
    pub fn sim_only(&self, what: &str) -> Option<&simcluster::Handle> {
        if self.sim.is_none() {
            eprintln!("skipped on a real cluster: {what} needs the simulated cluster");
        }
        self.sim.as_ref()
    }

    /// The API of a Vimana kind (`components`, ...) in the test namespace.
    pub fn vimana(&self, plural: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.ns, &resource(plural))
    }

    /// Deletes the test namespace (best effort).
    pub async fn cleanup(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces.delete(&self.ns, &Default::default()).await;
        if let Some(sim) = self.sim {
            sim.shutdown().await.expect("clean shutdown");
        }
    }
}

async fn wait_gone(namespaces: &Api<Namespace>, ns: &str) {
    for _ in 0..300 {
        if namespaces.get_opt(ns).await.ok().flatten().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("namespace {ns} of an earlier run is not going away");
}

/// A kube client from a kubeconfig file.
pub async fn client_for(path: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(path).expect("kubeconfig readable");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig accepted by the kube crate");
    kube::Client::try_from(config).expect("client")
}

/// The ApiResource of a Vimana kind by plural.
pub fn resource(plural: &str) -> ApiResource {
    let kind = model::Kind::ALL
        .into_iter()
        .find(|k| k.plural() == plural)
        .unwrap_or_else(|| panic!("{plural} is not a Vimana kind"));
    ApiResource {
        group: model::GROUP.into(),
        version: model::VERSION.into(),
        api_version: model::API_VERSION.into(),
        kind: kind.as_str().into(),
        plural: plural.into(),
    }
}

/// A Component manifest.
pub fn component(name: &str, version: &str) -> Value {
    json!({
        "apiVersion": model::API_VERSION, "kind": "Component",
        "metadata": {"name": name, "labels": {"vimana.host/server": "adder", "vimana.host/version": version}},
        "spec": {"version": version, "server": "adder", "domain": DOMAIN_ID, "image": format!("ghcr.io/acme/adder:{version}")}
    })
}

/// A Server manifest with these weights.
pub fn server(name: &str, weights: Value) -> Value {
    json!({
        "apiVersion": model::API_VERSION, "kind": "Server",
        "metadata": {"name": name},
        "spec": {"id": name, "domain": DOMAIN_ID, "versionWeights": weights}
    })
}

/// Server-side apply by `manager`.
pub async fn apply(
    api: &Api<DynamicObject>,
    manager: &str,
    obj: &Value,
    force: bool,
) -> kube::Result<DynamicObject> {
    let name = obj["metadata"]["name"].as_str().expect("named");
    let mut pp = PatchParams::apply(manager);
    pp.force = force;
    api.patch(name, &pp, &Patch::Apply(obj)).await
}

/// The API error code of a result.
pub fn code<T: std::fmt::Debug>(r: kube::Result<T>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(e)) => (e.code, e.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `Available` condition of an object, if set.
pub fn available(obj: &DynamicObject) -> Option<Value> {
    obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Available")
        .cloned()
}
