//! `rollout`: the default policy under each Server's annotations and the named analyses.

use std::collections::BTreeMap;

use model::rollout::Policy;

use super::problems::{Problems, http_url, parse_duration};
use crate::daemon::config::raw::{RawAnalysis, RawRollout};
use crate::daemon::config::typed::RolloutConfig;
use crate::rollout::analysis::Analysis;

pub(super) fn check_rollout(raw: RawRollout, p: &mut Problems) -> RolloutConfig {
    let mut defaults = check_policy(&raw, p);
    let analyses = check_analyses(raw.analyses.unwrap_or_default(), p);
    if let Some(name) = raw.analysis {
        if !analyses.contains_key(&name) {
            let known: Vec<&str> = analyses.keys().map(String::as_str).collect();
            p.add(
                "rollout.analysis",
                format!(
                    "{name:?} is not an analysis of rollout.analyses (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        defaults.analysis = Some(name);
    }
    RolloutConfig { defaults, analyses }
}

/// `steps`, `interval`, `progressDeadline` and `maxFailures` over the built-in policy.
fn check_policy(raw: &RawRollout, p: &mut Problems) -> Policy {
    let mut defaults = Policy::default();
    if let Some(steps) = &raw.steps {
        let text = steps
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        match model::rollout::parse_steps(&text) {
            Ok(s) => defaults.steps = s,
            Err(e) => p.add(
                "rollout.steps",
                format!(
                    "{e}; write increasing percentages ending at 100, such as [10, 25, 50, 100]"
                ),
            ),
        }
    }
    defaults.interval = parse_duration(
        "rollout.interval",
        raw.interval.clone(),
        defaults.interval,
        p,
    );
    defaults.progress_deadline = parse_duration(
        "rollout.progressDeadline",
        raw.progress_deadline.clone(),
        defaults.progress_deadline,
        p,
    );
    if defaults.progress_deadline.is_zero() {
        p.add("rollout.progressDeadline", "it must be longer than zero");
    }
    if let Some(n) = raw.max_failures {
        if n == 0 {
            p.add("rollout.maxFailures", "it must be at least 1");
        } else {
            defaults.max_failures = n;
        }
    }
    defaults
}

/// Each named analysis: a usable name, an `http(s)://` Prometheus, a query, and bounds.
fn check_analyses(
    raw: BTreeMap<String, RawAnalysis>,
    p: &mut Problems,
) -> BTreeMap<String, Analysis> {
    let mut analyses = BTreeMap::new();
    for (name, a) in raw {
        let key = format!("rollout.analyses.{name}");
        if let Err(e) = model::names::dns1123_label(&name) {
            p.add(&key, format!("{name:?} is not a usable analysis name: {e}"));
        }
        http_url(&format!("{key}.prometheus"), &a.prometheus, p);
        if a.query.trim().is_empty() {
            p.add(&format!("{key}.query"), "it is empty; write a PromQL query");
        }
        match (a.min, a.max) {
            (None, None) => p.add(
                &key,
                "give min, max or both: the bounds the query result must stay within",
            ),
            (Some(min), Some(max)) if min > max => {
                p.add(&key, format!("min {min} is greater than max {max}"));
            }
            _ => {}
        }
        for (bound, v) in [("min", a.min), ("max", a.max)] {
            if v.is_some_and(|v| !v.is_finite()) {
                p.add(&format!("{key}.{bound}"), "it must be a finite number");
            }
        }
        analyses.insert(
            name.clone(),
            Analysis {
                name,
                prometheus: a.prometheus,
                query: a.query,
                min: a.min,
                max: a.max,
            },
        );
    }
    analyses
}
