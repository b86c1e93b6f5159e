//! The simulated Vimana operator: after a delay it sets condition `Available` (with
//! `observedGeneration`) on every Vimana, Domain, Server and Component. Components of the
//! configured unavailable versions get `Available=False`; a Server is Available only when every
//! version it gives weight to has an Available Component.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

use crate::managed::Scope;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{EventType, FieldValidation, Store, Target, WriteOptions};
use crate::time;

/// Field manager of the operator's status writes.
pub const OPERATOR_MANAGER: &str = "vimana-operator";

/// Settings the operator reads on every decision, changeable while it runs.
#[derive(Debug)]
pub struct OperatorSettings {
    delay: Mutex<Duration>,
    unavailable: Mutex<BTreeSet<String>>,
    rescan: Notify,
}

impl OperatorSettings {
    /// Settings with this delay and these failing versions.
    pub fn new(delay: Duration, unavailable: BTreeSet<String>) -> OperatorSettings {
        OperatorSettings {
            delay: Mutex::new(delay),
            unavailable: Mutex::new(unavailable),
            rescan: Notify::new(),
        }
    }

    /// The delay before the operator acts on a change.
    pub fn delay(&self) -> Duration {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the delay (for changes that arrive afterwards).
    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    /// Whether Components of this version fail.
    pub fn is_unavailable(&self, version: &str) -> bool {
        self.unavailable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(version)
    }

    /// Replaces the failing versions and re-evaluates every object.
    pub fn set_unavailable(&self, versions: BTreeSet<String>) {
        *self.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = versions;
        self.rescan.notify_one();
    }
}

type ObjKey = (usize, String, String);

/// Where Servers and Components meet: namespace, domain id, server id.
type Route = (String, String, String);

/// Which Components belong to which Server, kept from the events, so that a change looks at the
/// few objects of one Server instead of listing the namespace (at 40,000 objects a list per
/// event made the operator quadratic).
#[derive(Default)]
struct Routes {
    /// Component names by route (`spec.domain`, `spec.server`).
    components: HashMap<Route, BTreeSet<String>>,
    /// Server names by route (`spec.domain`, `spec.id`).
    servers: HashMap<Route, BTreeSet<String>>,
    /// The route each indexed object is filed under, to move it when its spec changes.
    filed: HashMap<ObjKey, Route>,
}

impl Routes {
    /// The route of a Server (`spec.id`) or Component (`spec.server`).
    fn route_of(obj: &Value, server_field: &str) -> Route {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        (
            text(&obj["metadata"]["namespace"]),
            text(&obj["spec"]["domain"]),
            text(&obj["spec"][server_field]),
        )
    }

    fn by_kind(&mut self, which: usize) -> &mut HashMap<Route, BTreeSet<String>> {
        if which == SERVER {
            &mut self.servers
        } else {
            &mut self.components
        }
    }

    /// Files (or refiles) a Server or Component; `None` removes it.
    fn file(&mut self, which: usize, key: &ObjKey, obj: Option<&Value>) {
        if let Some(old) = self.filed.remove(key) {
            let names = self.by_kind(which);
            if let Some(set) = names.get_mut(&old) {
                set.remove(&key.2);
                if set.is_empty() {
                    names.remove(&old);
                }
            }
        }
        if let Some(obj) = obj {
            let route = Routes::route_of(obj, if which == SERVER { "id" } else { "server" });
            self.by_kind(which)
                .entry(route.clone())
                .or_default()
                .insert(key.2.clone());
            self.filed.insert(key.clone(), route);
        }
    }
}

struct Operator {
    store: Arc<Store>,
    settings: Arc<OperatorSettings>,
    /// Type ids of Vimana, Domain, Server, Component.
    kinds: [usize; 4],
    /// When each object is due for a look.
    pending: BTreeMap<ObjKey, Instant>,
    /// The same, ordered by time, so the next due object is found without a scan.
    queue: BTreeSet<(Instant, ObjKey)>,
    /// Components and Servers by route.
    routes: Routes,
}

const SERVER: usize = 2;
const COMPONENT: usize = 3;

/// Runs the operator until `shutdown` turns true.
pub async fn run(
    store: Arc<Store>,
    settings: Arc<OperatorSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reg = store.registry();
    let kinds = model::Kind::ALL.map(|k| {
        reg.find(model::GROUP, model::VERSION, k.plural())
            .expect("the Vimana kinds are served")
    });
    let mut op = Operator {
        store: store.clone(),
        settings: settings.clone(),
        kinds,
        pending: BTreeMap::new(),
        queue: BTreeSet::new(),
        routes: Routes::default(),
    };
    let mut events = store.subscribe();
    op.schedule_all(op.settings.delay());
    loop {
        let next = op.queue.first().map(|(at, _)| *at);
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() { return; }
            }
            ev = events.recv() => match ev {
                Ok(ev) => op.on_event(ev.type_id, ev.kind, &ev.object),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: look at everything, still after the delay.
                    let delay = op.settings.delay();
                    op.schedule_all(delay);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = settings.rescan.notified() => op.schedule_all(Duration::ZERO),
            () = sleep_until(next) => op.process_due(),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn key_of(type_id: usize, obj: &Value) -> ObjKey {
    (
        type_id,
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

impl Operator {
    /// Schedules a look at `key` after `delay`, unless one is due earlier.
    fn schedule(&mut self, key: ObjKey, delay: Duration) {
        let due = Instant::now() + delay;
        if self.pending.get(&key).is_some_and(|d| *d <= due) {
            return;
        }
        self.set_due(key, due);
    }

    /// Schedules a look at `key` after `delay` from now, replacing an earlier one: a new
    /// generation waits the whole delay.
    fn reschedule(&mut self, key: ObjKey, delay: Duration) {
        self.set_due(key, Instant::now() + delay);
    }

    fn set_due(&mut self, key: ObjKey, due: Instant) {
        if let Some(old) = self.pending.insert(key.clone(), due) {
            self.queue.remove(&(old, key.clone()));
        }
        self.queue.insert((due, key));
    }

    fn unschedule(&mut self, key: &ObjKey) {
        if let Some(old) = self.pending.remove(key) {
            self.queue.remove(&(old, key.clone()));
        }
    }

    /// Schedules every object and files every Server and Component again (at start, and when
    /// events were missed).
    fn schedule_all(&mut self, delay: Duration) {
        self.routes = Routes::default();
        for (which, type_id) in self.kinds.into_iter().enumerate() {
            let page = self
                .store
                .list(
                    type_id,
                    None,
                    &LabelSelector::default(),
                    &FieldSelector::default(),
                    None,
                    None,
                )
                .expect("an unpaged list cannot fail");
            for obj in page.items {
                let key = key_of(type_id, &obj);
                if which == SERVER || which == COMPONENT {
                    self.routes.file(which, &key, Some(&obj));
                }
                self.schedule(key, delay);
            }
        }
    }

    fn on_event(&mut self, type_id: usize, kind: EventType, obj: &Value) {
        let Some(which) = self.kinds.iter().position(|&k| k == type_id) else {
            return;
        };
        let key = key_of(type_id, obj);
        if which == SERVER || which == COMPONENT {
            let live = (kind != EventType::Deleted).then_some(obj);
            self.routes.file(which, &key, live);
        }
        // Deciding is left to `process_due`: events must stay cheap, because seeding or a
        // large apply can produce tens of thousands at once.
        if kind == EventType::Deleted {
            self.unschedule(&key);
        } else if obj["status"]["observedGeneration"].as_i64()
            != obj["metadata"]["generation"].as_i64()
        {
            self.reschedule(key, self.settings.delay());
        } else {
            self.schedule(key, self.settings.delay());
        }
        if which == COMPONENT {
            // A Server's availability follows its Components.
            for server in self.servers_of(obj) {
                self.schedule(server, Duration::ZERO);
            }
        }
    }

    fn process_due(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some((at, _)) = self.queue.first() {
            if *at > now {
                break;
            }
            let (_, key) = self.queue.pop_first().expect("just seen");
            self.pending.remove(&key);
            due.push(key);
        }
        for key in due {
            let (type_id, ns, name) = key.clone();
            let target = Target {
                type_id,
                namespace: ns,
                name,
                scope: Scope::StatusOnly,
            };
            let Ok(current) = self.store.get(&target) else {
                continue;
            };
            let which = self
                .kinds
                .iter()
                .position(|&k| k == type_id)
                .expect("scheduled kinds only");
            let Some(status) = self.desired_status(which, &current) else {
                continue;
            };
            if status == current["status"] {
                continue;
            }
            // A status write: the status and what identifies the version it replaces (not a
            // copy of the whole object).
            let meta = &current["metadata"];
            let body = serde_json::json!({
                "apiVersion": current["apiVersion"],
                "kind": current["kind"],
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "resourceVersion": meta["resourceVersion"],
                },
                "status": status,
            });
            let opts = WriteOptions {
                manager: OPERATOR_MANAGER.into(),
                validation: FieldValidation::Ignore,
                ..WriteOptions::default()
            };
            if self.store.update(&target, body, &opts).is_err() {
                // Changed meanwhile: try again shortly.
                self.schedule(key, Duration::from_millis(50));
            }
        }
    }

    /// Keys of the Servers a Component belongs to.
    fn servers_of(&self, component: &Value) -> Vec<ObjKey> {
        let route = Routes::route_of(component, "server");
        self.routes
            .servers
            .get(&route)
            .into_iter()
            .flatten()
            .map(|name| (self.kinds[SERVER], route.0.clone(), name.clone()))
            .collect()
    }

    /// The status the operator wants on `obj`, or `None` to leave it alone.
    fn desired_status(&self, which: usize, obj: &Value) -> Option<Value> {
        let generation = obj["metadata"]["generation"].as_i64()?;
        let kind = model::Kind::ALL[which];
        let (ok, reason, message) = match kind {
            model::Kind::Vimana | model::Kind::Domain => (
                true,
                "Reconciled".to_owned(),
                format!("the simulated operator accepted the {kind}"),
            ),
            model::Kind::Component => {
                let version = obj["spec"]["version"].as_str().unwrap_or_default();
                if self.settings.is_unavailable(version) {
                    (
                        false,
                        "ComponentFailed".to_owned(),
                        format!(
                            "version {version} fails to start (simulated: listed in the unavailable versions)"
                        ),
                    )
                } else {
                    (
                        true,
                        "Running".to_owned(),
                        format!("version {version} is running"),
                    )
                }
            }
            model::Kind::Server => self.server_availability(obj),
        };
        Some(status_with(obj, generation, ok, &reason, &message))
    }

    fn server_availability(&self, server: &Value) -> (bool, String, String) {
        let route = Routes::route_of(server, "id");
        let components: Vec<Arc<Value>> = self
            .routes
            .components
            .get(&route)
            .into_iter()
            .flatten()
            .filter_map(|name| {
                self.store
                    .get(&Target {
                        type_id: self.kinds[COMPONENT],
                        namespace: route.0.clone(),
                        name: name.clone(),
                        scope: Scope::StatusOnly,
                    })
                    .ok()
            })
            .collect();
        let mut problems = Vec::new();
        for (version, weight) in server["spec"]["versionWeights"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if weight.as_i64().unwrap_or(0) <= 0 {
                continue;
            }
            let component = components.iter().find(|c| {
                c["spec"]["domain"] == server["spec"]["domain"]
                    && c["spec"]["server"] == server["spec"]["id"]
                    && c["spec"]["version"] == version.as_str()
            });
            match component {
                None => problems.push(format!("{version} (no Component)")),
                Some(c) => {
                    let available = c["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|cond| cond["type"] == "Available" && cond["status"] == "True");
                    if !available {
                        problems.push(format!("{version} (not Available)"));
                    }
                }
            }
        }
        if problems.is_empty() {
            (
                true,
                "Routing".into(),
                "every weighted version is Available".into(),
            )
        } else {
            (
                false,
                "VersionsUnavailable".into(),
                format!(
                    "weighted versions that cannot serve: {}",
                    problems.join(", ")
                ),
            )
        }
    }
}

/// The status of `obj` with its `Available` condition set (other conditions kept), keeping the
/// transition time when the condition status does not change.
fn status_with(obj: &Value, generation: i64, ok: bool, reason: &str, message: &str) -> Value {
    let status_str = if ok { "True" } else { "False" };
    let mut status = obj
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let old = conditions
        .iter()
        .position(|c| c["type"] == model::keys::CONDITION_AVAILABLE);
    let transition = match old {
        Some(i) if conditions[i]["status"] == status_str => {
            conditions[i]["lastTransitionTime"].clone()
        }
        _ => json!(time::now_rfc3339()),
    };
    let cond = json!({
        "type": model::keys::CONDITION_AVAILABLE,
        "status": status_str,
        "observedGeneration": generation,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    });
    match old {
        Some(i) => conditions[i] = cond,
        None => conditions.push(cond),
    }
    status["conditions"] = Value::Array(conditions);
    status["observedGeneration"] = json!(generation);
    status
}
