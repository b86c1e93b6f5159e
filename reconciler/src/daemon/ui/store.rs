//! What the shared state keeps for the page between passes: the last snapshot, the last syncs
//! with the diffs of what they changed, and the token. Replaced whole after each pass, read by
//! the endpoints without waiting on a pass.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use model::{Object, ObjectKey};
use serde_json::Value;

use super::build::{Input, snapshot};
use super::view::{ChangeView, Snapshot, SyncView};
use crate::cluster::live::without_noise;
use crate::daemon::config::Secret;

/// Syncs the page lists.
const MAX_SYNCS: usize = 20;
/// Bytes of one object's diff; a longer one is cut with a note.
const MAX_DIFF_BYTES: usize = 16 * 1024;
/// How long after the last request of an endpoint the page counts as open, and the live
/// objects are worth reading again between passes ([`UiStore::viewed_recently`]).
const VIEWED_FOR_SECONDS: i64 = 30;

/// A finished pass as its caller saw it, for the list of syncs.
#[derive(Clone, Debug)]
pub struct PassSummary {
    /// What asked for it.
    pub trigger: String,
    /// RFC 3339 start time.
    pub started: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// The failure, if it failed.
    pub error: Option<String>,
    /// What it did to which object (`created`, `changed`, `deleted`), in order.
    pub done: Vec<(&'static str, ObjectKey)>,
}

#[derive(Default)]
struct Inner {
    snapshot: Arc<Snapshot>,
    syncs: VecDeque<SyncView>,
    /// Each live object as YAML after the last pass, the "before" of the next diff.
    texts: BTreeMap<ObjectKey, String>,
    /// What the last pass knew, to draw the tree again over newer live objects.
    last: Option<LastPass>,
}

struct LastPass {
    desired: Vec<Object>,
    failed: BTreeMap<ObjectKey, String>,
    wakes: BTreeMap<ObjectKey, DateTime<Utc>>,
    revision: Option<String>,
}

/// The page's data, kept in [`crate::daemon::State`].
#[derive(Default)]
pub struct UiStore {
    token: Option<Secret>,
    inner: Mutex<Inner>,
    /// Unix seconds of the last request of an endpoint.
    viewed: AtomicI64,
}

impl std::fmt::Debug for UiStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiStore")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl UiStore {
    /// A store whose endpoints ask for `token` when there is one.
    pub fn new(token: Option<Secret>) -> UiStore {
        UiStore {
            token,
            inner: Mutex::default(),
            viewed: AtomicI64::new(0),
        }
    }

    /// Notes that the page (or a script) asked for data.
    pub fn viewed(&self) {
        self.viewed.store(Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// Whether someone asked for data lately: only then is the cluster read between passes
    /// (Components turn Available after the pass that created them), so that an unwatched
    /// daemon makes no requests for the page.
    pub fn viewed_recently(&self) -> bool {
        Utc::now().timestamp() - self.viewed.load(Ordering::Relaxed) < VIEWED_FOR_SECONDS
    }

    /// Draws the tree of the last pass again over newer `live` objects (no sync is recorded).
    /// Does nothing before the first pass.
    pub fn refresh(&self, live: &BTreeMap<ObjectKey, Value>) {
        let mut inner = self.inner.lock().expect("not poisoned");
        let Some(last) = &inner.last else {
            return;
        };
        let tree = snapshot(&Input {
            desired: &last.desired,
            live,
            failed: &last.failed,
            wakes: &last.wakes,
            revision: last.revision.as_deref(),
            taken: Utc::now(),
        });
        inner.snapshot = Arc::new(tree);
    }

    /// The namespaces of the objects of the last pass: where [`UiStore::refresh`] reads.
    pub fn namespaces(&self) -> Option<std::collections::BTreeSet<String>> {
        let inner = self.inner.lock().expect("not poisoned");
        let last = inner.last.as_ref()?;
        Some(last.desired.iter().map(|o| o.key().namespace).collect())
    }

    /// The bearer token of `/api/*` (`ui.tokenFile`).
    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The tree of the last pass.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.lock().expect("not poisoned").snapshot.clone()
    }

    /// The last syncs, newest first.
    pub fn syncs(&self) -> Vec<SyncView> {
        let inner = self.inner.lock().expect("not poisoned");
        inner.syncs.iter().rev().cloned().collect()
    }

    /// Records a pass: the tree of `input` replaces the last one, and the pass joins the syncs
    /// with the diff of each object it touched, from its YAML after the pass before.
    pub fn passed(&self, input: &Input<'_>, pass: PassSummary) {
        let tree = snapshot(input);
        let texts: BTreeMap<ObjectKey, String> = input
            .live
            .iter()
            .map(|(k, raw)| (k.clone(), yaml(raw)))
            .collect();
        let mut inner = self.inner.lock().expect("not poisoned");
        let mut changes = Vec::new();
        for (verb, key) in &pass.done {
            let name = format!("{}/{}/{}", key.kind, key.namespace, key.name);
            let before = inner.texts.get(key).map_or("", String::as_str);
            let after = texts.get(key).map_or("", String::as_str);
            if changes.iter().any(|c: &ChangeView| c.object == name) {
                continue;
            }
            changes.push(ChangeView {
                object: name.clone(),
                verb: (*verb).to_owned(),
                diff: unified(&name, before, after),
            });
        }
        inner.syncs.push_back(SyncView {
            trigger: pass.trigger,
            revision: input.revision.unwrap_or_default().to_owned(),
            started: pass.started,
            duration_seconds: pass.duration_seconds,
            result: if pass.error.is_some() {
                "failure"
            } else {
                "success"
            }
            .into(),
            message: pass.error,
            changes,
        });
        while inner.syncs.len() > MAX_SYNCS {
            inner.syncs.pop_front();
        }
        inner.snapshot = Arc::new(tree);
        inner.last = Some(LastPass {
            desired: input.desired.to_vec(),
            failed: input.failed.clone(),
            wakes: input.wakes.clone(),
            revision: input.revision.map(str::to_owned),
        });
        // A failed pass read no live objects: the next diff starts from the last that did.
        if !input.live.is_empty() || input.desired.is_empty() {
            inner.texts = texts;
        }
    }
}

fn yaml(raw: &Value) -> String {
    serde_yaml::to_string(&without_noise(raw)).unwrap_or_default()
}

fn unified(name: &str, before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    if text.len() > MAX_DIFF_BYTES {
        let mut cut = MAX_DIFF_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n... (cut: the diff is longer)\n");
    }
    text
}
