//! Secrets: [`Secret`], a value that never prints, and [`SecretRef`], where one is read from
//! (a file or an environment variable; the config names secrets, never holds them).

use std::fmt;
use std::path::PathBuf;

use crate::daemon::error::Error;

/// A secret value (token, webhook secret). Its `Debug` and `Display` print `<redacted>`, so it
/// cannot reach a log or an error message by accident; [`Secret::expose`] is the only way in.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from a file or variable (or given by a test).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value. Call it only where the secret is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret is read from. Read again at each use, so a rotated Kubernetes Secret is
/// picked up without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// A file; surrounding white space (a trailing newline) is not part of the secret.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl SecretRef {
    /// Reads the secret; `key` names the config key in the error (`source.auth.tokenFile`).
    pub fn read(&self, key: &str) -> Result<Secret, Error> {
        let (what, value) = match self {
            SecretRef::File(path) => {
                let what = format!("{key} {}", path.display());
                let bytes = std::fs::read(path).map_err(|e| Error::Secret {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
                let text = String::from_utf8(bytes).map_err(|_| Error::Secret {
                    what: what.clone(),
                    message: "it is not UTF-8 text".into(),
                })?;
                (what, text)
            }
            SecretRef::Env(name) => {
                let what = format!("{key} {name}");
                let value = std::env::var(name).map_err(|_| Error::Secret {
                    what: what.clone(),
                    message: "the environment variable is not set or not UTF-8".into(),
                })?;
                (what, value)
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::Secret {
                what,
                message: "it is empty".into(),
            });
        }
        Ok(Secret::new(value))
    }
}
