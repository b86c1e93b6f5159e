//! What the loop asks of the pluggable sync ([`SyncFn`]): a [`SyncRequest`] with the fetched
//! revision in, a [`SyncReport`] or a [`SyncError`] out. The daemon knows no more of the
//! cluster than this.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::error::{GitError, GitErrorKind};
use super::gitsource::Revision;
use super::status::RolloutStatus;
use super::trigger::Trigger;
use crate::git::GitTree;
use crate::stop::StopSignal;

/// One request to the sync: the revision to make live.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// The revision fetched for this sync.
    pub revision: Revision,
    /// The bare repository that holds it (open with `git2::Repository::open_bare`).
    pub repository: PathBuf,
    /// `source.path`: the folder of the sources in the repository.
    pub path: String,
    /// What asked for the sync.
    pub trigger: Trigger,
    /// The commit of the last successful sync, if any (equal to `revision.commit` when Git did
    /// not change).
    pub previous: Option<String>,
    /// Raised when the daemon is stopping or this replica leaves the leadership.
    pub stop: StopSignal,
}

impl SyncRequest {
    /// The commit id to sync.
    pub fn commit(&self) -> &str {
        &self.revision.commit
    }

    /// Runs `f` over the files of the revision ([`GitTree`] is a `render::SourceTree`).
    /// Blocking: call it from `spawn_blocking`.
    pub fn with_tree<R>(&self, f: impl FnOnce(&GitTree<'_>) -> R) -> Result<R, GitError> {
        let repo = git2::Repository::open_bare(&self.repository).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!("cannot open {}: {}", self.repository.display(), e.message()),
            )
        })?;
        let tree = GitTree::at_revision(&repo, &self.revision.commit).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!(
                    "cannot read commit {}: {}",
                    self.revision.commit,
                    e.message()
                ),
            )
        })?;
        Ok(f(&tree))
    }
}

/// What a successful sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects in the render.
    pub objects: usize,
    /// Objects created or changed (0 when nothing changed).
    pub applied: usize,
    /// Objects deleted.
    pub pruned: usize,
    /// Rollouts after the sync.
    pub rollouts: Vec<RolloutStatus>,
}

/// Why a sync failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyncError {
    /// One line: what failed.
    pub message: String,
    /// Every error (render diagnostics, failed objects), for `/status`.
    pub errors: Vec<String>,
    /// Whether to retry with backoff (the cluster was unreachable) or wait for the next
    /// trigger (the sources are invalid: only a new commit helps); from a typed error, see
    /// `From<&crate::Error>`.
    pub retry: bool,
}

impl From<&crate::Error> for SyncError {
    /// The error's headline as the message and its failed objects as the errors; retried when
    /// the error is transient ([`crate::Error::is_transient`]).
    fn from(e: &crate::Error) -> SyncError {
        SyncError {
            message: e.headline(),
            errors: e.details(),
            retry: e.is_transient(),
        }
    }
}

/// The result of a sync.
pub type SyncResult = Result<SyncReport, SyncError>;

/// The sync the loop calls: given a revision, make the cluster equal to it.
pub type SyncFn = Arc<dyn Fn(SyncRequest) -> BoxFuture<'static, SyncResult> + Send + Sync>;

/// A [`SyncFn`] from an async closure.
pub fn sync_fn<F, Fut>(f: F) -> SyncFn
where
    F: Fn(SyncRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SyncResult> + Send + 'static,
{
    Arc::new(move |request| Box::pin(f(request)))
}
