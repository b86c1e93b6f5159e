//! The live diff, which previews a pass: every object the plan would create or change is
//! dry-run with server-side apply and compared with live; deletions and withheld deletions are
//! listed; weight changes show their rollout steps.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::BoxFuture;
use graph::{Action, DependencyGraph, Plan};
use model::{Manifest, ObjectKey, rollout};
use serde_json::Value;

use super::{Options, Prepared, apply, prepare};
use crate::cluster::live::{self, LiveObject, LiveState};
use crate::cluster::{Cluster, bounded};
use crate::drift;
use crate::error::{Error, Failure};
use crate::report::{self, Change, ChangedBy, Finding, Level, Report};
use crate::verb::Verb;

/// What the dry run of each created or changed object answered: the object as it would be (as
/// the YAML a diff shows, made as each answer arrives, so that no answer is kept as JSON), or
/// why it was refused.
type Answers = BTreeMap<ObjectKey, Result<String, String>>;

/// Previews a pass (see the module's documentation).
pub async fn diff(
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    options: &Options,
) -> Result<Report, Error> {
    let Prepared { graph, live, plan } = prepare(cluster, manifests, options).await?;
    let touched = touched_objects(&plan);
    let answers = dry_run(cluster, &graph, &touched, options.concurrency).await;
    let mut report = Report::default();
    let refused = changes(&mut report, &graph, &live, touched, answers);
    rollouts(&mut report, &plan, options);
    findings(&mut report, &plan, refused);
    Ok(report)
}

/// Each object the plan touches, once, in the order of the plan, with what it becomes: a
/// drained Server that is then deleted reads as a deletion.
fn touched_objects(plan: &Plan) -> Vec<(report::Action, ObjectKey)> {
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
        } else if action == report::Action::Delete
            && let Some(entry) = order.iter_mut().find(|(_, k)| *k == key)
        {
            entry.0 = report::Action::Delete;
        }
    }
    order
}

/// Dry-runs every touched object that is not deleted, up to `concurrency` at once.
async fn dry_run(
    cluster: &Cluster,
    graph: &DependencyGraph,
    touched: &[(report::Action, ObjectKey)],
    concurrency: usize,
) -> Answers {
    let mut checks: Vec<BoxFuture<'_, (ObjectKey, Result<String, String>)>> = Vec::new();
    for (_, key) in touched.iter().filter(|(a, _)| *a != report::Action::Delete) {
        checks.push(Box::pin(async move {
            let object = &graph.get(key).expect("planned objects are desired").object;
            // The apply's state is boxed only once it runs (see `apply::dry_run`).
            let answer = Box::pin(apply::apply(cluster, object, true))
                .await
                .and_then(|text| {
                    let mut v = serde_json::from_str::<Value>(&text)
                        .map_err(|e| format!("cannot read the dry run's answer: {e}"))?;
                    drop(text);
                    live::remove_noise(&mut v);
                    Ok(report::value_yaml(&v))
                });
            (key.clone(), answer)
        }));
    }
    bounded(checks, concurrency).await.into_iter().collect()
}

/// Adds to `report` the change of each touched object, live against its dry run (none when
/// the server made them equal); the refused dry runs.
fn changes(
    report: &mut Report,
    graph: &DependencyGraph,
    live: &LiveState,
    touched: Vec<(report::Action, ObjectKey)>,
    mut answers: Answers,
) -> Vec<Failure> {
    let mut refused = Vec::new();
    for (action, key) in touched {
        let before = live
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
            _ => match answers.remove(&key).expect("a dry run per touched object") {
                Ok(yaml) => {
                    let object = &graph.get(&key).expect("desired").object;
                    (yaml, object.identity())
                }
                Err(reason) => {
                    refused.push(Failure {
                        key: key.clone(),
                        verb: Verb::DryRun,
                        reason,
                    });
                    continue;
                }
            },
        };
        let diff = report::unified(&before, &after, "live", "desired");
        // A dry run equal to live is no change (the server may normalize what differs).
        if action == report::Action::Update && before == after {
            continue;
        }
        let changed_by = match (&action, live.objects.get(&key), graph.get(&key)) {
            (report::Action::Update, Some(o), Some(m)) => changed_by(&m.object, o),
            _ => Vec::new(),
        };
        report.changes.push(Change {
            action,
            key,
            identity,
            diff,
            changed_by,
        });
    }
    refused
}

/// Each field of `desired` that differs on `live` and the field manager that changed it
/// last, when that is not one of the reconciler's (a change made behind its back).
fn changed_by(desired: &model::Object, live: &LiveObject) -> Vec<ChangedBy> {
    let fields = drift::differing(&desired.to_value(), &live.raw);
    drift::last_changed(&live.owners, &fields)
        .into_iter()
        .filter(|(_, manager)| !drift::OURS.contains(&manager.as_str()))
        .map(|(field, manager)| ChangedBy { field, manager })
        .collect()
}

/// Adds to `report` the rollout steps of each weight change.
fn rollouts(report: &mut Report, plan: &Plan, options: &Options) {
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
}

/// Adds to `report` the deletions held back and the refused dry runs.
fn findings(report: &mut Report, plan: &Plan, refused: Vec<Failure>) {
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
    for f in refused {
        report.findings.push(Finding {
            level: Level::Error,
            code: "dry-run-refused".into(),
            message: f.to_string(),
        });
    }
}
