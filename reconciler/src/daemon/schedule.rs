//! When scheduled syncs fire: a cron expression (5 fields as in crontab, or 6 with seconds
//! first) in UTC, plus a random delay so that many daemons on one schedule do not hit the Git
//! server in the same second.
//!
//! Day-of-week numbers follow crontab(5): 0 and 7 are Sunday, 1 is Monday. The `cron` crate
//! counts 1 = Sunday, so numbers are translated to names before it sees them. As in the `cron`
//! crate, a day must match both the day-of-month and the day-of-week fields when both are
//! restricted (crontab matches either).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A cron expression, parsed once, with the jitter added to each fire.
#[derive(Clone, Debug)]
pub struct Schedule {
    expr: String,
    cron: cron::Schedule,
    jitter: Duration,
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses a 5-field (`min hour dom month dow`, seconds 0) or 6-field (`sec min hour dom
    /// month dow`) expression; `jitter` is the largest random delay added to a fire time.
    pub fn parse(expr: &str, jitter: Duration) -> Result<Schedule, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let mut full: Vec<String> = match fields.len() {
            5 => std::iter::once("0")
                .chain(fields.iter().copied())
                .map(str::to_owned)
                .collect(),
            6 => fields.iter().map(|f| (*f).to_owned()).collect(),
            n => {
                return Err(format!(
                    "{expr:?} has {n} field{}; write 5 (minute hour day-of-month month day-of-week, such as \"*/5 * * * *\") or 6 (seconds first)",
                    if n == 1 { "" } else { "s" }
                ));
            }
        };
        full[5] = translate_day_of_week(&full[5]).map_err(|e| format!("{expr:?}: {e}"))?;
        let cron: cron::Schedule = full
            .join(" ")
            .parse()
            .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))?;
        if cron.upcoming(Utc).next().is_none() {
            return Err(format!("{expr:?} never fires"));
        }
        Ok(Schedule {
            expr: expr.trim().to_owned(),
            cron,
            jitter,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The largest random delay.
    pub fn jitter(&self) -> Duration {
        self.jitter
    }

    /// The first time strictly after `after` that the expression matches.
    pub fn next_after(&self, after: &DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(after).next()
    }

    /// The next fire time after `after`, delayed by `sample` (in `[0, 1)`) times the jitter.
    /// The jitter is capped at half the gap to the following fire, so that a delayed fire never
    /// passes the next one.
    pub fn next_fire(&self, after: &DateTime<Utc>, sample: f64) -> Option<DateTime<Utc>> {
        let mut upcoming = self.cron.after(after);
        let next = upcoming.next()?;
        let cap = match upcoming.next() {
            Some(following) => (following - next).to_std().unwrap_or_default() / 2,
            None => Duration::ZERO,
        };
        let jitter = self.jitter.min(cap).mul_f64(sample.clamp(0.0, 1.0));
        Some(next + chrono::Duration::from_std(jitter).unwrap_or_default())
    }

    /// [`Schedule::next_fire`] with a random sample.
    pub fn next_fire_random(&self, after: &DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_fire(after, rand::random::<f64>())
    }
}

/// Rewrites a crontab day-of-week field (0-7, names, ranges, lists, steps) as a list of names,
/// which the `cron` crate reads the same way.
fn translate_day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: usize =
                    s.parse().ok().filter(|&s| s > 0).ok_or_else(|| {
                        format!("day-of-week step {s:?} is not a positive number")
                    })?;
                (r, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (day_number(a)?, day_number(b)?)
        } else {
            let d = day_number(range)?;
            // `a/s` runs from a to the end of the week, as in crontab.
            (d, if item.contains('/') { 6 } else { d })
        };
        if start > end && end != 0 {
            return Err(format!("day-of-week range {range:?} runs backwards"));
        }
        // `5-7` and `5-0` end on Sunday, which is 0 here.
        let end = if end == 0 && start > 0 { 7 } else { end };
        let mut d = start;
        while d <= end {
            days[d % 7] = true;
            d += step;
        }
    }
    let names: Vec<&str> = (0..7).filter(|&d| days[d]).map(|d| DAY_NAMES[d]).collect();
    Ok(names.join(","))
}

/// 0-7 (0 and 7 Sunday) or a name (`mon`, `Monday`).
fn day_number(s: &str) -> Result<usize, String> {
    if let Ok(n) = s.parse::<usize>() {
        return if n <= 7 {
            Ok(n % 7)
        } else {
            Err(format!("day of week {n} is not between 0 and 7"))
        };
    }
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|name| lower.len() >= 3 && name.to_ascii_lowercase().starts_with(&lower[..3]))
        .filter(|_| {
            const FULL: [&str; 7] = [
                "sunday",
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
            ];
            FULL.iter().any(|f| f.starts_with(&lower))
        })
        .ok_or_else(|| format!("{s:?} is not a day of the week (0-7 or SUN-SAT)"))
}
