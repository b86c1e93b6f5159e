//! The one error type of the reconciler's library layers (cluster access, sources, the sync
//! pass, the daemon), with the policy a caller needs to act on it: [`Error::is_transient`] says whether
//! trying again may help, [`Error::failures`] lists the objects that failed. Causes are kept
//! as [`std::error::Error::source`], so `{:#}` of an `anyhow::Error` made from one prints the
//! whole chain; `{}` prints the message alone, as people read it. Only the command line turns
//! these into `anyhow` errors.

use std::fmt;
use std::path::PathBuf;

use model::ObjectKey;

use crate::cluster::inventory::Problem;
use crate::verb::Verb;

/// What can go wrong below the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The sources or the plan: only a new commit helps.
    /// The rendered objects do not form a valid graph, or the plan breaks a rule (such as a
    /// changed image under an existing version). One message per line.
    #[error("{}", lines(.0, "\n"))]
    Plan(Vec<graph::Error>),
    /// The render is empty and would prune every object.
    #[error(
        "the sources render no objects; pruning would delete the {live} live objects of instance {instance:?}. Pass --allow-empty if that is what you want"
    )]
    EmptyRender {
        /// How many live objects carry the instance label.
        live: usize,
        /// The instance whose objects would all be deleted.
        instance: String,
    },
    /// The server-side dry run refused objects: nothing was applied.
    #[error("{}\n  {}", dry_run_headline(.0), lines(.0, "\n  "))]
    DryRun(Vec<Failure>),

    // A pass that stopped part-way: the next pass completes it.
    /// Applying or deleting failed part-way.
    #[error("{}\n  {}", apply_headline(.failures, *.applied), lines(.failures, "\n  "))]
    Apply {
        /// The steps that failed, in the order of the plan.
        failures: Vec<Failure>,
        /// Steps that succeeded before.
        applied: usize,
    },
    /// The pass stopped at a safe point when its caller asked it to.
    #[error("stopped after {applied} step(s) at a safe point; the next sync completes the rest")]
    Stopped {
        /// Steps done before stopping.
        applied: usize,
    },

    // The cluster could not be reached, read or written.
    /// A request to the API failed (after its retries); `what` says which, the cause why.
    #[error("{what}")]
    Kube {
        /// `cannot list servers in namespace vimana`, `cannot reach the cluster`...
        what: String,
        /// The API client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A namespace could not be read or created (`--create-namespace`).
    #[error("cannot {action} namespace {namespace}: {}", describe(source))]
    Namespace {
        /// `read` or `create`.
        action: &'static str,
        /// The namespace of an object to create.
        namespace: String,
        /// The API client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A kubeconfig file or context cannot be used.
    #[error("{what}")]
    Kubeconfig {
        /// `cannot read the kubeconfig FILE`, `cannot use the context "NAME" of ~/.kube/config`...
        what: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// Neither a kubeconfig nor an in-cluster service account was found.
    #[error(
        "no cluster configured: give --kubeconfig, set KUBECONFIG, run in a cluster, or use --cluster embedded"
    )]
    NoCluster(#[source] Box<kube::config::InferConfigError>),
    /// The simulated cluster of `--cluster embedded` did not start.
    #[error("cannot start the embedded cluster")]
    Embedded(#[source] Box<simcluster::Error>),
    /// Discovery found the cluster without some of the Vimana CRDs.
    #[error(
        "the cluster does not serve {missing} of {}: install the CustomResourceDefinitions with `kubectl apply --server-side -f deploy/crds/`",
        model::API_VERSION
    )]
    MissingCrds {
        /// The missing plurals, comma-separated.
        missing: String,
    },
    /// A listed object carries the instance label but is not a valid Vimana object.
    #[error("the live object {namespace}/{name} does not match the Vimana schema")]
    LiveSchema {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What does not match.
        #[source]
        source: serde_json::Error,
    },
    /// The inventory ConfigMap exists but cannot be read, or the inventory to write does not
    /// fit in one.
    #[error("the inventory ConfigMap {namespace}/{name}: {source}")]
    Inventory {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong.
        #[source]
        source: crate::cluster::inventory::Problem,
    },

    // The source folder.
    /// The source folder cannot be opened.
    #[error("cannot open the source folder {}", path.display())]
    SourceFolder {
        /// As given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The source path names a file, not a folder.
    #[error("{} is not a folder; give the folder that holds the Vimana sources", path.display())]
    NotAFolder {
        /// As given.
        path: PathBuf,
    },

    // The daemon (`reconciler run`). No message holds a secret: tokens live only in
    // `daemon::Secret`, and URLs are shown without their password.
    /// The config file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    ReadConfig {
        /// As given with `--config`.
        path: PathBuf,
        /// Why it cannot be read.
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
        /// Why it cannot be read (missing, empty, not UTF-8).
        message: String,
    },
    /// Fetching or reading the Git source failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The HTTP server cannot listen or failed.
    #[error("cannot serve on {addr}: {source}")]
    Listen {
        /// `webhook.listen`, or the address bound.
        addr: String,
        /// The socket's error.
        #[source]
        source: std::io::Error,
    },
    /// The leader-election Lease could not be released (it then expires on its own).
    #[error("cannot release the Lease {lease}: {message}")]
    Lease {
        /// `namespace/name`.
        lease: String,
        /// The API's answer, or the wait that timed out.
        message: String,
    },
    /// Logging could not be set up.
    #[error("cannot set up logging: {0}")]
    Logging(String),
    /// A task of the daemon panicked or was cancelled.
    #[error("a daemon task failed: {0}")]
    Task(String),
}

impl Error {
    /// Whether the same pass may succeed if tried again without a new commit: the cluster was
    /// unreachable or answered with an error, a pass stopped part-way (failed steps, or asked
    /// to stop). Invalid sources, a plan that breaks a rule, a refused dry run and an empty
    /// render are not: the daemon then waits for the next trigger.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Plan(_)
            | Error::EmptyRender { .. }
            | Error::DryRun(_)
            | Error::SourceFolder { .. }
            | Error::NotAFolder { .. }
            | Error::ReadConfig { .. }
            | Error::Config(_)
            | Error::Secret { .. }
            | Error::Listen { .. }
            | Error::Logging(_) => false,
            // The daemon retries every failed fetch with backoff: the remote comes back, a
            // token is rotated, a branch is pushed.
            Error::Git(_) | Error::Lease { .. } | Error::Task(_) => true,
            Error::Apply { .. }
            | Error::Stopped { .. }
            | Error::Kube { .. }
            | Error::Namespace { .. }
            | Error::Kubeconfig { .. }
            | Error::NoCluster(_)
            | Error::Embedded(_)
            | Error::MissingCrds { .. }
            | Error::LiveSchema { .. }
            | Error::Inventory {
                source: Problem::Damaged(_),
                ..
            } => true,
            // Only a repository split into instances makes it fit.
            Error::Inventory {
                source: Problem::TooLarge { .. },
                ..
            } => false,
        }
    }

    /// The objects that failed, when the error is about objects (a refused dry run, a pass
    /// that failed part-way); empty otherwise.
    pub fn failures(&self) -> &[Failure] {
        match self {
            Error::DryRun(failures) | Error::Apply { failures, .. } => failures,
            _ => &[],
        }
    }

    /// The first line of the message: what failed, in one line.
    pub fn headline(&self) -> String {
        match self {
            Error::Plan(errors) => errors.first().map(ToString::to_string).unwrap_or_default(),
            Error::DryRun(failures) => dry_run_headline(failures),
            Error::Apply { failures, applied } => apply_headline(failures, *applied),
            other => other.to_string(),
        }
    }

    /// Every error under the headline, one per item: the other plan errors, or the failed
    /// objects.
    pub fn details(&self) -> Vec<String> {
        match self {
            Error::Plan(errors) => errors.iter().skip(1).map(ToString::to_string).collect(),
            other => other.failures().iter().map(ToString::to_string).collect(),
        }
    }

    /// The message followed by its causes, `: `-separated (as `anyhow` prints with `{:#}`).
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

/// An object that could not be dry-run, applied or deleted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The object that failed.
    pub key: ObjectKey,
    /// What was attempted.
    pub verb: Verb,
    /// Why it failed: the API's code, reason and message, or the wait that timed out.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.verb, self.key, self.reason)
    }
}

/// A short description of an API error: code, reason and message (the client's own text for
/// an error that is not an answer of the API).
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} {}: {}", r.code, r.reason, r.message),
        other => other.to_string(),
    }
}

fn lines<T: ToString>(items: &[T], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

fn dry_run_headline(failures: &[Failure]) -> String {
    format!(
        "the dry run refused {} object(s); nothing was applied:",
        failures.len()
    )
}

fn apply_headline(failures: &[Failure], applied: usize) -> String {
    format!(
        "{} step(s) failed after {applied} succeeded; the next sync completes the rest:",
        failures.len()
    )
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
    /// The `kind` label of `reconciler_git_fetch_errors_total`.
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
    /// What kind of failure: the metric label, and what `/status` shows.
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

#[cfg(test)]
mod tests {
    use model::{Kind, ObjectKey};

    use super::*;

    fn failure(name: &str) -> Failure {
        Failure {
            key: ObjectKey {
                kind: Kind::Server,
                namespace: "vimana".into(),
                name: name.into(),
            },
            verb: Verb::Weights,
            reason: "500 InternalError: boom".into(),
        }
    }

    #[test]
    fn the_headline_and_details_are_the_lines_of_the_message() {
        let e = Error::Apply {
            failures: vec![failure("a"), failure("b")],
            applied: 3,
        };
        let text = e.to_string();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(e.headline().as_str()));
        assert_eq!(
            lines.map(str::trim).collect::<Vec<_>>(),
            e.details().iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(e.failures().len(), 2);
        assert!(e.is_transient());
        assert!(!Error::DryRun(vec![failure("a")]).is_transient());
    }
}
