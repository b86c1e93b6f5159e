//! The daemon's errors are variants of the crate's one error enum ([`crate::Error`]): the
//! config file and its mistakes ([`ConfigErrors`]), secrets, the Git source ([`GitError`],
//! classified by [`GitErrorKind`] for metrics and `/status`), the HTTP server, the Lease,
//! logging. Re-exported here under the names the daemon has always used.

pub use crate::error::{ConfigErrors, ConfigProblem, Error, GitError, GitErrorKind};
