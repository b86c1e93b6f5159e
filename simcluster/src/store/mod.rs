//! The object store: every object as JSON under one lock, a cluster-wide resourceVersion, and
//! the event log that watches replay. The verbs live in the submodules: `read` (GET, LIST,
//! WATCH), `write` (create, update, patch, delete), `apply` (server-side apply), all of which
//! end in the one write `pipeline`; `validation` holds the checks of a request's body and
//! `seed` the objects that enter without the API.

mod apply;
mod builtin;
mod pipeline;
mod read;
mod seed;
mod types;
mod validation;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::resources::Registry;

pub use types::{
    Event, EventType, FieldValidation, Page, PatchType, Subscription, Target, WriteOptions, Written,
};

/// How many past events a watch can resume from, at most.
const EVENT_LOG: usize = 20_000;
/// How long past events are kept by default: a watch from an older resourceVersion gets
/// 410 Gone, as from kube-apiserver's watch cache, which keeps events for a bounded time
/// (`staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go`, `eventFreshDuration`,
/// 75 s). Shorter here, so that clients' re-list paths run in tests.
pub const DEFAULT_WATCH_HISTORY: std::time::Duration = std::time::Duration::from_secs(5);
/// Capacity of the live event channel; a watcher that falls further behind is closed.
const CHANNEL: usize = 8_192;

/// Where an object is kept: (namespace, name), the namespace empty for cluster-scoped types.
type Key = (String, String);

/// What the lock guards: the resourceVersion counter, the objects of each type by key, and
/// the events of the history window (at most [`EVENT_LOG`]).
struct Inner {
    rv: u64,
    objects: Vec<BTreeMap<Key, Arc<Value>>>,
    /// Events with the time they happened.
    log: VecDeque<(Instant, Arc<Event>)>,
    /// Per type, the newest resourceVersion of an event that left the log: a watch of that
    /// type from an older version missed it.
    forgotten: Vec<u64>,
    /// How long events stay in the log.
    history: Duration,
}

impl Inner {
    /// Drops the events older than the history window (or beyond the log's size).
    fn forget_old_events(&mut self, now: Instant) {
        while let Some((at, ev)) = self.log.front() {
            if self.log.len() < EVENT_LOG && now.duration_since(*at) <= self.history {
                break;
            }
            let f = &mut self.forgotten[ev.type_id];
            *f = (*f).max(ev.rv);
            self.log.pop_front();
        }
    }
}

/// The in-memory object store, shared by the HTTP server and the simulated operator.
pub struct Store {
    registry: Arc<Registry>,
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
    uid_counter: AtomicU64,
    uid_seed: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish_non_exhaustive()
    }
}

/// The namespaces every cluster starts with.
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

impl Store {
    /// An empty store with the initial namespaces and the CRDs.
    pub fn new(registry: Arc<Registry>) -> Store {
        let (events, _) = broadcast::channel(CHANNEL);
        let n = registry.types().len();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        let store = Store {
            registry,
            inner: Mutex::new(Inner {
                rv: 1,
                objects: vec![BTreeMap::new(); n],
                log: VecDeque::new(),
                forgotten: vec![0; n],
                history: DEFAULT_WATCH_HISTORY,
            }),
            events,
            uid_counter: AtomicU64::new(1),
            uid_seed: seed,
        };
        store.insert_initial_objects();
        {
            // Like a watch cache started after them, the log does not replay the objects a
            // cluster starts with: a watch from before them is too old.
            let mut inner = store.lock();
            let rv = inner.rv;
            inner.log.clear();
            inner.forgotten.iter_mut().for_each(|f| *f = rv);
        }
        store
    }

    /// The served types; a type's index in it is the `type_id` of [`Target`] and [`Event`].
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is a single
        // insert), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh RFC 4122-shaped uid.
    pub fn new_uid(&self) -> String {
        let n = self.uid_counter.fetch_add(1, Ordering::Relaxed);
        let a = splitmix(self.uid_seed ^ n);
        let b = splitmix(a ^ n.rotate_left(17));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// How long past events are kept for watches that resume from a resourceVersion
    /// ([`DEFAULT_WATCH_HISTORY`] unless set).
    pub fn set_watch_history(&self, history: Duration) {
        self.lock().history = history;
    }

    /// Forgets every past event, as the watch cache of a restarted API server starts empty at
    /// the current resourceVersion: a watch from an older version gets 410 Gone.
    pub fn forget_history(&self) {
        let mut inner = self.lock();
        while let Some((_, ev)) = inner.log.pop_front() {
            let f = &mut inner.forgotten[ev.type_id];
            *f = (*f).max(ev.rv);
        }
        let rv = inner.rv;
        for f in &mut inner.forgotten {
            *f = (*f).max(rv);
        }
    }

    /// The current resourceVersion of the cluster.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Number of objects of a type (all namespaces).
    pub fn count(&self, type_id: usize) -> usize {
        self.lock().objects[type_id].len()
    }

    fn namespace_exists(&self, inner: &Inner, ns: &str) -> bool {
        let ns_type = self.registry.find("", "v1", "namespaces").expect("served");
        inner.objects[ns_type].contains_key(&(String::new(), ns.to_owned()))
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
