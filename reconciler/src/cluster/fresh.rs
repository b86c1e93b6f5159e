//! Availability of the Components a pass creates. They are not in the pass's LIST of the live
//! state, so instead of a read per Component, one WATCH per namespace (selected by the instance
//! label) keeps their availability current for the rest of the pass. It starts from the pass's
//! own LIST of the Components (its resourceVersion), before the pass creates any, so it costs
//! no second LIST; a watch that expires or fails LISTs again. A Server's weights step waits on
//! it, up to [`SETTLE`] for the whole pass, until the Components it gives traffic to have
//! settled (Available, or not Available for a reason): the first weights of a new Server, or
//! the first step of a rollout to a new version, follow within the same pass instead of a
//! later one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{DynamicObject, WatchEvent, WatchParams};
use model::{Kind, ObjectKey, keys};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::availability::{Availability, availability, settled};
use super::live::LiveObject;
use super::{Cluster, retry};
use crate::retry::{Policy, Retryable};

/// The longest a pass waits, in all, for the Components it created to settle.
pub const SETTLE: Duration = Duration::from_secs(10);

/// Seconds after which the API server ends a watch; it is started again from where it was.
const WATCH_SECONDS: u32 = 25;

/// What one namespace's watch knows.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    /// Component name → availability and whether it has settled.
    components: BTreeMap<String, (Availability, bool)>,
    /// The first LIST has answered.
    synced: bool,
    /// Why the last LIST or WATCH failed, until one succeeds.
    error: Option<String>,
}

struct Namespace {
    state: watch::Receiver<Snapshot>,
    task: JoinHandle<()>,
}

/// The Components of one pass's instance, watched per namespace on first use.
pub struct Fresh {
    client: kube::Client,
    selector: String,
    settle: Duration,
    /// When waiting stops for the rest of the pass: set by the first wait.
    deadline: Mutex<Option<Instant>>,
    namespaces: Mutex<HashMap<String, Namespace>>,
}

impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fresh")
            .field("selector", &self.selector)
            .field("settle", &self.settle)
            .finish_non_exhaustive()
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let namespaces = self.namespaces.get_mut().unwrap_or_else(|e| e.into_inner());
        for ns in namespaces.values() {
            ns.task.abort();
        }
    }
}

impl Fresh {
    /// Watches the Components of `instance` on `cluster`; waits end `settle` after the first.
    pub fn new(cluster: &Cluster, instance: &str, settle: Duration) -> Fresh {
        Fresh {
            client: cluster.client.clone(),
            selector: format!("{}={instance}", keys::INSTANCE),
            settle,
            deadline: Mutex::new(None),
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// Starts following the Components of `namespace` (once), from `seed`: the live ones the
    /// pass listed and the LIST's resourceVersion.
    pub fn follow<'a>(
        &self,
        namespace: &str,
        seed: impl IntoIterator<Item = &'a LiveObject>,
        version: &str,
    ) {
        let components = seed
            .into_iter()
            .filter(|o| o.object.kind() == Kind::Component)
            .map(|o| {
                let name = o.object.meta().name.clone();
                (name, o.availability())
            })
            .collect();
        let seed = Snapshot {
            components,
            synced: true,
            error: None,
        };
        self.start(namespace, Some((seed, version.to_owned())));
    }

    fn namespace(&self, namespace: &str) -> watch::Receiver<Snapshot> {
        self.start(namespace, None)
    }

    fn start(
        &self,
        namespace: &str,
        seed: Option<(Snapshot, String)>,
    ) -> watch::Receiver<Snapshot> {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ns) = namespaces.get(namespace) {
            return ns.state.clone();
        }
        let (snapshot, version) = match seed {
            Some((s, v)) if !v.is_empty() => (s, Some(v)),
            _ => (Snapshot::default(), None),
        };
        let (tx, rx) = watch::channel(snapshot);
        let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(
            self.client.clone(),
            namespace,
            &crate::cluster::resource(Kind::Component),
        );
        let source = Source {
            client: self.client.clone(),
            namespace: namespace.to_owned(),
            request: kube::core::Request::new(api.resource_url()),
            selector: self.selector.clone(),
        };
        let task = tokio::spawn(follow(source, tx, version));
        namespaces.insert(
            namespace.to_owned(),
            Namespace {
                state: rx.clone(),
                task,
            },
        );
        rx
    }

    /// The availability of a Component; with `wait`, once it has settled or the pass's
    /// waiting time is over, whichever comes first.
    pub async fn availability(&self, key: &ObjectKey, wait: bool) -> Result<Availability, String> {
        let mut state = self.namespace(&key.namespace);
        let deadline = if wait {
            *self
                .deadline
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| Instant::now() + self.settle)
        } else {
            // Without waiting, still the first LIST's answer (bounded by the request timeout).
            Instant::now() + Duration::from_secs(3600)
        };
        loop {
            let (answer, done) = {
                let s = state.borrow_and_update();
                match (&s.error, s.synced) {
                    (Some(e), false) => (Err(e.clone()), true),
                    (_, false) => (Ok(Availability::Missing), false),
                    (_, true) => match s.components.get(&key.name) {
                        Some((a, settled)) => (Ok(a.clone()), *settled || !wait),
                        None => (Ok(Availability::Missing), !wait),
                    },
                }
            };
            if done {
                return answer;
            }
            match tokio::time::timeout_at(deadline, state.changed()).await {
                Ok(Ok(())) => {}
                // The watch ended (the pass is over) or the time is up: what is known now.
                Ok(Err(_)) | Err(_) => return answer,
            }
        }
    }
}

/// What availability needs of a Component. LIST items and watch events are read into this,
/// not into whole objects: `managedFields` are most of an object, and a pass may see two
/// events for each Component it creates.
#[derive(Clone, Debug, serde::Deserialize)]
struct Lean {
    #[serde(default)]
    metadata: LeanMeta,
    #[serde(default)]
    status: Option<Value>,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    resource_version: Option<String>,
}

impl Lean {
    /// The Component's name, availability and whether it has settled.
    fn judge(self) -> (String, (Availability, bool)) {
        let raw = serde_json::json!({
            "metadata": {"generation": self.metadata.generation},
            "status": self.status,
        });
        (self.metadata.name, (availability(&raw), settled(&raw)))
    }
}

/// Where the Components of one namespace are read and watched.
struct Source {
    client: kube::Client,
    namespace: String,
    request: kube::core::Request,
    selector: String,
}

/// WATCHes the Components of a namespace from `seeded` (the resourceVersion of what the
/// snapshot holds) or else from a LIST; LISTs again when the watch expires or fails.
async fn follow(source: Source, tx: watch::Sender<Snapshot>, mut seeded: Option<String>) {
    loop {
        let version = match seeded.take() {
            Some(version) => version,
            None => relist(&source, &tx).await,
        };
        watch_from(&source, &tx, version).await;
    }
}

/// LISTs the Components until a LIST answers ([`Policy::WATCH_RELIST`]), each failure recorded
/// in the snapshot meanwhile; the snapshot then holds the answer. The LIST's resourceVersion.
async fn relist(source: &Source, tx: &watch::Sender<Snapshot>) -> String {
    let failed = |e: &String| tx.send_modify(|s| s.error = Some(e.clone()));
    loop {
        let listed = (|| list(source))
            .retry(Policy::WATCH_RELIST)
            .notify(|e, _| failed(e))
            .await;
        match listed {
            Ok((components, version)) => {
                tx.send_modify(|s| {
                    s.components = components;
                    s.synced = true;
                    s.error = None;
                });
                return version;
            }
            // Only if the policy ever ends: start it over.
            Err(e) => failed(&e),
        }
    }
}

/// WATCHes the Components from `version`, again each time the API server ends the watch,
/// until it expires or fails. Events that arrive together are applied together (one wake-up
/// of the waiting steps, not one per event).
async fn watch_from(source: &Source, tx: &watch::Sender<Snapshot>, mut version: String) {
    loop {
        let params = WatchParams::default()
            .labels(&source.selector)
            .timeout(WATCH_SECONDS);
        let opened = async {
            let req = source
                .request
                .watch(&params, &version)
                .map_err(kube::Error::BuildRequest)?;
            source.client.request_events::<Lean>(req).await
        };
        let stream = match opened.await {
            Ok(s) => s,
            Err(e) => {
                tx.send_modify(|s| s.error = Some(retry::describe(&e)));
                let pause = Policy::WATCH_RELIST.delay(1).unwrap_or_default();
                tokio::time::sleep(pause).await;
                return;
            }
        };
        let mut batches = std::pin::pin!(stream.ready_chunks(512));
        while let Some(batch) = batches.next().await {
            let (changes, expired) = read_batch(batch, &mut version);
            if !changes.is_empty() {
                tx.send_modify(|s| {
                    for (name, entry) in changes {
                        match entry {
                            Some(e) => s.components.insert(name, e),
                            None => s.components.remove(&name),
                        };
                    }
                });
            }
            if expired {
                return;
            }
        }
    }
}

/// A change of one Component: its name, and its availability and whether it has settled
/// (`None`: deleted).
type Change = (String, Option<(Availability, bool)>);

/// The changes of a batch of watch events, up to an event that ends the watch (then `true`);
/// `version` follows the events.
fn read_batch(
    batch: Vec<Result<WatchEvent<Lean>, kube::Error>>,
    version: &mut String,
) -> (Vec<Change>, bool) {
    let mut changes = Vec::new();
    for event in batch {
        match event {
            Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                if let Some(v) = o.metadata.resource_version.clone() {
                    *version = v;
                }
                let (name, entry) = o.judge();
                changes.push((name, Some(entry)));
            }
            Ok(WatchEvent::Deleted(o)) => {
                if let Some(v) = o.metadata.resource_version.clone() {
                    *version = v;
                }
                changes.push((o.metadata.name, None));
            }
            Ok(WatchEvent::Bookmark(b)) => *version = b.metadata.resource_version,
            Ok(WatchEvent::Error(e)) => {
                // 410 Gone: the version is too old; anything else: start over too.
                tracing::debug!(code = e.code, message = %e.message, "component watch ended");
                return (changes, true);
            }
            Err(e) => {
                tracing::debug!(error = %e, "component watch failed");
                return (changes, true);
            }
        }
    }
    (changes, false)
}

type Listed = (BTreeMap<String, (Availability, bool)>, String);

async fn list(source: &Source) -> Result<Listed, String> {
    let mut out = BTreeMap::new();
    let version = crate::cluster::list_each(
        &source.client,
        Kind::Component,
        &source.namespace,
        &source.selector,
        |item: Lean| {
            let (name, entry) = item.judge();
            out.insert(name, entry);
            Ok(())
        },
    )
    .await
    .map_err(|e| e.with_causes())?;
    Ok((out, version))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ListParams, Patch, PatchParams};
    use serde_json::json;

    use super::*;

    const NS: &str = "fresh";

    async fn cluster(delay: Duration, unavailable: &[&str]) -> Cluster {
        let cluster = Cluster::embedded(simcluster::Config {
            operator_delay: delay,
            unavailable_versions: unavailable.iter().map(|v| (*v).to_owned()).collect(),
            log_requests: false,
            ..simcluster::Config::default()
        })
        .await
        .unwrap();
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
        namespaces
            .patch(NS, &PatchParams::apply("test"), &Patch::Apply(ns))
            .await
            .unwrap();
        cluster
    }

    /// Creates Component `name` of instance `t`, version `version`.
    async fn create(cluster: &Cluster, name: &str, version: &str) -> ObjectKey {
        let body = json!({
            "apiVersion": model::API_VERSION, "kind": "Component",
            "metadata": {"name": name, "namespace": NS, "labels": {keys::INSTANCE: "t"}},
            "spec": {"domain": "7e57000000000000000000000000d0d0", "server": "s", "version": version, "image": "example.org/s:1"},
        });
        cluster
            .apply(
                Kind::Component,
                NS,
                name,
                &PatchParams::apply("test"),
                &body,
            )
            .await
            .unwrap();
        ObjectKey {
            kind: Kind::Component,
            namespace: NS.into(),
            name: name.into(),
        }
    }

    /// A generous bound on a wait that must end much sooner: a broken wait fails the test
    /// instead of hanging it.
    async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("the wait ended")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_created_component_is_seen_becoming_available() {
        let cluster = cluster(Duration::from_secs(1), &[]).await;
        let fresh = Fresh::new(&cluster, "t", Duration::from_secs(3600));
        // Watched from an empty LIST before the Component exists, as a pass does.
        // (A test's call, written so that tests/it/deploy.rs does not count it as the daemon's.)
        let listed = Api::list(&cluster.api(Kind::Component, NS), &ListParams::default())
            .await
            .unwrap();
        fresh.follow(NS, [], &listed.metadata.resource_version.unwrap());
        let key = create(&cluster, "s-1", "1.0.0").await;
        // Without waiting: what the watch has seen so far (nothing yet, or the creation).
        assert_ne!(
            fresh.availability(&key, false).await.unwrap(),
            Availability::Available,
            "not yet: the operator takes a second"
        );
        assert_eq!(
            bounded(fresh.availability(&key, true)).await.unwrap(),
            Availability::Available
        );
        let missing = ObjectKey {
            name: "s-2".into(),
            ..key
        };
        assert_eq!(
            fresh.availability(&missing, false).await.unwrap(),
            Availability::Missing
        );
        drop(fresh);
        cluster.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_component_that_fails_settles_without_waiting_for_the_deadline() {
        let cluster = cluster(Duration::from_millis(50), &["1.1.0"]).await;
        // Not seeded: the first look LISTs, then watches.
        let fresh = Fresh::new(&cluster, "t", Duration::from_secs(3600));
        let key = create(&cluster, "s-1-1-0", "1.1.0").await;
        let found = bounded(fresh.availability(&key, true)).await.unwrap();
        assert!(
            matches!(&found, Availability::Not(why) if why.starts_with("Available=False")),
            "{found:?}"
        );
        cluster.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_ends_for_the_whole_pass_at_the_settling_time() {
        // The operator never gets to it: waits end at the pass's deadline, the first one
        // included, and later ones do not wait again.
        let cluster = cluster(Duration::from_secs(3600), &[]).await;
        let fresh = Fresh::new(&cluster, "t", Duration::from_millis(300));
        let a = create(&cluster, "s-a", "1.0.0").await;
        let b = create(&cluster, "s-b", "1.0.0").await;
        let pending = Availability::Not("no Available condition yet".into());
        assert_eq!(
            bounded(fresh.availability(&a, true)).await.unwrap(),
            pending
        );
        let deadline = fresh
            .deadline
            .lock()
            .unwrap()
            .expect("set by the first wait");
        assert!(
            Instant::now() >= deadline,
            "the first wait lasted until the deadline"
        );
        assert_eq!(
            bounded(fresh.availability(&b, true)).await.unwrap(),
            pending
        );
        let names: BTreeSet<String> = fresh
            .namespace(NS)
            .borrow()
            .components
            .keys()
            .cloned()
            .collect();
        assert_eq!(names, BTreeSet::from(["s-a".to_owned(), "s-b".to_owned()]));
        cluster.close().await;
    }
}
