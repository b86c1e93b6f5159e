//! The rollout policy of a Server: its `rollout.vimana.host/*` annotations over the daemon's
//! defaults (DESIGN section 3).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{duration, keys};

/// How a Server's `versionWeights` changes are rolled out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Percent of the transition reached at each step; strictly increasing, ending at 100.
    pub steps: Vec<u32>,
    /// Bake time after each step.
    pub interval: Duration,
    /// Name of an analysis of the daemon configuration, run during each bake.
    pub analysis: Option<String>,
    /// Failed checks tolerated before the rollout aborts.
    pub max_failures: u32,
    /// How long a step may wait for its Components to become Available.
    pub progress_deadline: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            steps: vec![10, 25, 50, 100],
            interval: Duration::from_secs(120),
            analysis: None,
            max_failures: 1,
            progress_deadline: Duration::from_secs(600),
        }
    }
}

/// A rollout annotation with a value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The annotation key.
    pub key: &'static str,
    /// What is wrong with its value.
    pub message: String,
    /// What a valid value looks like.
    pub help: &'static str,
}

/// Parses `10,25,50,100`: percentages, strictly increasing, each in 1..=100, the last 100.
pub fn parse_steps(s: &str) -> Result<Vec<u32>, String> {
    let mut steps = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let n: u32 = part
            .parse()
            .map_err(|_| format!("{part:?} is not a whole percentage"))?;
        if n == 0 || n > 100 {
            return Err(format!("{n} is not between 1 and 100"));
        }
        if steps.last().is_some_and(|&last| n <= last) {
            return Err(format!("{n} does not increase over the step before it"));
        }
        steps.push(n);
    }
    if steps.last() != Some(&100) {
        return Err("the last step must be 100".into());
    }
    Ok(steps)
}

impl Policy {
    /// The policy of a Server with these annotations, over `defaults`. Every invalid annotation
    /// is reported, not only the first.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
        defaults: &Policy,
    ) -> Result<Policy, Vec<PolicyError>> {
        let mut policy = defaults.clone();
        let mut errors = Vec::new();
        if let Some(v) = annotations.get(keys::ROLLOUT_STEPS) {
            match parse_steps(v) {
                Ok(steps) => policy.steps = steps,
                Err(message) => errors.push(PolicyError {
                    key: keys::ROLLOUT_STEPS,
                    message,
                    help: "write increasing percentages ending at 100, such as \"10,25,50,100\"",
                }),
            }
        }
        if let Some(v) = annotations.get(keys::ROLLOUT_INTERVAL) {
            match duration::parse(v) {
                Ok(d) => policy.interval = d,
                Err(message) => errors.push(PolicyError {
                    key: keys::ROLLOUT_INTERVAL,
                    message,
                    help: "write a duration such as \"2m\" or \"90s\"",
                }),
            }
        }
        if let Some(v) = annotations.get(keys::ROLLOUT_ANALYSIS) {
            if v.trim().is_empty() {
                errors.push(PolicyError {
                    key: keys::ROLLOUT_ANALYSIS,
                    message: "it is empty".into(),
                    help: "name an analysis of the daemon configuration, or remove the annotation",
                });
            } else {
                policy.analysis = Some(v.trim().to_owned());
            }
        }
        if let Some(v) = annotations.get(keys::ROLLOUT_MAX_FAILURES) {
            match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => policy.max_failures = n,
                _ => errors.push(PolicyError {
                    key: keys::ROLLOUT_MAX_FAILURES,
                    message: format!("{v:?} is not a whole number of at least 1"),
                    help: "write a number such as \"1\" or \"3\"",
                }),
            }
        }
        if let Some(v) = annotations.get(keys::ROLLOUT_PROGRESS_DEADLINE) {
            match duration::parse(v) {
                Ok(d) if !d.is_zero() => policy.progress_deadline = d,
                Ok(_) => errors.push(PolicyError {
                    key: keys::ROLLOUT_PROGRESS_DEADLINE,
                    message: "it is zero".into(),
                    help: "write a positive duration such as \"10m\"",
                }),
                Err(message) => errors.push(PolicyError {
                    key: keys::ROLLOUT_PROGRESS_DEADLINE,
                    message,
                    help: "write a duration such as \"10m\"",
                }),
            }
        }
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(parse_steps("10,25,50,100"), Ok(vec![10, 25, 50, 100]));
        assert_eq!(parse_steps("100"), Ok(vec![100]));
        assert!(parse_steps("10,5,100").is_err());
        assert!(parse_steps("10,50").is_err());
        assert!(parse_steps("0,100").is_err());
        assert!(parse_steps("x").is_err());
    }

    #[test]
    fn annotations_override_defaults_and_report_every_error() {
        let mut a = BTreeMap::new();
        a.insert(keys::ROLLOUT_INTERVAL.to_owned(), "30s".to_owned());
        let p = Policy::from_annotations(&a, &Policy::default()).unwrap();
        assert_eq!(p.interval, Duration::from_secs(30));
        assert_eq!(p.steps, vec![10, 25, 50, 100]);
        a.insert(keys::ROLLOUT_STEPS.to_owned(), "50,10".to_owned());
        a.insert(keys::ROLLOUT_MAX_FAILURES.to_owned(), "0".to_owned());
        let errors = Policy::from_annotations(&a, &Policy::default()).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
