//! The object store: every object as JSON, a cluster-wide resourceVersion, the write pipeline
//! every verb shares (pruning, validation, managedFields, generation, no-op detection, dry run)
//! and the event log that watches replay.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::managed::{self, Scope};
use crate::resources::{Registry, ResourceType};
use crate::schema::Cause;
use crate::selector::{FieldSelector, LabelSelector};
use crate::time;

/// How many past events a watch can resume from.
const EVENT_LOG: usize = 20_000;
/// Capacity of the live event channel; a watcher that falls further behind is closed.
const CHANNEL: usize = 8_192;

/// `ADDED`, `MODIFIED` or `DELETED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// An object was created.
    Added,
    /// An object changed.
    Modified,
    /// An object was deleted.
    Deleted,
}

impl EventType {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change of one object.
#[derive(Clone, Debug)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Resource type id.
    pub type_id: usize,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before it, for deletions, with the new resourceVersion).
    pub object: Arc<Value>,
    /// The object before a modification, so that watches with selectors can tell objects that
    /// entered or left the selection.
    pub previous: Option<Arc<Value>>,
}

impl Event {
    /// Namespace of the object.
    pub fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    }
}

/// `fieldValidation` of a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and answer with a warning (the API server default).
    #[default]
    Warn,
    /// Refuse unknown fields (kubectl's default).
    Strict,
}

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, persist nothing.
    pub dry_run: bool,
    /// Field manager (from `fieldManager`, else the user agent).
    pub manager: String,
    /// `force` of server-side apply.
    pub force: bool,
    /// `fieldValidation`.
    pub validation: FieldValidation,
}

/// The answer to a write.
#[derive(Clone, Debug)]
pub struct Written {
    /// The object as stored (or as it would be, on a dry run).
    pub object: Arc<Value>,
    /// Whether the write created the object.
    pub created: bool,
    /// Warnings for the `Warning` header.
    pub warnings: Vec<String>,
}

/// Which object a request addresses.
#[derive(Clone, Debug)]
pub struct Target {
    /// Resource type id.
    pub type_id: usize,
    /// Namespace; empty for cluster-scoped types.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Main resource or status subresource.
    pub scope: Scope,
}

/// Patch formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/apply-patch+yaml`.
    Apply,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json` (built-in types only; treated as a merge patch).
    Strategic,
}

/// A page of a LIST.
#[derive(Debug)]
pub struct Page {
    /// The objects.
    pub items: Vec<Arc<Value>>,
    /// resourceVersion of the list.
    pub rv: u64,
    /// Continue token when more items remain.
    pub continue_token: Option<String>,
    /// How many items remain after this page.
    pub remaining: usize,
}

type Key = (String, String);

/// A watch subscription: past events to replay, then live ones.
#[derive(Debug)]
pub struct Subscription {
    /// Events to send first.
    pub backlog: Vec<Arc<Event>>,
    /// resourceVersion of the store when subscribed.
    pub rv: u64,
    /// Later events.
    pub rx: broadcast::Receiver<Arc<Event>>,
}

struct Inner {
    rv: u64,
    objects: Vec<BTreeMap<Key, Arc<Value>>>,
    log: VecDeque<Arc<Event>>,
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
            }),
            events,
            uid_counter: AtomicU64::new(1),
            uid_seed: seed,
        };
        let ns_type = store
            .registry
            .find("", "v1", "namespaces")
            .expect("namespaces are served");
        for ns in INITIAL_NAMESPACES {
            store.insert_initial(
                ns_type,
                json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}}),
            );
        }
        let crd_type = store
            .registry
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("CRDs are served");
        for crd in crate::resources::crds() {
            store.insert_initial(crd_type, crd);
        }
        store
    }

    fn insert_initial(&self, type_id: usize, mut obj: Value) {
        let mut inner = self.lock();
        inner.rv += 1;
        let rv = inner.rv;
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(self.new_uid());
        meta["creationTimestamp"] = json!(time::now_rfc3339());
        meta["resourceVersion"] = json!(rv.to_string());
        if self.registry.get(type_id).custom {
            meta["generation"] = json!(1);
        }
        let name = meta["name"].as_str().unwrap_or_default().to_owned();
        inner.objects[type_id].insert((String::new(), name), Arc::new(obj));
    }

    /// The served types.
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

    /// The current resourceVersion of the cluster.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Number of objects of a type (all namespaces).
    pub fn count(&self, type_id: usize) -> usize {
        self.lock().objects[type_id].len()
    }

    /// One object.
    pub fn get(&self, t: &Target) -> Result<Arc<Value>, ApiError> {
        let rt = self.registry.get(t.type_id);
        self.lock().objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, &t.name))
    }

    /// A page of objects of a type, in one namespace or all, in name order.
    pub fn list(
        &self,
        type_id: usize,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ApiError> {
        let start: Option<Key> = match continue_token {
            Some(tok) => Some(
                decode_continue(tok)
                    .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?,
            ),
            None => None,
        };
        let inner = self.lock();
        let map = &inner.objects[type_id];
        let lower = match (&start, namespace) {
            (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.to_owned(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut remaining = 0;
        let mut last: Option<&Key> = None;
        let limit = limit.filter(|&l| l > 0);
        for (key, obj) in map.range((lower, std::ops::Bound::Unbounded)) {
            if let Some(ns) = namespace
                && key.0 != ns
            {
                break;
            }
            if !labels.matches(&obj["metadata"]["labels"]) || !fields.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
            last = Some(key);
        }
        let continue_token = if remaining > 0 {
            last.map(encode_continue)
        } else {
            None
        };
        Ok(Page {
            items,
            rv: inner.rv,
            continue_token,
            remaining,
        })
    }

    /// Subscribes to changes. Returns the events after `since` (from the log) and a receiver of
    /// later ones; `None` asks for the current objects as synthetic ADDED events instead.
    /// Fails with 410 Gone when `since` is older than the log.
    pub fn watch(&self, type_id: usize, since: Option<u64>) -> Result<Subscription, ApiError> {
        let inner = self.lock();
        let rx = self.events.subscribe();
        let backlog = match since {
            None => inner.objects[type_id]
                .values()
                .map(|o| {
                    Arc::new(Event {
                        rv: rv_of(o),
                        type_id,
                        kind: EventType::Added,
                        object: o.clone(),
                        previous: None,
                    })
                })
                .collect(),
            Some(rv) => {
                let oldest = inner.log.front().map(|e| e.rv).unwrap_or(inner.rv + 1);
                if rv + 1 < oldest && rv < inner.rv {
                    return Err(ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({})", oldest - 1),
                    ));
                }
                inner
                    .log
                    .iter()
                    .filter(|e| e.rv > rv && e.type_id == type_id)
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            backlog,
            rv: inner.rv,
            rx,
        })
    }

    /// A receiver of every change (for the simulated operator).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    fn namespace_exists(&self, inner: &Inner, ns: &str) -> bool {
        let ns_type = self.registry.find("", "v1", "namespaces").expect("served");
        inner.objects[ns_type].contains_key(&(String::new(), ns.to_owned()))
    }

    /// POST: creates an object.
    pub fn create(
        &self,
        t: &Target,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.registry.get(t.type_id);
        let mut obj = body;
        check_type(rt, &obj)?;
        let meta = obj
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApiError::bad_request("metadata is required"))?;
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                        "metadata.name",
                    )],
                ));
            }
            let suffix = &self.new_uid().replace('-', "")[..5];
            name = format!("{prefix}{suffix}");
            meta.insert("name".into(), json!(name));
        }
        check_namespace(rt, meta, &t.namespace)?;
        if rt.status_subresource && rt.custom {
            obj.as_object_mut().map(|m| m.remove("status"));
        }
        let target = Target { name, ..t.clone() };
        let mut inner = self.lock();
        if rt.namespaced && !self.namespace_exists(&inner, &target.namespace) {
            return Err(namespace_not_found(&target.namespace));
        }
        if inner.objects[t.type_id].contains_key(&(target.namespace.clone(), target.name.clone())) {
            return Err(ApiError::already_exists(rt, &target.name));
        }
        let mut warnings = Vec::new();
        self.prepare(rt, &target, &mut obj, opts, &mut warnings)?;
        let scope = if rt.status_subresource {
            Scope::NoStatus
        } else {
            Scope::All
        };
        managed::record_update(
            None,
            &mut obj,
            &rt.schema,
            scope,
            &opts.manager,
            &rt.api_version(),
            &time::now_rfc3339(),
        );
        let written = self.commit(&mut inner, rt, &target, None, obj, opts.dry_run)?;
        Ok(Written {
            object: written,
            created: true,
            warnings,
        })
    }

    /// PUT: replaces an object (or its status).
    pub fn update(
        &self,
        t: &Target,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.registry.get(t.type_id);
        check_type(rt, &body)?;
        let body_meta = body
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(n) = body_meta.get("name").and_then(Value::as_str)
            && n != t.name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                t.name
            )));
        }
        check_namespace(rt, &body_meta, &t.namespace)?;
        let mut inner = self.lock();
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, &t.name))?;
        match body_meta.get("resourceVersion").and_then(Value::as_str) {
            Some(rv) if rv != old["metadata"]["resourceVersion"] => {
                return Err(ApiError::conflict(rt, &t.name, OUTDATED));
            }
            None if rt.custom => {
                return Err(ApiError::invalid(
                    rt,
                    &t.name,
                    vec![Cause::new(
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )],
                ));
            }
            _ => {}
        }
        let new = self.scoped_replacement(rt, t.scope, &old, body);
        self.finish_update(&mut inner, rt, t, &old, new, opts)
    }

    /// PATCH: merge patch, JSON patch, strategic merge patch or server-side apply.
    pub fn patch(
        &self,
        t: &Target,
        kind: PatchType,
        patch: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.registry.get(t.type_id);
        if kind == PatchType::Apply {
            return self.apply(t, patch, opts);
        }
        if kind == PatchType::Strategic && rt.custom {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let mut inner = self.lock();
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, &t.name))?;
        let mut patched = (*old).clone();
        match kind {
            PatchType::Merge | PatchType::Strategic => {
                let p: Value = serde_json::from_slice(patch)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                if let Some(rv) = p["metadata"]["resourceVersion"].as_str()
                    && rv != old["metadata"]["resourceVersion"]
                {
                    return Err(ApiError::conflict(rt, &t.name, OUTDATED));
                }
                json_patch::merge(&mut patched, &p);
            }
            PatchType::Json => {
                let p: json_patch::Patch = serde_json::from_slice(patch)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                json_patch::patch(&mut patched, &p).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                })?;
                if patched["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
                    return Err(ApiError::conflict(rt, &t.name, OUTDATED));
                }
            }
            PatchType::Apply => unreachable!("handled above"),
        }
        if patched["metadata"]["name"] != old["metadata"]["name"] {
            return Err(ApiError::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        let new = self.scoped_replacement(rt, t.scope, &old, patched);
        self.finish_update(&mut inner, rt, t, &old, new, opts)
    }

    /// The object a write of `body` to `scope` produces: status writes change only status,
    /// main-resource writes of types with a status subresource keep the old status.
    fn scoped_replacement(
        &self,
        rt: &ResourceType,
        scope: Scope,
        old: &Value,
        body: Value,
    ) -> Value {
        match scope {
            Scope::StatusOnly => {
                let mut new = old.clone();
                match body.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                new
            }
            _ if rt.status_subresource => {
                let mut new = body;
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                new
            }
            _ => body,
        }
    }

    fn finish_update(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        t: &Target,
        old: &Arc<Value>,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let mut warnings = Vec::new();
        self.prepare(rt, t, &mut new, opts, &mut warnings)?;
        let scope = effective_scope(rt, t.scope);
        // managedFields sent by the client are not trusted: record_update derives ownership
        // from the old entries and the change.
        managed::record_update(
            Some(old),
            &mut new,
            &rt.schema,
            scope,
            &opts.manager,
            &rt.api_version(),
            &time::now_rfc3339(),
        );
        let object = self.commit(inner, rt, t, Some(old), new, opts.dry_run)?;
        Ok(Written {
            object,
            created: false,
            warnings,
        })
    }

    /// Server-side apply.
    fn apply(&self, t: &Target, patch: &[u8], opts: &WriteOptions) -> Result<Written, ApiError> {
        let rt = self.registry.get(t.type_id);
        let text = std::str::from_utf8(patch)
            .map_err(|_| ApiError::bad_request("the apply patch is not UTF-8"))?;
        // JSON is YAML, and most clients send JSON: its own parser first (several times
        // faster), YAML (and YAML's error message) otherwise.
        let applied: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => serde_yaml::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
        };
        if !applied.is_object() {
            return Err(ApiError::bad_request("the apply patch must be an object"));
        }
        if opts.manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requests must have a fieldManager: Required value: is required for apply patch",
            ));
        }
        check_type(rt, &applied)?;
        let meta = applied
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if meta.contains_key("managedFields") {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        match meta.get("name").and_then(Value::as_str) {
            Some(n) if n == t.name => {}
            Some(n) => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    t.name
                )));
            }
            None => {
                return Err(ApiError::bad_request(
                    "metadata.name is required in an apply patch",
                ));
            }
        }
        check_namespace(rt, &meta, &t.namespace)?;
        if let Some(rv) = meta.get("resourceVersion").and_then(Value::as_str) {
            let current = self.get(t).ok();
            let current_rv = current
                .as_ref()
                .map(|c| c["metadata"]["resourceVersion"].clone());
            if current_rv.as_ref().and_then(Value::as_str) != Some(rv) {
                return Err(ApiError::conflict(rt, &t.name, OUTDATED));
            }
        }
        let scope = effective_scope(rt, t.scope);
        let mut applied = managed::restrict(&applied, scope);
        if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        let mut warnings = Vec::new();
        let mut unknown = Vec::new();
        rt.schema.prune(&mut applied, "", &mut unknown);
        report_unknown(rt, unknown, opts.validation, &mut warnings)?;
        let mut inner = self.lock();
        if rt.namespaced && !self.namespace_exists(&inner, &t.namespace) {
            return Err(namespace_not_found(&t.namespace));
        }
        let old = inner.objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned();
        if old.is_none() && t.scope == Scope::StatusOnly {
            return Err(ApiError::not_found(rt, &t.name));
        }
        let now = time::now_rfc3339();
        let result = managed::apply(old.as_deref(), &applied, &rt.schema, scope, &opts.manager, &rt.api_version(), opts.force, &now)
            .map_err(|conflicts| {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| json!({
                        "type": "FieldManagerConflict",
                        "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                        "field": c.field,
                    }))
                    .collect();
                ApiError {
                    details: Some(json!({"name": t.name, "group": rt.group, "kind": rt.plural, "causes": causes})),
                    ..ApiError::new(409, "Conflict", managed::conflict_message(&conflicts))
                }
            })?;
        let mut obj = result.object;
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        self.prepare(
            rt,
            t,
            &mut obj,
            &WriteOptions {
                validation: FieldValidation::Ignore,
                ..opts.clone()
            },
            &mut Vec::new(),
        )?;
        let created = old.is_none();
        let object = self.commit(&mut inner, rt, t, old.as_ref(), obj, opts.dry_run)?;
        Ok(Written {
            object,
            created,
            warnings,
        })
    }

    /// DELETE. Objects with finalizers get a deletionTimestamp and stay until the last
    /// finalizer is removed; a Namespace takes its objects with it.
    pub fn delete(
        &self,
        t: &Target,
        preconditions: &Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = self.registry.get(t.type_id);
        let mut inner = self.lock();
        let key = (t.namespace.clone(), t.name.clone());
        let old = inner.objects[t.type_id]
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, &t.name))?;
        if let Some(uid) = preconditions["uid"].as_str()
            && uid != old["metadata"]["uid"]
        {
            return Err(ApiError::conflict(
                rt,
                &t.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = preconditions["resourceVersion"].as_str()
            && rv != old["metadata"]["resourceVersion"]
        {
            return Err(ApiError::conflict(
                rt,
                &t.name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    old["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        if dry_run {
            return Ok(old);
        }
        let has_finalizers = old["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers && rt.kind != "Namespace" {
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut new = (*old).clone();
            new["metadata"]["deletionTimestamp"] = json!(time::now_rfc3339());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            return self.store(&mut inner, t.type_id, key, new, EventType::Modified);
        }
        if rt.kind == "Namespace" {
            let ns = t.name.clone();
            for type_id in 0..inner.objects.len() {
                if !self.registry.get(type_id).namespaced {
                    continue;
                }
                let keys: Vec<Key> = inner.objects[type_id]
                    .range((ns.clone(), String::new())..)
                    .take_while(|(k, _)| k.0 == ns)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    self.remove(&mut inner, type_id, &k);
                }
            }
        }
        Ok(self.remove(&mut inner, t.type_id, &key).unwrap_or(old))
    }

    fn remove(&self, inner: &mut Inner, type_id: usize, key: &Key) -> Option<Arc<Value>> {
        let old = inner.objects[type_id].remove(key)?;
        inner.rv += 1;
        let mut gone = (*old).clone();
        gone["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let gone = Arc::new(gone);
        self.emit(inner, type_id, EventType::Deleted, gone.clone(), None);
        Some(gone)
    }

    /// Checks and completes an object before it is stored: prunes and validates against the
    /// schema, validates metadata.
    fn prepare(
        &self,
        rt: &ResourceType,
        t: &Target,
        obj: &mut Value,
        opts: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        // A write to the status subresource changes only the status: the rest was checked
        // when it was written.
        let status_only = match effective_scope(rt, t.scope) {
            Scope::StatusOnly => rt.schema.field("status"),
            _ => None,
        };
        let mut unknown = Vec::new();
        match (status_only, obj.get_mut("status")) {
            (Some(schema), Some(status)) => schema.prune(status, "status", &mut unknown),
            _ => rt.schema.prune(obj, "", &mut unknown),
        }
        report_unknown(rt, unknown, opts.validation, warnings)?;
        {
            let meta = obj["metadata"]
                .as_object_mut()
                .expect("metadata is an object");
            meta.insert("name".into(), json!(t.name));
            if rt.namespaced {
                meta.insert("namespace".into(), json!(t.namespace));
            } else {
                meta.remove("namespace");
            }
            meta.remove("selfLink");
            // ObjectMeta drops empty collections when the API server decodes it.
            for k in ["labels", "annotations", "finalizers", "ownerReferences"] {
                let empty = match meta.get(k) {
                    Some(Value::Object(m)) => m.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(Value::Null) => true,
                    _ => false,
                };
                if empty {
                    meta.remove(k);
                }
            }
        }
        let mut causes = Vec::new();
        match (status_only, obj.get("status")) {
            (Some(schema), Some(status)) => schema.validate(status, "status", &mut causes),
            _ => rt.schema.validate(obj, "", &mut causes),
        }
        validate_metadata(rt, &obj["metadata"], &mut causes);
        if !causes.is_empty() {
            return Err(ApiError::invalid(rt, &t.name, causes));
        }
        Ok(())
    }

    /// Sets server fields, skips no-op writes, stores (unless dry run) and emits the event.
    fn commit(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        t: &Target,
        old: Option<&Arc<Value>>,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let key = (t.namespace.clone(), t.name.clone());
        match old {
            None => {
                let meta = &mut new["metadata"];
                meta["uid"] = json!(self.new_uid());
                meta["creationTimestamp"] = json!(time::now_rfc3339());
                if let Some(m) = meta.as_object_mut() {
                    m.remove("deletionTimestamp");
                    m.remove("resourceVersion");
                }
                if rt.custom {
                    meta["generation"] = json!(1);
                } else if let Some(m) = meta.as_object_mut() {
                    m.remove("generation");
                }
                if rt.kind == "Namespace" {
                    new["status"] = json!({"phase": "Active"});
                    if new["spec"]["finalizers"].is_null() {
                        new["spec"]["finalizers"] = json!(["kubernetes"]);
                    }
                }
                if dry_run {
                    return Ok(Arc::new(new));
                }
                self.store(inner, t.type_id, key, new, EventType::Added)
            }
            Some(old) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "resourceVersion",
                ] {
                    match old["metadata"].get(k) {
                        Some(v) => new["metadata"][k] = v.clone(),
                        None => {
                            new["metadata"].as_object_mut().map(|m| m.remove(k));
                        }
                    }
                }
                if rt.custom && spec_changed(old, &new) {
                    let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    new["metadata"]["generation"] = json!(g);
                }
                if same_ignoring_times(old, &new) {
                    return Ok(old.clone());
                }
                if dry_run {
                    return Ok(Arc::new(new));
                }
                let finalized = new["metadata"].get("deletionTimestamp").is_some()
                    && new["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(Vec::is_empty);
                if finalized {
                    inner.objects[t.type_id].insert(key.clone(), Arc::new(new));
                    return Ok(self.remove(inner, t.type_id, &key).expect("just inserted"));
                }
                self.store(inner, t.type_id, key, new, EventType::Modified)
            }
        }
    }

    fn store(
        &self,
        inner: &mut Inner,
        type_id: usize,
        key: Key,
        mut obj: Value,
        kind: EventType,
    ) -> Result<Arc<Value>, ApiError> {
        inner.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let obj = Arc::new(obj);
        let previous = inner.objects[type_id].insert(key, obj.clone());
        self.emit(inner, type_id, kind, obj.clone(), previous);
        Ok(obj)
    }

    fn emit(
        &self,
        inner: &mut Inner,
        type_id: usize,
        kind: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) {
        let ev = Arc::new(Event {
            rv: inner.rv,
            type_id,
            kind,
            object,
            previous,
        });
        if inner.log.len() >= EVENT_LOG {
            inner.log.pop_front();
        }
        inner.log.push_back(ev.clone());
        // No receiver is not an error: nobody watches.
        let _ = self.events.send(ev);
    }

    /// Inserts objects without the API pipeline (no validation, no managedFields): for seeding
    /// large stores in benchmarks. Namespaces are created as needed. Returns how many were stored.
    pub fn seed(&self, type_id: usize, objects: impl IntoIterator<Item = Value>) -> usize {
        let rt = self.registry.get(type_id);
        let ns_type = self.registry.find("", "v1", "namespaces").expect("served");
        let mut n = 0;
        let now = time::now_rfc3339();
        let mut inner = self.lock();
        for mut obj in objects {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if rt.namespaced && !self.namespace_exists(&inner, &ns) {
                let ns_obj = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "uid": self.new_uid(), "creationTimestamp": now},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
                let _ = self.store(
                    &mut inner,
                    ns_type,
                    (String::new(), ns.clone()),
                    ns_obj,
                    EventType::Added,
                );
            }
            obj["apiVersion"] = json!(rt.api_version());
            obj["kind"] = json!(rt.kind);
            obj["metadata"]["uid"] = json!(self.new_uid());
            obj["metadata"]["creationTimestamp"] = json!(now);
            if rt.custom {
                obj["metadata"]["generation"] = json!(1);
            }
            let key = (if rt.namespaced { ns } else { String::new() }, name);
            let _ = self.store(&mut inner, type_id, key, obj, EventType::Added);
            n += 1;
        }
        n
    }
}

const OUTDATED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

fn effective_scope(rt: &ResourceType, scope: Scope) -> Scope {
    match scope {
        Scope::StatusOnly => Scope::StatusOnly,
        _ if rt.status_subresource => Scope::NoStatus,
        _ => Scope::All,
    }
}

fn rv_of(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn namespace_not_found(ns: &str) -> ApiError {
    ApiError {
        details: Some(json!({"name": ns, "kind": "namespaces"})),
        ..ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
    }
}

fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    if (!api_version.is_empty() && api_version != rt.api_version())
        || (!kind.is_empty() && kind != rt.kind)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) and the kind ({kind}) do not match the resource {} ({})",
            rt.group_resource(),
            rt.api_version()
        )));
    }
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(())
}

fn check_namespace(rt: &ResourceType, meta: &Map<String, Value>, ns: &str) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    match meta.get("namespace").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n != ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

fn report_unknown(
    rt: &ResourceType,
    unknown: Vec<String>,
    mode: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            Ok(())
        }
        FieldValidation::Strict => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                rt.kind,
                rt.version,
                rt.kind,
                list.join(", ")
            )))
        }
    }
}

fn validate_metadata(rt: &ResourceType, meta: &Value, causes: &mut Vec<Cause>) {
    let name = meta["name"].as_str().unwrap_or_default();
    let name_check = if rt.kind == "Namespace" {
        model::names::dns1123_label(name)
    } else {
        model::names::dns1123_subdomain(name)
    };
    if let Err(e) = name_check {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 name is required: {e}"),
            "metadata.name",
        ));
    }
    for (k, v) in meta["labels"].as_object().into_iter().flatten() {
        if let Err(e) = model::names::qualified_name(k) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{k}\": {e}"),
                "metadata.labels",
            ));
        }
        if let Err(e) = model::names::label_value(v.as_str().unwrap_or_default()) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: {v}: {e}"),
                format!("metadata.labels.{k}"),
            ));
        }
    }
    for k in meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if let Err(e) = model::names::qualified_name(k) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("Invalid value: \"{k}\": {e}"),
                "metadata.annotations",
            ));
        }
    }
    let size: usize = meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > 256 * 1024 {
        causes.push(Cause::new(
            "FieldValueTooLong",
            "Too long: must have at most 262144 bytes",
            "metadata.annotations",
        ));
    }
}

/// Whether anything outside metadata and status changed (what bumps `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    !same_except(old, new, &["metadata", "status"])
}

/// Whether two objects have the same members, `skip` aside (compared in place: objects are
/// large and this runs on every write).
fn same_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .all(|(k, v)| b.get(k) == Some(v))
}

/// Whether two versions of an object differ only in managedFields timestamps.
fn same_ignoring_times(old: &Value, new: &Value) -> bool {
    if !same_except(old, new, &["metadata"])
        || !same_except(&old["metadata"], &new["metadata"], &["managedFields"])
    {
        return false;
    }
    match (
        old["metadata"].get("managedFields"),
        new["metadata"].get("managedFields"),
    ) {
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_except(x, y, &["time"]))
        }
        (x, y) => x == y,
    }
}

fn encode_continue(key: &Key) -> String {
    let raw = format!("{}\u{0}{}", key.0, key.1);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(tok: &str) -> Option<Key> {
    if !tok.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..tok.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(tok.get(i..i + 2)?, 16).ok())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    let (ns, name) = s.split_once('\u{0}')?;
    Some((ns.to_owned(), name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_changes_ignore_metadata_and_status_only() {
        let a = json!({"spec": {"x": 1}, "metadata": {"name": "a"}, "status": {"s": 1}});
        let b = json!({"spec": {"x": 1}, "metadata": {"name": "b"}, "status": {"s": 2}});
        assert!(!spec_changed(&a, &b));
        let c = json!({"spec": {"x": 2}, "metadata": {"name": "a"}});
        assert!(spec_changed(&a, &c));
        // A member added or removed beside spec is a change too.
        let d = json!({"spec": {"x": 1}, "data": {}, "metadata": {"name": "a"}});
        assert!(spec_changed(&a, &d));
        assert!(spec_changed(&d, &a));
    }

    #[test]
    fn writes_that_differ_in_managed_field_times_only_are_the_same() {
        let at = |t: &str, op: &str| {
            json!({"spec": {"x": 1}, "metadata": {"name": "a", "managedFields": [
                {"manager": "m", "operation": op, "time": t}
            ]}})
        };
        assert!(same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &at("2026-01-02T00:00:00Z", "Apply")
        ));
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &at("2026-01-01T00:00:00Z", "Update")
        ));
        let mut other_spec = at("2026-01-01T00:00:00Z", "Apply");
        other_spec["spec"]["x"] = json!(2);
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &other_spec
        ));
        let mut labelled = at("2026-01-01T00:00:00Z", "Apply");
        labelled["metadata"]["labels"] = json!({"l": "v"});
        assert!(!same_ignoring_times(
            &at("2026-01-01T00:00:00Z", "Apply"),
            &labelled
        ));
    }
}
