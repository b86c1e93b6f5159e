//! Tests of the daemon module (`src/daemon`): config, Git source over real transports,
//! schedule, webhooks, endpoints and the sync loop. The binary has no library target, so the
//! module is compiled here as `imp`, beside the `git` module it reads revisions with.

#[allow(dead_code)]
#[path = "../../src/git.rs"]
mod git;
#[allow(dead_code, unused_imports)]
#[path = "../../src/daemon/mod.rs"]
mod imp;

mod config;
mod gitsource;
mod knownhosts;
mod runner;
mod schedule;
mod server;
mod support;
mod webhook;
