//! What a pass is asked to do ([`Options`]) and what it did ([`Outcome`]).

use std::collections::BTreeMap;

use graph::Plan;
use model::{Kind, ObjectKey, rollout};

use crate::rollout::Status;
use crate::rollout::analysis::Analysis;
use crate::rollout::drive::Driven;
use crate::stop::StopSignal;
use crate::verb::Verb;

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
    /// Objects applied at once within a wave; the commands also bound the requests in flight
    /// of the whole process to it (`cluster::throttle`).
    pub concurrency: usize,
    /// Create the namespaces of created objects when they are missing.
    pub create_namespace: bool,
    /// Git revision of the sources, recorded in the inventory.
    pub revision: Option<String>,
    /// Rollout defaults under the Servers' annotations.
    pub rollout: rollout::Policy,
    /// The analyses of the configuration, by the name a Server's annotation gives.
    pub analyses: BTreeMap<String, Analysis>,
    /// Where rollout aborts and successes are announced (webhook URLs).
    pub notify: Vec<String>,
    /// Raised when the pass must stop at its next safe point (the daemon stops, or this replica
    /// lost the leadership): between waves and before rollout steps.
    pub stop: Option<StopSignal>,
}

impl Options {
    pub(super) fn stopping(&self) -> bool {
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
            concurrency: crate::cluster::throttle::DEFAULT_MAX_IN_FLIGHT,
            create_namespace: false,
            revision: None,
            rollout: rollout::Policy::default(),
            analyses: BTreeMap::new(),
            notify: Vec::new(),
            stop: None,
        }
    }
}

/// What a pass did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Steps done, in order.
    pub done: Vec<(Verb, ObjectKey)>,
    /// Desired objects already equal to live.
    pub unchanged: usize,
    /// Deletions held back because the Component still carries traffic no step removes.
    pub withheld: Vec<ObjectKey>,
    /// Rollouts driven in this pass, with their verdicts.
    pub rollouts: Vec<Driven>,
    /// Steps left for a later pass because a rollout they wait for has not ended.
    pub deferred: Vec<ObjectKey>,
    /// The resourceVersion of the pass's LIST of each kind and namespace: a watch from it
    /// sees every change since (the daemon's drift watch starts there).
    pub versions: BTreeMap<(Kind, String), String>,
}

impl Outcome {
    /// The outcome of a pass before it writes: what the plan leaves unchanged or holds back.
    pub(super) fn planned(plan: &Plan) -> Outcome {
        Outcome {
            unchanged: plan
                .unchanged
                .iter()
                .filter(|u| matches!(u.node, graph::Node::Object(_)))
                .count(),
            withheld: plan.withheld.iter().map(|w| w.node.key().clone()).collect(),
            ..Outcome::default()
        }
    }

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
    pub(super) fn add_rollout(&mut self, driven: Driven) -> bool {
        if driven.advance.apply.is_some() {
            self.done.push((Verb::Weights, driven.key.clone()));
        }
        let succeeded = driven.advance.status == Status::Succeeded;
        self.rollouts.push(driven);
        succeeded
    }

    /// Steps done with this verb.
    pub fn count(&self, verb: Verb) -> usize {
        self.done.iter().filter(|(v, _)| *v == verb).count()
    }
}
