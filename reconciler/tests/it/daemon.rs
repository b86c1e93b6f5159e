//! Tests of the daemon module (`reconciler::daemon`): config, Git source over real transports,
//! schedule, webhooks, endpoints, the sync loop, leader election and drift.

use reconciler::daemon as imp;

mod config;
mod drift;
mod gitsource;
mod knownhosts;
mod lease;
mod runner;
mod schedule;
mod server;
mod support;
mod webhook;
