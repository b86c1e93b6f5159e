//! One reconcile pass, and the live diff that previews it (DESIGN sections 5 and 6).
//!
//! `prepare` reads the live state (inventory + one LIST per kind and namespace) and computes the
//! plan of the `graph` crate. `sync` then validates everything with a server-side dry run, and
//! only when every object passes records the inventory and applies the plan wave by wave with
//! server-side apply (bounded concurrency within a wave), deletes what is pruned, and records the
//! inventory again. `diff` dry-runs the objects that may change and compares them with live.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use graph::{Action, DependencyGraph, Live, Plan, Step};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use model::{Kind, Manifest, Object, ObjectKey, keys, rollout};
use serde_json::Value;

use crate::cluster::live::{self, LiveState};
use crate::cluster::{Cluster, retry};
use crate::report::{self, Change, Finding, Level, Report};

/// How a pass behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Instance name: the label value that selects this reconciler's objects.
    pub instance: String,
    /// Namespace of the inventory ConfigMap (the default namespace of the render).
    pub namespace: String,
    /// Delete objects of the inventory that the render no longer has.
    pub prune: bool,
    /// Allow a render with no objects to prune everything.
    pub allow_empty: bool,
    /// Objects applied at once within a wave.
    pub concurrency: usize,
    /// How long a weights change waits for the versions it names to be Available.
    pub wait_timeout: Duration,
    /// Create the namespaces of created objects when they are missing.
    pub create_namespace: bool,
    /// Git revision of the sources, recorded in the inventory.
    pub revision: Option<String>,
    /// Rollout defaults for the steps `diff` shows.
    pub rollout: rollout::Policy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            instance: "default".into(),
            namespace: "vimana".into(),
            prune: true,
            allow_empty: false,
            concurrency: 8,
            wait_timeout: Duration::from_secs(300),
            create_namespace: false,
            revision: None,
            rollout: rollout::Policy::default(),
        }
    }
}

/// An object that could not be dry-run, applied or deleted, and why.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The object.
    pub key: ObjectKey,
    /// What was attempted (`create`, `update`, `weights`, `drain`, `delete`).
    pub verb: &'static str,
    /// Why it failed: the API's code, reason and message, or the wait that timed out.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.verb, self.key, self.reason)
    }
}

/// Why a pass did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rendered objects do not form a valid graph, or the plan breaks a rule (such as a
    /// changed image under an existing version).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Plan(Vec<graph::Error>),
    /// The render is empty and would prune every object.
    #[error(
        "the sources render no objects; pruning would delete the {live} live objects of instance {instance:?}. Pass --allow-empty if that is what you want"
    )]
    EmptyRender {
        /// Live objects of the instance.
        live: usize,
        /// The instance.
        instance: String,
    },
    /// The server-side dry run refused objects: nothing was applied.
    #[error("the dry run refused {} object(s); nothing was applied:\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    DryRun(Vec<Failure>),
    /// Applying or deleting failed part-way; the next pass completes it.
    #[error("{} step(s) failed after {applied} succeeded; the next sync completes the rest:\n  {}", .failures.len(), .failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Apply {
        /// The failures.
        failures: Vec<Failure>,
        /// Steps that succeeded.
        applied: usize,
    },
    /// The cluster could not be read or written.
    #[error(transparent)]
    Cluster(#[from] anyhow::Error),
}

/// What a pass did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Steps done, as `(verb, key)`, in order.
    pub done: Vec<(&'static str, ObjectKey)>,
    /// Desired objects already equal to live.
    pub unchanged: usize,
    /// Deletions held back because the Component still carries traffic no step removes.
    pub withheld: Vec<ObjectKey>,
}

impl Outcome {
    /// Steps done with this verb.
    pub fn count(&self, verb: &str) -> usize {
        self.done.iter().filter(|(v, _)| *v == verb).count()
    }
}

/// The live state and the plan from it to the render.
pub struct Prepared {
    /// The desired objects as a graph.
    pub graph: DependencyGraph,
    /// What the cluster has.
    pub live: LiveState,
    /// The steps from live to desired.
    pub plan: Plan,
}

/// Reads the live state and plans the way to `manifests`.
pub async fn prepare(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Prepared, Error> {
    let graph = DependencyGraph::new(manifests).map_err(Error::Plan)?;
    let namespaces: BTreeSet<String> = graph
        .manifests()
        .iter()
        .map(|m| m.object.key().namespace)
        .collect();
    let live = live::read(cluster, &options.instance, &options.namespace, &namespaces).await?;
    if graph.manifests().is_empty() && !options.allow_empty && !live.objects.is_empty() {
        return Err(Error::EmptyRender {
            live: live.objects.len(),
            instance: options.instance.clone(),
        });
    }
    // Pruned: in the inventory AND carrying the instance label (every listed object does, by
    // the selector) AND absent from the render (the plan deletes only those).
    let prune: Vec<ObjectKey> = if options.prune {
        live.objects
            .keys()
            .filter(|k| live.inventory.keys.contains(k))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let state =
        Live::new(live.objects.values().map(|o| o.object.clone()).collect()).with_prune(prune);
    let plan = graph::plan(&graph, &state).map_err(Error::Plan)?;
    Ok(Prepared { graph, live, plan })
}

fn apply_params(dry_run: bool) -> PatchParams {
    let p = PatchParams::apply(keys::FIELD_MANAGER).force();
    if dry_run { p.dry_run() } else { p }
}

fn body(object: &Object) -> Value {
    object.to_value()
}

/// Server-side apply of one object; the object as the server returns it.
async fn apply(cluster: &Cluster, object: &Object, dry_run: bool) -> Result<Value, String> {
    let key = object.key();
    let api = cluster.api(key.kind, &key.namespace);
    let params = apply_params(dry_run);
    let value = body(object);
    let patch = Patch::Apply(&value);
    retry::retry("apply", || api.patch(&key.name, &params, &patch))
        .await
        .map_err(|e| hint(&retry::describe(&e), &key))
        .and_then(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
}

/// Adds what to do to an API error where the fix is known.
fn hint(reason: &str, key: &ObjectKey) -> String {
    if reason.starts_with("404") && reason.contains("namespaces") {
        format!(
            "{reason} (the namespace {:?} does not exist: create it, or pass --create-namespace)",
            key.namespace
        )
    } else {
        reason.to_owned()
    }
}

/// The object a step sends, if it sends one.
fn sent(step: &Step) -> Option<&Object> {
    match &step.action {
        Action::Create { object }
        | Action::Update { object, .. }
        | Action::Weights { object, .. }
        | Action::Drain { object, .. } => Some(object),
        Action::Delete { .. } => None,
    }
}

/// Runs one reconcile pass.
pub async fn sync(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Outcome, Error> {
    let prepared = prepare(cluster, manifests, options).await?;
    let Prepared { graph, live, plan } = prepared;
    let desired: BTreeSet<ObjectKey> = graph.manifests().iter().map(|m| m.object.key()).collect();
    let mut outcome = Outcome {
        unchanged: plan
            .unchanged
            .iter()
            .filter(|u| matches!(u.node, graph::Node::Object(_)))
            .count(),
        withheld: plan.withheld.iter().map(|w| w.node.key().clone()).collect(),
        ..Outcome::default()
    };
    let inventory_now: BTreeSet<ObjectKey> = desired
        .iter()
        .cloned()
        .chain(outcome.withheld.iter().cloned())
        .collect();
    if plan.is_empty() {
        if !live.inventory.exists || live.inventory.keys != inventory_now {
            live::write_inventory(
                cluster,
                &options.namespace,
                &options.instance,
                &inventory_now,
                options.revision.as_deref(),
            )
            .await?;
        }
        return Ok(outcome);
    }

    if options.create_namespace {
        create_namespaces(cluster, &plan).await?;
    }

    // Validate everything before anything is written.
    let to_check: Vec<&Object> = plan.steps().filter_map(sent).collect();
    let failures: Vec<Failure> = stream::iter(to_check)
        .map(|object| async move {
            apply(cluster, object, true)
                .await
                .err()
                .map(|reason| Failure {
                    key: object.key(),
                    verb: "dry-run",
                    reason,
                })
        })
        .buffer_unordered(options.concurrency.max(1))
        .filter_map(|f| async move { f })
        .collect()
        .await;
    if !failures.is_empty() {
        let mut failures = failures;
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        return Err(Error::DryRun(failures));
    }

    // Record first what is about to be applied, so that an interrupted pass can still prune it.
    let before: BTreeSet<ObjectKey> = live.inventory.keys.union(&desired).cloned().collect();
    if !live.inventory.exists || before != live.inventory.keys {
        live::write_inventory(
            cluster,
            &options.namespace,
            &options.instance,
            &before,
            options.revision.as_deref(),
        )
        .await?;
    }

    let mut failures = Vec::new();
    for wave in &plan.waves {
        let results: Vec<Result<(&'static str, ObjectKey), Failure>> = stream::iter(&wave.steps)
            .map(|step| run_step(cluster, &graph, step, options))
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        // Steps of a wave finish in any order; report them in a stable one.
        let mut results = results;
        results.sort_by(|a, b| {
            let key = |r: &Result<(&'static str, ObjectKey), Failure>| match r {
                Ok((_, k)) => k.clone(),
                Err(f) => f.key.clone(),
            };
            key(a).cmp(&key(b))
        });
        for r in results {
            match r {
                Ok(done) => outcome.done.push(done),
                Err(f) => failures.push(f),
            }
        }
        // A later wave may depend on a failed step: stop here, the next pass resumes.
        if !failures.is_empty() {
            break;
        }
    }
    if !failures.is_empty() {
        return Err(Error::Apply {
            failures,
            applied: outcome.done.len(),
        });
    }
    if inventory_now != before {
        live::write_inventory(
            cluster,
            &options.namespace,
            &options.instance,
            &inventory_now,
            options.revision.as_deref(),
        )
        .await?;
    }
    Ok(outcome)
}

async fn create_namespaces(cluster: &Cluster, plan: &Plan) -> Result<(), Error> {
    let created: BTreeSet<String> = plan
        .steps()
        .filter(|s| matches!(s.action, Action::Create { .. }))
        .map(|s| s.node.key().namespace.clone())
        .collect();
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    for ns in created {
        let exists = retry::retry("read a namespace", || api.get_opt(&ns))
            .await
            .map_err(|e| anyhow::anyhow!("cannot read namespace {ns}: {}", retry::describe(&e)))?;
        if exists.is_none() {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let params = PatchParams::apply(keys::FIELD_MANAGER);
            let patch = Patch::Apply(&body);
            retry::retry("create a namespace", || api.patch(&ns, &params, &patch))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot create namespace {ns}: {}", retry::describe(&e))
                })?;
        }
    }
    Ok(())
}

async fn run_step(
    cluster: &Cluster,
    graph: &DependencyGraph,
    step: &Step,
    options: &Options,
) -> Result<(&'static str, ObjectKey), Failure> {
    let key = step.node.key().clone();
    let verb = step.action.verb();
    let fail = |reason: String| Failure {
        key: key.clone(),
        verb,
        reason,
    };
    match &step.action {
        Action::Create { object }
        | Action::Update { object, .. }
        | Action::Drain { object, .. } => {
            apply(cluster, object, false).await.map_err(fail)?;
        }
        Action::Weights { object, to, .. } => {
            wait_available(cluster, graph, object, to, options.wait_timeout)
                .await
                .map_err(fail)?;
            apply(cluster, object, false).await.map_err(fail)?;
        }
        Action::Delete { object } => {
            let api = cluster.api(key.kind, &key.namespace);
            // The uid precondition keeps a recreated object of the same name from being deleted.
            let params = DeleteParams {
                preconditions: object.meta().uid.clone().map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match retry::retry("delete", || api.delete(&key.name, &params)).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(fail(retry::describe(&e))),
            }
        }
    }
    Ok((verb, key))
}

/// Waits until every version with a positive weight in `to` has its Component present and
/// `Available=True` for its current generation.
async fn wait_available(
    cluster: &Cluster,
    graph: &DependencyGraph,
    server: &Object,
    to: &BTreeMap<String, i32>,
    timeout: Duration,
) -> Result<(), String> {
    let Object::Server(s) = server else {
        return Ok(());
    };
    let components: Vec<(String, ObjectKey)> = to
        .iter()
        .filter(|(_, w)| **w > 0)
        .filter_map(|(v, _)| {
            let identity = format!("{}:{}@{v}", s.spec.domain, s.spec.id);
            graph
                .by_identity(Kind::Component, &identity)
                .map(|m| (v.clone(), m.object.key()))
        })
        .collect();
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let mut waiting = Vec::new();
        for (version, key) in &components {
            let api = cluster.api(Kind::Component, &key.namespace);
            let state = match retry::retry("read a Component", || api.get_opt(&key.name)).await {
                Ok(Some(o)) => availability(&serde_json::to_value(o).unwrap_or_default()),
                Ok(None) => Availability::Missing,
                Err(e) => return Err(retry::describe(&e)),
            };
            if state != Availability::Available {
                waiting.push(format!("{version} ({}: {state})", key.name));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "weights not changed: after {} these versions are still not Available: {}",
                model::duration::format(timeout),
                waiting.join(", ")
            ));
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Whether a live object is Available for its current generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Not in the cluster.
    Missing,
    /// `Available=True` for the current generation.
    Available,
    /// Anything else, described.
    Not(String),
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Missing => f.write_str("missing"),
            Availability::Available => f.write_str("Available"),
            Availability::Not(why) => f.write_str(why),
        }
    }
}

/// Reads the `Available` condition of a live object.
pub fn availability(raw: &Value) -> Availability {
    let generation = raw.pointer("/metadata/generation").and_then(Value::as_i64);
    let condition = raw
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == keys::CONDITION_AVAILABLE));
    let Some(c) = condition else {
        return Availability::Not("no Available condition yet".into());
    };
    let observed = c["observedGeneration"].as_i64();
    if generation.is_some() && observed.is_some() && observed != generation {
        return Availability::Not(format!(
            "Available reported for generation {}, current is {}",
            observed.unwrap_or_default(),
            generation.unwrap_or_default()
        ));
    }
    match c["status"].as_str() {
        Some("True") => Availability::Available,
        other => Availability::Not(format!(
            "Available={}: {} {}",
            other.unwrap_or("?"),
            c["reason"].as_str().unwrap_or_default(),
            c["message"].as_str().unwrap_or_default()
        )),
    }
}

/// Previews a pass: every object the plan would create or change is dry-run with server-side
/// apply and compared with live; deletions and withheld deletions are listed; weight changes
/// show their rollout steps.
pub async fn diff(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Report, Error> {
    let Prepared { graph, live, plan } = prepare(cluster, manifests, options).await?;
    let mut touched: BTreeSet<ObjectKey> = BTreeSet::new();
    let mut order: Vec<(report::Action, ObjectKey)> = Vec::new();
    for step in plan.steps() {
        let key = step.node.key().clone();
        let action = match step.action {
            Action::Create { .. } => report::Action::Create,
            Action::Update { .. } | Action::Weights { .. } | Action::Drain { .. } => {
                report::Action::Update
            }
            Action::Delete { .. } => report::Action::Delete,
        };
        if touched.insert(key.clone()) {
            order.push((action, key));
        } else if action == report::Action::Delete {
            // A drained Server that is then deleted reads as a deletion.
            if let Some(entry) = order.iter_mut().find(|(_, k)| *k == key) {
                entry.0 = report::Action::Delete;
            }
        }
    }
    let graph = &graph;
    let checks = order
        .iter()
        .filter(|(a, _)| *a != report::Action::Delete)
        .map(|(_, key)| async move {
            let object = &graph.get(key).expect("planned objects are desired").object;
            (key.clone(), apply(cluster, object, true).await)
        });
    let results: BTreeMap<ObjectKey, Result<Value, String>> = stream::iter(checks)
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect();
    let mut report = Report::default();
    let mut failures = Vec::new();
    for (action, key) in order {
        let live_text = live
            .objects
            .get(&key)
            .map(|o| report::value_yaml(&live::without_noise(&o.raw)))
            .unwrap_or_default();
        let (after, identity) = match action {
            report::Action::Delete => (
                String::new(),
                live.objects
                    .get(&key)
                    .map(|o| o.object.identity())
                    .unwrap_or_default(),
            ),
            _ => match &results[&key] {
                Ok(v) => {
                    let object = &graph.get(&key).expect("desired").object;
                    (
                        report::value_yaml(&live::without_noise(v)),
                        object.identity(),
                    )
                }
                Err(reason) => {
                    failures.push(Failure {
                        key: key.clone(),
                        verb: "dry-run",
                        reason: reason.clone(),
                    });
                    continue;
                }
            },
        };
        let before = live_text;
        let diff = report::unified(&before, &after, "live", "desired");
        // A dry run equal to live is no change (the server may normalize what differs).
        if action == report::Action::Update && before == after {
            continue;
        }
        report.changes.push(Change {
            action,
            key,
            identity,
            diff,
        });
    }
    for step in plan.steps() {
        if let Action::Weights { object, from, to } = &step.action {
            let policy =
                rollout::Policy::from_annotations(&object.meta().annotations, &options.rollout)
                    .unwrap_or_else(|_| options.rollout.clone());
            report
                .rollouts
                .push(report::rollout_of(object, from, to, &policy));
        }
    }
    for w in &plan.withheld {
        report.findings.push(Finding {
            level: Level::Warning,
            code: "prune-withheld".into(),
            message: format!(
                "{} is not deleted yet: it still carries weight {} on Server {} and no step of this sync removes it",
                w.identity, w.weight, w.server
            ),
        });
    }
    for f in failures {
        report.findings.push(Finding {
            level: Level::Error,
            code: "dry-run-refused".into(),
            message: f.to_string(),
        });
    }
    Ok(report)
}
