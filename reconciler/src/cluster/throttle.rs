//! The client's side of the API server's flow control: a bound on the requests this process
//! has in flight, and 429 answers honoured (a layer of the kube client, so every request of
//! the process passes it).
//!
//! - At most the bound given to [`ThrottleLayer::new`] (`ClusterArgs::max_in_flight`) requests are in flight at once (long-running watches are not
//!   counted, as kube-apiserver does not count them either). A real kube-apiserver serves 400
//!   read-only and 200 mutating requests at once by default (`--max-requests-inflight`,
//!   `--max-mutating-requests-inflight`) and shares them among every client, so one client is
//!   well inside them with a few dozen; [`DEFAULT_MAX_IN_FLIGHT`] says why 64.
//! - A 429 answer (max-in-flight or API Priority and Fairness: `tooManyRequests` in
//!   `staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go`, a plain-text body and a
//!   `Retry-After` header in seconds, 1 to 32 under APF) is tried again after at least the
//!   `Retry-After` seconds, at most [`RETRIES_429`] times, as client-go does
//!   (`checkWait` in `client-go/rest/request.go`: it sleeps `Retry-After` and retries up to
//!   10 times). The kube crate's error keeps neither the headers nor a `Status`'s
//!   `details.retryAfterSeconds`, hence a layer, which sees the answer before the crate does.
//! - A 429 also halves the bound (down to 1), and it grows back by one after as many answers
//!   in a row as the bound (additive increase, multiplicative decrease, as TCP shares a link):
//!   a client that keeps a server busy backs off without knowing the server's limits. For
//!   [`HOLD`] after a 429 it grows back only to just under the bound that met it: every 429
//!   costs its request a whole `Retry-After`, so probing the server's limit again at once
//!   costs more than it gains (a 1.5k-object sync at 64 against a simulated server that
//!   serves 16 mutating requests at once, 5 ms each: 7.4 s without the hold, 4.4 s with it,
//!   1.9 s at 16; most of it the first bursts' `Retry-After: 1`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use kube::client::Body;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default bound of requests in flight. Measured on the benchmark's 1.5k-object initial
/// sync against a simulated cluster that answers every request after 5 ms (3,417 requests):
/// 1.8 s at 16, 1.07 s at 32, 0.84 s at 48, 0.75 s at 64, 0.69 s at 96, 0.66 s at 128; on
/// loopback 0.60 s at 16 and 0.64 s at 64. 64 is where more buys little, and a sixth of a
/// kube-apiserver's default 400 read-only slots, a third of its 200 mutating ones (which
/// the AIMD above gives back when the server answers 429).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// How many times a request answered 429 is tried again (client-go's default `maxRetries`).
pub const RETRIES_429: u32 = 10;

/// The wait after a 429 without a usable `Retry-After` (maxinflight.go sends 1).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long the bound stays under the one that met a 429.
pub const HOLD: Duration = Duration::from_secs(30);

/// The longest `Retry-After` honoured: APF asks for at most 32 s; a larger value is a
/// misconfigured proxy, and waiting it would look like a hang.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The current bound and what moves it.
#[derive(Debug)]
struct Window {
    /// Requests allowed in flight now.
    limit: usize,
    /// The configured bound, which `limit` grows back to.
    max: usize,
    /// Slots still to take back from requests in flight after a decrease (a semaphore can
    /// only forget the slots that are free).
    debt: usize,
    /// Answers since the last change of `limit`.
    answered: usize,
    /// The largest `limit` until `held_until`: one less than the bound that met a 429.
    ceiling: usize,
    held_until: Option<tokio::time::Instant>,
    /// Bumped at each decrease: a 429 to a request sent before the last decrease belongs to
    /// the same burst and does not halve the bound again.
    generation: u64,
}

#[derive(Debug)]
struct State {
    slots: Arc<Semaphore>,
    window: Mutex<Window>,
}

impl State {
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request was answered, not with 429: one step towards a larger bound.
    fn answered(&self) {
        let mut w = self.window();
        w.answered += 1;
        let top = match w.held_until {
            Some(until) if tokio::time::Instant::now() < until => w.ceiling,
            _ => w.max,
        };
        if w.answered >= w.limit && w.limit < top {
            w.answered = 0;
            w.limit += 1;
            if w.debt > 0 {
                w.debt -= 1;
            } else {
                self.slots.add_permits(1);
            }
        }
    }

    /// A request sent in `generation` was answered 429: halve the bound, once per burst.
    fn throttled(&self, generation: u64) {
        let mut w = self.window();
        if w.generation != generation {
            return;
        }
        w.ceiling = (w.limit - 1).max(1);
        w.held_until = Some(tokio::time::Instant::now() + HOLD);
        if w.limit == 1 {
            return;
        }
        let cut = w.limit - (w.limit / 2).max(1);
        w.limit -= cut;
        w.generation += 1;
        w.answered = 0;
        let forgotten = self.slots.forget_permits(cut);
        w.debt += cut - forgotten;
        tracing::debug!(limit = w.limit, "429: fewer requests in flight");
    }

    /// Gives a slot back, or keeps it when the bound owes slots.
    fn release(&self, permit: OwnedSemaphorePermit) {
        let mut w = self.window();
        if w.debt > 0 {
            w.debt -= 1;
            permit.forget();
        }
    }

    fn generation(&self) -> u64 {
        self.window().generation
    }
}

/// Bounds the requests in flight and honours 429 (see the module).
#[derive(Clone, Debug)]
pub struct ThrottleLayer {
    state: Arc<State>,
}

impl ThrottleLayer {
    /// At most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> ThrottleLayer {
        let max = max.max(1);
        ThrottleLayer {
            state: Arc::new(State {
                slots: Arc::new(Semaphore::new(max)),
                window: Mutex::new(Window {
                    limit: max,
                    max,
                    debt: 0,
                    answered: 0,
                    ceiling: max,
                    held_until: None,
                    generation: 0,
                }),
            }),
        }
    }

    /// Requests allowed in flight now (the bound after the 429s so far).
    pub fn limit(&self) -> usize {
        self.state.window().limit
    }
}

impl<S> tower::Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Throttle<S> {
        Throttle {
            inner: Arc::new(tokio::sync::Mutex::new(inner)),
            state: self.state.clone(),
        }
    }
}

/// The service of [`ThrottleLayer`]. The inner service (the kube crate's stack, not `Clone`)
/// sits behind a lock held only to hand it a request, so that a request can be sent again.
#[derive(Debug)]
pub struct Throttle<S> {
    inner: Arc<tokio::sync::Mutex<S>>,
    state: Arc<State>,
}

impl<S> Clone for Throttle<S> {
    fn clone(&self) -> Self {
        Throttle {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<Request<Body>> for Throttle<S>
where
    S: tower::Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + Unpin + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited per request, under the lock, in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (inner, state) = (self.inner.clone(), self.state.clone());
        Box::pin(async move {
            let long_running = is_watch(&request);
            let (parts, body) = request.into_parts();
            // The kube crate's request bodies are whole in memory: kept to send again.
            let bytes = body.collect_bytes().await?;
            let (method, uri, version, headers) = (
                parts.method.clone(),
                parts.uri.clone(),
                parts.version,
                parts.headers.clone(),
            );
            let mut first = Some(Request::from_parts(parts, Body::from(bytes.clone())));
            let mut retries = 0;
            loop {
                let request = first.take().unwrap_or_else(|| {
                    let mut r = Request::new(Body::from(bytes.clone()));
                    *r.method_mut() = method.clone();
                    *r.uri_mut() = uri.clone();
                    *r.version_mut() = version;
                    *r.headers_mut() = headers.clone();
                    r
                });
                let slot = if long_running {
                    None
                } else {
                    Some(state.slots.clone().acquire_owned().await?)
                };
                let generation = state.generation();
                let sent = {
                    use tower::ServiceExt;
                    let mut service = inner.lock().await;
                    service.ready().await.map_err(Into::into)?;
                    service.call(request)
                };
                let answer = sent.await.map_err(Into::into);
                if let Some(slot) = slot {
                    state.release(slot);
                }
                let answer = answer?;
                if answer.status() != StatusCode::TOO_MANY_REQUESTS || retries == RETRIES_429 {
                    if answer.status() != StatusCode::TOO_MANY_REQUESTS {
                        state.answered();
                    }
                    return Ok(answer);
                }
                retries += 1;
                state.throttled(generation);
                let wait = retry_after(answer.headers());
                tracing::debug!(%uri, ?wait, retries, "429: trying again after Retry-After");
                // Read to the end, so that the connection goes back to the pool.
                drain(answer.into_body()).await;
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// Whether a request is a watch (`watch=true` or `watch=1`, as kube-apiserver reads it).
fn is_watch<T>(request: &Request<T>) -> bool {
    request.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|kv| matches!(kv, "watch=true" | "watch=1"))
    })
}

/// The wait a 429 asks for: `Retry-After` in seconds (the only form kube-apiserver sends),
/// [`DEFAULT_RETRY_AFTER`] without one, at most [`LONGEST_RETRY_AFTER`].
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
        .min(LONGEST_RETRY_AFTER)
}

/// Reads a body to its end, ignoring what it says and any error.
async fn drain<B: hyper::body::Body + Unpin>(mut body: B) {
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if frame.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::http::{Request, Response, StatusCode};
    use kube::client::Body;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    /// A server that answers 429 (with `Retry-After: 2`) to the first `rejections` requests,
    /// then 200 after `pause` (a watch never ends), counting the requests it serves at once.
    #[derive(Default)]
    struct Server {
        rejections: AtomicUsize,
        calls: AtomicUsize,
        running: AtomicUsize,
        most: AtomicUsize,
        times: Mutex<Vec<tokio::time::Instant>>,
    }

    fn service(
        server: Arc<Server>,
        pause: Duration,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Send {
        tower::service_fn(move |req: Request<Body>| {
            let server = server.clone();
            let watch = is_watch(&req);
            async move {
                if watch {
                    std::future::pending::<()>().await;
                }
                server.calls.fetch_add(1, Ordering::SeqCst);
                server
                    .times
                    .lock()
                    .unwrap()
                    .push(tokio::time::Instant::now());
                let reject = server
                    .rejections
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if reject {
                    return Ok(Response::builder()
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header("retry-after", "2")
                        .body(Body::from(
                            b"Too many requests, please try again later.\n".to_vec(),
                        ))
                        .unwrap());
                }
                let now = server.running.fetch_add(1, Ordering::SeqCst) + 1;
                server.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(pause).await;
                server.running.fetch_sub(1, Ordering::SeqCst);
                Ok(Response::new(Body::from(b"{}".to_vec())))
            }
        })
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_tried_again_after_retry_after_and_halves_the_bound() {
        let server = Arc::new(Server::default());
        server.rejections.store(2, Ordering::SeqCst);
        let layer = ThrottleLayer::new(8);
        let mut client = layer.layer(service(server.clone(), Duration::from_millis(5)));
        let answer = client
            .ready()
            .await
            .unwrap()
            .call(get("/api/v1/pods"))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(server.calls.load(Ordering::SeqCst), 3);
        let times = server.times.lock().unwrap().clone();
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(2), "{times:?}");
        }
        // Two 429s of one request: the second came after the first halving, so 8 → 4 → 2.
        assert_eq!(layer.limit(), 2);
        // Two answers at a bound of 2 grow it by one, up to one under the bound that met the
        // last 429 while the hold lasts, and past it after.
        let mut answers = async |n: usize| {
            for _ in 0..n {
                let c = client.ready().await.unwrap();
                c.call(get("/api/v1/pods")).await.unwrap();
            }
        };
        answers(2).await;
        assert_eq!(layer.limit(), 3);
        answers(20).await;
        assert_eq!(layer.limit(), 3, "held under 4");
        tokio::time::advance(HOLD).await;
        answers(3).await;
        assert_eq!(layer.limit(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_retries_the_429_reaches_the_caller() {
        let server = Arc::new(Server::default());
        server.rejections.store(100, Ordering::SeqCst);
        let mut client = ThrottleLayer::new(4).layer(service(server.clone(), Duration::ZERO));
        let answer = client
            .ready()
            .await
            .unwrap()
            .call(get("/api/v1/pods"))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(server.calls.load(Ordering::SeqCst) as u32, RETRIES_429 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_stay_within_the_bound_and_watches_are_not_counted() {
        let server = Arc::new(Server::default());
        let client = ThrottleLayer::new(3).layer(service(server.clone(), Duration::from_millis(5)));
        // A watch that never ends would hold a slot forever if it were counted.
        let mut watch = ThrottleLayer::new(1).layer(service(server.clone(), Duration::ZERO));
        let watching = tokio::spawn(watch.call(get("/api/v1/pods?watch=true&resourceVersion=1")));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let mut c = client.clone();
            tasks.push(tokio::spawn(async move {
                c.call(get("/api/v1/pods")).await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(server.most.load(Ordering::SeqCst), 3);
        // The watch's layer has one slot, and the watch does not take it.
        let other = tokio::time::timeout(Duration::from_secs(60), watch.call(get("/api/v1/pods")))
            .await
            .expect("the slot is free")
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        assert!(!watching.is_finished());
        watching.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_over_the_servers_limit_backs_off_and_every_request_succeeds() {
        use kube::api::{Api, Patch, PatchParams};
        let cluster = crate::cluster::Cluster::embedded(simcluster::Config {
            max_in_flight: simcluster::inflight::Limits {
                read: 0,
                mutating: 2,
            },
            faults: vec![simcluster::FaultRule::parse("verb=apply,latency=20ms").unwrap()],
            ..simcluster::Config::default()
        })
        .await
        .unwrap();
        let sim = cluster.embedded.as_ref().unwrap();
        let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(cluster.client.clone(), "default");
        let mut writes = Vec::new();
        for i in 0..24 {
            let configmaps = configmaps.clone();
            writes.push(tokio::spawn(async move {
                let name = format!("cm-{i}");
                let body = serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                });
                configmaps
                    .patch(&name, &PatchParams::apply("test"), &Patch::Apply(&body))
                    .await
            }));
        }
        for w in writes {
            w.await.unwrap().expect("every write succeeds in the end");
        }
        let text = sim.metrics_text();
        assert!(
            text.contains(r#"fault="max_in_flight""#),
            "the server refused some: {text}"
        );
        cluster.close().await;
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_bounded() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::RETRY_AFTER, v.parse().unwrap());
            h
        };
        assert_eq!(retry_after(&headers("3")), Duration::from_secs(3));
        assert_eq!(retry_after(&headers("soon")), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(&HeaderMap::new()), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(&headers("86400")), LONGEST_RETRY_AFTER);
        assert!(is_watch(&get("/x?labelSelector=a&watch=1")));
        assert!(!is_watch(&get("/x?watchful=true")));
    }
}
