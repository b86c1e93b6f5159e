//! The drift loop: what the watches of the managed objects ([`crate::cluster::watch`]) see,
//! judged against what the last pass applied ([`crate::drift::judge`]), reported once per
//! change (`/status`, an Event on the object, `/metrics`, a notification) and, in `correct`
//! mode, put back at once with a server-side apply of the drifted object alone. A change of a
//! Server's rollout controls (`reconciler rollout pause|resume|promote|abort|retry`) asks for
//! a pass at once instead.
//!
//! The watches start after the first pass, from its own LISTs, and new kinds and namespaces
//! join after later passes. Only the leader judges: a standby has run no pass, so it knows no
//! desired state and stays quiet; on any change of role what the last pass applied is
//! forgotten until the next pass, so that a replica that led before never puts back an older
//! revision than the one another leader applied meanwhile. While a pass runs, judging waits for
//! it to end (the pass writes the objects itself).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::{Kind, Object, ObjectKey};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::state::{DriftRecord, State};
use super::status::Role;
use super::time::rfc3339;
use super::trigger::Trigger;
use crate::cluster::watch::{Seen, Watcher};
use crate::cluster::{Cluster, event};
use crate::drift::{self, Drift as Found, Mode};
use crate::notify::{self, Notifier};
use crate::rollout::control;

/// How long changes of an object gather before it is judged: the events of one write come
/// together, and a pass's own writes replayed by a new watch are judged at their end state.
const GATHER: Duration = Duration::from_millis(300);

/// The drift watch of a daemon: fed by each successful pass, run by [`Drift::run`].
#[derive(Clone)]
pub struct Drift {
    inner: Arc<Inner>,
}

struct Inner {
    cluster: Arc<Cluster>,
    watcher: Watcher,
    seen: Mutex<Option<UnboundedReceiver<Seen>>>,
    default: Mode,
    instance: String,
    notifier: Notifier,
    /// What the last pass applied, with its revision.
    desired: Mutex<(BTreeMap<ObjectKey, Object>, Option<String>)>,
}

impl std::fmt::Debug for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drift")
            .field("instance", &self.inner.instance)
            .field("default", &self.inner.default)
            .finish_non_exhaustive()
    }
}

impl Drift {
    /// A drift watch of `instance` on `cluster`, `default` (`apply.drift`) for objects without
    /// the annotation, announcing drift through `notifier`.
    pub fn new(cluster: Arc<Cluster>, instance: &str, default: Mode, notifier: Notifier) -> Drift {
        let (watcher, seen) = Watcher::new(&cluster, instance);
        Drift {
            inner: Arc::new(Inner {
                cluster,
                watcher,
                seen: Mutex::new(Some(seen)),
                default,
                instance: instance.to_owned(),
                notifier,
                desired: Mutex::new((BTreeMap::new(), None)),
            }),
        }
    }

    /// After a successful pass: what it applied (the render of `revision`), and the
    /// resourceVersion of its LIST of each kind and namespace, where new watches start.
    pub fn passed(
        &self,
        objects: impl IntoIterator<Item = Object>,
        versions: &BTreeMap<(Kind, String), String>,
        revision: Option<String>,
    ) {
        let desired = objects.into_iter().map(|o| (o.key(), o)).collect();
        *self.inner.desired.lock().expect("not poisoned") = (desired, revision);
        for ((kind, namespace), version) in versions {
            self.inner.watcher.follow(*kind, namespace, version);
        }
    }

    /// Judges what the watches see until they stop (the daemon stops); call once.
    pub async fn run(self, state: Arc<State>) {
        let Some(mut seen) = self.inner.seen.lock().expect("not poisoned").take() else {
            return;
        };
        let mut role = state.watch_role();
        let mut judge = Judge::default();
        let mut due: Option<Instant> = None;
        loop {
            tokio::select! {
                got = seen.recv() => {
                    let Some(first) = got else { return };
                    self.take(&mut judge, first);
                    while let Ok(more) = seen.try_recv() {
                        self.take(&mut judge, more);
                    }
                    due.get_or_insert_with(|| Instant::now() + GATHER);
                }
                changed = role.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.forget(&mut judge, &state);
                }
                () = sleep_until(due) => {
                    due = None;
                    if state.role() != Role::Leader {
                        judge.pending.clear();
                    } else if state.is_syncing() {
                        due = Some(Instant::now() + GATHER);
                    } else {
                        self.judge_pending(&mut judge, &state).await;
                    }
                }
            }
        }
    }

    /// Takes what a watch saw. A re-list also stands for the desired objects of its kind and
    /// namespace that no event named since the pass: those it lacks were deleted meanwhile.
    fn take(&self, judge: &mut Judge, seen: Seen) {
        if let Seen::Listed {
            kind, namespace, ..
        } = &seen
        {
            let desired = self.inner.desired.lock().expect("not poisoned");
            let same = |k: &&ObjectKey| k.kind == *kind && k.namespace == *namespace;
            judge.present.extend(desired.0.keys().filter(same).cloned());
        }
        judge.take(seen);
    }

    /// Forgets what the last pass applied, and what was reported of it: outstanding drift
    /// leaves `/status` (a standby shows none; a new leader judges again after its pass).
    fn forget(&self, judge: &mut Judge, state: &State) {
        let mut desired = self.inner.desired.lock().expect("not poisoned");
        desired.0.clear();
        judge.pending.clear();
        for key in std::mem::take(&mut judge.reported).into_keys() {
            state.drift_resolved(key.kind.as_str(), &key.namespace, &key.name);
        }
    }

    async fn judge_pending(&self, judge: &mut Judge, state: &State) {
        let pending = std::mem::take(&mut judge.pending);
        for (key, live) in pending {
            if let Some(raw) = &live {
                judge.controls(&key, raw, state);
            }
            let (desired, revision) = {
                let d = self.inner.desired.lock().expect("not poisoned");
                (d.0.get(&key).cloned(), d.1.clone())
            };
            let Some(desired) = desired else {
                judge.reported.remove(&key);
                continue;
            };
            let found = match &live {
                Some(raw) => drift::judge(&desired, raw),
                None => Some(Found::deleted(key.clone())),
            };
            let Some(found) = found else {
                // Also for a drift reported before a change of role forgot it.
                judge.reported.remove(&key);
                state.drift_resolved(key.kind.as_str(), &key.namespace, &key.name);
                continue;
            };
            let print = (found.fields.clone(), found.values.clone(), found.deleted);
            if judge.reported.get(&key) == Some(&print) {
                continue;
            }
            judge.reported.insert(key.clone(), print);
            let mode = Mode::of(&desired, self.inner.default);
            if mode != Mode::Ignore {
                self.act(state, &desired, &found, live.as_ref(), mode, revision)
                    .await;
            }
        }
    }

    /// Reports a drift and, in `correct` mode, puts the object back.
    async fn act(
        &self,
        state: &State,
        desired: &Object,
        found: &Found,
        live: Option<&Value>,
        mode: Mode,
        revision: Option<String>,
    ) {
        let cluster = &self.inner.cluster;
        let (action, message) = match mode {
            Mode::Correct => match drift::correct(cluster, desired, found, live).await {
                Ok(()) => ("corrected", None),
                Err(e) => ("correction-failed", Some(e)),
            },
            _ => ("detected", None),
        };
        let key = &found.key;
        let record = DriftRecord {
            kind: key.kind.as_str().to_owned(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            fields: found.fields.clone(),
            managers: found.managers.clone(),
            since: rfc3339(chrono::Utc::now()),
            action: action.to_owned(),
            message: message.clone(),
        };
        state.drift_seen(record);
        let text = match (action, &message) {
            ("corrected", _) => format!("{}; put back", found.message()),
            (_, Some(why)) => format!("{}; cannot put it back: {why}", found.message()),
            _ => format!("{}; left as it is (drift: detect)", found.message()),
        };
        tracing::warn!(
            object = %format!("{} {}/{}", key.kind, key.namespace, key.name),
            fields = %found.fields.join(","),
            managers = %found.managers.join(","),
            action,
            "drift"
        );
        let (reason, kind) = if action == "corrected" {
            ("DriftCorrected", "Normal")
        } else {
            ("DriftDetected", "Warning")
        };
        event::record(cluster, key, found.uid.as_deref(), reason, &text, kind).await;
        let note = notify::Event {
            kind: notify::EventKind::Drift,
            instance: self.inner.instance.clone(),
            revision,
            object: Some(format!("{} {}/{}", key.kind, key.namespace, key.name)),
            message: text,
            time: crate::rollout::time_text(chrono::Utc::now()),
        };
        for failure in self.inner.notifier.send(&note).await {
            tracing::warn!(%failure, "notification not delivered");
        }
    }
}

/// What the loop keeps between judgements.
#[derive(Default)]
struct Judge {
    /// Objects changed since the last judgement: the last state seen (`None`: deleted).
    pending: BTreeMap<ObjectKey, Option<Value>>,
    /// Objects known to exist, for the deletions a re-list reveals.
    present: BTreeSet<ObjectKey>,
    /// The drift reported of each object (fields, their values, deleted): once per change.
    reported: BTreeMap<ObjectKey, (Vec<String>, String, bool)>,
    /// The rollout controls last seen on each Server.
    controls: BTreeMap<ObjectKey, (Option<String>, Option<String>)>,
}

impl Judge {
    fn take(&mut self, seen: Seen) {
        match seen {
            Seen::Object(raw) => {
                if let Some(key) = key_of(&raw) {
                    self.present.insert(key.clone());
                    self.pending.insert(key, Some(*raw));
                }
            }
            Seen::Deleted(key) => {
                self.present.remove(&key);
                self.pending.insert(key, None);
            }
            Seen::Listed {
                kind,
                namespace,
                objects,
            } => {
                let listed: BTreeSet<ObjectKey> = objects.iter().filter_map(key_of).collect();
                let gone: Vec<ObjectKey> = self
                    .present
                    .iter()
                    .filter(|k| k.kind == kind && k.namespace == namespace)
                    .filter(|k| !listed.contains(k))
                    .cloned()
                    .collect();
                for key in gone {
                    self.present.remove(&key);
                    self.pending.insert(key, None);
                }
                for raw in objects {
                    if let Some(key) = key_of(&raw) {
                        self.present.insert(key.clone());
                        self.pending.insert(key, Some(raw));
                    }
                }
            }
        }
    }

    /// Asks for a pass when a Server's rollout controls changed (the first sight of a Server
    /// with controls counts as a change: they may be new).
    fn controls(&mut self, key: &ObjectKey, raw: &Value, state: &State) {
        if key.kind != Kind::Server {
            return;
        }
        let annotation = |k: &str| {
            raw.pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let now = (annotation(control::PAUSED), annotation(control::REQUEST));
        let before = self.controls.insert(key.clone(), now.clone());
        let changed = match before {
            Some(before) => before != now,
            None => now != (None, None),
        };
        if changed {
            tracing::info!(
                server = %format!("{}/{}", key.namespace, key.name),
                "rollout controls changed: a pass acts on them"
            );
            state.trigger(Trigger::Rollout);
        }
    }
}

fn key_of(raw: &Value) -> Option<ObjectKey> {
    let text = |p: &str| raw.pointer(p).and_then(Value::as_str);
    Some(ObjectKey {
        kind: Kind::from_kind_str(text("/kind")?)?,
        namespace: text("/metadata/namespace")?.to_owned(),
        name: text("/metadata/name")?.to_owned(),
    })
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
