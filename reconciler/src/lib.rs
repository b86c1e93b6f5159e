//! vimana-reconciler: keeps a Vimana cluster equal to a Git repository of Kumori and Vimana
//! sources. The binary `reconciler` is a thin wrapper over [`cli::main`]; the modules are a
//! library so that integration tests and benchmarks reach them directly.
//!
//! - [`sources`] and [`git`]: source trees on disk and in Git;
//! - [`cluster`]: the kube client, live state and the inventory;
//! - [`sync`]: one reconcile pass and the live diff; [`rollout`]: the rollout engine;
//!   [`drift`]: what changed behind the reconciler's back, and putting it back;
//! - [`report`]: diffs as text, markdown and JSON; [`notify`]: notification webhooks;
//! - [`daemon`]: `reconciler run` (config, Git source, schedule, webhooks, endpoints, loop);
//! - [`commands`]: one module per subcommand; [`cli`]: parsing and exit codes.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod daemon;
pub mod drift;
pub mod error;
pub mod git;
pub mod notify;
pub mod report;
pub mod retry;
pub mod rollout;
pub mod sources;
pub mod stop;
pub mod sync;
pub mod verb;

pub use cli::Outcome;
pub use error::Error;
