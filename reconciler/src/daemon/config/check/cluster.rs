//! `cluster`: which cluster, the default namespace, and the timings of leader election
//! (`retryPeriod < renewDeadline < leaseDuration`).

use std::path::Path;

use super::problems::{Problems, parse_duration, resolve};
use crate::daemon::config::raw::{RawCluster, RawLeaderElection};
use crate::daemon::config::typed::{ClusterConfig, LeaderElectionConfig};

pub(super) fn check_cluster(
    raw: RawCluster,
    base: Option<&Path>,
    p: &mut Problems,
) -> ClusterConfig {
    let embedded = raw.embedded.unwrap_or(false);
    if embedded && (raw.kubeconfig.is_some() || raw.context.is_some()) {
        p.add(
            "cluster.embedded",
            "the embedded cluster needs no kubeconfig or context; remove one or the other",
        );
    }
    let namespace = raw.namespace.unwrap_or_else(|| "vimana".into());
    if let Err(e) = model::names::dns1123_label(&namespace) {
        p.add(
            "cluster.namespace",
            format!("{namespace:?} is not a namespace name: {e}"),
        );
    }
    ClusterConfig {
        kubeconfig: raw.kubeconfig.map(|k| resolve(base, k)),
        context: raw.context,
        namespace,
        embedded,
        leader_election: check_leader_election(raw.leader_election.unwrap_or_default(), p),
    }
}

fn check_leader_election(raw: RawLeaderElection, p: &mut Problems) -> LeaderElectionConfig {
    const KEY: &str = "cluster.leaderElection";
    let d = LeaderElectionConfig::default();
    let lease_duration = parse_duration(
        &format!("{KEY}.leaseDuration"),
        raw.lease_duration,
        d.lease_duration,
        p,
    );
    let renew_deadline = parse_duration(
        &format!("{KEY}.renewDeadline"),
        raw.renew_deadline,
        d.renew_deadline,
        p,
    );
    let retry_period = parse_duration(
        &format!("{KEY}.retryPeriod"),
        raw.retry_period,
        d.retry_period,
        p,
    );
    if lease_duration.is_zero() || lease_duration.subsec_nanos() != 0 {
        p.add(
            &format!("{KEY}.leaseDuration"),
            format!(
                "{} is not a whole number of seconds of at least 1s (the Lease stores seconds)",
                model::duration::format(lease_duration)
            ),
        );
    }
    if retry_period.is_zero() {
        p.add(&format!("{KEY}.retryPeriod"), "it must be longer than zero");
    }
    if renew_deadline >= lease_duration {
        p.add(
            &format!("{KEY}.renewDeadline"),
            format!(
                "{} must be shorter than leaseDuration ({}): a leader that cannot renew must step down before another replica may take the Lease",
                model::duration::format(renew_deadline),
                model::duration::format(lease_duration)
            ),
        );
    }
    if retry_period >= renew_deadline {
        p.add(
            &format!("{KEY}.retryPeriod"),
            format!(
                "{} must be shorter than renewDeadline ({}), so that a leader tries to renew more than once",
                model::duration::format(retry_period),
                model::duration::format(renew_deadline)
            ),
        );
    }
    LeaderElectionConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        lease_duration,
        renew_deadline,
        retry_period,
    }
}
