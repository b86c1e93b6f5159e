//! Fault injection: error answers (500, 503, 429), added latency and dropped connections,
//! chosen at random per request by rules that match a verb and/or a resource.
//!
//! Latency stands for the time a real API server takes to answer. `latency=5ms` delays every
//! request alike (the benchmark's setting); `write-latency` gives the requests that write to
//! etcd a latency of their own, because there they cost more than reads. kube-apiserver serves
//! reads from its watch cache, while a write waits for etcd's Raft commit: "the minimum time to
//! finish an etcd request is the network Round Trip Time (RTT) between members, plus the time
//! fdatasync requires to commit the data to permanent storage", a few hundred microseconds of
//! RTT within a datacenter and an fdatasync under 1 ms on SSDs, about 10 ms on spinning disks
//! (<https://etcd.io/docs/v3.6/op-guide/performance/>). Dry runs go through admission and
//! validation but are never written, so they are not writes here. `docs/simcluster.md` has
//! the profiles.

use std::sync::Mutex;
use std::time::Duration;

use crate::error::Error;

/// One fault rule. A request matches when the verb and resource match (absent means any); a
/// matching request is delayed by `latency`, then dropped with probability `drop_rate`, else
/// answered with `error_code` with probability `error_rate`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `apply`,
    /// `delete`, `deletecollection`), or any.
    pub verb: Option<String>,
    /// Resource (`components`, `components/status`, `configmaps`), or any.
    pub resource: Option<String>,
    /// Probability in [0, 1] of an error answer.
    pub error_rate: f64,
    /// The status answered: 500, 503 or 429 (the last two with `Retry-After: 1`).
    pub error_code: u16,
    /// Delay added before answering (or dropping), whether or not a fault follows.
    pub latency: Duration,
    /// Delay of the requests that write to etcd (create, update, patch, apply, delete and
    /// deletecollection, but not their dry runs) in place of `latency`; `None` means `latency`.
    pub write_latency: Option<Duration>,
    /// Probability in [0, 1] of dropping the connection without an answer.
    pub drop_rate: f64,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            verb: None,
            resource: None,
            error_rate: 0.0,
            error_code: 500,
            latency: Duration::ZERO,
            write_latency: None,
            drop_rate: 0.0,
        }
    }
}

impl FaultRule {
    /// Parses `verb=list,resource=components,error=503,rate=0.5,latency=100ms,drop=0.1`, and
    /// `write-latency=8ms` (every key optional; `error` without `rate` means every matching
    /// request fails).
    pub fn parse(s: &str) -> Result<FaultRule, Error> {
        let mut rule = FaultRule::default();
        let mut rate_given = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                Error::Config(format!("fault {s:?}: expected key=value, got {part:?}"))
            })?;
            let bad = |what: &str| Error::Config(format!("fault {s:?}: {what}"));
            match k.trim() {
                "verb" => rule.verb = Some(v.trim().to_owned()),
                "resource" => rule.resource = Some(v.trim().to_owned()),
                "error" => {
                    rule.error_code = v
                        .trim()
                        .parse()
                        .map_err(|_| bad("error must be 500, 503 or 429"))?;
                    if !matches!(rule.error_code, 500 | 503 | 429) {
                        return Err(bad("error must be 500, 503 or 429"));
                    }
                    if !rate_given {
                        rule.error_rate = 1.0;
                    }
                }
                "rate" => {
                    rule.error_rate =
                        probability(v).ok_or_else(|| bad("rate must be in [0, 1]"))?;
                    rate_given = true;
                }
                "drop" => {
                    rule.drop_rate = probability(v).ok_or_else(|| bad("drop must be in [0, 1]"))?
                }
                "latency" => {
                    rule.latency = model::duration::parse(v.trim())
                        .map_err(|e| bad(&format!("latency: {e}")))?;
                }
                "write-latency" => {
                    rule.write_latency = Some(
                        model::duration::parse(v.trim())
                            .map_err(|e| bad(&format!("write-latency: {e}")))?,
                    );
                }
                other => {
                    return Err(bad(&format!(
                        "unknown key {other:?}; use verb, resource, error, rate, latency, write-latency, drop"
                    )));
                }
            }
        }
        Ok(rule)
    }

    fn matches(&self, verb: &str, resource: &str) -> bool {
        self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
    }
}

fn probability(v: &str) -> Option<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
}

/// What to do to one request: the longest latency of the rules it matches, and the fault of
/// the first matching rule whose dice say so.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Wait this long first.
    pub latency: Duration,
    /// Then fail this way, or answer normally when `None`.
    pub fault: Option<Fault>,
}

/// An injected failure, in place of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A `Status` answer with this code (500, 503, 429).
    Error(u16),
    /// Abort the connection without an answer.
    Drop,
}

/// The current rules and a deterministic random source.
#[derive(Debug)]
pub struct Faults {
    state: Mutex<(Vec<FaultRule>, u64)>,
}

impl Faults {
    /// Faults with these rules; the same `seed` gives the same faults to the same requests.
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Faults {
        Faults {
            state: Mutex::new((rules, seed)),
        }
    }

    /// Replaces the rules; the random sequence goes on.
    pub fn set(&self, rules: Vec<FaultRule>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = rules;
    }

    /// Rolls the dice for one request; `write` says whether it writes to etcd (a write verb,
    /// not a dry run).
    pub fn decide(&self, verb: &str, resource: &str, write: bool) -> Decision {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (rules, seed) = &mut *guard;
        let mut decision = Decision {
            latency: Duration::ZERO,
            fault: None,
        };
        for rule in rules.iter().filter(|r| r.matches(verb, resource)) {
            let latency = match rule.write_latency {
                Some(w) if write => w,
                _ => rule.latency,
            };
            decision.latency = decision.latency.max(latency);
            if decision.fault.is_some() {
                continue;
            }
            if rule.drop_rate > 0.0 && next_unit(seed) < rule.drop_rate {
                decision.fault = Some(Fault::Drop);
            } else if rule.error_rate > 0.0 && next_unit(seed) < rule.error_rate {
                decision.fault = Some(Fault::Error(rule.error_code));
            }
        }
        decision
    }
}

/// A uniform number in [0, 1) from a splitmix64 sequence.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let r = FaultRule::parse("verb=list,resource=components,error=503,rate=0.25,latency=100ms")
            .unwrap();
        assert_eq!(r.verb.as_deref(), Some("list"));
        assert_eq!(r.error_code, 503);
        assert_eq!(r.error_rate, 0.25);
        assert_eq!(r.latency, Duration::from_millis(100));
        assert_eq!(FaultRule::parse("error=429").unwrap().error_rate, 1.0);
        assert!(FaultRule::parse("error=404").is_err());
        assert!(FaultRule::parse("rate=2").is_err());
        assert!(FaultRule::parse("colour=red").is_err());
        assert!(FaultRule::parse("write-latency=fast").is_err());
    }

    #[test]
    fn writes_wait_their_own_latency_and_reads_the_common_one() {
        let f = Faults::new(
            vec![FaultRule::parse("latency=5ms,write-latency=8ms").unwrap()],
            7,
        );
        assert_eq!(
            f.decide("get", "components", false).latency,
            Duration::from_millis(5)
        );
        assert_eq!(
            f.decide("apply", "components", true).latency,
            Duration::from_millis(8)
        );
        // A dry run of a write is not written to etcd.
        assert_eq!(
            f.decide("apply", "components", false).latency,
            Duration::from_millis(5)
        );
        let uniform = Faults::new(vec![FaultRule::parse("latency=5ms").unwrap()], 7);
        assert_eq!(
            uniform.decide("apply", "components", true).latency,
            Duration::from_millis(5)
        );
    }

    #[test]
    fn rates_are_honoured_roughly_and_rules_match_by_verb() {
        let f = Faults::new(
            vec![FaultRule::parse("verb=get,error=500,rate=0.5").unwrap()],
            7,
        );
        let failed = (0..2000)
            .filter(|_| f.decide("get", "configmaps", false).fault.is_some())
            .count();
        assert!((800..1200).contains(&failed), "{failed}");
        assert_eq!(f.decide("list", "configmaps", false).fault, None);
    }
}
