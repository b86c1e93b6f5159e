//! Rollouts on a cluster: every intermediate weight vector, a broken version that never gets
//! traffic, a process killed mid-rollout that resumes, a new target mid-rollout, and manual
//! control. Weight vectors are observed with a watch, so that no intermediate state is missed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use kube::api::WatchParams;

use super::cluster::TestCluster;
use super::sync::{D, component, domain, ok, weights};
use super::{stderr, stdout};

type Weights = BTreeMap<String, i64>;

fn w(pairs: &[(&str, i64)]) -> Weights {
    pairs.iter().map(|(v, x)| ((*v).to_owned(), *x)).collect()
}

/// A Server with a fast rollout policy.
fn server(weights: &str, steps: &str) -> String {
    format!(
        "apiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata:\n  name: adder\n  annotations:\n    rollout.vimana.host/steps: \"{steps}\"\n    rollout.vimana.host/interval: 1s\n    rollout.vimana.host/progress-deadline: 20s\nspec: {{id: adder, domain: {D}, versionWeights: {weights}}}\n"
    )
}

fn files(c: &TestCluster, weights: &str, steps: &str, versions: &[&str]) {
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), server(weights, steps)),
    ];
    for v in versions {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
}

/// Records every distinct weight vector the Server takes, from now on.
fn record(c: &TestCluster) -> (Arc<Mutex<Vec<Weights>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api = c.api("servers");
    let out = seen.clone();
    let task = tokio::spawn(async move {
        let params = WatchParams::default().fields("metadata.name=adder");
        let mut version = "0".to_owned();
        loop {
            let Ok(stream) = api.watch(&params, &version).await else {
                return;
            };
            let mut stream = stream.boxed();
            while let Some(Ok(event)) = stream.next().await {
                let obj = match event {
                    kube::api::WatchEvent::Added(o) | kube::api::WatchEvent::Modified(o) => o,
                    kube::api::WatchEvent::Bookmark(b) => {
                        version = b.metadata.resource_version;
                        continue;
                    }
                    _ => continue,
                };
                if let Some(rv) = &obj.metadata.resource_version {
                    version = rv.clone();
                }
                let current: Weights = obj.data["spec"]["versionWeights"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut seen = out.lock().unwrap();
                if seen.last() != Some(&current) {
                    seen.push(current);
                }
            }
        }
    });
    (seen, task)
}

fn history(seen: &Arc<Mutex<Vec<Weights>>>) -> Vec<Weights> {
    seen.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_version_transition_goes_through_every_step() {
    let c = TestCluster::new("two_versions").await;
    files(&c, "{1.0.0: 100}", "25,50,100", &["1.0.0", "1.1.0"]);
    ok(&c.run("sync", &[]).await);
    let (seen, task) = record(&c);
    files(&c, "{1.1.0: 100}", "25,50,100", &["1.0.0", "1.1.0"]);
    let out = c.run("sync", &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("rollout Server"), "{}", stdout(&out));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    task.abort();
    assert_eq!(
        history(&seen),
        [
            w(&[("1.0.0", 100)]),
            w(&[("1.0.0", 75), ("1.1.0", 25)]),
            w(&[("1.0.0", 50), ("1.1.0", 50)]),
            w(&[("1.1.0", 100)]),
        ]
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_version_transition_keeps_the_total() {
    let c = TestCluster::new("three_versions").await;
    files(
        &c,
        "{1.0.0: 60, 1.1.0: 40}",
        "50,100",
        &["1.0.0", "1.1.0", "1.2.0"],
    );
    ok(&c.run("sync", &[]).await);
    let (seen, task) = record(&c);
    files(
        &c,
        "{1.1.0: 50, 1.2.0: 50}",
        "50,100",
        &["1.0.0", "1.1.0", "1.2.0"],
    );
    ok(&c.run("sync", &[]).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    task.abort();
    assert_eq!(
        history(&seen),
        [
            w(&[("1.0.0", 60), ("1.1.0", 40)]),
            w(&[("1.0.0", 30), ("1.1.0", 45), ("1.2.0", 25)]),
            w(&[("1.1.0", 50), ("1.2.0", 50)]),
        ]
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_version_is_rolled_back_without_ever_receiving_traffic() {
    let c = TestCluster::with("broken_version", |config| {
        config.unavailable_versions = ["1.1.0".to_owned()].into();
    })
    .await;
    let Some(_) = c.sim_only("an unavailable version") else {
        return c.cleanup().await;
    };
    files(&c, "{1.0.0: 100}", "25,100", &["1.0.0", "1.1.0"]);
    ok(&c.run("sync", &[]).await);
    let (seen, task) = record(&c);
    let fast =
        server("{1.1.0: 100}", "25,100").replace("progress-deadline: 20s", "progress-deadline: 2s");
    let mut all = vec![("domain.yaml", domain()), ("server.yaml", fast)];
    all.push(("c1.yaml", component("1.0.0", "1.0.0")));
    all.push(("c2.yaml", component("1.1.0", "1.1.0")));
    let refs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (*a, b.as_str())).collect();
    c.write_sources(&refs);
    let out = c.run("sync", &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rolled back") && stderr(&out).contains("1.1.0"),
        "{}",
        stderr(&out)
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    task.abort();
    assert_eq!(
        history(&seen),
        [w(&[("1.0.0", 100)])],
        "1.1.0 never got a weight"
    );
    // The reason is on the Server: a condition, an Event, and the status command.
    let s = c.api("servers").get_status("adder").await.unwrap();
    let conditions = s.data["status"]["conditions"].as_array().unwrap().clone();
    let rollout = conditions
        .iter()
        .find(|x| x["type"] == "Rollout")
        .expect("a Rollout condition");
    assert_eq!(rollout["status"], "False");
    assert_eq!(rollout["reason"], "RolloutAborted");
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(c.client.clone(), &c.ns);
    let list = events.list(&Default::default()).await.unwrap();
    assert!(
        list.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("RolloutAborted"))
    );
    let out = c.run_plain(&["rollout", "status", "adder"]).await;
    assert!(
        stdout(&out).contains("phase: Aborted") && stdout(&out).contains("1.1.0"),
        "{}",
        stdout(&out)
    );
    // The same target is not retried by the next sync of the same sources.
    let out = c.run("sync", &[]).await;
    assert!(stdout(&out).contains("held"), "{}", stdout(&out));
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_resumes_where_it_was() {
    let c = TestCluster::new("kill_resume").await;
    let slow =
        |weights: &str| server(weights, "20,40,60,80,100").replace("interval: 1s", "interval: 2s");
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), slow("{1.0.0: 100}")),
    ];
    all.push(("c1.yaml".into(), component("1.0.0", "1.0.0")));
    all.push(("c2.yaml".into(), component("1.1.0", "1.1.0")));
    c.write_all(&all);
    ok(&c.run("sync", &[]).await);
    let (seen, task) = record(&c);
    all[1].1 = slow("{1.1.0: 100}");
    c.write_all(&all);
    let mut child = c.spawn("sync", &[]);
    // Kill -9 once the second step is live.
    for _ in 0..200 {
        if history(&seen).len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = history(&seen).len();
    assert!(at_kill >= 3, "{:?}", history(&seen));
    ok(&c.run("sync", &[]).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    task.abort();
    let h = history(&seen);
    // Every vector is a step of the one transition, in order: nothing restarts from the start.
    let expected = [
        w(&[("1.0.0", 100)]),
        w(&[("1.0.0", 80), ("1.1.0", 20)]),
        w(&[("1.0.0", 60), ("1.1.0", 40)]),
        w(&[("1.0.0", 40), ("1.1.0", 60)]),
        w(&[("1.0.0", 20), ("1.1.0", 80)]),
        w(&[("1.1.0", 100)]),
    ];
    assert_eq!(h, expected);
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_target_mid_rollout_starts_from_the_live_weights() {
    let c = TestCluster::new("new_target").await;
    let slow = |weights: &str| server(weights, "10,100").replace("interval: 1s", "interval: 1h");
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), slow("{1.0.0: 100}")),
    ];
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
    ok(&c.run("sync", &[]).await);
    all[1].1 = slow("{1.1.0: 100}");
    c.write_all(&all);
    ok(&c.run("sync", &["--no-wait"]).await);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 90), ("1.1.0".to_owned(), 10)])
    );
    all[1].1 = slow("{1.2.0: 100}");
    c.write_all(&all);
    ok(&c.run("sync", &["--no-wait"]).await);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([
            ("1.0.0".to_owned(), 81),
            ("1.1.0".to_owned(), 9),
            ("1.2.0".to_owned(), 10)
        ])
    );
    // Back to where that rollout started: at once.
    all[1].1 = slow("{1.0.0: 90, 1.1.0: 10}");
    c.write_all(&all);
    ok(&c.run("sync", &["--no-wait"]).await);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 90), ("1.1.0".to_owned(), 10)])
    );
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_pause_resume_promote_abort_and_retry() {
    let c = TestCluster::new("manual").await;
    let slow = |weights: &str| server(weights, "10,50,100").replace("interval: 1s", "interval: 1h");
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), slow("{1.0.0: 100}")),
    ];
    for v in ["1.0.0", "1.1.0"] {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
    ok(&c.run("sync", &[]).await);
    all[1].1 = slow("{1.1.0: 100}");
    c.write_all(&all);
    ok(&c.run("sync", &["--no-wait"]).await);
    let at_10 = BTreeMap::from([("1.0.0".to_owned(), 90), ("1.1.0".to_owned(), 10)]);
    assert_eq!(weights(&c).await, at_10);

    ok(&c.run_plain(&["rollout", "pause", "adder"]).await);
    ok(&c.run("sync", &["--no-wait"]).await);
    let out = c.run_plain(&["rollout", "status", "adder"]).await;
    assert!(stdout(&out).contains("phase: Paused"), "{}", stdout(&out));
    // Promote does nothing while paused... resume first, then promote.
    ok(&c.run_plain(&["rollout", "resume", "adder"]).await);
    ok(&c.run_plain(&["rollout", "promote", "adder"]).await);
    ok(&c.run("sync", &["--no-wait"]).await);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.1.0".to_owned(), 100)])
    );

    // A fresh rollout aborted by hand goes back to its baseline and is held; retry resumes it.
    all[1].1 = slow("{1.0.0: 50, 1.1.0: 50}");
    c.write_all(&all);
    ok(&c.run("sync", &["--no-wait"]).await);
    let back = weights(&c).await;
    assert_eq!(
        back,
        BTreeMap::from([("1.0.0".to_owned(), 5), ("1.1.0".to_owned(), 95)])
    );
    ok(&c.run_plain(&["rollout", "abort", "adder"]).await);
    let out = c.run("sync", &["--no-wait"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.1.0".to_owned(), 100)])
    );
    let out = c.run("sync", &["--no-wait"]).await;
    assert!(stdout(&out).contains("held"), "{}", stdout(&out));
    ok(&c.run_plain(&["rollout", "retry", "adder"]).await);
    ok(&c.run("sync", &["--no-wait"]).await);
    assert_eq!(weights(&c).await, back);
    c.cleanup().await;
}

/// Writes a daemon configuration with the `error-rate` analysis against `prometheus`.
fn analysis_config(c: &TestCluster, prometheus: &str) -> String {
    let path = c.dir.path().join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "instance: test\nsource: {{url: \"file:///unused\"}}\nrollout:\n  analyses:\n    error-rate:\n      prometheus: {prometheus}\n      query: 'max(vimana_test_error_ratio{{server=\"{{{{server}}}}\",version=\"{{{{version}}}}\"}})'\n      max: 0.01\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_against_prometheus_passes_then_fails_and_rolls_back() {
    let exporter = super::prometheus::Exporter::start(
        "vimana_test_error_ratio{server=\"adder\",version=\"1.1.0\"} 0.001\nvimana_test_error_ratio{server=\"adder\",version=\"1.2.0\"} 0.5\n",
    )
    .await;
    let Some(prometheus) = super::prometheus::start(exporter.addr).await else {
        return;
    };
    let c = TestCluster::new("analysis").await;
    let analysed = |weights: &str| {
        server(weights, "50,100").replace(
            "    rollout.vimana.host/interval: 1s\n",
            "    rollout.vimana.host/interval: 1s\n    rollout.vimana.host/analysis: error-rate\n",
        )
    };
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), analysed("{1.0.0: 100}")),
    ];
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
    let config = analysis_config(&c, &prometheus.url);
    ok(&c.run("sync", &["--config", &config]).await);
    prometheus.wait_for("vimana_test_error_ratio").await;

    // 1.1.0 is healthy: both steps pass their analysis.
    all[1].1 = analysed("{1.1.0: 100}");
    c.write_all(&all);
    let out = c.run("sync", &["--config", &config]).await;
    ok(&out);
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.1.0".to_owned(), 100)])
    );
    let status = stdout(&c.run_plain(&["rollout", "status", "adder"]).await);
    assert!(
        status.contains("phase: Succeeded") && status.contains("1.1.0 pass value 0.001"),
        "{status}"
    );

    // 1.2.0 has an error ratio of 0.5: the first analysis fails (max-failures 1) and the
    // weights go back to the baseline.
    all[1].1 = analysed("{1.2.0: 100}");
    c.write_all(&all);
    let out = c.run("sync", &["--config", &config]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("analysis failed") && err.contains("1.2.0 fail = 0.5"),
        "{err}"
    );
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.1.0".to_owned(), 100)])
    );
    exporter.set("");
    c.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_without_data_holds_the_step_then_aborts() {
    let exporter = super::prometheus::Exporter::start("vimana_test_other 1\n").await;
    let Some(prometheus) = super::prometheus::start(exporter.addr).await else {
        return;
    };
    let c = TestCluster::new("no_data").await;
    let analysed = |weights: &str| {
        server(weights, "50,100").replace(
            "    rollout.vimana.host/progress-deadline: 20s\n",
            "    rollout.vimana.host/progress-deadline: 3s\n    rollout.vimana.host/analysis: error-rate\n",
        )
    };
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), analysed("{1.0.0: 100}")),
    ];
    for v in ["1.0.0", "1.1.0"] {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
    let config = analysis_config(&c, &prometheus.url);
    ok(&c.run("sync", &["--config", &config]).await);
    prometheus.wait_for("vimana_test_other").await;
    all[1].1 = analysed("{1.1.0: 100}");
    c.write_all(&all);
    let out = c.run("sync", &["--config", &config]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("analysis has no data yet"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("no analysis result within the progress deadline"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        weights(&c).await,
        BTreeMap::from([("1.0.0".to_owned(), 100)])
    );
    c.cleanup().await;
}

/// Collects the JSON events POSTed to it.
async fn receiver() -> (
    String,
    Arc<Mutex<Vec<serde_json::Value>>>,
    tokio::task::JoinHandle<()>,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let store = events.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |body: String| {
            let store = store.clone();
            async move {
                store
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or_default());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, events, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_notify_on_success_and_on_abort() {
    let c = TestCluster::with("notify", |config| {
        config.unavailable_versions = ["1.2.0".to_owned()].into();
    })
    .await;
    let Some(_) = c.sim_only("an unavailable version") else {
        return c.cleanup().await;
    };
    let (url, events, task) = receiver().await;
    let config = c.dir.path().join("notify.yaml");
    std::fs::write(
        &config,
        format!("instance: test\nsource: {{url: \"file:///unused\"}}\nnotify:\n  - url: {url}\n"),
    )
    .unwrap();
    let config = config.display().to_string();
    let quick = |weights: &str| {
        server(weights, "100").replace("progress-deadline: 20s", "progress-deadline: 2s")
    };
    let mut all = vec![
        ("domain.yaml".to_owned(), domain()),
        ("server.yaml".to_owned(), quick("{1.0.0: 100}")),
    ];
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        all.push((format!("c-{v}.yaml"), component(v, v)));
    }
    c.write_all(&all);
    ok(&c.run("sync", &["--config", &config]).await);
    all[1].1 = quick("{1.1.0: 100}");
    c.write_all(&all);
    ok(&c.run("sync", &["--config", &config]).await);
    all[1].1 = quick("{1.2.0: 100}");
    c.write_all(&all);
    assert_eq!(
        c.run("sync", &["--config", &config]).await.status.code(),
        Some(2)
    );
    task.abort();
    let kinds: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(kinds.contains(&"rollout-succeeded".to_owned()), "{kinds:?}");
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("rollout-aborted"),
        "{kinds:?}"
    );
    let last = events.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["object"], format!("Server {}/adder", c.ns));
    assert!(
        last["message"].as_str().unwrap().contains("1.2.0"),
        "{last}"
    );
    c.cleanup().await;
}
