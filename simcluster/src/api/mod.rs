//! The HTTP front: routes Kubernetes API paths to the store, speaks the verbs, content types
//! and query parameters of the API server, counts and logs every request, injects faults, and
//! streams watches.
//!
//! A request goes `route` (path → route, method → verb) → the max-in-flight limit
//! (`crate::inflight`) → faults → `objects` (the verb's handler in `write`, `list` or `watch`,
//! reading the request through `request`) → `respond`.

mod injected;
mod list;
mod objects;
mod protobuf;
mod request;
mod respond;
mod route;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch as signal;

use crate::faults::{Fault, Faults};
use crate::inflight::{Admission, InFlight};
use crate::metrics::{LogEntry, Metrics};
use crate::resources::Registry;
use crate::status::Status;
use crate::store::Store;
use crate::time;

use injected::{Dropped, dropped, injected_error, too_many_requests};
use objects::object_request;
use request::Ctx;
use respond::{error_response, json_response};
use route::{Route, parse_route, verb_of};

/// Everything the handlers share.
pub struct AppState {
    /// The objects, shared with the simulated operator.
    pub store: Arc<Store>,
    /// Counters and request log.
    pub metrics: Arc<Metrics>,
    /// The fault rules in force; [`crate::Handle::set_faults`] replaces them while serving.
    pub faults: Arc<Faults>,
    /// The max-in-flight limit of read-only and mutating requests.
    pub in_flight: Arc<InFlight>,
    /// Bearer token every API request must carry.
    pub token: String,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Turns true on shutdown; ends open watches.
    pub shutdown: signal::Receiver<bool>,
}

/// The router: health and metrics endpoints, everything else is the Kubernetes API.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .route("/livez", get(ok))
        .fallback(api)
        .with_state(state)
}

async fn ok() -> &'static str {
    "ok"
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// Every Kubernetes API request: counted, authorized, faulted, answered, logged.
async fn api(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let reg = state.store.registry();
    let route = parse_route(reg, uri.path());
    let (verb, resource) = verb_and_resource(reg, route.as_ref(), &method, &query, &headers);
    state.metrics.count(verb, &resource);
    let admission = authorized(&state, &headers).then(|| state.in_flight.admit(verb));
    let mut response = match admission {
        None => error_response(&Status::new(401, "Unauthorized", "Unauthorized")),
        Some(Admission::Rejected) => {
            state.metrics.count_fault(verb, &resource, "max_in_flight");
            too_many_requests()
        }
        // The slot is held until the answer is built, injected latency included.
        Some(Admission::Served(_slot)) => match route {
            None => error_response(&Status::no_route()),
            Some(Route::Object(r)) => {
                let write = writes_to_etcd(verb, &query);
                let ctx = Ctx {
                    state: &state,
                    query,
                    headers: &headers,
                };
                match injected_fault(&state, verb, &resource, write).await {
                    Some(faulted) => faulted,
                    None => match object_request(&ctx, &method, &r, verb, body) {
                        Ok(r) => r,
                        Err(e) => respond::failure(&ctx, reg.get(r.type_id), &e),
                    },
                }
            }
            Some(route) => discovery(reg, &route),
        },
    };
    let status = if response.extensions().get::<Dropped>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    response.extensions_mut().remove::<Dropped>();
    state.metrics.log(LogEntry {
        time: time::now_rfc3339(),
        method: method.to_string(),
        uri: uri.to_string(),
        verb: verb.to_owned(),
        resource,
        status,
        millis: started.elapsed().as_millis() as u64,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    });
    response
}

/// The labels a request is counted and faulted under: the verb and the resource (with its
/// subresource, `components/status`), or `discovery` with an empty resource (`openapi` for
/// the OpenAPI documents).
fn verb_and_resource(
    reg: &Registry,
    route: Option<&Route>,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> (&'static str, String) {
    match route {
        Some(Route::Object(r)) => {
            let t = reg.get(r.type_id);
            let resource = match &r.subresource {
                Some(s) => format!("{}/{s}", t.plural),
                None => t.plural.clone(),
            };
            (verb_of(method, r, query, headers), resource)
        }
        Some(Route::OpenApi(_)) => ("discovery", "openapi".to_owned()),
        _ => ("discovery", String::new()),
    }
}

/// Whether a request writes to etcd: a write verb, not a dry run (`dryRun=All`, the only value
/// the API accepts).
fn writes_to_etcd(verb: &str, query: &HashMap<String, String>) -> bool {
    matches!(
        verb,
        "create" | "update" | "patch" | "apply" | "delete" | "deletecollection"
    ) && query.get("dryRun").is_none_or(String::is_empty)
}

/// Waits the injected latency, then answers with the injected fault, if the dice say so.
async fn injected_fault(
    state: &AppState,
    verb: &str,
    resource: &str,
    write: bool,
) -> Option<Response> {
    let decision = state.faults.decide(verb, resource, write);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.fault? {
        Fault::Drop => {
            state.metrics.count_fault(verb, resource, "drop");
            Some(dropped())
        }
        Fault::Error(code) => {
            state
                .metrics
                .count_fault(verb, resource, &format!("error_{code}"));
            Some(injected_error(code))
        }
    }
}

/// A request with credentials must carry the cluster's token; a request without any is served
/// as anonymous, because client-go (kubectl) never sends credentials over plain HTTP
/// (clientcmd applies user credentials to TLS transports only).
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(header::AUTHORIZATION) {
        None => true,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == state.token),
    }
}

/// The discovery and OpenAPI documents; 404 for a group or version that is not served.
fn discovery(reg: &Registry, route: &Route) -> Response {
    let doc = match route {
        Route::Version => Some(Registry::version_document()),
        Route::CoreVersions => Some(reg.core_versions()),
        Route::Groups => Some(reg.group_list()),
        Route::Group(g) => reg.group(g),
        Route::Resources(g, v) => reg.resource_list(g, v),
        Route::OpenApi(None) => Some(crate::openapi::root(reg)),
        Route::OpenApi(Some(gv)) => crate::openapi::group_version(reg, gv),
        Route::Object(_) => None,
    };
    match doc {
        Some(d) => json_response(StatusCode::OK, &d),
        None => error_response(&Status::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_to_etcd_are_the_write_verbs_but_not_their_dry_runs() {
        let none = HashMap::new();
        let dry: HashMap<String, String> = [("dryRun".to_owned(), "All".to_owned())].into();
        for verb in [
            "create",
            "update",
            "patch",
            "apply",
            "delete",
            "deletecollection",
        ] {
            assert!(writes_to_etcd(verb, &none), "{verb}");
            assert!(!writes_to_etcd(verb, &dry), "{verb} dry run");
        }
        for verb in ["get", "list", "watch", "discovery"] {
            assert!(!writes_to_etcd(verb, &none), "{verb}");
        }
    }
}
