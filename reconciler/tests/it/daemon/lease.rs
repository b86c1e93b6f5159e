//! Leader election on a Lease, against the simulated cluster (or a real one with
//! `RECONCILER_E2E_KUBECONFIG`): replicas never both lead, a standby takes over once a killed
//! leader's Lease expires and at once when it is released, a leader that loses the API steps
//! down and stops its sync, a stalled HTTP client cannot keep a stopping daemon from
//! releasing the Lease, and the `cluster.leaderElection` keys.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use simcluster::FaultRule;
use tokio::sync::mpsc;

use super::imp::config::{Config, LeaderElectionConfig, Provider, RateLimit};
use super::imp::gitsource::GitSource;
use super::imp::lease::{self, Elector, Settings};
use super::imp::runner::{Runner, SyncReport, SyncRequest, Trigger, sync_fn};
use super::imp::server::Limits;
use super::imp::state::{Role, State};
use super::imp::webhook::WebhookSettings;
use super::support::Upstream;
use crate::cluster::TestCluster;

/// The longest any step may take before the test is declared stuck. A bound, not a
/// measurement: every wait ends as soon as its event happens.
const STUCK: Duration = Duration::from_secs(60);

fn state() -> Arc<State> {
    State::new(
        "test",
        "https://git.example.org/config.git",
        "main",
        "",
        WebhookSettings::new(
            None,
            Provider::ALL.to_vec(),
            1024,
            RateLimit::default(),
            "main",
        ),
    )
}

fn settings(
    tc: &TestCluster,
    who: &str,
    lease: Duration,
    renew: Duration,
    retry: Duration,
) -> Settings {
    Settings {
        enabled: true,
        name: lease::lease_name(&tc.ns),
        namespace: tc.ns.clone(),
        identity: format!("{who}_{}", tc.ns),
        lease_duration: lease,
        renew_deadline: renew,
        retry_period: retry,
    }
}

/// One replica: its state and its elector.
struct Replica {
    state: Arc<State>,
    elector: Elector,
}

fn replica(tc: &TestCluster, settings: Settings) -> Replica {
    let state = state();
    let elector = lease::spawn(tc.client.clone(), settings, state.clone());
    Replica { state, elector }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STUCK;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn read_lease(tc: &TestCluster) -> Lease {
    let api: Api<Lease> = Api::namespaced(tc.client.clone(), &tc.ns);
    api.get(&lease::lease_name(&tc.ns)).await.unwrap()
}

fn holder(l: &Lease) -> Option<String> {
    l.spec.as_ref()?.holder_identity.clone()
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>) -> DateTime<Utc> {
    t.expect("a time in the Lease").0
}

/// Watches live replicas every millisecond and counts the moments when more than one leads.
struct Referee {
    live: Arc<Mutex<Vec<Arc<State>>>>,
    both: Arc<AtomicUsize>,
    changes: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Referee {
    fn start() -> Referee {
        let live: Arc<Mutex<Vec<Arc<State>>>> = Arc::default();
        let both = Arc::new(AtomicUsize::new(0));
        let changes = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (l, b, c, d) = (live.clone(), both.clone(), changes.clone(), done.clone());
        let task = tokio::spawn(async move {
            // The last leader seen, by identity of its state (the list changes as replicas are
            // killed and added).
            let mut last: Option<usize> = None;
            loop {
                // Read before the sample, so that the last sample sees the state `finish` saw.
                let finished = d.load(Ordering::SeqCst);
                let leaders: Vec<usize> = l
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.role() == Role::Leader)
                    .map(|s| Arc::as_ptr(s) as usize)
                    .collect();
                if leaders.len() > 1 {
                    b.fetch_add(1, Ordering::SeqCst);
                }
                if let [one] = leaders[..] {
                    if last != Some(one) {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    last = Some(one);
                }
                if finished {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        Referee {
            live,
            both,
            changes,
            done,
            task,
        }
    }

    fn watch(&self, s: &Arc<State>) {
        self.live.lock().unwrap().push(s.clone());
    }

    /// Stops watching a replica that was killed: its role no longer means anything.
    fn forget(&self, s: &Arc<State>) {
        self.live.lock().unwrap().retain(|x| !Arc::ptr_eq(x, s));
    }

    /// Waits until the referee has seen a new leader since it had seen `before` of them
    /// (a leader killed at once might otherwise lead between two samples), and no other.
    async fn new_leader(&self, before: usize) -> usize {
        eventually("the referee sees a new leader", || {
            self.changes.load(Ordering::SeqCst) > before && self.leaders() == 1
        })
        .await;
        self.changes.load(Ordering::SeqCst)
    }

    fn leaders(&self) -> usize {
        self.live
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.role() == Role::Leader)
            .count()
    }

    async fn finish(self) -> (usize, usize) {
        self.done.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        (
            self.both.load(Ordering::SeqCst),
            self.changes.load(Ordering::SeqCst),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_never_both_lead_through_kills_api_trouble_and_releases() {
    let tc = TestCluster::new("lease-never-both").await;
    let timings = |who: &str| {
        settings(
            &tc,
            who,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_millis(100),
        )
    };
    let referee = Referee::start();
    let mut replicas: Vec<Replica> = Vec::new();
    for who in ["a", "b", "c"] {
        let r = replica(&tc, timings(who));
        referee.watch(&r.state);
        replicas.push(r);
    }
    let mut seen = referee.new_leader(0).await;

    // Kill the leader twice without a release; a fresh replica replaces it each time.
    for round in 0..2 {
        let i = replicas
            .iter()
            .position(|r| r.state.role() == Role::Leader)
            .unwrap();
        let killed = replicas.remove(i);
        killed.elector.abandon().await;
        referee.forget(&killed.state);
        let fresh = replica(&tc, timings(&format!("fresh{round}")));
        referee.watch(&fresh.state);
        replicas.push(fresh);
        seen = referee.new_leader(seen).await;
    }

    // Every Lease request slower than the renew deadline: the leader steps down, nobody can
    // lead; the late writes still land on the server when they arrive.
    if let Some(sim) = tc.sim_only("slow Lease requests") {
        sim.set_faults(vec![
            FaultRule::parse("resource=leases,latency=1500ms").unwrap(),
        ]);
        eventually("the leader steps down", || referee.leaders() == 0).await;
        sim.set_faults(vec![]);
        eventually("a replica leads again", || referee.leaders() == 1).await;
        seen = referee.changes.load(Ordering::SeqCst);
    }

    // A release hands over at once.
    let i = replicas
        .iter()
        .position(|r| r.state.role() == Role::Leader)
        .unwrap();
    let released = replicas.remove(i);
    assert!(released.elector.release().await.unwrap());
    assert_eq!(released.state.role(), Role::Standby);
    referee.new_leader(seen).await;

    let (both, changes) = referee.finish().await;
    assert_eq!(both, 0, "moments with two leaders");
    assert!(changes >= 4, "{changes} leaders");
    for r in replicas {
        r.elector.release().await.unwrap();
    }
    tc.cleanup().await;
}

#[tokio::test]
async fn a_standby_takes_over_once_the_lease_of_a_killed_leader_expires() {
    let tc = TestCluster::new("lease-expiry").await;
    let timings = |who: &str| {
        settings(
            &tc,
            who,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_millis(100),
        )
    };
    let a = replica(&tc, timings("a"));
    eventually("a leads", || a.state.role() == Role::Leader).await;
    let b = replica(&tc, timings("b"));
    assert_eq!(b.state.role(), Role::Standby, "a standby from the start");

    a.elector.abandon().await;
    let last = read_lease(&tc).await;
    assert_eq!(
        holder(&last).as_deref(),
        Some(a.elector.settings().identity.as_str())
    );
    let renewed = time(last.spec.as_ref().unwrap().renew_time.as_ref());

    eventually("b leads", || b.state.role() == Role::Leader).await;
    let taken = read_lease(&tc).await;
    let spec = taken.spec.as_ref().unwrap();
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(b.elector.settings().identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    let acquired = time(spec.acquire_time.as_ref());
    assert!(
        acquired >= renewed + chrono::Duration::seconds(2),
        "b took the Lease at {acquired}, before a's last renewal at {renewed} had expired"
    );
    b.elector.release().await.unwrap();
    tc.cleanup().await;
}

#[tokio::test]
async fn a_stalled_http_client_blocks_shutdown_and_the_lease_is_not_released() {
    use tokio::io::AsyncWriteExt;
    let tc = TestCluster::new("lease-stalled-client").await;
    let up = Upstream::new();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "instance: it\nsource: {{ url: '{}', cacheDir: cache }}\nschedule: off\nwebhook: {{ listen: '127.0.0.1:0' }}\n",
        up.bare().display()
    );
    std::fs::write(dir.path().join("config.yaml"), text).unwrap();
    let config = Config::load(&dir.path().join("config.yaml")).unwrap();
    // A Lease of 10 minutes: only a release frees it within the test.
    let elector = Elector::new(
        tc.client.clone(),
        settings(
            &tc,
            "a",
            Duration::from_secs(600),
            Duration::from_secs(10),
            Duration::from_millis(100),
        ),
    );
    let starter = elector.clone();
    let sync = sync_fn(|_req: SyncRequest| async {
        Ok(SyncReport {
            objects: 0,
            applied: 0,
            pruned: 0,
            rollouts: vec![],
        })
    });
    // Headers that never end, and a shutdown drain of half a second.
    let limits = Limits {
        header_read: STUCK,
        max_connections: 16,
        shutdown_drain: Duration::from_millis(500),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(super::imp::run_with(
        config,
        sync,
        limits,
        async move {
            let _ = stopped.await;
        },
        move |state, addr| {
            starter.start(state.clone());
            let _ = started_tx.send((state, addr));
        },
    ));
    let (state, addr) = tokio::time::timeout(STUCK, started_rx)
        .await
        .unwrap()
        .unwrap();
    eventually("the daemon leads", || state.role() == Role::Leader).await;
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /status HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // A request answered on another connection: the server has accepted the stalled one.
    let mut probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut probe, &mut answer)
        .await
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));

    let started = tokio::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(STUCK, daemon)
        .await
        .expect("the daemon stops despite the stalled client")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the daemon took {took:?} to stop"
    );
    // What `reconciler run` does once the daemon has returned.
    assert!(elector.release().await.unwrap(), "the leader released");
    assert_eq!(holder(&read_lease(&tc).await), None);
    drop(stalled);
    tc.cleanup().await;
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let tc = TestCluster::new("lease-release").await;
    // A Lease of 10 minutes: a takeover within the test's bound can only come from the release.
    let timings = |who: &str| {
        settings(
            &tc,
            who,
            Duration::from_secs(600),
            Duration::from_secs(10),
            Duration::from_millis(100),
        )
    };
    let a = replica(&tc, timings("a"));
    eventually("a leads", || a.state.role() == Role::Leader).await;
    let idle = replica(&tc, timings("idle"));
    assert!(
        !idle.elector.release().await.unwrap(),
        "a standby has nothing to release"
    );
    let b = replica(&tc, timings("b"));

    assert!(a.elector.release().await.unwrap(), "the leader released");
    assert_eq!(a.state.role(), Role::Standby);
    assert!(!a.elector.release().await.unwrap(), "released once");
    eventually("b leads", || b.state.role() == Role::Leader).await;
    let taken = read_lease(&tc).await;
    let spec = taken.spec.as_ref().unwrap();
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(b.elector.settings().identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(1));

    assert!(b.elector.release().await.unwrap());
    let free = read_lease(&tc).await;
    assert_eq!(holder(&free), None, "a released Lease names no holder");
    tc.cleanup().await;
}

#[tokio::test]
async fn a_leader_that_loses_the_api_steps_down_before_its_lease_expires_and_stops_its_sync() {
    let tc = TestCluster::new("lease-lost-api").await;
    let Some(sim) = tc.sim_only("an API that stops answering") else {
        tc.cleanup().await;
        return;
    };
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let source = Arc::new(
        GitSource::new(&Upstream::source(
            up.bare().to_str().unwrap(),
            "main",
            cache.path(),
        ))
        .unwrap(),
    );
    // A sync that runs until it is told to stop, and reports whether it was.
    let (tx, mut calls) = mpsc::unbounded_channel::<(Trigger, mpsc::UnboundedSender<()>)>();
    let (stopped_tx, mut stopped) = mpsc::unbounded_channel::<()>();
    let sync = sync_fn(move |req: SyncRequest| {
        let (tx, stopped_tx) = (tx.clone(), stopped_tx.clone());
        async move {
            let mut stop = req.stop.clone();
            tx.send((req.trigger, stopped_tx.clone())).unwrap();
            stop.stopping().await;
            stopped_tx.send(()).unwrap();
            Ok(SyncReport::default())
        }
    });
    let state = state();
    let lease_duration = Duration::from_secs(4);
    let elector = lease::spawn(
        tc.client.clone(),
        settings(
            &tc,
            "a",
            lease_duration,
            Duration::from_secs(2),
            Duration::from_millis(100),
        ),
        state.clone(),
    );
    let runner = Runner::new(state.clone(), source, sync, None);
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async move {
        let _ = shutdown_rx.await;
    }));

    let (trigger, _) = tokio::time::timeout(STUCK, calls.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trigger, Trigger::Start, "leading starts a sync");
    assert_eq!(state.role(), Role::Leader);

    assert!(state.metrics.encode().contains("\nreconciler_leader 1\n"));
    let mut role = state.watch_role();
    let lost = Utc::now();
    sim.set_faults(vec![FaultRule::parse("resource=leases,error=503").unwrap()]);
    tokio::time::timeout(STUCK, role.changed())
        .await
        .unwrap()
        .unwrap();
    let stepped_down = Utc::now();
    assert_eq!(*role.borrow(), Role::Standby);
    assert!(state.metrics.encode().contains("\nreconciler_leader 0\n"));
    assert!(
        stepped_down < lost + chrono::Duration::from_std(lease_duration).unwrap(),
        "stepped down at {stepped_down}; the Lease renewed before {lost} may expire at {}",
        lost + chrono::Duration::from_std(lease_duration).unwrap()
    );
    tokio::time::timeout(STUCK, stopped.recv())
        .await
        .expect("the running sync was told to stop")
        .unwrap();
    eventually("the stopped sync is recorded", || !state.status().syncing).await;

    state.trigger(Trigger::Manual);
    assert!(calls.try_recv().is_err(), "a standby starts no sync");
    assert!(
        state.status().pending,
        "the request waits for the leadership"
    );

    // The API comes back; nobody else took the Lease: the replica leads and syncs again.
    sim.set_faults(vec![]);
    let (trigger, _) = tokio::time::timeout(STUCK, calls.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        trigger,
        Trigger::Manual,
        "the waiting request runs once it leads"
    );
    assert_eq!(state.role(), Role::Leader);

    shutdown_tx.send(()).unwrap();
    tokio::time::timeout(STUCK, task).await.unwrap().unwrap();
    assert!(elector.release().await.unwrap());
    tc.cleanup().await;
}

#[tokio::test]
async fn election_is_off_when_disabled() {
    let tc = TestCluster::new("lease-disabled").await;
    let mut s = settings(
        &tc,
        "a",
        Duration::from_secs(15),
        Duration::from_secs(10),
        Duration::from_secs(2),
    );
    s.enabled = false;
    let state = state();
    let elector = lease::spawn(tc.client.clone(), s, state.clone());
    assert_eq!(state.role(), Role::Leader, "a lone replica writes");
    assert!(!elector.release().await.unwrap());
    let api: Api<Lease> = Api::namespaced(tc.client.clone(), &tc.ns);
    assert!(
        api.get_opt(&lease::lease_name(&tc.ns))
            .await
            .unwrap()
            .is_none()
    );
    tc.cleanup().await;
}

#[test]
fn the_election_keys_have_defaults_and_rules() {
    let c = Config::parse("source: { url: https://git.example.org/c.git }\ninstance: prod-eu\ncluster: { namespace: ops }\n", None).unwrap();
    assert_eq!(c.cluster.leader_election, LeaderElectionConfig::default());
    assert!(c.cluster.leader_election.enabled);
    let s = Settings::from_config(&c);
    assert_eq!(s.name, "reconciler-prod-eu");
    assert_eq!(s.namespace, "ops");
    assert_eq!(s.lease_duration, Duration::from_secs(15));
    assert_eq!(s.renew_deadline, Duration::from_secs(10));
    assert_eq!(s.retry_period, Duration::from_secs(2));
    assert!(s.enabled);
    assert_ne!(
        s.identity,
        Settings::from_config(&c).identity,
        "every process has its own identity"
    );
    let embedded = Config::parse(
        "source: { url: https://git.example.org/c.git }\ncluster: { embedded: true }\n",
        None,
    )
    .unwrap();
    assert!(
        !Settings::from_config(&embedded).enabled,
        "no other replica can reach the embedded cluster"
    );

    let c = Config::parse(
        "source: { url: https://git.example.org/c.git }\ncluster:\n  leaderElection: { enabled: false, leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 500ms }\n",
        None,
    )
    .unwrap();
    assert_eq!(
        c.cluster.leader_election,
        LeaderElectionConfig {
            enabled: false,
            lease_duration: Duration::from_secs(30),
            renew_deadline: Duration::from_secs(20),
            retry_period: Duration::from_millis(500),
        }
    );

    let wrong = |text: &str| -> Vec<String> {
        match Config::parse(
            &format!(
                "source: {{ url: https://git.example.org/c.git }}\ncluster:\n  leaderElection: {text}\n"
            ),
            None,
        ) {
            Err(super::imp::Error::Config(e)) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
            other => panic!("expected mistakes, got {other:?}"),
        }
    };
    let m = wrong("{ leaseDuration: 1500ms, renewDeadline: 2s, retryPeriod: 3s }");
    assert!(
        m.iter()
            .any(|l| l
                .starts_with("cluster.leaderElection.leaseDuration: 1500ms is not a whole number")),
        "{m:#?}"
    );
    assert!(
        m.iter().any(|l| l.starts_with(
            "cluster.leaderElection.renewDeadline: 2s must be shorter than leaseDuration"
        )),
        "{m:#?}"
    );
    assert!(
        m.iter().any(|l| l.starts_with(
            "cluster.leaderElection.retryPeriod: 3s must be shorter than renewDeadline"
        )),
        "{m:#?}"
    );
    let m = wrong("{ retryPeriod: 0s }");
    assert!(
        m.iter()
            .any(|l| l == "cluster.leaderElection.retryPeriod: it must be longer than zero"),
        "{m:#?}"
    );
    let m = wrong("{ leaseduration: 15s }");
    assert!(
        m.iter()
            .any(|l| l.contains("unknown field `leaseduration`")),
        "{m:#?}"
    );
}
