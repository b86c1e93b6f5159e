//! Leader election on a Kubernetes Lease (`coordination.k8s.io/v1`), so that of several
//! replicas only one writes to the cluster (DESIGN section 9). The algorithm is client-go's
//! `leaderelection`, in small:
//!
//! - Every replica tries every `retryPeriod` to acquire the Lease `reconciler-<instance>` in
//!   `cluster.namespace`. It may take the Lease when nobody holds it (it was released) or when
//!   the record has not changed for `leaseDuration` *as this replica observed it*: expiry is
//!   measured on the local clock from the moment a new `resourceVersion` was seen, never from the
//!   holder's `renewTime`, so clocks of different machines need not agree.
//! - Every write is a create or a replace carrying the `resourceVersion` that was read
//!   (optimistic concurrency): of two replicas that race for the same record one gets 409
//!   Conflict, so two replicas never both hold it.
//! - The leader renews every `retryPeriod`. When `renewDeadline` has passed since the *start*
//!   of its last successful renewal it steps down ([`Role::Standby`]), which makes the sync loop
//!   stop the running sync. Others wait at least `leaseDuration` after the end of that renewal,
//!   so a leader that lost the API has `leaseDuration - renewDeadline` to stop writing.
//! - On shutdown the leader releases the Lease (empty holder), and a standby takes it at its
//!   next try instead of waiting for it to expire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{Config, LeaderElectionConfig};
use super::error::Error;
use super::state::{Role, State};
use crate::cluster::retry::describe;
use crate::retry::Policy;

/// Prefix of the Lease's name; the instance name follows.
pub const LEASE_PREFIX: &str = "reconciler-";

/// Name of the Lease of an instance: `reconciler-<instance>`.
pub fn lease_name(instance: &str) -> String {
    format!("{LEASE_PREFIX}{instance}")
}

/// What the elector needs: which Lease, who this replica is, and the timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Elect at all; when false, [`Elector::start`] leaves the role at [`Role::Leader`].
    pub enabled: bool,
    /// Name of the Lease (`reconciler-<instance>`).
    pub name: String,
    /// Namespace of the Lease (`cluster.namespace`).
    pub namespace: String,
    /// `holderIdentity` written by this replica: unique per process.
    pub identity: String,
    /// How long others wait after the last renewal they saw before taking the Lease. Written to
    /// the Lease rounded up to whole seconds.
    pub lease_duration: Duration,
    /// How long after the start of its last successful renewal a leader steps down.
    pub renew_deadline: Duration,
    /// Pause between tries to acquire or renew.
    pub retry_period: Duration,
}

impl Settings {
    /// The settings of `instance` with the Lease in `namespace`, the timings of
    /// `election`, and a fresh [`default_identity`].
    pub fn new(instance: &str, namespace: &str, election: &LeaderElectionConfig) -> Settings {
        Settings {
            enabled: election.enabled,
            name: lease_name(instance),
            namespace: namespace.to_owned(),
            identity: default_identity(),
            lease_duration: election.lease_duration,
            renew_deadline: election.renew_deadline,
            retry_period: election.retry_period,
        }
    }

    /// The settings of a config: `instance`, `cluster.namespace`,
    /// `cluster.leaderElection`. Election is off on the embedded cluster, which lives in this
    /// process: no other replica can reach it.
    pub fn from_config(config: &Config) -> Settings {
        let mut settings = Settings::new(
            &config.instance,
            &config.cluster.namespace,
            &config.cluster.leader_election,
        );
        settings.enabled &= !config.cluster.embedded;
        settings
    }

    /// `leaseDurationSeconds` as written to the Lease: whole seconds, rounded up.
    fn lease_seconds(&self) -> i32 {
        let secs =
            self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }
}

/// This process's name in the Lease: the pod name (`POD_NAME`, set from the downward API),
/// else the host name (in a pod, also the pod name), then `_` and 8 random hexadecimal digits,
/// so that a restarted process never mistakes its predecessor's record for its own.
pub fn default_identity() -> String {
    let host = ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.trim().is_empty()))
        .or_else(|| {
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .find_map(|f| std::fs::read_to_string(f).ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "reconciler".to_owned());
    format!("{}_{:08x}", host.trim(), rand::random::<u32>())
}

/// The last record seen, and when it was first seen on the local clock.
#[derive(Clone, Debug)]
struct Observed {
    resource_version: String,
    holder: Option<String>,
    duration: Duration,
    at: Instant,
}

/// How one try to acquire or renew ended.
#[derive(Debug)]
enum Attempt {
    /// This replica holds the Lease (it wrote the record).
    Holding,
    /// Another replica holds a Lease that has not expired.
    HeldBy(String),
    /// The API failed, or another replica wrote first (409): try again.
    Failed(String),
}

/// The elector's view of the Lease, shared with [`Elector::release`].
struct Inner {
    api: Api<Lease>,
    settings: Settings,
    state: Arc<State>,
    observed: Mutex<Option<Observed>>,
}

/// Runs leader election for one replica: [`Elector::start`] from the daemon's `on_start`,
/// [`Elector::release`] once [`super::run`] has returned (the sync loop has stopped). Cloning
/// shares the elector.
#[derive(Clone)]
pub struct Elector {
    client: kube::Client,
    settings: Settings,
    running: Arc<Mutex<Option<Running>>>,
}

/// The election task of a started [`Elector`].
struct Running {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Starts electing at once: [`Elector::new`] then [`Elector::start`].
pub fn spawn(client: kube::Client, settings: Settings, state: Arc<State>) -> Elector {
    let elector = Elector::new(client, settings);
    elector.start(state);
    elector
}

impl Elector {
    /// An elector over `client` (the cluster's client; its service account needs `get`,
    /// `create` and `update` on the Lease).
    pub fn new(client: kube::Client, settings: Settings) -> Elector {
        Elector {
            client,
            settings,
            running: Arc::new(Mutex::new(None)),
        }
    }

    /// Which Lease, this replica's identity in it, and the timings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sets the role to [`Role::Standby`] at once (before the sync loop can start a sync) and
    /// spawns the election, which sets [`Role::Leader`] when this replica acquires the Lease.
    /// Does nothing when election is disabled (the role stays as it is: leader) or when already
    /// started. Call it inside a tokio runtime.
    pub fn start(&self, state: Arc<State>) {
        if !self.settings.enabled {
            tracing::info!("leader election disabled: this replica always syncs");
            return;
        }
        let mut running = self.running.lock().expect("not poisoned");
        if running.is_some() {
            return;
        }
        state.set_role(Role::Standby);
        let inner = Arc::new(Inner {
            api: Api::namespaced(self.client.clone(), &self.settings.namespace),
            settings: self.settings.clone(),
            state,
            observed: Mutex::new(None),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        tracing::info!(
            lease = %format!("{}/{}", self.settings.namespace, self.settings.name),
            identity = %self.settings.identity,
            "leader election started"
        );
        let task = tokio::spawn(inner.clone().elect(stop_rx));
        *running = Some(Running {
            task,
            stop: stop_tx,
            inner,
        });
    }

    /// Stops electing and, if this replica holds the Lease, releases it (empty holder) so that
    /// a standby takes over at its next try rather than after `leaseDuration`. The role becomes
    /// [`Role::Standby`]. Call it only once the sync loop has stopped: a released Lease may be
    /// taken at once. Returns whether a Lease held by this replica was released.
    pub async fn release(&self) -> Result<bool, Error> {
        let running = self.running.lock().expect("not poisoned").take();
        let Some(Running { task, stop, inner }) = running else {
            return Ok(false);
        };
        let _ = stop.send(true);
        // The loop stops at its next await; an interrupted write is harmless: release reads
        // the record again and writes only over a record that names this replica.
        task.abort();
        let _ = task.await;
        inner.state.set_role(Role::Standby);
        inner.release().await
    }

    /// Stops electing without releasing the Lease, as if the process had been killed: the
    /// role stays as it was. For tests of what other replicas do when a leader disappears.
    pub async fn abandon(&self) {
        let running = self.running.lock().expect("not poisoned").take();
        if let Some(Running { task, .. }) = running {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Sleeps `d`, or returns false at once if `stop` is raised (or its sender is gone).
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
}

impl Inner {
    fn lease_text(&self) -> String {
        format!("{}/{}", self.settings.namespace, self.settings.name)
    }

    /// Candidate, then leader, then candidate again..., until `stop` is raised.
    async fn elect(self: Arc<Inner>, mut stop: watch::Receiver<bool>) {
        let s = &self.settings;
        // Candidate: try now, then every retry period with up to 20 % jitter, so that replicas
        // started together do not keep colliding. The policy is constant: the delay after one
        // failure is the delay after any.
        let retry = Policy::lease(s.retry_period);
        let mut failures = 0u32;
        loop {
            let sent = Instant::now();
            let attempt = self.attempt(s.renew_deadline).await;
            match attempt {
                Attempt::Holding => {
                    failures = 0;
                    tracing::info!(lease = %self.lease_text(), identity = %s.identity, "acquired the Lease: this replica leads");
                    self.state.set_role(Role::Leader);
                    if !self.lead(sent, &mut stop).await {
                        return;
                    }
                    continue;
                }
                Attempt::HeldBy(holder) => {
                    failures = 0;
                    tracing::debug!(%holder, "the Lease is held by another replica");
                }
                Attempt::Failed(e) => {
                    failures += 1;
                    // A replica that never gets the Lease never syncs (a missing namespace,
                    // a missing permission): say so at the first failure and about every
                    // minute after, without a line per try.
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(lease = %self.lease_text(), error = %e, failures, "cannot acquire the Lease; this replica does not sync until it does");
                    } else {
                        tracing::debug!(error = %e, failures, "cannot acquire the Lease");
                    }
                }
            }
            let wait = retry.delay(1).unwrap_or(s.retry_period);
            if !pause(wait, &mut stop).await {
                return;
            }
        }
    }

    /// Renews while leading. Returns false when `stop` is raised, true after stepping down.
    async fn lead(&self, mut last_renewal: Instant, stop: &mut watch::Receiver<bool>) -> bool {
        let s = &self.settings;
        loop {
            let deadline = last_renewal + s.renew_deadline;
            let wait = s
                .retry_period
                .min(deadline.saturating_duration_since(Instant::now()));
            if !pause(wait, stop).await {
                return false;
            }
            let sent = Instant::now();
            if sent >= deadline {
                tracing::warn!(
                    lease = %self.lease_text(),
                    renew_deadline_ms = s.renew_deadline.as_millis() as u64,
                    "cannot renew the Lease within renewDeadline: stepping down"
                );
                self.state.set_role(Role::Standby);
                return true;
            }
            // Never wait for an answer past the deadline: stepping down on time is what keeps
            // two replicas from writing at once.
            match self.attempt(deadline - sent).await {
                Attempt::Holding => last_renewal = sent,
                Attempt::HeldBy(holder) => {
                    tracing::warn!(lease = %self.lease_text(), %holder, "another replica holds the Lease: stepping down");
                    self.state.set_role(Role::Standby);
                    return true;
                }
                Attempt::Failed(e) => {
                    tracing::warn!(lease = %self.lease_text(), error = %e, "cannot renew the Lease; retrying until renewDeadline");
                }
            }
        }
    }

    /// One try to acquire or renew, given at most `limit`.
    async fn attempt(&self, limit: Duration) -> Attempt {
        match tokio::time::timeout(limit, self.try_acquire_or_renew()).await {
            Ok(a) => a,
            Err(_) => Attempt::Failed(format!(
                "no answer within {}",
                model::duration::format(limit)
            )),
        }
    }

    /// Reads the Lease and writes it if this replica may hold it.
    async fn try_acquire_or_renew(&self) -> Attempt {
        let s = &self.settings;
        let current = match self.api.get_opt(&s.name).await {
            Ok(l) => l,
            Err(e) => return Attempt::Failed(format!("cannot read the Lease: {}", describe(&e))),
        };
        // Taken after the read, which is when expiry was judged.
        let now = MicroTime(Utc::now());
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(s.name.clone()),
                    namespace: Some(s.namespace.clone()),
                    labels: Some(
                        [(
                            model::keys::MANAGED_BY.to_owned(),
                            model::keys::MANAGED_BY_VALUE.to_owned(),
                        )]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(s.identity.clone()),
                    lease_duration_seconds: Some(s.lease_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created);
                    Attempt::Holding
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    Attempt::Failed("another replica created the Lease first".into())
                }
                Err(e) => Attempt::Failed(format!("cannot create the Lease: {}", describe(&e))),
            };
        };
        let observed = self.observe(&lease);
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = observed.holder.clone();
        let mine = holder.as_deref() == Some(s.identity.as_str());
        if let Some(other) = holder.as_ref().filter(|_| !mine)
            && observed.at + observed.duration > Instant::now()
        {
            return Attempt::HeldBy(other.clone());
        }
        if !mine {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(s.identity.clone());
        spec.lease_duration_seconds = Some(s.lease_seconds());
        spec.renew_time = Some(now);
        // `lease` carries the resourceVersion it was read with: if anyone wrote since, the
        // replace fails with 409 and nothing changes.
        match self
            .api
            .replace(&s.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.observe(&written);
                Attempt::Holding
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                Attempt::Failed("another replica wrote the Lease first".into())
            }
            Err(e) => Attempt::Failed(format!("cannot write the Lease: {}", describe(&e))),
        }
    }

    /// Records `lease` as seen now if its resourceVersion is new; returns the observation.
    fn observe(&self, lease: &Lease) -> Observed {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let spec = lease.spec.clone().unwrap_or_default();
        let mut observed = self.observed.lock().expect("not poisoned");
        match observed.as_ref() {
            Some(o) if o.resource_version == rv && !rv.is_empty() => o.clone(),
            _ => {
                let o = Observed {
                    resource_version: rv,
                    holder: spec.holder_identity.filter(|h| !h.is_empty()),
                    duration: spec
                        .lease_duration_seconds
                        .and_then(|d| u64::try_from(d).ok())
                        .map_or(self.settings.lease_duration, Duration::from_secs),
                    at: Instant::now(),
                };
                *observed = Some(o.clone());
                o
            }
        }
    }

    /// Empties the holder of the Lease if it names this replica; re-reads on a conflict (a
    /// renewal of this replica that was interrupted may have landed).
    async fn release(&self) -> Result<bool, Error> {
        let s = &self.settings;
        let fail = |message: String| Error::Lease {
            lease: self.lease_text(),
            message,
        };
        let limit = s.renew_deadline;
        let work = async {
            for _ in 0..3 {
                let Some(mut lease) = self
                    .api
                    .get_opt(&s.name)
                    .await
                    .map_err(|e| fail(describe(&e)))?
                else {
                    return Ok(false);
                };
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if spec.holder_identity.as_deref() != Some(s.identity.as_str()) {
                    return Ok(false);
                }
                let now = MicroTime(Utc::now());
                spec.holder_identity = None;
                spec.acquire_time = None;
                spec.renew_time = Some(now);
                // What client-go writes: the shortest duration, for readers that ignore an
                // empty holder.
                spec.lease_duration_seconds = Some(1);
                match self
                    .api
                    .replace(&s.name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(lease = %self.lease_text(), "released the Lease");
                        return Ok(true);
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(fail(describe(&e))),
                }
            }
            Err(fail("the Lease kept changing while it was released".into()))
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(fail(format!(
                "no answer within {}; the Lease expires on its own after {}",
                model::duration::format(limit),
                model::duration::format(s.lease_duration)
            ))),
        }
    }
}
