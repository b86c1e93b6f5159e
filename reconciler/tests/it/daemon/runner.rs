//! The sync loop with a scripted sync over a real Git source: coalescing, unchanged revisions,
//! fetch failures with backoff, the retry policy, shutdown, standby, schedule, logs without
//! secrets, and the whole daemon over a real port.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::imp::config::{Auth, Config, Provider, RateLimit, SecretRef};
use super::imp::gitsource::GitSource;
use super::imp::runner::{
    Backoff, Runner, SyncError, SyncFn, SyncReport, SyncRequest, SyncResult, Trigger, sync_fn,
};
use super::imp::schedule::Schedule;
use super::imp::state::{Role, State};
use super::imp::webhook::{WebhookSettings, sign};
use super::support::{HttpGit, Upstream};

/// The longest any step of these tests may take before the test is declared stuck. A bound,
/// not a measurement: every wait ends as soon as its event happens.
const STUCK: Duration = Duration::from_secs(60);

/// A scripted sync: reports each call, waits for a permit, returns the next scripted result
/// (success by default).
struct Fake {
    calls: mpsc::UnboundedReceiver<SyncRequest>,
    gate: Arc<Semaphore>,
    results: Arc<Mutex<VecDeque<SyncResult>>>,
}

fn fake(open: bool) -> (SyncFn, Fake) {
    let (tx, calls) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(if open {
        Semaphore::MAX_PERMITS
    } else {
        0
    }));
    let results = Arc::new(Mutex::new(VecDeque::new()));
    let (g, r) = (gate.clone(), results.clone());
    let sync = sync_fn(move |req: SyncRequest| {
        let (tx, gate, results) = (tx.clone(), g.clone(), r.clone());
        async move {
            tx.send(req).unwrap();
            gate.acquire().await.unwrap().forget();
            let scripted = results.lock().unwrap().pop_front();
            scripted.unwrap_or(Ok(SyncReport {
                objects: 4,
                applied: 0,
                pruned: 0,
                rollouts: vec![],
            }))
        }
    });
    (
        sync,
        Fake {
            calls,
            gate,
            results,
        },
    )
}

impl Fake {
    async fn next(&mut self) -> SyncRequest {
        tokio::time::timeout(STUCK, self.calls.recv())
            .await
            .expect("the sync was called")
            .unwrap()
    }
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

fn metric(state: &State, line_start: &str) -> u64 {
    state
        .metrics
        .encode()
        .lines()
        .find_map(|l| {
            l.strip_prefix(line_start)
                .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        })
        .unwrap_or(0)
}

struct Loop {
    state: Arc<State>,
    source: Arc<GitSource>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _cache: tempfile::TempDir,
}

impl Loop {
    fn start(up: &Upstream, sync: SyncFn, schedule: Option<Schedule>, role: Role) -> Loop {
        let cache = tempfile::tempdir().unwrap();
        let source = Arc::new(
            GitSource::new(&Upstream::source(
                up.bare().to_str().unwrap(),
                "main",
                cache.path(),
            ))
            .unwrap(),
        );
        Loop::with_source(source, sync, schedule, role, cache)
    }

    fn with_source(
        source: Arc<GitSource>,
        sync: SyncFn,
        schedule: Option<Schedule>,
        role: Role,
        cache: tempfile::TempDir,
    ) -> Loop {
        let state = State::new(
            "test",
            &source.display_url(),
            source.reference(),
            source.path(),
            WebhookSettings::new(
                None,
                Provider::ALL.to_vec(),
                1024,
                RateLimit::default(),
                "main",
            ),
        );
        state.set_role(role);
        let runner =
            Runner::new(state.clone(), source.clone(), sync, schedule).with_backoff(Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(40),
            });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(runner.run(async move {
            let _ = stopped.await;
        }));
        Loop {
            state,
            source,
            stop: Some(stop),
            task,
            _cache: cache,
        }
    }

    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(STUCK, self.task)
            .await
            .expect("the loop stops")
            .unwrap();
    }
}

#[tokio::test]
async fn triggers_during_a_sync_coalesce_into_one_follow_up() {
    let up = Upstream::new();
    let (sync, mut fake) = fake(false);
    let l = Loop::start(&up, sync, None, Role::Leader);
    let first = fake.next().await;
    assert_eq!(first.trigger, Trigger::Start);
    assert!(l.state.status().syncing);
    for _ in 0..100 {
        l.state.trigger(Trigger::Webhook(Provider::Github));
    }
    l.state.trigger(Trigger::Manual);
    assert!(l.state.status().pending);
    fake.gate.add_permits(1);
    let second = fake.next().await;
    assert_eq!(
        second.trigger,
        Trigger::Webhook(Provider::Github),
        "the first request names the follow-up"
    );
    fake.gate.add_permits(1);
    eventually("two syncs recorded", || {
        metric(&l.state, "reconciler_syncs_total{result=\"success\"}") == 2
            && !l.state.status().syncing
    })
    .await;
    assert!(!l.state.status().pending);
    l.shutdown().await;
    assert!(
        fake.calls.try_recv().is_err(),
        "101 triggers during one sync make one follow-up"
    );
}

#[tokio::test]
async fn an_unchanged_revision_is_synced_again_and_a_new_one_after_it() {
    let up = Upstream::new();
    let a = up.head();
    let (sync, mut fake) = fake(true);
    let l = Loop::start(&up, sync, None, Role::Leader);
    let first = fake.next().await;
    assert_eq!(
        (first.commit(), first.previous.as_deref()),
        (a.as_str(), None)
    );
    let text = first
        .with_tree(|t| {
            String::from_utf8(render::SourceTree::read(t, "clusters/prod/app.yaml").unwrap())
                .unwrap()
        })
        .unwrap();
    assert_eq!(text, "version: 1\n");
    eventually("first sync recorded", || {
        l.state.status().revision.is_some()
    })
    .await;
    l.state.trigger(Trigger::Manual);
    let second = fake.next().await;
    assert_eq!(
        (second.commit(), second.previous.as_deref()),
        (a.as_str(), Some(a.as_str()))
    );
    assert_eq!(second.trigger, Trigger::Manual);
    eventually("second sync recorded", || {
        metric(&l.state, "reconciler_syncs_total{result=\"success\"}") == 2
    })
    .await;
    let b = up.commit(&[("clusters/prod/app.yaml", "version: 2\n")], "second");
    l.state.trigger(Trigger::Webhook(Provider::Gitea));
    let third = fake.next().await;
    assert_eq!(
        (third.commit(), third.previous.as_deref()),
        (b.as_str(), Some(a.as_str()))
    );
    eventually("third sync recorded", || {
        l.state.status().revision.as_deref() == Some(b.as_str())
    })
    .await;
    l.shutdown().await;
}

#[tokio::test]
async fn a_failing_fetch_is_retried_with_backoff_and_the_last_good_revision_stays() {
    let up = Upstream::new();
    let a = up.head();
    let (sync, mut fake) = fake(true);
    let l = Loop::start(&up, sync, None, Role::Leader);
    assert_eq!(fake.next().await.commit(), a);
    eventually("synced", || l.state.status().revision.is_some()).await;

    let away = up.served_root().join("away.git");
    std::fs::rename(up.bare(), &away).unwrap();
    l.state.trigger(Trigger::Manual);
    eventually("three failed fetches", || {
        metric(
            &l.state,
            "reconciler_git_fetch_errors_total{kind=\"unreachable\"}",
        ) >= 3
    })
    .await;
    let status = l.state.status();
    let error = status.source.fetch_error.expect("the failure is shown");
    assert!(error.consecutive_failures >= 3, "{error:?}");
    assert!(error.next_retry.is_some());
    assert_eq!(
        status.revision.as_deref(),
        Some(a.as_str()),
        "the last good revision stays"
    );
    assert_eq!(l.source.last_good().unwrap().commit, a);
    assert!(
        fake.calls.try_recv().is_err(),
        "no sync without a fetched revision"
    );

    std::fs::rename(&away, up.bare()).unwrap();
    let retried = fake.next().await;
    assert_eq!(retried.trigger, Trigger::Retry);
    assert_eq!(retried.commit(), a);
    eventually("the error clears", || {
        l.state.status().source.fetch_error.is_none()
    })
    .await;
    l.shutdown().await;
}

#[tokio::test]
async fn retryable_sync_failures_are_retried_and_others_wait_for_a_trigger() {
    let up = Upstream::new();
    let (sync, mut fake) = fake(true);
    fake.results.lock().unwrap().extend([
        Err(SyncError {
            message: "the cluster is unreachable".into(),
            errors: vec![],
            retry: true,
        }),
        Ok(SyncReport::default()),
        Err(SyncError {
            message: "2 errors in the sources".into(),
            errors: vec!["a.yaml:1:1: bad".into(), "b.yaml:2:2: worse".into()],
            retry: false,
        }),
    ]);
    let l = Loop::start(&up, sync, None, Role::Leader);
    assert_eq!(fake.next().await.trigger, Trigger::Start);
    assert_eq!(fake.next().await.trigger, Trigger::Retry);
    eventually("success", || l.state.is_ready()).await;
    l.state.trigger(Trigger::Manual);
    assert_eq!(fake.next().await.trigger, Trigger::Manual);
    eventually("failure recorded", || {
        l.state
            .status()
            .last_sync
            .is_some_and(|s| s.result == "failure")
    })
    .await;
    let status = l.state.status();
    let last = status.last_sync.unwrap();
    assert_eq!(last.errors.len(), 2);
    assert_eq!(last.message.as_deref(), Some("2 errors in the sources"));
    assert!(status.last_successful_sync.is_some());
    l.state.trigger(Trigger::Manual);
    assert_eq!(
        fake.next().await.trigger,
        Trigger::Manual,
        "invalid sources are not retried"
    );
    l.shutdown().await;
}

#[tokio::test]
async fn shutdown_asks_the_running_sync_to_stop_and_waits_for_it() {
    let up = Upstream::new();
    let (tx, mut started) = mpsc::unbounded_channel();
    let saw_stop = Arc::new(Mutex::new(false));
    let seen = saw_stop.clone();
    let sync = sync_fn(move |req: SyncRequest| {
        let (tx, seen) = (tx.clone(), seen.clone());
        async move {
            let mut stop = req.stop.clone();
            tx.send(()).unwrap();
            stop.stopping().await;
            *seen.lock().unwrap() = stop.is_stopping();
            Ok(SyncReport::default())
        }
    });
    let l = Loop::start(&up, sync, None, Role::Leader);
    tokio::time::timeout(STUCK, started.recv())
        .await
        .unwrap()
        .unwrap();
    let state = l.state.clone();
    l.shutdown().await;
    assert!(*saw_stop.lock().unwrap(), "the sync was told to stop");
    let status = state.status();
    assert_eq!(
        status.last_sync.unwrap().result,
        "success",
        "the stopped sync was recorded"
    );
    assert!(!status.syncing);
    assert!(started.try_recv().is_err(), "no sync after the stop");
}

#[tokio::test]
async fn a_standby_does_not_sync_until_it_leads() {
    let up = Upstream::new();
    let (sync, mut fake) = fake(true);
    let l = Loop::start(&up, sync, None, Role::Standby);
    l.state.trigger(Trigger::Manual);
    // Not a measurement: a standby that wrongly synced would very likely have done so by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fake.calls.try_recv().is_err(), "a standby never syncs");
    assert!(
        l.state.status().pending,
        "the request waits for the leadership"
    );
    l.state.set_role(Role::Leader);
    let first = fake.next().await;
    assert_eq!(
        first.trigger,
        Trigger::Manual,
        "the waiting request, with the leader's folded in"
    );
    eventually("synced", || l.state.is_ready()).await;
    l.shutdown().await;
}

#[tokio::test]
async fn the_schedule_triggers_syncs() {
    let up = Upstream::new();
    let (sync, mut fake) = fake(true);
    let every_second = Schedule::parse("* * * * * *", Duration::ZERO).unwrap();
    let l = Loop::start(&up, sync, Some(every_second), Role::Leader);
    assert_eq!(fake.next().await.trigger, Trigger::Start);
    assert!(l.state.status().next_scheduled_sync.is_some());
    assert_eq!(fake.next().await.trigger, Trigger::Schedule);
    l.shutdown().await;
}

/// Captured log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary from the first call on, as JSON. A global subscriber
/// rather than a scoped one: callsites hit by parallel tests before a scoped subscriber exists
/// can keep a cached "not interested" and miss its events.
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
}

#[tokio::test]
async fn a_refused_token_is_in_no_log_status_or_error() {
    const TOKEN: &str = "tok-Do-Not-Log-8080";
    let logs = captured_logs();
    let up = Upstream::new();
    let server = HttpGit::start(&up.served_root(), "bot", "the-right-token");
    let cache = tempfile::tempdir().unwrap();
    let token_file = cache.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let mut config = Upstream::source(&server.url("repo.git"), "main", cache.path());
    config.auth = Auth::Token {
        username: "bot".into(),
        token: SecretRef::File(token_file),
    };
    let source = Arc::new(GitSource::new(&config).unwrap());
    let (sync, mut fake) = fake(true);
    let l = Loop::with_source(source, sync, None, Role::Leader, cache);
    eventually("two refused fetches", || {
        metric(&l.state, "reconciler_git_fetch_errors_total{kind=\"auth\"}") >= 2
    })
    .await;
    let status = serde_json::to_string(&l.state.status()).unwrap();
    l.shutdown().await;
    assert!(fake.calls.try_recv().is_err());
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("fetch failed"), "{logs}");
    assert!(logs.contains("refused the token"), "{logs}");
    assert!(status.contains("refused the token"), "{status}");
    assert!(!logs.contains(TOKEN), "{logs}");
    assert!(!status.contains(TOKEN), "{status}");
}

/// One HTTP/1.1 request over a fresh connection; the status code and body.
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(STUCK)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

#[tokio::test]
async fn the_daemon_serves_endpoints_and_syncs_on_a_signed_webhook() {
    let up = Upstream::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("webhook-secret"), "hook-secret\n").unwrap();
    let text = format!(
        "instance: it\nsource: {{ url: '{}', cacheDir: cache }}\nschedule: off\nwebhook: {{ listen: '127.0.0.1:0', secretFile: webhook-secret }}\n",
        up.bare().display()
    );
    std::fs::write(dir.path().join("config.yaml"), text).unwrap();
    let config = Config::load(&dir.path().join("config.yaml")).unwrap();
    let (sync, mut fake) = fake(true);
    let (stop, stopped) = oneshot::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel();
    let daemon = tokio::spawn(super::imp::run(
        config,
        sync,
        async move {
            let _ = stopped.await;
        },
        move |state, addr| {
            let _ = started_tx.send((state, addr));
        },
    ));
    let (state, addr) = tokio::time::timeout(STUCK, started_rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fake.next().await.trigger, Trigger::Start);
    eventually("ready", || state.is_ready()).await;
    let get =
        |path: &'static str| tokio::task::spawn_blocking(move || http(addr, "GET", path, &[], ""));
    assert_eq!(get("/healthz").await.unwrap().0, 200);
    assert_eq!(get("/readyz").await.unwrap().0, 200);
    let (code, body) = get("/status").await.unwrap();
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["instance"], "it");
    assert_eq!(status["revision"], up.head());

    let push = r#"{"ref":"refs/heads/main"}"#;
    let signed = vec![
        ("X-GitHub-Event", "push".to_owned()),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", sign("hook-secret", push.as_bytes())),
        ),
    ];
    let forged = vec![
        ("X-GitHub-Event", "push".to_owned()),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", sign("guess", push.as_bytes())),
        ),
    ];
    let (code, _) =
        tokio::task::spawn_blocking(move || http(addr, "POST", "/hooks/github", &forged, push))
            .await
            .unwrap();
    assert_eq!(code, 401);
    // A push: a new commit announced by a signed webhook.
    up.commit(&[("clusters/prod/app.yaml", "version: 2\n")], "second");
    let (code, _) =
        tokio::task::spawn_blocking(move || http(addr, "POST", "/hooks/github", &signed, push))
            .await
            .unwrap();
    assert_eq!(code, 202);
    assert_eq!(
        fake.next().await.trigger,
        Trigger::Webhook(Provider::Github)
    );
    let (_, metrics) = get("/metrics").await.unwrap();
    assert!(
        metrics.contains(
            "reconciler_webhook_requests_total{provider=\"github\",outcome=\"unauthorized\"} 1"
        ),
        "{metrics}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(STUCK, daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        fake.calls.try_recv().is_err(),
        "the forged webhook synced nothing"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn webhooks_for_a_revision_already_synced_start_no_sync() {
    let up = Upstream::new();
    let (sync, mut fake) = fake(true);
    let l = Loop::start(&up, sync, None, Role::Leader);
    assert_eq!(fake.next().await.trigger, Trigger::Start);
    eventually("first sync recorded", || {
        l.state.status().revision.is_some() && !l.state.status().syncing
    })
    .await;
    for _ in 0..50 {
        l.state.trigger(Trigger::Webhook(Provider::Github));
    }
    eventually("the webhooks handled", || {
        !l.state.status().pending && !l.state.status().syncing
    })
    .await;
    // Had the webhooks made a sync, it would come before this one.
    l.state.trigger(Trigger::Manual);
    assert_eq!(fake.next().await.trigger, Trigger::Manual);
    l.shutdown().await;
}

/// GET `path` over a fresh connection; the body.
async fn get_body(addr: std::net::SocketAddr, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || http(addr, "GET", path, &[], ""))
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn tokens_in_the_source_url_show_in_logs_status_and_errors() {
    let logs = captured_logs();
    let up = Upstream::new();
    let server = HttpGit::start(&up.served_root(), "bot", "the-right-token");
    let at = server.addr;
    // Each form of credential in a URL, with a secret that must appear nowhere.
    let forms = [
        (
            format!("http://ghp_TokenAsUser0001@{at}/git/repo.git"),
            "ghp_TokenAsUser0001",
        ),
        (
            format!("http://bot:Pass%2Fword-Secret0002@{at}/git/repo.git"),
            "word-Secret0002",
        ),
        (
            format!("http://bot:12/Slash-Secret0003@{at}/git/repo.git"),
            "Slash-Secret0003",
        ),
        (
            format!("http://{at}/git/repo.git?private_token=glpat-Query0004"),
            "Query0004",
        ),
        (
            format!("http://{at}/git/repo.git?access_token=Access0005&x=1"),
            "Access0005",
        ),
        (
            format!("http://{at}/git/repo.git?token=Plain0006#Frag"),
            "Plain0006",
        ),
        (
            format!("http://ghp_User0007:x-oauth-basic@{at}/git/repo.git"),
            "ghp_User0007",
        ),
    ];
    let mut shown = Vec::new();
    for (url, _) in &forms {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "instance: it\nsource: {{ url: '{url}', cacheDir: cache, timeout: 5s }}\nschedule: off\nwebhook: {{ listen: '127.0.0.1:0' }}\n"
        );
        std::fs::write(dir.path().join("config.yaml"), text).unwrap();
        let config = Config::load(&dir.path().join("config.yaml")).unwrap();
        let (sync, _fake) = fake(true);
        let (stop, stopped) = oneshot::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel();
        let daemon = tokio::spawn(super::imp::run(
            config,
            sync,
            async move {
                let _ = stopped.await;
            },
            move |state, addr| {
                let _ = started_tx.send((state, addr));
            },
        ));
        let (state, addr) = tokio::time::timeout(STUCK, started_rx)
            .await
            .unwrap()
            .unwrap();
        eventually("a failed fetch", || {
            state.status().source.fetch_error.is_some()
        })
        .await;
        let status = get_body(addr, "/status").await;
        let error = state.status().source.fetch_error.unwrap().message;
        assert!(status.contains("\"fetchError\""), "{status}");
        shown.push(status);
        shown.push(error);
        shown.push(format!("{:?}", state.status()));
        stop.send(()).unwrap();
        tokio::time::timeout(STUCK, daemon)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    // A password with an unencoded `/` that the URL parser cannot read: refused at start,
    // without repeating it.
    let unreadable = super::imp::config::Config::parse(
        "source: { url: 'https://u:pa/ss-Secret0008@git.example.org/r.git' }\n",
        None,
    )
    .unwrap_err();
    shown.push(format!("{unreadable:#} {unreadable:?}"));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("daemon started"), "{logs}");
    shown.push(logs);
    for text in &shown {
        for (_, secret) in &forms {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
        assert!(!text.contains("ss-Secret0008"), "{text}");
        assert!(!text.contains("Frag"), "{text}");
    }
    let all = shown.join("\n");
    assert!(all.contains("http://<redacted>@"), "{all}");
    assert!(all.contains("?<redacted>"), "{all}");
    assert!(all.contains("bot:<redacted>@"), "{all}");
}
