//! The errors of the daemon: one documented enum, plus the Git error that the sync loop
//! classifies to decide how to retry. No message ever holds a secret: tokens live only in
//! [`super::Secret`], and URLs are shown without their user information.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong while the daemon starts or runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file has mistakes; every one is listed.
    #[error("{0}")]
    Config(ConfigErrors),
    /// A secret (token, webhook secret) cannot be read. The message names where it was looked
    /// for, never its value.
    #[error("cannot read {what}: {message}")]
    Secret {
        /// `source.auth.tokenFile /path`, `webhook.secretEnv NAME`...
        what: String,
        /// Why.
        message: String,
    },
    /// Fetching or reading the Git source failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The HTTP server cannot listen or failed.
    #[error("cannot serve on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The leader-election Lease could not be released (it then expires on its own).
    #[error("cannot release the Lease {lease}: {message}")]
    Lease {
        /// `namespace/name`.
        lease: String,
        /// Why.
        message: String,
    },
    /// Logging could not be set up.
    #[error("cannot set up logging: {0}")]
    Logging(String),
    /// A task of the daemon panicked or was cancelled.
    #[error("a daemon task failed: {0}")]
    Task(String),
}

/// Every mistake found in a config file, each with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file, when the config came from one.
    pub file: Option<PathBuf>,
    /// The mistakes, in file order where known.
    pub problems: Vec<ConfigProblem>,
}

/// One mistake of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key (`source.auth.tokenFile`, `rollout.analyses.error-rate.max`); empty for the
    /// whole document.
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        match &self.file {
            Some(file) => write!(f, "the config file {} has", file.display())?,
            None => write!(f, "the config has")?,
        }
        write!(f, " {n} mistake{}", if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            if p.key.is_empty() {
                write!(f, "\n  - {}", p.message)?;
            } else {
                write!(f, "\n  - {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Why a fetch failed, which decides what the loop does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GitErrorKind {
    /// The remote could not be reached or the transfer broke: retried with backoff.
    Unreachable,
    /// The remote refused the credentials, or asked for credentials none were configured for.
    Auth,
    /// The SSH host key is not in `knownHostsFile`, or differs from it.
    HostKey,
    /// The branch, tag or commit does not exist on the remote, or the path not in the commit.
    NotFound,
    /// The local cache could not be written or read, even after a fresh clone.
    Cache,
    /// A credential file or variable cannot be read.
    Credentials,
    /// The fetch took longer than `source.timeout`.
    Timeout,
}

impl GitErrorKind {
    /// The metric label of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            GitErrorKind::Unreachable => "unreachable",
            GitErrorKind::Auth => "auth",
            GitErrorKind::HostKey => "host_key",
            GitErrorKind::NotFound => "not_found",
            GitErrorKind::Cache => "cache",
            GitErrorKind::Credentials => "credentials",
            GitErrorKind::Timeout => "timeout",
        }
    }
}

/// A failed fetch or read of the Git source. The message names the remote without user
/// information and never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GitError {
    /// What kind of failure.
    pub kind: GitErrorKind,
    /// What happened, for people.
    pub message: String,
}

impl GitError {
    /// An error of `kind`.
    pub fn new(kind: GitErrorKind, message: impl Into<String>) -> Self {
        GitError {
            kind,
            message: message.into(),
        }
    }
}
