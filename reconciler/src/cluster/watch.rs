//! The managed objects of an instance as they change: one WATCH per kind and namespace,
//! selected by the instance label, started from the resourceVersion of a pass's own LIST (no
//! LIST of its own at the start). Each change is handed on whole, `managedFields` included
//! (what drift detection reads to name who changed a field). A watch the API server ends is
//! started again from the last version seen; one that expires (410 Gone) or fails LISTs again
//! ([`Policy::WATCH_RELIST`]) and hands on the whole list, so that a deletion missed meanwhile
//! is still seen; a connection that drops or an API server that restarts is the same case.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{DynamicObject, WatchEvent, WatchParams};
use model::{Kind, ObjectKey, keys};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Cluster, retry};
use crate::retry::{Policy, Retryable};

/// Seconds after which the API server ends a watch; it is started again from where it was.
const WATCH_SECONDS: u32 = 290;

/// What a watch saw.
#[derive(Clone, Debug)]
pub enum Seen {
    /// An object as it is now (added or changed), as the API returned it.
    Object(Box<Value>),
    /// An object was deleted.
    Deleted(ObjectKey),
    /// A LIST after the watch expired or failed: every object of the kind and namespace, by
    /// name; those known and missing from it were deleted meanwhile.
    Listed {
        /// The kind listed.
        kind: Kind,
        /// The namespace listed.
        namespace: String,
        /// The objects, as the API returned them.
        objects: Vec<Value>,
    },
}

/// The watches of one instance, one per kind and namespace, started on first
/// [`Watcher::follow`] and stopped when the watcher is dropped.
pub struct Watcher {
    client: kube::Client,
    selector: String,
    tx: mpsc::UnboundedSender<Seen>,
    tasks: Mutex<HashMap<(Kind, String), JoinHandle<()>>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(|e| e.into_inner());
        for task in tasks.values() {
            task.abort();
        }
    }
}

impl Watcher {
    /// Watches the objects of `instance` on `cluster`; what the watches see arrives on the
    /// receiver, in order per kind and namespace.
    pub fn new(cluster: &Cluster, instance: &str) -> (Watcher, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = Watcher {
            client: cluster.client.clone(),
            selector: format!("{}={instance}", keys::INSTANCE),
            tx,
            tasks: Mutex::new(HashMap::new()),
        };
        (watcher, rx)
    }

    /// Starts watching `kind` in `namespace` from `version` (a LIST's resourceVersion; empty:
    /// LIST first), unless it is watched already.
    pub fn follow(&self, kind: Kind, namespace: &str, version: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let id = (kind, namespace.to_owned());
        if tasks.get(&id).is_some_and(|t| !t.is_finished()) {
            return;
        }
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(self.client.clone(), namespace, &super::resource(kind));
        let source = Source {
            client: self.client.clone(),
            kind,
            namespace: namespace.to_owned(),
            request: kube::core::Request::new(api.resource_url()),
            selector: self.selector.clone(),
            tx: self.tx.clone(),
        };
        let version = (!version.is_empty()).then(|| version.to_owned());
        tasks.insert(id, tokio::spawn(follow(source, version)));
    }

    /// The kinds and namespaces watched.
    pub fn watched(&self) -> BTreeSet<(Kind, String)> {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.keys().cloned().collect()
    }
}

/// Where one kind of one namespace is read and watched, and where what is seen goes.
struct Source {
    client: kube::Client,
    kind: Kind,
    namespace: String,
    request: kube::core::Request,
    selector: String,
    tx: mpsc::UnboundedSender<Seen>,
}

/// The longest pause between watches that fail in a row without seeing anything: a watch
/// refused for good (no `watch` in the Role) is a LIST every 5 s, not a loop.
const MOST_PAUSE: Duration = Duration::from_secs(5);

/// WATCHes from `seeded`, or from a LIST; LISTs again each time the watch expires or fails,
/// after a pause that grows while watches fail in a row without seeing anything. Ends when
/// nobody receives any more.
async fn follow(source: Source, mut seeded: Option<String>) {
    let pauses = Policy::exponential(Duration::from_millis(200)).max_delay(MOST_PAUSE);
    let mut failures = 0;
    loop {
        let version = match seeded.take() {
            Some(version) => version,
            None => match relist(&source).await {
                Some(version) => version,
                None => return,
            },
        };
        match watch_from(&source, version).await {
            None => return,
            Some(true) => failures = 0,
            Some(false) => {
                failures += 1;
                if failures == 5 {
                    tracing::warn!(kind = %source.kind, namespace = %source.namespace, "the drift watch keeps failing; its objects are LISTed instead, at most every 5 s");
                }
                tokio::time::sleep(pauses.delay(failures).unwrap_or(MOST_PAUSE)).await;
            }
        }
    }
}

/// LISTs until a LIST answers and hands the list on; its resourceVersion (`None`: nobody
/// receives any more).
async fn relist(source: &Source) -> Option<String> {
    loop {
        let listed = (|| list(source))
            .retry(Policy::WATCH_RELIST)
            .notify(|e, _| tracing::debug!(error = %e, kind = %source.kind, namespace = %source.namespace, "re-list failed"))
            .await;
        if let Ok((objects, version)) = listed {
            let seen = Seen::Listed {
                kind: source.kind,
                namespace: source.namespace.clone(),
                objects,
            };
            return source.tx.send(seen).ok().map(|()| version);
        }
    }
}

async fn list(source: &Source) -> Result<(Vec<Value>, String), String> {
    let mut objects = Vec::new();
    let version = super::list_each(
        &source.client,
        source.kind,
        &source.namespace,
        &source.selector,
        |item: Value| {
            objects.push(item);
            Ok(())
        },
    )
    .await
    .map_err(|e| e.with_causes())?;
    Ok((objects, version))
}

/// WATCHes from `version`, again each time the API server ends the watch, until it expires
/// or fails (then whether it saw anything: LIST again) or nobody receives any more (`None`).
async fn watch_from(source: &Source, mut version: String) -> Option<bool> {
    let mut saw = false;
    loop {
        let params = WatchParams::default()
            .labels(&source.selector)
            .timeout(WATCH_SECONDS);
        let opened = async {
            let req = source
                .request
                .watch(&params, &version)
                .map_err(kube::Error::BuildRequest)?;
            source.client.request_events::<Value>(req).await
        };
        let stream = match opened.await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %retry::describe(&e), kind = %source.kind, namespace = %source.namespace, "watch refused");
                return (!source.tx.is_closed()).then_some(saw);
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            // An ERROR event (410 Gone) is no progress: it pauses like a refused watch.
            saw |= matches!(event, Ok(ref e) if !matches!(e, WatchEvent::Error(_)));
            let seen = match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    follow_version(&o, &mut version);
                    Seen::Object(Box::new(o))
                }
                Ok(WatchEvent::Deleted(o)) => {
                    follow_version(&o, &mut version);
                    let name = o.pointer("/metadata/name").and_then(Value::as_str);
                    Seen::Deleted(ObjectKey {
                        kind: source.kind,
                        namespace: source.namespace.clone(),
                        name: name.unwrap_or_default().to_owned(),
                    })
                }
                Ok(WatchEvent::Bookmark(b)) => {
                    version = b.metadata.resource_version;
                    continue;
                }
                Ok(WatchEvent::Error(e)) => {
                    // 410 Gone: the version is too old; anything else: start over too.
                    tracing::debug!(code = e.code, message = %e.message, kind = %source.kind, "watch ended");
                    return Some(saw);
                }
                Err(e) => {
                    // A dropped connection or a restarted API server.
                    tracing::debug!(error = %e, kind = %source.kind, "watch failed");
                    return Some(saw);
                }
            };
            if source.tx.send(seen).is_err() {
                return None;
            }
        }
    }
}

fn follow_version(object: &Value, version: &mut String) {
    if let Some(v) = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        v.clone_into(version);
    }
}
