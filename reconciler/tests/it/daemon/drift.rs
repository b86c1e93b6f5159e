//! Drift (issue 19): the daemon, in this process against a simulated cluster, notices within
//! seconds a managed object changed or deleted behind its back, reports it once in `/status`,
//! an Event, `/metrics` and a notification, and puts it back or leaves it as `apply.drift` and
//! the object's annotation say; weights a rollout writes are not drift; the watch re-lists
//! after 410 Gone; rollout controls are acted on through the same watch.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use reconciler::cluster::Cluster;
use reconciler::commands::run;
use reconciler::daemon::{Config, State, Trigger};
use serde_json::{Value, json};

use super::support::Upstream;
use crate::cluster::TestCluster;
use crate::sync::{D, component, domain, server};

/// The longest any drift may take to be seen and handled (the bound).
const WITHIN: Duration = Duration::from_secs(10);

/// A daemon of this process following an upstream repository, with a notification receiver.
struct Daemon {
    c: TestCluster,
    up: Upstream,
    state: Arc<State>,
    notes: Arc<Mutex<Vec<Value>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn files(weights: &str) -> Vec<(&'static str, String)> {
    vec![
        ("src/domain.yaml", domain()),
        ("src/server.yaml", server(weights, "calc.v1.Adder")),
        ("src/c1.yaml", component("1.0.0", "1.0.0")),
        ("src/c2.yaml", component("1.1.0", "1.1.0")),
    ]
}

impl Daemon {
    /// Starts a daemon with `apply` as its `apply` section on the sources `files`, and waits
    /// for its first sync.
    async fn start(
        test: &str,
        apply: &str,
        files: &[(&str, String)],
        configure: impl FnOnce(&mut simcluster::Config),
    ) -> Daemon {
        let c = TestCluster::with(test, configure).await;
        let up = Upstream::new();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        up.commit(&refs, "sources");
        let (url, notes) = receiver().await;
        let path = c.dir.path().join("config.yaml");
        std::fs::write(
            &path,
            format!(
                "instance: {ns}\nsource: {{ url: {bare}, ref: main, path: src, cacheDir: {cache} }}\nschedule: \"off\"\nwebhook: {{ listen: \"127.0.0.1:0\" }}\ncluster: {{ kubeconfig: {kc}, namespace: {ns}, leaderElection: {{ enabled: false }} }}\napply: {apply}\nnotify: [ {{ url: \"{url}\" }} ]\n",
                ns = c.ns,
                bare = up.bare().display(),
                cache = c.dir.path().join("cache").display(),
                kc = c.kubeconfig.display(),
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let cluster = Arc::new(Cluster::connect(&run::cluster_args(&config)).await.unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, state) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            run::serve(config, cluster, shutdown, move |state, _| {
                let _ = started.send(state);
            })
            .await
            .unwrap();
        });
        let state = state.await.unwrap();
        let daemon = Daemon {
            c,
            up,
            state,
            notes,
            stop,
            task,
        };
        daemon
            .eventually("the first sync", Duration::from_secs(60), || async {
                let s = daemon.state.status();
                match &s.last_sync {
                    Some(r) if r.result == "success" => Some(()),
                    Some(r) => panic!("the first sync failed: {r:?}"),
                    None => None,
                }
            })
            .await;
        daemon
    }

    /// Polls `check` until it answers, at most `limit`.
    async fn eventually<T, F: Future<Output = Option<T>>>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> F,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(t) = check().await {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}; status: {}",
                serde_json::to_string_pretty(&self.state.status()).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `/status` as JSON.
    fn status(&self) -> Value {
        serde_json::to_value(self.state.status()).unwrap()
    }

    /// The drift records of `/status` for `kind` `name`.
    fn drift_of(&self, kind: &str, name: &str) -> Option<Value> {
        self.status()["drift"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == kind && d["name"] == name)
            .cloned()
    }

    /// The reasons of the Events on the object `name`.
    async fn events(&self, name: &str) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.c.client.clone(), &self.c.ns);
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .filter_map(|e| e.reason)
            .collect()
    }

    /// The notifications of kind `drift` received.
    fn drift_notes(&self) -> Vec<Value> {
        let notes = self.notes.lock().unwrap();
        notes
            .iter()
            .filter(|n| n["kind"] == "drift")
            .cloned()
            .collect()
    }

    /// The Server `adder` as the cluster has it.
    async fn server(&self) -> Value {
        let o = self.c.api("servers").get("adder").await.unwrap();
        serde_json::to_value(o).unwrap()
    }

    /// A `kubectl patch --type merge` of `plural` `name`. A merge patch that sets values may be
    /// sent again: after an API server restart the first request can meet a kept-alive
    /// connection the old server closed (a transport error, not an answer), as a user's
    /// kubectl would, and the user runs it again.
    async fn patch(&self, plural: &str, name: &str, patch: Value) {
        let params = PatchParams {
            field_manager: Some("kubectl-patch".into()),
            ..PatchParams::default()
        };
        let api = self.c.api(plural);
        for attempt in 1.. {
            match api.patch(name, &params, &Patch::Merge(&patch)).await {
                Ok(_) => return,
                Err(kube::Error::HyperError(_) | kube::Error::Service(_)) if attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("patch {plural}/{name}: {e}"),
            }
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the daemon stopped")
            .unwrap();
        drop(self.up);
        self.c.cleanup().await;
    }
}

/// A notification webhook: its URL and the events posted to it.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let notes: Arc<Mutex<Vec<Value>>> = Arc::default();
    let store = notes.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |body: String| {
            let store = store.clone();
            async move {
                let v = serde_json::from_str(&body).unwrap_or_default();
                store.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, notes)
}

fn services(server: &Value) -> Value {
    server["spec"]["services"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_mode_reports_a_patched_server_everywhere_and_leaves_it_alone() {
    let d = Daemon::start(
        "drift_detect",
        "{ drift: detect }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    let seen = Instant::now();
    let record = d
        .eventually("drift in /status", WITHIN, || async {
            d.drift_of("Server", "adder")
        })
        .await;
    assert_eq!(record["namespace"], d.c.ns.as_str());
    assert_eq!(record["fields"], json!([".spec.services"]));
    assert_eq!(record["managers"], json!(["kubectl-patch"]));
    assert_eq!(record["action"], "detected");
    assert!(record["since"].as_str().unwrap().ends_with('Z'), "{record}");
    d.eventually("a DriftDetected Event", WITHIN, || async {
        d.events("adder")
            .await
            .contains(&"DriftDetected".to_owned())
            .then_some(())
    })
    .await;
    d.eventually("a drift notification", WITHIN, || async {
        (!d.drift_notes().is_empty()).then_some(())
    })
    .await;
    let metrics = d.state.metrics.encode();
    assert!(
        metrics.contains("reconciler_drifted_objects 1"),
        "{metrics}"
    );
    assert!(
        seen.elapsed() < WITHIN,
        "seen within 10 s: {:?}",
        seen.elapsed()
    );
    // Left as it is, and reported once: the operator's status writes are no new change.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(services(&d.server().await), json!(["calc.v1.Sub"]));
    let notes = d.drift_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["object"], format!("Server {}/adder", d.c.ns));
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("kubectl-patch"),
        "{notes:?}"
    );
    let events = d.events("adder").await;
    assert_eq!(
        events.iter().filter(|r| *r == "DriftDetected").count(),
        1,
        "{events:?}"
    );
    // A second change is a new drift: reported again.
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Mul"]}}),
    )
    .await;
    d.patch(
        "servers",
        "adder",
        json!({"metadata": {"labels": {"team": "x"}}}),
    )
    .await;
    d.eventually("the second drift", WITHIN, || async {
        (d.drift_notes().len() == 2).then_some(())
    })
    .await;
    // The next pass applies the sources as always: the Server is back, its drift leaves.
    d.state.trigger(Trigger::Manual);
    d.eventually("the drift gone after a pass", WITHIN, || async {
        d.drift_of("Server", "adder").is_none().then_some(())
    })
    .await;
    assert_eq!(services(&d.server().await), json!(["calc.v1.Adder"]));
    let metrics = d.state.metrics.encode();
    assert!(
        metrics.contains("reconciler_drifted_objects 0"),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_mode_puts_a_patched_server_back_with_a_drift_corrected_event() {
    // `apply.drift` left out: `correct` is the default.
    let d = Daemon::start(
        "drift_correct",
        "{ prune: true }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    let before = services(&d.server().await);
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    d.eventually("the Server put back", WITHIN, || async {
        (services(&d.server().await) == before).then_some(())
    })
    .await;
    d.eventually("a DriftCorrected Event", WITHIN, || async {
        d.events("adder")
            .await
            .contains(&"DriftCorrected".to_owned())
            .then_some(())
    })
    .await;
    let record = d
        .drift_of("Server", "adder")
        .expect("the correction in /status");
    assert_eq!(record["action"], "corrected");
    assert_eq!(record["managers"], json!(["kubectl-patch"]));
    let metrics = d.state.metrics.encode();
    assert!(
        metrics.contains("reconciler_drift_corrections_total{kind=\"Server\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("reconciler_drifted_objects 0"),
        "{metrics}"
    );
    // Put back by a targeted apply, not a pass.
    assert_eq!(
        d.status()["lastSync"]["trigger"],
        "start",
        "no pass ran after the first"
    );
    let notes = d.drift_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]["message"].as_str().unwrap().contains("put back"),
        "{notes:?}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_annotation_overrides_the_mode_per_object() {
    let mut sources = files("{1.0.0: 100}");
    sources[0].1 = format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata:\n  name: calc\n  labels: {{team: a}}\n  annotations: {{reconciler.vimana.host/drift: detect}}\nspec: {{id: {D}}}\n"
    );
    sources[1].1 = sources[1].1.replace(
        "metadata: {name: adder}",
        "metadata: {name: adder, annotations: {reconciler.vimana.host/drift: ignore}}",
    );
    let d = Daemon::start("drift_annotation", "{ drift: correct }", &sources, |_| {}).await;
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    d.patch(
        "domains",
        "calc",
        json!({"metadata": {"labels": {"team": "b"}}}),
    )
    .await;
    let record = d
        .eventually("the Domain's drift", WITHIN, || async {
            d.drift_of("Domain", "calc")
        })
        .await;
    assert_eq!(record["fields"], json!([".metadata.labels.team"]));
    assert_eq!(record["action"], "detected");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let domain = serde_json::to_value(d.c.api("domains").get("calc").await.unwrap()).unwrap();
    assert_eq!(domain["metadata"]["labels"]["team"], "b", "detect: left");
    assert_eq!(
        services(&d.server().await),
        json!(["calc.v1.Sub"]),
        "ignore: left"
    );
    assert_eq!(d.drift_of("Server", "adder"), None, "ignore: not reported");
    assert!(d.events("adder").await.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_a_running_rollout_writes_are_not_drift() {
    let d = Daemon::start(
        "drift_rollout",
        "{ drift: correct }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    // A rollout to 1.1.0 that holds at its first step for an hour.
    let mut next = files("{1.1.0: 100}");
    next[1].1 = next[1].1.replace(
        "metadata: {name: adder}",
        "metadata: {name: adder, annotations: {rollout.vimana.host/steps: \"50,100\", rollout.vimana.host/interval: 1h}}",
    );
    let refs: Vec<(&str, &str)> = next.iter().map(|(p, t)| (*p, t.as_str())).collect();
    d.up.commit(&refs, "roll out 1.1.0");
    d.state.trigger(Trigger::Manual);
    d.eventually(
        "the first rollout step",
        Duration::from_secs(60),
        || async {
            let s = d.server().await;
            (s["spec"]["versionWeights"] == json!({"1.0.0": 50, "1.1.0": 50})).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        d.server().await["spec"]["versionWeights"],
        json!({"1.0.0": 50, "1.1.0": 50}),
        "the step is not put back to the Git weights"
    );
    assert_eq!(d.status()["drift"], json!([]));
    assert!(d.drift_notes().is_empty());
    let events = d.events("adder").await;
    assert!(!events.iter().any(|r| r.starts_with("Drift")), "{events:?}");
    // Weights another manager writes are drift, and are put back to the rollout's step, not
    // to the sources' target (which the rollout has not reached).
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"versionWeights": {"1.0.0": 100, "1.1.0": 0}}}),
    )
    .await;
    let record = d
        .eventually("the weights' drift", WITHIN, || async {
            d.drift_of("Server", "adder")
        })
        .await;
    assert_eq!(record["fields"], json!([".spec.versionWeights"]));
    assert_eq!(record["managers"], json!(["kubectl-patch"]));
    d.eventually("the step's weights back", WITHIN, || async {
        let s = d.server().await;
        (s["spec"]["versionWeights"] == json!({"1.0.0": 50, "1.1.0": 50})).then_some(())
    })
    .await;
    assert_eq!(
        d.drift_of("Server", "adder").unwrap()["action"],
        "corrected"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_component_is_noticed_and_put_back() {
    let d = Daemon::start(
        "drift_deleted",
        "{ drift: correct }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    d.c.api("components")
        .delete("adder-1-1-0", &DeleteParams::default())
        .await
        .unwrap();
    let record = d
        .eventually("the deletion in /status", WITHIN, || async {
            d.drift_of("Component", "adder-1-1-0")
        })
        .await;
    assert_eq!(record["fields"], json!(["."]));
    assert_eq!(record["action"], "corrected");
    d.eventually("the Component back", WITHIN, || async {
        d.c.names("components")
            .await
            .contains(&"adder-1-1-0".to_owned())
            .then_some(())
    })
    .await;
    assert!(
        d.events("adder-1-1-0")
            .await
            .contains(&"DriftCorrected".to_owned())
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_relists_after_410_gone_and_still_sees_drift() {
    // No watch history: the watch from the first pass's LIST, which its own writes followed,
    // is answered 410 Gone and LISTs again.
    let d = Daemon::start(
        "drift_gone",
        "{ drift: detect }",
        &files("{1.0.0: 100}"),
        |sim| {
            sim.watch_history = Duration::ZERO;
        },
    )
    .await;
    let Some(sim) = d.c.sim_only("a watch history of zero") else {
        return d.stop().await;
    };
    d.eventually("a re-list of the Servers", WITHIN, || async {
        (sim.requests("list", "servers") >= 2).then_some(())
    })
    .await;
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    let record = d
        .eventually("drift after the re-list", WITHIN, || async {
            d.drift_of("Server", "adder")
        })
        .await;
    assert_eq!(record["fields"], json!([".spec.services"]));
    d.stop().await;
}

/// An API server restart ends every connection and watch and starts a new watch cache at the
/// current resourceVersion; the daemon's watches connect again (resumed, or 410 and a LIST) and
/// still see drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_survives_an_api_server_restart_and_still_sees_drift() {
    let mut d = Daemon::start(
        "drift_restart",
        "{ drift: detect }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    if d.c.sim_only("restarting the API server").is_none() {
        return d.stop().await;
    }
    // Whether the watch resumes (from the version the new cache starts at) or gets 410 and
    // lists again depends on what it had seen; either way a change after the restart is seen.
    d.c.sim.as_mut().unwrap().restart().await.unwrap();
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    let record = d
        .eventually("drift after the restart", WITHIN, || async {
            d.drift_of("Server", "adder")
        })
        .await;
    assert_eq!(record["fields"], json!([".spec.services"]));
    d.stop().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_control_annotation_is_acted_on_within_seconds() {
    let d = Daemon::start(
        "drift_control",
        "{ drift: correct }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    let passes = d.state.metrics.encode();
    assert!(!passes.contains("trigger=\"rollout\""), "{passes}");
    // What `reconciler rollout pause` writes.
    let params = PatchParams {
        field_manager: Some("reconciler-rollout-cli".into()),
        ..PatchParams::default()
    };
    d.c.api("servers")
        .patch(
            "adder",
            &params,
            &Patch::Merge(json!({"metadata": {"annotations": {"reconciler.vimana.host/rollout-paused": "true"}}})),
        )
        .await
        .unwrap();
    d.eventually("a pass for the control", WITHIN, || async {
        let s = d.status();
        (s["lastSync"]["trigger"] == "rollout").then_some(())
    })
    .await;
    assert_eq!(d.status()["drift"], json!([]), "a control is not drift");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_whose_connections_drop_still_sees_drift_by_listing_again() {
    // Every WATCH of the Servers loses its connection before an answer.
    let dropped = simcluster::FaultRule {
        verb: Some("watch".into()),
        resource: Some("servers".into()),
        drop_rate: 1.0,
        ..simcluster::FaultRule::default()
    };
    let d = Daemon::start(
        "drift_dropped",
        "{ drift: detect }",
        &files("{1.0.0: 100}"),
        |sim| sim.faults = vec![dropped],
    )
    .await;
    let Some(sim) = d.c.sim_only("dropped connections") else {
        return d.stop().await;
    };
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    let record = d
        .eventually("drift seen by a LIST", WITHIN, || async {
            d.drift_of("Server", "adder")
        })
        .await;
    assert_eq!(record["managers"], json!(["kubectl-patch"]));
    // Once connections hold again, the watch is back and sees the next change.
    sim.set_faults(Vec::new());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lists = sim.requests("list", "servers");
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Mul"]}}),
    )
    .await;
    d.eventually("the second drift", WITHIN, || async {
        (d.drift_notes().len() == 2).then_some(())
    })
    .await;
    assert!(
        sim.requests("list", "servers") <= lists + 1,
        "seen by the watch, not by LISTs in a loop"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_neither_reports_nor_corrects_and_a_new_leader_syncs_first() {
    use reconciler::daemon::Role;
    let d = Daemon::start(
        "drift_standby",
        "{ drift: detect }",
        &files("{1.0.0: 100}"),
        |_| {},
    )
    .await;
    let before = services(&d.server().await);
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Sub"]}}),
    )
    .await;
    d.eventually("drift seen by the leader", WITHIN, || async {
        d.drift_of("Server", "adder")
    })
    .await;
    // A standby shows no drift and writes nothing.
    d.state.set_role(Role::Standby);
    d.eventually(
        "the drift gone from a standby's /status",
        WITHIN,
        || async { d.drift_of("Server", "adder").is_none().then_some(()) },
    )
    .await;
    d.patch(
        "servers",
        "adder",
        json!({"spec": {"services": ["calc.v1.Mul"]}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(services(&d.server().await), json!(["calc.v1.Mul"]));
    assert_eq!(d.status()["drift"], json!([]));
    assert_eq!(d.drift_notes().len(), 1, "nothing more announced");
    let events = d.events("adder").await;
    assert_eq!(events, ["DriftDetected"], "no Event by the standby");
    // Leading again starts with a pass (which puts the Server back as any pass would).
    d.state.set_role(Role::Leader);
    d.eventually("the Server put back", WITHIN, || async {
        (services(&d.server().await) == before).then_some(())
    })
    .await;
    d.stop().await;
}
