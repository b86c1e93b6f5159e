//! `schedule`: a cron expression, `off`, or `{ cron, jitter }`.

use super::problems::{Problems, parse_duration};
use crate::daemon::config::defaults::{DEFAULT_JITTER, DEFAULT_SCHEDULE};
use crate::daemon::schedule::Schedule;

pub(super) fn check_schedule(raw: Option<serde_yaml::Value>, p: &mut Problems) -> Option<Schedule> {
    use serde_yaml::Value;
    let (expr, jitter) = match raw {
        None => (DEFAULT_SCHEDULE.to_owned(), None),
        Some(Value::String(s)) => (s, None),
        Some(Value::Mapping(m)) => {
            let mut expr = None;
            let mut jitter = None;
            for (k, v) in m {
                match (k.as_str(), v) {
                    (Some("cron"), Value::String(s)) => expr = Some(s),
                    (Some("jitter"), Value::String(s)) => jitter = Some(s),
                    (Some(key @ ("cron" | "jitter")), _) => {
                        p.add(&format!("schedule.{key}"), "expected a string");
                    }
                    (Some(other), _) => p.add(
                        &format!("schedule.{other}"),
                        "unknown key; expected `cron` or `jitter`",
                    ),
                    (None, _) => p.add("schedule", "keys must be strings"),
                }
            }
            match expr {
                Some(e) => (e, jitter),
                None => {
                    p.add(
                        "schedule.cron",
                        "missing; write a cron expression such as \"*/5 * * * *\"",
                    );
                    return None;
                }
            }
        }
        Some(_) => {
            p.add(
                "schedule",
                "expected a cron expression such as \"*/5 * * * *\", `off`, or { cron: ..., jitter: 15s }",
            );
            return None;
        }
    };
    if matches!(expr.trim(), "off" | "never") {
        return None;
    }
    let jitter = parse_duration("schedule.jitter", jitter, DEFAULT_JITTER, p);
    match Schedule::parse(&expr, jitter) {
        Ok(s) => Some(s),
        Err(e) => {
            p.add("schedule", e);
            None
        }
    }
}
