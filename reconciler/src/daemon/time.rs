//! Times as `/status` shows them: RFC 3339 in UTC, with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// `t` as RFC 3339 with milliseconds and a `Z` (`2024-05-01T12:00:00.000Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
