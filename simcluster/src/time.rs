//! Timestamps as Kubernetes writes them in metadata and conditions (RFC 3339 in UTC, seconds
//! precision, `Z`: `2006-01-02T15:04:05Z`), and the short ages (`5m`, `2d`) that `kubectl get`
//! shows. The simulated cluster writes no MicroTime (`...05.000000Z`): the Lease and Event times
//! that have one are written by clients and stored as sent.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// `2024-05-01T12:00:00Z` for the given Unix seconds (the epoch for seconds outside chrono's
/// range of about ±262,000 years).
pub fn rfc3339(secs: i64) -> String {
    format(DateTime::from_timestamp(secs, 0).unwrap_or_default())
}

/// The current time as RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    format(Utc::now())
}

fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) into Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// Whether `s` is an RFC 3339 date-time.
pub fn is_rfc3339(s: &str) -> bool {
    parse_rfc3339(s).is_some()
}

/// The age `kubectl` prints: `45s`, `5m`, `3h`, `2d`, `1y`.
pub fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s}s"),
        120..7_200 => format!("{}m", s / 60),
        7_200..172_800 => format!("{}h", s / 3600),
        172_800..31_536_000 => format!("{}d", s / 86_400),
        _ => format!("{}y", s / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2000-02-29T01:00:00.123+01:00"),
            Some(951_782_400)
        );
        assert!(!is_rfc3339("2000-02-29"));
        assert!(!is_rfc3339("yesterday"));
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(Duration::from_secs(59)), "59s");
        assert_eq!(human_age(Duration::from_secs(600)), "10m");
        assert_eq!(human_age(Duration::from_secs(3 * 86_400)), "3d");
    }
}
