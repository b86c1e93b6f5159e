//! The state of a rollout, as kept in the Server annotation `reconciler.vimana.host/rollout`
//! and written with the weights: its phase and steps, the baseline and target weights, the
//! analysis measurements, and why it waits or ended. A damaged annotation reads as none.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use model::rollout as weights_math;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Weights;

/// Phase of a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Moving through the steps.
    Progressing,
    /// Stopped by `reconciler rollout pause`; resumes on `resume`.
    Paused,
    /// The target weights are live.
    Succeeded,
    /// Rolled back to the baseline; the target is not retried until Git changes or
    /// `reconciler rollout retry`.
    Aborted,
}

/// One analysis measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// The version measured.
    pub version: String,
    /// The value, when there was one.
    pub value: Option<f64>,
    /// What the value says about the version.
    pub outcome: Verdict,
    /// Details (the threshold, the error).
    pub detail: String,
}

/// What a measurement says, as recorded in the rollout state (`pass`, `fail`, `no-data`,
/// `error`). Only `Fail` counts towards `max-failures`; no data and errors hold the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Within the thresholds.
    Pass,
    /// Outside them.
    Fail,
    /// The query returned no sample.
    NoData,
    /// The query could not be made or answered.
    Error,
}

impl Verdict {
    /// The word recorded and shown: `pass`, `fail`, `no-data`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NoData => "no-data",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a rollout, as kept in the Server annotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Where the rollout is: moving, paused or ended.
    pub phase: Phase,
    /// Index of the last applied step in `steps`; `None` before the first.
    pub step: Option<usize>,
    /// Percent of the transition at each step.
    pub steps: Vec<u32>,
    /// When the last step was applied (or the rollout started).
    pub step_started_at: DateTime<Utc>,
    /// Live weights when the rollout started.
    pub baseline: Weights,
    /// Desired weights.
    pub target: Weights,
    /// `sha256:` of the canonical target.
    pub target_digest: String,
    /// Git revision of the target, if known.
    pub revision: Option<String>,
    /// Failed analysis checks of this rollout.
    pub failures: u32,
    /// Analysis queries that could not be made (not failures; they hold the step).
    pub errors: u32,
    /// Analysis checks that found no data (not failures; they hold the step).
    pub no_data: u32,
    /// Since when the next step has been waiting (availability, analysis data).
    pub waiting_since: Option<DateTime<Utc>>,
    /// Whether the analysis of the current step has passed.
    pub analysis_passed: bool,
    /// The last measurements.
    pub measurements: Vec<Measurement>,
    /// Why the rollout ended or waits.
    pub reason: Option<String>,
    /// The last manual request handled (`promote@<id>`), so each is handled once.
    pub handled: Option<String>,
}

impl State {
    /// The state as the annotation value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("states serialize")
    }

    /// The state from an annotation value; `None` if it is absent or unreadable (a damaged
    /// state starts a new rollout from the live weights, which is always safe).
    pub fn from_annotation(value: Option<&String>) -> Option<State> {
        value.and_then(|v| serde_json::from_str(v).ok())
    }

    /// Weights applied at the current step (the baseline before the first).
    pub fn current_weights(&self) -> Weights {
        match self.step {
            None => self.baseline.clone(),
            Some(i) => weights_math::step_weights(&self.baseline, &self.target, self.steps[i]),
        }
    }

    /// When the current step's bake ends.
    pub fn bake_end(&self, interval: Duration) -> DateTime<Utc> {
        self.step_started_at + chrono::Duration::from_std(interval).unwrap_or_default()
    }
}

/// `sha256:` of canonical weights.
pub fn digest(w: &Weights) -> String {
    let text = serde_json::to_string(w).expect("weights serialize");
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// RFC 3339 text of a time, seconds precision.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
