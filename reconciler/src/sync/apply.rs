//! Writes of a pass other than rollouts and deletions: the server-side apply of one object (and
//! its dry run), the dry run of a whole plan before anything is written, the namespaces of
//! `--create-namespace`, and the inventory.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::BoxFuture;
use graph::{Action, Plan, Step};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use model::{Kind, Object, ObjectKey, keys};
use serde_json::Value;

use super::Options;
use crate::cluster::live::{self, LiveState};
use crate::cluster::{Cluster, bounded, retry};
use crate::error::{Error, Failure};
use crate::rollout::{Phase, State};
use crate::verb::Verb;

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
pub(super) async fn apply(
    cluster: &Cluster,
    object: &Object,
    dry_run: bool,
) -> Result<String, String> {
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

/// Whether a Weights step belongs to a rollout already running towards the same target: it was
/// validated when the rollout started, and checking it again on every step would cost a
/// request per Server per pass.
fn validated_before(step: &Step, live: &LiveState) -> bool {
    match &step.action {
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
    }
}

/// Validates everything before anything is written: each object the plan sends, once, in its
/// final form (a Server's Weights step carries the whole desired Server), with a server-side
/// dry run. Every refusal, sorted by object, when there is one.
pub(super) async fn dry_run(
    cluster: &Cluster,
    plan: &Plan,
    live: &LiveState,
    concurrency: usize,
) -> Result<(), Error> {
    let mut finals: BTreeMap<ObjectKey, &Object> = BTreeMap::new();
    for step in plan.steps() {
        if let Some(object) = sent(step)
            && !validated_before(step, live)
        {
            finals.insert(object.key(), object);
        }
    }
    let checked = finals.len();
    let mut checks: Vec<BoxFuture<'_, Option<Failure>>> = Vec::new();
    for object in finals.into_values() {
        // The apply's state is boxed only once it runs: the futures of every object are made
        // before the first runs, and an apply's state is several kB.
        checks.push(Box::pin(async move {
            Box::pin(apply(cluster, object, true))
                .await
                .err()
                .map(|reason| Failure {
                    key: object.key(),
                    verb: Verb::DryRun,
                    reason,
                })
        }));
    }
    let mut failures: Vec<Failure> = bounded(checks, concurrency)
        .await
        .into_iter()
        .flatten()
        .collect();
    tracing::debug!(objects = checked, failures = failures.len(), "dry run done");
    if failures.is_empty() {
        return Ok(());
    }
    failures.sort_by(|a, b| a.key.cmp(&b.key));
    Err(Error::DryRun(failures))
}

/// Records `objects` as the inventory of the pass's instance.
pub(super) async fn record_inventory(
    cluster: &Cluster,
    options: &Options,
    objects: &BTreeSet<ObjectKey>,
) -> Result<(), Error> {
    live::write_inventory(
        cluster,
        &options.namespace,
        &options.instance,
        objects,
        options.revision.as_deref(),
    )
    .await
}

/// Creates the missing namespaces of the objects the plan creates (`--create-namespace`).
pub(super) async fn create_namespaces(cluster: &Cluster, plan: &Plan) -> Result<(), Error> {
    let created: BTreeSet<String> = plan
        .steps()
        .filter(|s| matches!(s.action, Action::Create { .. }))
        .map(|s| s.node.key().namespace.clone())
        .collect();
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    for ns in created {
        let exists = retry::retry("read a namespace", || api.get_opt(&ns))
            .await
            .map_err(|source| Error::Namespace {
                action: "read",
                namespace: ns.clone(),
                source: Box::new(source),
            })?;
        if exists.is_none() {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let params = PatchParams::apply(keys::FIELD_MANAGER);
            let patch = Patch::Apply(&body);
            retry::retry("create a namespace", || api.patch(&ns, &params, &patch))
                .await
                .map_err(|source| Error::Namespace {
                    action: "create",
                    namespace: ns.clone(),
                    source: Box::new(source),
                })?;
        }
    }
    Ok(())
}
