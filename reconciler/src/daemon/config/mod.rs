//! The daemon's config file (DESIGN section 9): YAML read into raw serde structs that refuse
//! unknown keys, then checked into a typed [`Config`] with every default filled in. Only
//! `source.url` is required. Secrets are named by file or environment variable and read into a
//! [`Secret`], which never prints its value.
//!
//! - [`typed`]: the checked [`Config`], one struct per section; [`defaults`]: what an absent
//!   key means;
//! - [`raw`]: the file as serde reads it; [`check`](self::check): from raw to typed, every
//!   mistake at once;
//! - [`secret`]: [`Secret`] and where one is read from; [`urls`]: remote URLs, their kinds and
//!   their redaction.

mod check;
pub mod defaults;
mod raw;
pub mod secret;
pub mod typed;
pub mod urls;

use std::path::Path;

use model::rollout::Policy;

pub use defaults::*;
pub use secret::{Secret, SecretRef};
pub use typed::{
    ApplyConfig, Auth, ClusterConfig, Config, LeaderElectionConfig, LogConfig, LogFormat,
    NotifyConfig, Provider, RateLimit, RenderConfig, RolloutConfig, SourceConfig, UiConfig,
    WebhookConfig,
};
pub use urls::{UrlKind, redact_url, url_kind};

use super::error::{ConfigErrors, ConfigProblem, Error};
use raw::RawConfig;

impl Config {
    /// Reads and checks the config file at `path`. Relative paths in it (`tokenFile`, a local
    /// `source.url`...) are relative to the file's folder.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        });
        Config::parse(&text, base).map_err(|e| match e {
            Error::Config(mut errors) => {
                errors.file = Some(path.to_owned());
                Error::Config(errors)
            }
            other => other,
        })
    }

    /// Checks the config in `text`; relative paths are resolved against `base` when given.
    /// Every mistake is reported, not only the first: unknown keys and wrong types by the YAML
    /// reader (one at a time, since it stops there), then every rule of the checked config.
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Config, Error> {
        let fail = |problems: Vec<ConfigProblem>| {
            Error::Config(ConfigErrors {
                file: None,
                problems,
            })
        };
        let is_empty = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
        if is_empty {
            return Err(fail(vec![ConfigProblem {
                key: String::new(),
                message: "the config is empty; it needs at least `source.url`".into(),
            }]));
        }
        let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
            fail(vec![ConfigProblem {
                key: String::new(),
                message: yaml_message(&e),
            }])
        })?;
        check::check(raw, base).map_err(fail)
    }

    /// The rollout policy of a Server without annotations: `rollout.*` over the built-in
    /// defaults.
    pub fn rollout_defaults(&self) -> &Policy {
        &self.rollout.defaults
    }
}

/// serde_yaml's message, which already names the key path (`source.auth: unknown field
/// `tokenfile`, expected one of ...`), with a hint for the most common mistakes.
fn yaml_message(e: &serde_yaml::Error) -> String {
    let msg = e.to_string();
    if msg.contains("missing field `source`") {
        format!("{msg}; the config needs `source.url`, the Git repository to follow")
    } else {
        msg
    }
}
