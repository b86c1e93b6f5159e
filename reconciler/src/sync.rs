//! One reconcile pass, and the live diff that previews it (DESIGN sections 5 and 6).
//!
//! `prepare` reads the live state (inventory + one LIST per kind and namespace) and computes the
//! plan of the `graph` crate. `sync` then validates everything with a server-side dry run, and
//! only when every object passes records the inventory and applies the plan wave by wave with
//! server-side apply (bounded concurrency within a wave), deletes what is pruned, and records the
//! inventory again. `diff` dry-runs the objects that may change and compares them with live.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures_util::future::BoxFuture;
use graph::{Action, DependencyGraph, Live, Plan, Step};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use model::{Kind, Manifest, Object, ObjectKey, keys, rollout};
use serde_json::Value;

use crate::cluster::live::{self, LiveState};
use crate::cluster::{Cluster, bounded, retry};
use crate::notify::Notifier;
use crate::report::{self, Change, Finding, Level, Report};
use crate::rollout::analysis::Analysis;
use crate::rollout::drive::{self, Driven, Settings};
use crate::rollout::{Phase, State, Status};
use crate::stop::StopSignal;

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
    /// Create the namespaces of created objects when they are missing.
    pub create_namespace: bool,
    /// Git revision of the sources, recorded in the inventory.
    pub revision: Option<String>,
    /// Rollout defaults under the Servers' annotations.
    pub rollout: rollout::Policy,
    /// Named analyses for rollouts.
    pub analyses: BTreeMap<String, Analysis>,
    /// Notification URLs.
    pub notify: Vec<String>,
    /// Raised when the pass must stop at its next safe point (the daemon stops, or this replica
    /// lost the leadership): between waves and before rollout steps.
    pub stop: Option<crate::daemon::StopSignal>,
}

impl Options {
    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.is_stopping())
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            instance: "default".into(),
            namespace: "vimana".into(),
            prune: true,
            allow_empty: false,
            concurrency: 16,
            create_namespace: false,
            revision: None,
            rollout: rollout::Policy::default(),
            analyses: BTreeMap::new(),
            notify: Vec::new(),
            stop: None,
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
    /// The pass stopped at a safe point when asked to; the next pass completes it.
    #[error("stopped after {applied} step(s) at a safe point; the next sync completes the rest")]
    Stopped {
        /// Steps done before stopping.
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
    /// Rollouts driven in this pass, with their verdicts.
    pub rollouts: Vec<Driven>,
    /// Steps left for a later pass because a rollout they wait for has not ended.
    pub deferred: Vec<ObjectKey>,
}

impl Outcome {
    /// Whether a rollout of this pass still needs passes.
    pub fn rollouts_in_progress(&self) -> bool {
        self.rollouts.iter().any(|d| d.advance.status.in_progress())
    }

    /// The earliest time a rollout of this pass wants to be looked at again.
    pub fn next_wake(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.rollouts
            .iter()
            .filter(|d| d.advance.status.in_progress())
            .filter_map(|d| d.advance.wake)
            .min()
    }

    /// Rollouts that aborted in this pass, or are held after an earlier abort.
    pub fn aborted(&self) -> Vec<(&ObjectKey, &Status)> {
        self.rollouts
            .iter()
            .filter(|d| matches!(d.advance.status, Status::Aborted(_) | Status::Held(_)))
            .map(|d| (&d.key, &d.advance.status))
            .collect()
    }

    /// Records a driven rollout (and its weights step, if it applied weights); whether the
    /// rollout ended in success.
    fn add_rollout(&mut self, driven: Driven) -> bool {
        if driven.advance.apply.is_some() {
            self.done.push(("weights", driven.key.clone()));
        }
        let succeeded = driven.advance.status == Status::Succeeded;
        self.rollouts.push(driven);
        succeeded
    }

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
    // The label and annotation keys the reconciler applied before: one removed from the sources
    // is an update (server-side apply then removes it).
    let owned = live
        .objects
        .iter()
        .map(|(k, o)| (k.clone(), o.owned.clone()));
    let state = Live::new(live.objects.values().map(|o| o.object.clone()).collect())
        .with_prune(prune)
        .with_owned(owned);
    let plan = graph::plan(&graph, &state).map_err(Error::Plan)?;
    Ok(Prepared { graph, live, plan })
}

fn apply_params(dry_run: bool) -> PatchParams {
    let p = PatchParams::apply(keys::FIELD_MANAGER).force();
    if dry_run { p.dry_run() } else { p }
}

/// What the main field manager applies: the object, except a Server's weights, which the
/// rollout engine applies as its own field manager (one owner per weight).
fn body(object: &Object) -> Value {
    let mut v = object.to_value();
    if object.kind() == Kind::Server
        && let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.remove("versionWeights");
    }
    v
}

/// Server-side apply of one object; the object as the server returns it, as text. A dry run
/// applies the whole object, weights included, to show the end state.
///
/// The answer is read as text, not decoded: a sync only needs to know that the apply
/// succeeded, and a diff decodes it once, straight to JSON.
async fn apply(cluster: &Cluster, object: &Object, dry_run: bool) -> Result<String, String> {
    let key = object.key();
    let params = apply_params(dry_run);
    let value = if dry_run {
        object.to_value()
    } else {
        body(object)
    };
    retry::retry("apply", || {
        cluster.apply(key.kind, &key.namespace, &key.name, &params, &value)
    })
    .await
    .map_err(|e| hint(&retry::describe(&e), &key))
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
    tracing::debug!(
        live = live.objects.len(),
        steps = plan.steps().count(),
        "read the live state and planned"
    );
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
    // Rollouts that have not ended: driven in this pass even when the plan has no Weights step
    // for them (the last step still bakes), and their Servers' Components are not deleted
    // meanwhile (an abort may move traffic back to them).
    let unfinished: BTreeMap<ObjectKey, String> = live
        .objects
        .iter()
        .filter_map(|(k, o)| match &o.object {
            Object::Server(s) => {
                State::from_annotation(s.metadata.annotations.get(keys::ROLLOUT_STATE))
                    .filter(|st| matches!(st.phase, Phase::Progressing | Phase::Paused))
                    .map(|_| (k.clone(), o.object.identity()))
            }
            _ => None,
        })
        .collect();
    if plan.is_empty() && unfinished.is_empty() {
        if !live.inventory.exists || live.inventory.keys != inventory_now {
            record_inventory(cluster, options, &inventory_now).await?;
        }
        return Ok(outcome);
    }

    if options.create_namespace {
        create_namespaces(cluster, &plan).await?;
    }

    // Validate everything before anything is written: each object once, in its final form
    // (a Server's Weights step carries the whole desired Server).
    // A Weights step of a rollout already running towards the same target was validated when
    // the rollout started: checking it again on every step would cost a request per Server per
    // pass.
    let validated = |step: &Step| match &step.action {
        Action::Weights { object, to, .. } => live
            .objects
            .get(&object.key())
            .and_then(|o| {
                State::from_annotation(o.object.meta().annotations.get(keys::ROLLOUT_STATE))
            })
            .is_some_and(|st| {
                matches!(st.phase, Phase::Progressing | Phase::Paused)
                    && st.target_digest == crate::rollout::digest(to)
            }),
        _ => false,
    };
    let mut finals: BTreeMap<ObjectKey, &Object> = BTreeMap::new();
    for step in plan.steps() {
        if let Some(object) = sent(step)
            && !validated(step)
        {
            finals.insert(object.key(), object);
        }
    }
    let to_check: Vec<&Object> = finals.into_values().collect();
    let to_check_count = to_check.len();
    let mut checks: Vec<BoxFuture<'_, Option<Failure>>> = Vec::new();
    for object in to_check {
        checks.push(Box::pin(async move {
            apply(cluster, object, true)
                .await
                .err()
                .map(|reason| Failure {
                    key: object.key(),
                    verb: "dry-run",
                    reason,
                })
        }));
    }
    let failures: Vec<Failure> = bounded(checks, options.concurrency)
        .await
        .into_iter()
        .flatten()
        .collect();
    tracing::debug!(
        objects = to_check_count,
        failures = failures.len(),
        "dry run done"
    );
    if !failures.is_empty() {
        let mut failures = failures;
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        return Err(Error::DryRun(failures));
    }

    // Record first what is about to be applied, so that an interrupted pass can still prune it.
    let before: BTreeSet<ObjectKey> = live.inventory.keys.union(&desired).cloned().collect();
    if !live.inventory.exists || before != live.inventory.keys {
        record_inventory(cluster, options, &before).await?;
    }

    let settings = Settings {
        components: drive::ComponentIndex::build(&graph, &live.objects),
        fresh: std::sync::Arc::new(crate::rollout::fresh::Fresh::new(
            cluster,
            &options.instance,
            crate::rollout::fresh::SETTLE,
        )),
        http: std::sync::Arc::default(),
        analyses: options.analyses.clone(),
        defaults: options.rollout.clone(),
        notifier: Notifier::new(options.notify.clone()),
        instance: options.instance.clone(),
        revision: options.revision.clone(),
    };
    watch_created_components(&plan, &live, &settings);

    let mut failures = Vec::new();
    // Steps whose rollout has not ended, and the steps that depend on them: left for a later
    // pass (a Component is deleted only after its weight reached 0 and the rollout ended).
    let mut open: BTreeSet<graph::StepId> = BTreeSet::new();
    for wave in &plan.waves {
        if options.stopping() {
            return Err(Error::Stopped {
                applied: outcome.done.len(),
            });
        }
        let busy = |step: &Step| match &step.action {
            Action::Delete {
                object: Object::Component(c),
            } => unfinished
                .values()
                .any(|id| *id == format!("{}:{}", c.spec.domain, c.spec.server)),
            _ => false,
        };
        let (ready, waiting): (Vec<&Step>, Vec<&Step>) = wave
            .steps
            .iter()
            .partition(|step| !busy(step) && !step.depends_on.iter().any(|d| open.contains(d)));
        for step in waiting {
            open.insert(step.id);
            outcome.deferred.push(step.node.key().clone());
        }
        let mut steps: Vec<BoxFuture<'_, (graph::StepId, Result<Done, Failure>)>> = Vec::new();
        for step in ready {
            let (live, settings) = (&live, &settings);
            steps.push(Box::pin(async move {
                (step.id, run_step(cluster, live, step, settings).await)
            }));
        }
        let mut results = bounded(steps, options.concurrency).await;
        // Steps of a wave finish in any order; report them in a stable one.
        results.sort_by_key(|(id, _)| *id);
        for (id, r) in results {
            match r {
                Ok(Done::Step(verb, key)) => outcome.done.push((verb, key)),
                Ok(Done::Rollout(driven)) => {
                    if !outcome.add_rollout(*driven) {
                        open.insert(id);
                    }
                }
                Err(f) => failures.push(f),
            }
        }
        tracing::debug!(steps = wave.steps.len(), "wave done");
        // A later wave may depend on a failed step: stop here, the next pass resumes.
        if !failures.is_empty() {
            break;
        }
    }
    if failures.is_empty() {
        for key in unfinished.keys() {
            if options.stopping() {
                return Err(Error::Stopped {
                    applied: outcome.done.len(),
                });
            }
            let driven_now = outcome.rollouts.iter().any(|d| d.key == *key);
            let Some(desired) = graph.get(key).map(|m| &m.object) else {
                continue;
            };
            let Object::Server(server) = desired else {
                continue;
            };
            if driven_now {
                continue;
            }
            let weights = server.spec.version_weights.clone();
            match drive::drive(cluster, &live.objects, desired, &weights, &settings).await {
                Ok(driven) => {
                    outcome.add_rollout(driven);
                }
                Err(reason) => failures.push(Failure {
                    key: key.clone(),
                    verb: "weights",
                    reason,
                }),
            }
        }
    }
    if !failures.is_empty() {
        return Err(Error::Apply {
            failures,
            applied: outcome.done.len(),
        });
    }
    if inventory_now != before {
        record_inventory(cluster, options, &inventory_now).await?;
    }
    Ok(outcome)
}

/// Starts watching, from the pass's LIST, the namespaces of the Components this pass creates
/// that a Server's weights will give traffic to, before they are created: the weights steps
/// then see them become Available.
fn watch_created_components(plan: &Plan, live: &LiveState, settings: &Settings) {
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    for step in plan.steps() {
        if let Action::Weights {
            object: Object::Server(server),
            to,
            ..
        } = &step.action
        {
            let versions = settings
                .components
                .versions(&server.spec.domain, &server.spec.id);
            namespaces.extend(
                to.iter()
                    .filter(|(_, w)| **w > 0)
                    .filter_map(|(v, _)| versions.get(v))
                    .filter(|k| !live.objects.contains_key(k))
                    .map(|k| k.namespace.clone()),
            );
        }
    }
    for ns in &namespaces {
        let listed = live
            .objects
            .iter()
            .filter(|(k, _)| k.kind == Kind::Component && k.namespace == *ns)
            .map(|(_, o)| o);
        let version = live
            .versions
            .get(&(Kind::Component, ns.clone()))
            .map_or("", String::as_str);
        settings.fresh.follow(ns, listed, version);
    }
}

async fn record_inventory(
    cluster: &Cluster,
    options: &Options,
    objects: &BTreeSet<ObjectKey>,
) -> anyhow::Result<()> {
    live::write_inventory(
        cluster,
        &options.namespace,
        &options.instance,
        objects,
        options.revision.as_deref(),
    )
    .await
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

/// What became of a step.
enum Done {
    /// Applied or deleted.
    Step(&'static str, ObjectKey),
    /// A Weights step handed to the rollout engine; complete only when it succeeded.
    Rollout(Box<Driven>),
}

async fn run_step(
    cluster: &Cluster,
    live: &LiveState,
    step: &Step,
    settings: &Settings,
) -> Result<Done, Failure> {
    let key = step.node.key().clone();
    let verb = step.action.verb();
    let fail = |reason: String| Failure {
        key: key.clone(),
        verb,
        reason,
    };
    match &step.action {
        Action::Create { object } | Action::Update { object, .. } => {
            apply(cluster, object, false).await.map_err(fail)?;
        }
        Action::Drain { .. } => {
            drive::write(cluster, &key, &BTreeMap::new(), None)
                .await
                .map_err(fail)?;
        }
        Action::Weights { object, to, .. } => {
            let driven = drive::drive(cluster, &live.objects, object, to, settings)
                .await
                .map_err(fail)?;
            return Ok(Done::Rollout(Box::new(driven)));
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
    Ok(Done::Step(verb, key))
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

/// The `Available` condition of a live object, and whether it is about the object's current
/// generation (a condition or object without a generation counts as current).
fn available_condition(raw: &Value) -> Option<(&Value, bool)> {
    let generation = raw.pointer("/metadata/generation").and_then(Value::as_i64);
    let c = raw
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == keys::CONDITION_AVAILABLE))?;
    let observed = c["observedGeneration"].as_i64();
    Some((
        c,
        generation.is_none() || observed.is_none() || observed == generation,
    ))
}

/// Reads the `Available` condition of a live object.
pub fn availability(raw: &Value) -> Availability {
    let Some((c, current)) = available_condition(raw) else {
        return Availability::Not("no Available condition yet".into());
    };
    if !current {
        return Availability::Not(format!(
            "Available reported for generation {}, current is {}",
            c["observedGeneration"].as_i64().unwrap_or_default(),
            raw.pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or_default()
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

/// Whether a live object's `Available` condition is a verdict (`True` or `False`) for its
/// current generation, rather than still to come.
pub fn settled(raw: &Value) -> bool {
    available_condition(raw).is_some_and(|(c, current)| {
        current && matches!(c["status"].as_str(), Some("True" | "False"))
    })
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
    let mut checks: Vec<BoxFuture<'_, (ObjectKey, Result<Value, String>)>> = Vec::new();
    for (_, key) in order.iter().filter(|(a, _)| *a != report::Action::Delete) {
        checks.push(Box::pin(async move {
            let object = &graph.get(key).expect("planned objects are desired").object;
            let answer = apply(cluster, object, true).await.and_then(|text| {
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("cannot read the dry run's answer: {e}"))
            });
            (key.clone(), answer)
        }));
    }
    let results: BTreeMap<ObjectKey, Result<Value, String>> = bounded(checks, options.concurrency)
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
