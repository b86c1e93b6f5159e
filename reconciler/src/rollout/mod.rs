//! The rollout engine (DESIGN section 7): moves a Server's traffic from its live weights B to
//! the desired weights T through the policy's steps, `W(a) = (1-a)·B + a·T`, gated on the
//! availability of every version that would receive traffic, baked for `interval` after each
//! step with an optional Prometheus analysis, and rolled back to B on failure.
//!
//! The engine is a state machine whose state lives in the Server annotation
//! `reconciler.vimana.host/rollout` and is written in the same server-side apply as the weights,
//! so a process killed at any moment resumes where it was. [`advance`] is one transition: it
//! reads the state and the clock, asks a [`Probe`] for availability or analysis only when the
//! step needs it, and says which weights to apply, what state to record and when to come back.
//! Nothing here sleeps or polls; the caller wakes up at [`Advance::wake`].

pub mod analysis;
pub mod control;
pub mod drive;
mod state;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use model::rollout::{self as weights_math, Policy};

pub use self::state::{Measurement, Phase, State, Verdict, digest, time_text};

/// A Server's `spec.versionWeights`.
pub type Weights = BTreeMap<String, i32>;

/// How often a step that waits (for availability, for analysis data) looks again, at most.
pub const RECHECK: Duration = Duration::from_secs(10);

/// When a step that has waited `waited` looks again: soon at first (200 ms: a Component often becomes
/// Available within seconds), then less often, at most every [`RECHECK`]; the number of looks
/// grows with the logarithm of the wait, not with its length.
pub fn recheck(waited: chrono::Duration) -> Duration {
    let half = waited.to_std().unwrap_or_default() / 2;
    half.clamp(Duration::from_millis(200), RECHECK)
}

/// What the engine needs to know from outside.
pub trait Probe: Send + Sync {
    /// Which of `versions` have their Component present and Available for its current
    /// generation; the value describes the others.
    fn unavailable<'a>(
        &'a self,
        versions: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, String>>;
    /// Runs the analysis for `versions`.
    fn analyze<'a>(&'a self, versions: &'a [String]) -> BoxFuture<'a, Vec<Measurement>>;
}

/// A manual request read from the Server's annotations (`reconciler rollout ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Go to the target at once.
    Promote,
    /// Roll back to the baseline now.
    Abort,
    /// Try an aborted target again.
    Retry,
}

/// Everything one transition looks at.
pub struct Input<'a> {
    /// The time the transition is made at: read by the caller, so that the engine is a
    /// function of its input.
    pub now: DateTime<Utc>,
    /// The live weights.
    pub live: &'a Weights,
    /// The desired weights.
    pub desired: &'a Weights,
    /// The recorded state, if any.
    pub state: Option<State>,
    /// The Server's rollout policy.
    pub policy: &'a Policy,
    /// Whether an analysis is configured for the Server.
    pub analysis: bool,
    /// Git revision of the desired weights.
    pub revision: Option<&'a str>,
    /// Whether the Server is paused by `reconciler rollout pause`.
    pub paused: bool,
    /// A manual request with its id, if one is pending.
    pub request: Option<(String, Request)>,
}

/// How a transition ended, for reports and metrics.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// No rollout: live weights already give the desired shares.
    Idle,
    /// A step was applied, or a bake is running.
    Progressing,
    /// Waiting for something (availability, analysis data), with the reason.
    Waiting(String),
    /// Paused by hand.
    Paused,
    /// The target is live.
    Succeeded,
    /// Rolled back, with the reason.
    Aborted(String),
    /// The target was aborted before and is not retried yet, with the reason.
    Held(String),
}

impl Status {
    /// A one-word name: `idle`, `progressing`, `waiting`, `paused`, `succeeded`, `aborted`,
    /// `held`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Progressing => "progressing",
            Status::Waiting(_) => "waiting",
            Status::Paused => "paused",
            Status::Succeeded => "succeeded",
            Status::Aborted(_) => "aborted",
            Status::Held(_) => "held",
        }
    }

    /// The reason of a wait, an abort or a hold.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Waiting(r) | Status::Aborted(r) | Status::Held(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the rollout still needs passes.
    pub fn in_progress(&self) -> bool {
        matches!(self, Status::Progressing | Status::Waiting(_))
    }
}

/// The result of one transition.
#[derive(Clone, Debug)]
pub struct Advance {
    /// Weights to apply now, if they change.
    pub apply: Option<Weights>,
    /// State to record (written with the weights); `None` leaves the annotation as it is.
    pub state: Option<State>,
    /// When to look again.
    pub wake: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: Status,
}

impl Advance {
    fn idle() -> Advance {
        Advance {
            apply: None,
            state: None,
            wake: None,
            status: Status::Idle,
        }
    }
}

fn positive(w: &Weights) -> Vec<String> {
    w.iter()
        .filter(|(_, x)| **x > 0)
        .map(|(v, _)| v.clone())
        .collect()
}

fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or_default()
}

/// One transition of a Server's rollout: a held target stays held, a target already live ends
/// the rollout; otherwise the running rollout (or a new one) obeys a manual request or a pause,
/// then its current step bakes and is analysed before the next step.
pub async fn advance(input: Input<'_>, probe: &dyn Probe) -> Advance {
    let Input {
        now,
        live,
        desired,
        state,
        policy,
        analysis,
        revision,
        paused,
        request,
    } = input;
    let target_digest = digest(desired);
    let request =
        request.filter(|(id, _)| state.as_ref().and_then(|s| s.handled.as_ref()) != Some(id));
    let state = match unless_held(state, request.as_ref(), &target_digest, revision) {
        ControlFlow::Continue(state) => state,
        ControlFlow::Break(held) => return held,
    };
    if weights_math::same_shares(live, desired) && !in_final_bake(state.as_ref(), &target_digest) {
        return target_reached(state, &target_digest, request);
    }
    let target = Target {
        now,
        live,
        desired,
        policy,
        revision,
        digest: &target_digest,
    };
    let mut s = match running_or_new(state, &target) {
        ControlFlow::Continue(s) => s,
        ControlFlow::Break(reverted) => return reverted,
    };
    if let Some((id, req)) = &request {
        s.handled = Some(id.clone());
        match req {
            Request::Abort => {
                return abort(s, now, "aborted by hand (reconciler rollout abort)".into());
            }
            Request::Promote => {
                let last = s.steps.len() - 1;
                return step_to(s, last, now, policy, probe).await;
            }
            Request::Retry => {}
        }
    }
    if paused {
        let changed = s.phase != Phase::Paused;
        s.phase = Phase::Paused;
        return Advance {
            apply: None,
            state: changed.then_some(s),
            wake: None,
            status: Status::Paused,
        };
    }
    if s.phase == Phase::Paused {
        // Resumed: the bake of the current step starts again.
        s.phase = Phase::Progressing;
        s.step_started_at = now;
    }
    match s.step {
        Some(k) => after_step(s, k, now, policy, analysis, probe).await,
        None if !s.baseline.values().any(|w| *w > 0) => first_weights(s, now, policy, probe).await,
        None => step_to(s, 0, now, policy, probe).await,
    }
}

/// What a new rollout is made from.
struct Target<'a> {
    now: DateTime<Utc>,
    live: &'a Weights,
    desired: &'a Weights,
    policy: &'a Policy,
    revision: Option<&'a str>,
    digest: &'a str,
}

/// The state, unless it holds this very target as aborted: an aborted target is not retried
/// until Git changes or a retry is asked for (which starts over).
fn unless_held(
    state: Option<State>,
    request: Option<&(String, Request)>,
    target_digest: &str,
    revision: Option<&str>,
) -> ControlFlow<Advance, Option<State>> {
    match &state {
        Some(s)
            if s.phase == Phase::Aborted
                && s.target_digest == target_digest
                && s.revision.as_deref() == revision =>
        {
            match request {
                Some((_, Request::Retry)) => ControlFlow::Continue(None),
                _ => ControlFlow::Break(Advance {
                    status: Status::Held(s.reason.clone().unwrap_or_default()),
                    ..Advance::idle()
                }),
            }
        }
        _ => ControlFlow::Continue(state),
    }
}

/// Whether the last step of a running rollout to this target still bakes (and is analysed)
/// before it succeeds, although its weights are live.
fn in_final_bake(state: Option<&State>, target_digest: &str) -> bool {
    state.is_some_and(|s| {
        s.target_digest == target_digest
            && matches!(s.phase, Phase::Progressing | Phase::Paused)
            && s.step == Some(s.steps.len() - 1)
    })
}

/// The target is live: records the end of a rollout that reached it.
fn target_reached(
    state: Option<State>,
    target_digest: &str,
    request: Option<(String, Request)>,
) -> Advance {
    match state {
        Some(mut s) if s.phase != Phase::Succeeded && s.target_digest == target_digest => {
            s.phase = Phase::Succeeded;
            s.reason = None;
            s.waiting_since = None;
            if let Some((id, _)) = request {
                s.handled = Some(id);
            }
            Advance {
                apply: None,
                state: Some(s),
                wake: None,
                status: Status::Succeeded,
            }
        }
        _ => Advance::idle(),
    }
}

/// The rollout running towards the target, or a new one. A new target that is the baseline of
/// the running rollout is applied at once (a fast revert: the baseline's versions carried
/// traffic a moment ago), and ends the transition.
fn running_or_new(state: Option<State>, t: &Target<'_>) -> ControlFlow<Advance, State> {
    match state {
        Some(s)
            if s.target_digest == t.digest
                && matches!(s.phase, Phase::Progressing | Phase::Paused) =>
        {
            ControlFlow::Continue(s)
        }
        previous => {
            if let Some(p) = &previous
                && matches!(p.phase, Phase::Progressing | Phase::Paused)
                && weights_math::same_shares(&p.baseline, t.desired)
            {
                let mut done = new_state(t);
                done.phase = Phase::Succeeded;
                done.reason =
                    Some("reverted to the baseline of the previous rollout at once".into());
                return ControlFlow::Break(Advance {
                    apply: Some(t.desired.clone()),
                    state: Some(done),
                    wake: None,
                    status: Status::Succeeded,
                });
            }
            let mut fresh = new_state(t);
            fresh.handled = previous.and_then(|p| p.handled);
            // No live traffic to shift: the target at once, once its versions are available,
            // with no bake (there is nothing to protect).
            if !t.live.values().any(|w| *w > 0) {
                fresh.steps = vec![100];
            }
            ControlFlow::Continue(fresh)
        }
    }
}

/// After step `k` was applied: its bake, then its analysis, then the next step or the end.
async fn after_step(
    mut s: State,
    k: usize,
    now: DateTime<Utc>,
    policy: &Policy,
    analysis: bool,
    probe: &dyn Probe,
) -> Advance {
    let bake_end = s.bake_end(policy.interval);
    if now < bake_end {
        return Advance {
            apply: None,
            state: None,
            wake: Some(bake_end),
            status: Status::Progressing,
        };
    }
    if analysis && !s.analysis_passed {
        s = match analyse(s, now, policy, probe).await {
            ControlFlow::Continue(passed) => passed,
            ControlFlow::Break(waiting_or_aborted) => return waiting_or_aborted,
        };
    }
    if k + 1 == s.steps.len() {
        s.phase = Phase::Succeeded;
        s.reason = None;
        return Advance {
            apply: None,
            state: Some(s),
            wake: None,
            status: Status::Succeeded,
        };
    }
    step_to(s, k + 1, now, policy, probe).await
}

/// Measures the versions the current step gives more traffic than the baseline did. The state
/// with the analysis passed, or the end of the transition: another bake after a failure, a
/// wait for data, or the abort once failures reach `max-failures` or data misses the progress
/// deadline.
async fn analyse(
    mut s: State,
    now: DateTime<Utc>,
    policy: &Policy,
    probe: &dyn Probe,
) -> ControlFlow<Advance, State> {
    let canaries: Vec<String> = positive(&s.current_weights())
        .into_iter()
        .filter(|v| s.current_weights().get(v) > s.baseline.get(v).or(Some(&0)))
        .collect();
    let measured = probe.analyze(&canaries).await;
    let count = |v: Verdict| measured.iter().filter(|m| m.outcome == v).count();
    let (failed, missing, broken) = (
        count(Verdict::Fail),
        count(Verdict::NoData),
        count(Verdict::Error),
    );
    s.measurements = measured;
    if failed > 0 {
        s.failures += 1;
        if s.failures >= policy.max_failures {
            let values = describe(&s.measurements);
            let reason = format!(
                "analysis failed {} time(s) (max-failures {}): {values}",
                s.failures, policy.max_failures
            );
            return ControlFlow::Break(abort(s, now, reason));
        }
        s.step_started_at = now;
        let wake = s.bake_end(policy.interval);
        return ControlFlow::Break(Advance {
            apply: None,
            state: Some(s),
            wake: Some(wake),
            status: Status::Waiting("analysis failed; measuring again after another bake".into()),
        });
    }
    if missing > 0 || broken > 0 {
        s.no_data += u32::try_from(missing).unwrap_or(0);
        s.errors += u32::try_from(broken).unwrap_or(0);
        let since = *s.waiting_since.get_or_insert(now);
        if now - since >= chrono::Duration::from_std(policy.progress_deadline).unwrap_or_default() {
            let values = describe(&s.measurements);
            let reason = format!(
                "no analysis result within the progress deadline {}: {values}",
                model::duration::format(policy.progress_deadline)
            );
            return ControlFlow::Break(abort(s, now, reason));
        }
        let wake = later(now, recheck(now - since).min(policy.progress_deadline));
        return ControlFlow::Break(Advance {
            apply: None,
            state: Some(s),
            wake: Some(wake),
            status: Status::Waiting("analysis has no data yet".into()),
        });
    }
    s.analysis_passed = true;
    s.waiting_since = None;
    ControlFlow::Continue(s)
}

/// The first weights of a Server without live traffic: the target at once, once its versions
/// are available, with no bake (there is nothing to protect).
async fn first_weights(
    s: State,
    now: DateTime<Utc>,
    policy: &Policy,
    probe: &dyn Probe,
) -> Advance {
    let mut a = step_to(s, 0, now, policy, probe).await;
    if a.apply.is_some()
        && let Some(s) = a.state.as_mut()
    {
        s.phase = Phase::Succeeded;
        a.wake = None;
        a.status = Status::Succeeded;
    }
    a
}

fn new_state(t: &Target<'_>) -> State {
    State {
        phase: Phase::Progressing,
        step: None,
        steps: t.policy.steps.clone(),
        step_started_at: t.now,
        baseline: t.live.clone(),
        target: t.desired.clone(),
        target_digest: t.digest.to_owned(),
        revision: t.revision.map(str::to_owned),
        failures: 0,
        errors: 0,
        no_data: 0,
        waiting_since: None,
        analysis_passed: false,
        measurements: Vec::new(),
        reason: None,
        handled: None,
    }
}

/// Applies step `index` once every version it gives traffic to is available; waits up to the
/// progress deadline, then aborts.
async fn step_to(
    mut s: State,
    index: usize,
    now: DateTime<Utc>,
    policy: &Policy,
    probe: &dyn Probe,
) -> Advance {
    let w = weights_math::step_weights(&s.baseline, &s.target, s.steps[index]);
    let versions = positive(&w);
    let unavailable = match probe.unavailable(&versions).await {
        Ok(u) => u,
        Err(e) => vec![format!("availability unknown: {e}")],
    };
    if !unavailable.is_empty() {
        let since = *s.waiting_since.get_or_insert(now);
        let deadline = chrono::Duration::from_std(policy.progress_deadline).unwrap_or_default();
        let what = unavailable.join(", ");
        if now - since >= deadline {
            return abort(
                s,
                now,
                format!(
                    "not Available within the progress deadline {}: {what}",
                    model::duration::format(policy.progress_deadline)
                ),
            );
        }
        let reason = format!("waiting for {what}");
        let changed = s.reason.as_deref() != Some(&reason);
        s.reason = Some(reason.clone());
        let wake = later(now, recheck(now - since)).min(since + deadline);
        // Waiting writes the state only when the reason changes, not on every look.
        return Advance {
            apply: None,
            state: changed.then_some(s),
            wake: Some(wake),
            status: Status::Waiting(reason),
        };
    }
    s.step = Some(index);
    s.step_started_at = now;
    s.waiting_since = None;
    s.analysis_passed = false;
    s.reason = None;
    s.phase = Phase::Progressing;
    let wake = s.bake_end(policy.interval);
    Advance {
        apply: Some(w),
        state: Some(s),
        wake: Some(wake),
        status: Status::Progressing,
    }
}

fn abort(mut s: State, _now: DateTime<Utc>, reason: String) -> Advance {
    s.phase = Phase::Aborted;
    s.reason = Some(reason.clone());
    s.waiting_since = None;
    let baseline = s.baseline.clone();
    let apply = (s.step.is_some()).then_some(baseline);
    Advance {
        apply,
        state: Some(s),
        wake: None,
        status: Status::Aborted(reason),
    }
}

fn describe(ms: &[Measurement]) -> String {
    ms.iter()
        .map(|m| match m.value {
            Some(v) => format!("{} {} = {v} ({})", m.version, m.outcome, m.detail),
            None => format!("{} {} ({})", m.version, m.outcome, m.detail),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
