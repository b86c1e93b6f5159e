//! Whether a live Component is Available: its `Available` condition, read for the object's
//! current generation (a condition about an older generation says nothing yet).

use std::fmt;

use model::keys;
use serde_json::Value;

/// Whether a live object is Available for its current generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Not in the cluster.
    Missing,
    /// `Available=True` for the current generation.
    Available,
    /// Anything else, described.
    Not(String),
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Missing => f.write_str("missing"),
            Availability::Available => f.write_str("Available"),
            Availability::Not(why) => f.write_str(why),
        }
    }
}

/// The `Available` condition of a live object, and whether it is about the object's current
/// generation (a condition or object without a generation counts as current).
fn available_condition(raw: &Value) -> Option<(&Value, bool)> {
    let generation = raw.pointer("/metadata/generation").and_then(Value::as_i64);
    let c = raw
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == keys::CONDITION_AVAILABLE))?;
    let observed = c["observedGeneration"].as_i64();
    Some((
        c,
        generation.is_none() || observed.is_none() || observed == generation,
    ))
}

/// Reads the `Available` condition of a live object.
pub fn availability(raw: &Value) -> Availability {
    let Some((c, current)) = available_condition(raw) else {
        return Availability::Not("no Available condition yet".into());
    };
    if !current {
        return Availability::Not(format!(
            "Available reported for generation {}, current is {}",
            c["observedGeneration"].as_i64().unwrap_or_default(),
            raw.pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or_default()
        ));
    }
    match c["status"].as_str() {
        Some("True") => Availability::Available,
        other => Availability::Not(format!(
            "Available={}: {} {}",
            other.unwrap_or("?"),
            c["reason"].as_str().unwrap_or_default(),
            c["message"].as_str().unwrap_or_default()
        )),
    }
}

/// Whether a live object's `Available` condition is a verdict (`True` or `False`) for its
/// current generation, rather than still to come.
pub fn settled(raw: &Value) -> bool {
    available_condition(raw).is_some_and(|(c, current)| {
        current && matches!(c["status"].as_str(), Some("True" | "False"))
    })
}
