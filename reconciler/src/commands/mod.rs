//! One module per subcommand.

pub mod demo;
pub mod diff;
pub mod graph;
pub mod render;
pub mod rollout;
pub mod run;
pub mod simcluster;
pub mod sync;
