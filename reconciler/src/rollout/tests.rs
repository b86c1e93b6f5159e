//! The engine's transitions with a scripted probe and a hand-moved clock.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::*;

/// A probe whose unavailable versions and analysis outcome the test sets.
#[derive(Default)]
struct Fake {
    unavailable: Mutex<BTreeSet<String>>,
    analysis: Mutex<Option<(Verdict, Option<f64>)>>,
    analyzed: Mutex<Vec<Vec<String>>>,
}

impl Probe for Fake {
    fn unavailable<'a>(
        &'a self,
        versions: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        let down = self.unavailable.lock().unwrap().clone();
        Box::pin(async move {
            Ok(versions
                .iter()
                .filter(|v| down.contains(*v))
                .cloned()
                .collect())
        })
    }

    fn analyze<'a>(&'a self, versions: &'a [String]) -> BoxFuture<'a, Vec<Measurement>> {
        self.analyzed.lock().unwrap().push(versions.to_vec());
        let (outcome, value) = self
            .analysis
            .lock()
            .unwrap()
            .unwrap_or((Verdict::Pass, Some(0.0)));
        Box::pin(async move {
            versions
                .iter()
                .map(|v| Measurement {
                    version: v.clone(),
                    value,
                    outcome,
                    detail: "test".into(),
                })
                .collect()
        })
    }
}

fn w(pairs: &[(&str, i32)]) -> Weights {
    pairs.iter().map(|(v, x)| ((*v).to_owned(), *x)).collect()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn policy() -> Policy {
    Policy {
        steps: vec![10, 50, 100],
        interval: Duration::from_secs(60),
        analysis: None,
        max_failures: 2,
        progress_deadline: Duration::from_secs(300),
    }
}

/// Drives a Server like the sync loop does: applies what the engine says and keeps its state
/// in an "annotation" (a string round trip, as a restarted process would read it).
struct Server {
    live: Weights,
    annotation: Option<String>,
    now: DateTime<Utc>,
    paused: bool,
    request: Option<(String, Request)>,
    analysis: bool,
}

impl Server {
    fn new(live: Weights) -> Server {
        Server {
            live,
            annotation: None,
            now: t0(),
            paused: false,
            request: None,
            analysis: false,
        }
    }

    async fn pass(&mut self, desired: &Weights, policy: &Policy, probe: &Fake) -> Advance {
        let input = Input {
            now: self.now,
            live: &self.live,
            desired,
            state: State::from_annotation(self.annotation.as_ref()),
            policy,
            analysis: self.analysis,
            revision: Some("rev-1"),
            paused: self.paused,
            request: self.request.clone(),
        };
        let a = advance(input, probe).await;
        if let Some(weights) = &a.apply {
            // A weight never points at an unavailable version.
            for (v, x) in weights {
                assert!(
                    *x == 0 || !probe.unavailable.lock().unwrap().contains(v),
                    "{v} got traffic while unavailable"
                );
            }
            self.live = weights.clone();
        }
        if let Some(s) = &a.state {
            self.annotation = Some(s.to_annotation());
        }
        a
    }

    fn state(&self) -> State {
        State::from_annotation(self.annotation.as_ref()).unwrap()
    }
}

#[tokio::test]
async fn two_versions_step_by_step_with_bake_times() {
    let probe = Fake::default();
    let (b, t) = (w(&[("1.0.0", 100)]), w(&[("1.1.0", 100)]));
    let mut s = Server::new(b.clone());
    let p = policy();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let a = s.pass(&t, &p, &probe).await;
        if a.apply.is_some() {
            seen.push(s.live.clone());
        }
        match a.wake {
            Some(wake) => {
                // Before the wake-up nothing happens and nothing is written.
                s.now = wake - secs(1);
                let idle = s.pass(&t, &p, &probe).await;
                assert!(idle.apply.is_none() && idle.state.is_none(), "{idle:?}");
                s.now = wake;
            }
            None => break,
        }
    }
    // The last step is the target as written.
    assert_eq!(
        seen,
        [
            w(&[("1.0.0", 90), ("1.1.0", 10)]),
            w(&[("1.0.0", 50), ("1.1.0", 50)]),
            w(&[("1.1.0", 100)])
        ]
    );
    assert_eq!(s.state().phase, Phase::Succeeded);
    assert_eq!(s.now, t0() + secs(180), "three bakes of 60 s");
}

#[tokio::test]
async fn three_versions_keep_the_total() {
    let probe = Fake::default();
    let b = w(&[("1.0.0", 60), ("1.1.0", 40)]);
    let t = w(&[("1.1.0", 50), ("1.2.0", 50)]);
    let mut s = Server::new(b);
    let p = policy();
    let mut seen = Vec::new();
    while let a = s.pass(&t, &p, &probe).await
        && a.wake.is_some()
    {
        if a.apply.is_some() {
            seen.push(s.live.clone());
        }
        s.now = a.wake.unwrap();
    }
    assert_eq!(
        seen,
        [
            w(&[("1.0.0", 54), ("1.1.0", 41), ("1.2.0", 5)]),
            w(&[("1.0.0", 30), ("1.1.0", 45), ("1.2.0", 25)]),
            w(&[("1.1.0", 50), ("1.2.0", 50)]),
        ]
    );
    for v in &seen {
        assert_eq!(v.values().sum::<i32>(), 100);
    }
}

#[tokio::test]
async fn an_unavailable_version_aborts_at_the_deadline_without_traffic() {
    let probe = Fake::default();
    probe.unavailable.lock().unwrap().insert("1.1.0".into());
    let b = w(&[("1.0.0", 100)]);
    let t = w(&[("1.0.0", 0), ("1.1.0", 100)]);
    let mut s = Server::new(b.clone());
    let p = policy();
    let a = s.pass(&t, &p, &probe).await;
    assert!(matches!(a.status, Status::Waiting(_)), "{:?}", a.status);
    assert_eq!(
        a.wake,
        Some(t0() + chrono::Duration::milliseconds(200)),
        "looks again soon"
    );
    // Looking again with the same reason writes nothing, and looks less and less often.
    s.now = t0() + secs(60);
    let a = s.pass(&t, &p, &probe).await;
    assert!(a.state.is_none());
    assert_eq!(a.wake, Some(s.now + secs(10)));
    s.now = t0() + secs(300);
    let a = s.pass(&t, &p, &probe).await;
    assert!(
        matches!(&a.status, Status::Aborted(r) if r.contains("1.1.0")),
        "{:?}",
        a.status
    );
    assert_eq!(s.live, b, "never moved");
    // The aborted target is held for this revision.
    s.now += secs(600);
    let a = s.pass(&t, &p, &probe).await;
    assert!(matches!(a.status, Status::Held(_)), "{:?}", a.status);
    assert!(a.apply.is_none());
}

#[tokio::test]
async fn failing_analysis_rolls_back_to_the_baseline() {
    let probe = Fake::default();
    *probe.analysis.lock().unwrap() = Some((Verdict::Fail, Some(0.5)));
    let b = w(&[("1.0.0", 100)]);
    let t = w(&[("1.1.0", 100)]);
    let mut s = Server::new(b.clone());
    s.analysis = true;
    let p = policy();
    s.pass(&t, &p, &probe).await;
    assert_eq!(s.live, w(&[("1.0.0", 90), ("1.1.0", 10)]));
    s.now += secs(60);
    let a = s.pass(&t, &p, &probe).await;
    assert!(
        matches!(a.status, Status::Waiting(_)),
        "one failure of two allowed: {:?}",
        a.status
    );
    assert_eq!(
        probe.analyzed.lock().unwrap().last().unwrap(),
        &["1.1.0".to_owned()],
        "only the canary is measured"
    );
    s.now += secs(60);
    let a = s.pass(&t, &p, &probe).await;
    assert!(
        matches!(&a.status, Status::Aborted(r) if r.contains("analysis failed 2 time(s)") && r.contains("0.5")),
        "{:?}",
        a.status
    );
    assert_eq!(s.live, b);
    assert_eq!(s.state().failures, 2);
    // A retry request tries again.
    *probe.analysis.lock().unwrap() = Some((Verdict::Pass, Some(0.0)));
    s.request = Some(("retry@1".into(), Request::Retry));
    s.pass(&t, &p, &probe).await;
    assert_eq!(s.live, w(&[("1.0.0", 90), ("1.1.0", 10)]));
}

#[tokio::test]
async fn no_data_holds_the_step_then_fails_at_the_deadline() {
    let probe = Fake::default();
    *probe.analysis.lock().unwrap() = Some((Verdict::NoData, None));
    let mut s = Server::new(w(&[("1.0.0", 100)]));
    s.analysis = true;
    let t = w(&[("1.1.0", 100)]);
    let p = policy();
    s.pass(&t, &p, &probe).await;
    s.now += secs(60);
    let a = s.pass(&t, &p, &probe).await;
    assert!(matches!(a.status, Status::Waiting(_)));
    assert_eq!(s.state().failures, 0, "no data is not a failure");
    assert_eq!(s.state().no_data, 1);
    assert_eq!(
        s.live,
        w(&[("1.0.0", 90), ("1.1.0", 10)]),
        "held at the step"
    );
    s.now += secs(300);
    let a = s.pass(&t, &p, &probe).await;
    assert!(
        matches!(&a.status, Status::Aborted(r) if r.contains("no analysis result")),
        "{:?}",
        a.status
    );
    assert_eq!(s.live, w(&[("1.0.0", 100)]));
}

#[tokio::test]
async fn a_new_target_mid_rollout_starts_from_live_and_a_revert_is_immediate() {
    let probe = Fake::default();
    let mut s = Server::new(w(&[("1.0.0", 100)]));
    let p = policy();
    s.pass(&w(&[("1.1.0", 100)]), &p, &probe).await;
    assert_eq!(s.live, w(&[("1.0.0", 90), ("1.1.0", 10)]));
    s.now += secs(5);
    let t2 = w(&[("1.2.0", 100)]);
    s.pass(&t2, &p, &probe).await;
    assert_eq!(s.state().baseline, w(&[("1.0.0", 90), ("1.1.0", 10)]));
    assert_eq!(s.live, w(&[("1.0.0", 81), ("1.1.0", 9), ("1.2.0", 10)]));
    // Back to that rollout's baseline: applied at once.
    let base = w(&[("1.0.0", 90), ("1.1.0", 10)]);
    let a = s.pass(&base, &p, &probe).await;
    assert_eq!(s.live, base);
    assert_eq!(a.status, Status::Succeeded);
}

#[tokio::test]
async fn pause_resume_promote_and_abort_by_hand() {
    let probe = Fake::default();
    let mut s = Server::new(w(&[("1.0.0", 100)]));
    let p = policy();
    let t = w(&[("1.1.0", 100)]);
    s.pass(&t, &p, &probe).await;
    s.paused = true;
    s.now += secs(120);
    let a = s.pass(&t, &p, &probe).await;
    assert_eq!(a.status, Status::Paused);
    assert_eq!(s.state().phase, Phase::Paused);
    assert_eq!(s.live, w(&[("1.0.0", 90), ("1.1.0", 10)]));
    s.paused = false;
    let a = s.pass(&t, &p, &probe).await;
    assert_eq!(
        a.wake,
        Some(s.now + secs(60)),
        "resuming bakes the step again"
    );
    s.request = Some(("promote@1".into(), Request::Promote));
    s.pass(&t, &p, &probe).await;
    assert_eq!(s.live, t);
    // The request is handled once; the promoted step still bakes, then succeeds.
    let a = s.pass(&t, &p, &probe).await;
    assert_eq!(a.status, Status::Progressing);
    s.now += secs(60);
    let a = s.pass(&t, &p, &probe).await;
    assert_eq!(a.status, Status::Succeeded);

    let mut s = Server::new(w(&[("1.0.0", 100)]));
    s.pass(&t, &p, &probe).await;
    s.request = Some(("abort@7".into(), Request::Abort));
    let a = s.pass(&t, &p, &probe).await;
    assert!(matches!(a.status, Status::Aborted(_)));
    assert_eq!(s.live, w(&[("1.0.0", 100)]));
}

#[tokio::test]
async fn no_live_traffic_goes_to_the_target_in_one_step() {
    let probe = Fake::default();
    let mut s = Server::new(Weights::new());
    let t = w(&[("1.0.0", 100)]);
    probe.unavailable.lock().unwrap().insert("1.0.0".into());
    let a = s.pass(&t, &policy(), &probe).await;
    assert!(matches!(a.status, Status::Waiting(_)) && a.apply.is_none());
    probe.unavailable.lock().unwrap().clear();
    s.now += secs(1);
    let a = s.pass(&t, &policy(), &probe).await;
    assert_eq!(s.live, t);
    assert_eq!(
        (a.status, a.wake),
        (Status::Succeeded, None),
        "no bake without traffic to protect"
    );
}

#[test]
fn measurements_keep_the_words_of_the_recorded_state() {
    let m = Measurement {
        version: "1.1.0".into(),
        value: None,
        outcome: Verdict::NoData,
        detail: "err: no sample".into(),
    };
    let text = serde_json::to_string(&m).unwrap();
    assert!(text.contains(r#""outcome":"no-data""#), "{text}");
    assert_eq!(serde_json::from_str::<Measurement>(&text).unwrap(), m);
    assert_eq!(Verdict::Fail.to_string(), "fail");
}
