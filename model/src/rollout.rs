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

/// The one error type of the crate: a rollout annotation with a value that cannot be used.
/// (The name and value checks of [`crate::names`] and [`crate::duration`] return their reason
/// as text, which the caller turns into a diagnostic or a configuration problem.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
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
        annotations: &crate::StringMap,
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

/// Integer weights of a transition step: `W(a) = (1-a)·B̂ + a·T̂` where `B̂` and `T̂` are the
/// normalized baseline and target and `a = percent / 100`.
///
/// The result is scaled to integers that add up to exactly `max(ΣB, ΣT, 100)` (the largest
/// remainder method, exact integer arithmetic, ties broken by version order), so that every
/// step of one transition keeps the same total; at 100 percent the target is returned as
/// written. A version whose share is 0 gets weight 0, never a positive rounding. With an empty
/// or all-zero baseline there is no traffic to shift and the target is returned at once.
pub fn step_weights(
    baseline: &BTreeMap<String, i32>,
    target: &BTreeMap<String, i32>,
    percent: u32,
) -> BTreeMap<String, i32> {
    let sum = |m: &BTreeMap<String, i32>| m.values().map(|&w| i128::from(w.max(0))).sum::<i128>();
    let (sum_b, sum_t) = (sum(baseline), sum(target));
    if percent >= 100 || sum_b == 0 || sum_t == 0 {
        return target.clone();
    }
    let p = i128::from(percent);
    let total = sum_b.max(sum_t).max(100);
    let den = 100 * sum_b * sum_t;
    let mut versions: Vec<&String> = baseline.keys().chain(target.keys()).collect();
    versions.sort();
    versions.dedup();
    let mut parts: Vec<(&String, i128, i128)> = versions
        .into_iter()
        .map(|v| {
            let b = i128::from(baseline.get(v).copied().unwrap_or(0).max(0));
            let t = i128::from(target.get(v).copied().unwrap_or(0).max(0));
            let num = total * ((100 - p) * b * sum_t + p * t * sum_b);
            (v, num / den, num % den)
        })
        .collect();
    let mut left = total - parts.iter().map(|(_, q, _)| q).sum::<i128>();
    // Hand the units lost to flooring to the largest remainders; a zero remainder never
    // receives one, so a version without share stays at 0.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].2.cmp(&parts[a].2).then(a.cmp(&b)));
    for i in order {
        if left == 0 || parts[i].2 == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|(v, q, _)| (v.clone(), i32::try_from(q).unwrap_or(i32::MAX)))
        .collect()
}

/// The weight vector of every step of a transition from `baseline` to `target`, one per entry
/// of `steps` (percent of the transition), each computed by [`step_weights`]. A target equal to
/// the baseline, or a transition without live traffic, is one step: the target.
pub fn transition(
    baseline: &BTreeMap<String, i32>,
    target: &BTreeMap<String, i32>,
    steps: &[u32],
) -> Vec<(u32, BTreeMap<String, i32>)> {
    let live = baseline.values().any(|&w| w > 0);
    if !live || same_shares(baseline, target) {
        return vec![(100, target.clone())];
    }
    steps
        .iter()
        .map(|&p| (p, step_weights(baseline, target, p)))
        .collect()
}

/// Whether two weight maps give every version the same share of traffic.
pub fn same_shares(a: &BTreeMap<String, i32>, b: &BTreeMap<String, i32>) -> bool {
    let sum = |m: &BTreeMap<String, i32>| m.values().map(|&w| i128::from(w.max(0))).sum::<i128>();
    let (sa, sb) = (sum(a), sum(b));
    if sa == 0 || sb == 0 {
        return sa == sb;
    }
    a.keys().chain(b.keys()).all(|v| {
        let wa = i128::from(a.get(v).copied().unwrap_or(0).max(0));
        let wb = i128::from(b.get(v).copied().unwrap_or(0).max(0));
        wa * sb == wb * sa
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()
    }

    #[test]
    fn two_version_transition_keeps_the_total() {
        let b = w(&[("1.0.0", 100)]);
        let t = w(&[("1.1.0", 100)]);
        let steps = transition(&b, &t, &[10, 25, 50, 100]);
        let got: Vec<(u32, Vec<i32>)> = steps
            .iter()
            .map(|(p, m)| {
                (
                    *p,
                    vec![
                        m.get("1.0.0").copied().unwrap_or(0),
                        m.get("1.1.0").copied().unwrap_or(0),
                    ],
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (10, vec![90, 10]),
                (25, vec![75, 25]),
                (50, vec![50, 50]),
                (100, vec![0, 100])
            ]
        );
    }

    #[test]
    fn three_versions_and_uneven_totals() {
        let b = w(&[("1.0.0", 2), ("1.1.0", 1)]);
        let t = w(&[("1.1.0", 1), ("2.0.0", 3)]);
        for p in [1, 10, 33, 50, 99] {
            let s = step_weights(&b, &t, p);
            assert_eq!(s.values().sum::<i32>(), 100, "{p}: {s:?}");
        }
        let s = step_weights(&b, &t, 50);
        // Exact shares at 50%: 1.0.0 = 1/3, 1.1.0 = 1/6 + 1/8, 2.0.0 = 3/8.
        assert_eq!(s, w(&[("1.0.0", 33), ("1.1.0", 29), ("2.0.0", 38)]));
        assert_eq!(step_weights(&b, &t, 100), t);
    }

    #[test]
    fn no_version_without_share_gets_traffic() {
        let b = w(&[("1.0.0", 1000), ("0.9.0", 0)]);
        let t = w(&[("1.1.0", 1000), ("0.9.0", 0)]);
        let s = step_weights(&b, &t, 1);
        assert_eq!(s["0.9.0"], 0);
        assert_eq!(s.values().sum::<i32>(), 1000);
    }

    #[test]
    fn equal_shares_and_no_live_traffic_apply_at_once() {
        let b = w(&[("1.0.0", 50), ("1.1.0", 50)]);
        let t = w(&[("1.0.0", 1), ("1.1.0", 1)]);
        assert_eq!(transition(&b, &t, &[10, 100]), vec![(100, t.clone())]);
        assert_eq!(transition(&BTreeMap::new(), &t, &[10, 100]), vec![(100, t)]);
    }

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
        let mut a = crate::StringMap::new();
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
