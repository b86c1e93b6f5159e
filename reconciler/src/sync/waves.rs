//! The writes of a pass, once its plan passed the dry run: the waves of the plan in order (the
//! steps of a wave at once, up to the concurrency), a Server's weights handed to the rollout
//! engine, and then the rollouts that have not ended but had no step in the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use graph::{Action, DependencyGraph, Plan, Step, StepId};
use model::{Kind, Object, ObjectKey};

use super::{Options, Outcome, apply, prune};
use crate::cluster::fresh::{self, Fresh};
use crate::cluster::live::LiveState;
use crate::cluster::{Cluster, bounded};
use crate::error::{Error, Failure};
use crate::notify::Notifier;
use crate::rollout::drive::{self, ComponentIndex, Driven, Settings};
use crate::verb::Verb;

/// What became of a step.
enum Done {
    /// Applied or deleted.
    Step(Verb, ObjectKey),
    /// A Weights step handed to the rollout engine; complete only when it succeeded.
    Rollout(Box<Driven>),
}

/// Puts back the JSON of the live Components that the rollouts of this pass may probe (those
/// of the Servers with a Weights step, and of the rollouts that have not ended): the rollout
/// engine reads their availability from it. The others stay as [`LiveState::read_against`]
/// kept them.
///
/// [`LiveState::read_against`]: crate::cluster::live::read_against
pub(super) fn restore_probed(
    live: &mut LiveState,
    graph: &DependencyGraph,
    plan: &Plan,
    unfinished: &BTreeMap<ObjectKey, String>,
) {
    let weighted = plan.steps().filter_map(|step| match &step.action {
        Action::Weights { object, .. } => Some(object.key()),
        _ => None,
    });
    let servers: BTreeSet<ObjectKey> = weighted.chain(unfinished.keys().cloned()).collect();
    if servers.is_empty() {
        return;
    }
    let components = ComponentIndex::build(graph, &live.objects);
    for key in servers {
        let Some(Object::Server(server)) = graph.get(&key).map(|m| &m.object) else {
            continue;
        };
        for component in components
            .versions(&server.spec.domain, &server.spec.id)
            .values()
        {
            if let Some(o) = live.objects.get_mut(component) {
                o.restore_json();
            }
        }
    }
}

/// What the writes of one pass share.
pub(super) struct Pass<'a> {
    cluster: &'a Cluster,
    options: &'a Options,
    live: &'a LiveState,
    settings: Settings,
    /// Servers whose rollout has not ended, with their identities: their Components are not
    /// deleted, and they are driven even without a step in the plan.
    unfinished: BTreeMap<ObjectKey, String>,
}

impl<'a> Pass<'a> {
    /// The writes of a pass from `live` to `graph`.
    pub(super) fn new(
        cluster: &'a Cluster,
        options: &'a Options,
        graph: &DependencyGraph,
        live: &'a LiveState,
        unfinished: BTreeMap<ObjectKey, String>,
    ) -> Pass<'a> {
        let settings = Settings {
            components: ComponentIndex::build(graph, &live.objects),
            fresh: Arc::new(Fresh::new(cluster, &options.instance, fresh::SETTLE)),
            http: Arc::default(),
            analyses: options.analyses.clone(),
            defaults: options.rollout.clone(),
            notifier: Notifier::new(options.notify.clone()),
            instance: options.instance.clone(),
            revision: options.revision.clone(),
        };
        Pass {
            cluster,
            options,
            live,
            settings,
            unfinished,
        }
    }

    fn stopped(&self, outcome: &Outcome) -> Result<(), Error> {
        if self.options.stopping() {
            return Err(Error::Stopped {
                applied: outcome.done.len(),
            });
        }
        Ok(())
    }

    /// Starts watching, from the pass's LIST, the namespaces of the Components this pass
    /// creates that a Server's weights will give traffic to, before they are created: the
    /// weights steps then see them become Available.
    pub(super) fn watch_created_components(&self, plan: &Plan) {
        let live = self.live;
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        for step in plan.steps() {
            if let Action::Weights {
                object: Object::Server(server),
                to,
                ..
            } = &step.action
            {
                let versions = self
                    .settings
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
            self.settings.fresh.follow(ns, listed, version);
        }
    }

    /// Runs the waves of `plan` in order; the failures of the first wave that has any (a later
    /// wave may depend on a failed step: the next pass resumes). Stops between waves when
    /// asked to.
    pub(super) async fn run_waves(
        &self,
        plan: &Plan,
        outcome: &mut Outcome,
    ) -> Result<Vec<Failure>, Error> {
        // Steps whose rollout has not ended, and the steps that depend on them: left for a
        // later pass (a Component is deleted only after its weight reached 0 and the rollout
        // ended).
        let mut open: BTreeSet<StepId> = BTreeSet::new();
        for wave in &plan.waves {
            self.stopped(outcome)?;
            let (ready, waiting): (Vec<&Step>, Vec<&Step>) = wave.steps.iter().partition(|step| {
                !prune::held_by_rollout(step, &self.unfinished)
                    && !step.depends_on.iter().any(|d| open.contains(d))
            });
            for step in waiting {
                open.insert(step.id);
                outcome.deferred.push(step.node.key().clone());
            }
            let failures = self.run_wave(ready, outcome, &mut open).await;
            tracing::debug!(steps = wave.steps.len(), "wave done");
            if !failures.is_empty() {
                return Ok(failures);
            }
        }
        Ok(Vec::new())
    }

    /// Runs the `ready` steps of a wave at once; records what they did in `outcome` (in the
    /// order of the plan) and the rollouts that have not ended in `open`.
    async fn run_wave(
        &self,
        ready: Vec<&Step>,
        outcome: &mut Outcome,
        open: &mut BTreeSet<StepId>,
    ) -> Vec<Failure> {
        let mut steps: Vec<BoxFuture<'_, (StepId, Result<Done, Failure>)>> = Vec::new();
        for step in ready {
            // The step's state is boxed only once it runs (see `apply::dry_run`).
            steps.push(Box::pin(async move {
                (step.id, Box::pin(self.run_step(step)).await)
            }));
        }
        let mut results = bounded(steps, self.options.concurrency).await;
        // Steps of a wave finish in any order; report them in a stable one.
        results.sort_by_key(|(id, _)| *id);
        let mut failures = Vec::new();
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
        failures
    }

    async fn run_step(&self, step: &Step) -> Result<Done, Failure> {
        let key = step.node.key().clone();
        let verb = Verb::from(&step.action);
        let fail = |reason: String| Failure {
            key: key.clone(),
            verb,
            reason,
        };
        match &step.action {
            Action::Create { object } | Action::Update { object, .. } => {
                apply::apply(self.cluster, object, false)
                    .await
                    .map_err(fail)?;
            }
            Action::Drain { .. } => {
                drive::write(self.cluster, &key, &BTreeMap::new(), None)
                    .await
                    .map_err(fail)?;
            }
            Action::Weights { object, to, .. } => {
                let driven =
                    drive::drive(self.cluster, &self.live.objects, object, to, &self.settings)
                        .await
                        .map_err(fail)?;
                return Ok(Done::Rollout(Box::new(driven)));
            }
            Action::Delete { object } => {
                prune::delete(self.cluster, &key, object)
                    .await
                    .map_err(fail)?;
            }
        }
        Ok(Done::Step(verb, key))
    }

    /// Drives the rollouts that have not ended and had no step in this pass (the last step
    /// still bakes, or waits); their failures. Stops before each when asked to.
    pub(super) async fn drive_unfinished(
        &self,
        graph: &DependencyGraph,
        outcome: &mut Outcome,
    ) -> Result<Vec<Failure>, Error> {
        let mut failures = Vec::new();
        for key in self.unfinished.keys() {
            self.stopped(outcome)?;
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
            let live = &self.live.objects;
            match drive::drive(self.cluster, live, desired, &weights, &self.settings).await {
                Ok(driven) => {
                    outcome.add_rollout(driven);
                }
                Err(reason) => failures.push(Failure {
                    key: key.clone(),
                    verb: Verb::Weights,
                    reason,
                }),
            }
        }
        Ok(failures)
    }
}
