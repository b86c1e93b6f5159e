//! Integration tests of the simulated cluster, driven through the kube crate and `kubectl`.
//!
//! Every test that talks to a cluster goes through [`cluster::TestCluster`]: a fresh simulated
//! cluster, or the real cluster of `RECONCILER_E2E_KUBECONFIG` (with the CRDs of `deploy/crds`
//! installed). Tests of simcluster-only features (operator knobs, faults, metrics) say so and
//! return early on a real cluster.

mod api;
mod bench;
mod cluster;
mod conformance;
mod faults;
mod inflight;
mod kubectl;
mod operator;
mod protobuf;
mod referee;
mod ssa;
mod watch;
