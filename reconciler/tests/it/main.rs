//! Integration tests of the `reconciler` binary, run as a user would run it: one binary, one
//! module per command.

mod cluster;
mod crds;
mod daemon;
mod demo;
mod deploy;
mod diff_base;
mod graph;
mod prometheus;
mod render;
mod rollout;
mod run;
mod sync;
mod tidy;
mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root, where `fixtures/` and `deploy/` are.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Runs `reconciler ARGS` in the repository root, without colour.
pub fn reconciler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("RECONCILER_INSTANCE")
        .env_remove("RECONCILER_NAMESPACE")
        .output()
        .expect("the reconciler binary runs")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}
