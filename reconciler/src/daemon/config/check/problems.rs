//! The mistakes found while checking ([`Problems`]), and the checks that every section uses:
//! durations, relative paths and `http(s)://` URLs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::config::urls::is_http_url;
use crate::daemon::error::ConfigProblem;

/// Mistakes found while checking, collected so that all are reported at once.
#[derive(Default)]
pub(super) struct Problems(Vec<ConfigProblem>);

impl Problems {
    /// Records that `key` is wrong, and why.
    pub(super) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// `config` when nothing was found wrong, else every mistake.
    pub(super) fn into_result<T>(self, config: T) -> Result<T, Vec<ConfigProblem>> {
        if self.0.is_empty() {
            Ok(config)
        } else {
            Err(self.0)
        }
    }
}

/// The duration at `key`, or `default` when absent or (with a problem added) unreadable.
pub(super) fn parse_duration(
    key: &str,
    raw: Option<String>,
    default: Duration,
    p: &mut Problems,
) -> Duration {
    match raw {
        None => default,
        Some(s) => match model::duration::parse(&s) {
            Ok(d) => d,
            Err(e) => {
                p.add(key, e);
                default
            }
        },
    }
}

/// Adds a problem at `key` unless `url` is an `http://` or `https://` URL with a host.
pub(super) fn http_url(key: &str, url: &str, p: &mut Problems) {
    if !is_http_url(url) {
        p.add(key, format!("{url:?} is not an http:// or https:// URL"));
    }
}

/// `path`, relative to `base` (the config file's folder) when it is relative.
pub(super) fn resolve(base: Option<&Path>, path: PathBuf) -> PathBuf {
    match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path,
    }
}
