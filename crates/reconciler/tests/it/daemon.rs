//! Tests of the daemon module (`reconciler::daemon`): config, Git source over real transports,
//! schedule, webhooks, endpoints and the sync loop.

use reconciler::daemon as imp;

mod config;
mod gitsource;
mod knownhosts;
mod runner;
mod schedule;
mod server;
mod support;
mod webhook;
