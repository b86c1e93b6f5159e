//! `log`: the format, and a level or `target=level` directives checked more strictly than
//! `tracing` reads them.

use super::problems::Problems;
use crate::daemon::config::raw::RawLog;
use crate::daemon::config::typed::LogConfig;

pub(super) fn check_log(raw: RawLog, p: &mut Problems) -> LogConfig {
    let log = LogConfig {
        format: raw.format.unwrap_or_default(),
        level: raw.level.unwrap_or_else(|| "info".into()),
    };
    if let Err(e) = check_log_level(&log.level) {
        p.add("log.level", e);
    }
    log
}

/// A level (`info`) or directives `target=level` separated by commas. Stricter than
/// `EnvFilter`, which reads a misspelt level (`infoo`) as a target and logs nothing.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    for directive in level.split(',') {
        let ok = match directive.rsplit_once('=') {
            Some((target, l)) => !target.trim().is_empty() && is_level(l),
            None => is_level(directive),
        };
        if !ok {
            return Err(format!(
                "{directive:?} is not a level or `target=level`; levels are off, error, warn, info, debug, trace"
            ));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(|_| ())
        .map_err(|e| format!("{level:?}: {e}"))
}
