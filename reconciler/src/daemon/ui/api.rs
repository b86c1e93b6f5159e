//! The routes of the web view: the page and its assets (public: the same code in every
//! binary, no data in it), and the JSON endpoints (`/api/*`), behind the bearer token when
//! `ui.tokenFile` names one. Every route is a GET: nothing here changes the cluster.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::build::with_state_counts;
use super::view::{ObjectState, ObjectView, ServerView, Snapshot};
use crate::daemon::state::State;
use crate::daemon::status::{DriftRecord, Status};
use crate::daemon::time::rfc3339;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// The page only loads its own script and style and talks to its own origin; no frame may
/// hold it; a `?token=` in its address never leaves in a `Referer`.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page, its assets and the `/api/*` endpoints over `state`.
pub fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route("/api/summary", get(summary))
        .route("/api/tree", get(tree))
        .route("/api/rollouts", get(rollouts))
        .route("/api/syncs", get(syncs))
        .route("/api/drift", get(drift))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/", get(|| asset(INDEX, "text/html; charset=utf-8")))
        .route(
            "/ui/app.js",
            get(|| asset(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/ui/style.css",
            get(|| asset(STYLE, "text/css; charset=utf-8")),
        )
        .merge(api)
        .with_state(state)
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// With a token configured, `/api/*` answers only `Authorization: Bearer <token>` (compared in
/// constant time); 401 otherwise, which the page turns into a prompt for the token.
async fn authorize(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = state.ui.token() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let expected = token.expose().as_bytes();
        if !bool::from(given.as_bytes().ct_eq(expected)) {
            let body = json!({"error": "unauthorized", "message": "this view needs its bearer token (ui.tokenFile)"});
            let mut response = (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"reconciler\""),
            );
            return response;
        }
    }
    state.ui.viewed();
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_body(value: &impl Serialize) -> Response {
    let body = serde_json::to_string(value).expect("the views serialize");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/api/summary`: `/status` (the source URL redacted there) with the server's time, so that
/// the page can tell how old its data is, and the counts of the tree.
async fn summary(AxumState(state): AxumState<Arc<State>>) -> Response {
    let snapshot = state.ui.snapshot();
    let last_changes = state.ui.syncs().first().map(|s| s.changes.len());
    json_body(&json!({
        "now": rfc3339(chrono::Utc::now()),
        "status": state.status(),
        "counts": with_drift(&snapshot, &state.status().drift).counts,
        "lastChanges": last_changes,
        "taken": snapshot.taken,
    }))
}

/// `/api/tree`: the tree of the last pass, with the drift of `/status` laid over it. The
/// largest answer (about 1 MB at 1,000 Servers), so it carries an `ETag`, and a request whose
/// `If-None-Match` names it gets `304` without the body: the page polls it every 2 s.
async fn tree(AxumState(state): AxumState<Arc<State>>, headers: HeaderMap) -> Response {
    let status = state.status();
    let body = serde_json::to_string(&with_drift(&state.ui.snapshot(), &status.drift))
        .expect("the views serialize");
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let etag_value = HeaderValue::from_str(&etag).expect("hex is a header value");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
        ],
        body,
    )
        .into_response()
}

/// A Server of `/api/rollouts`: where it is, its weights and its rollout.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RolloutEntry<'a> {
    domain: &'a str,
    #[serde(flatten)]
    server: &'a ServerView,
}

/// `/api/rollouts`: the Servers with a rollout, or whose live weights differ from Git's.
async fn rollouts(AxumState(state): AxumState<Arc<State>>) -> Response {
    let snapshot = with_drift(&state.ui.snapshot(), &state.status().drift);
    let entries: Vec<RolloutEntry<'_>> = snapshot
        .vimanas
        .iter()
        .flat_map(|v| &v.domains)
        .flat_map(|d| d.servers.iter().map(move |s| (d.id.as_str(), s)))
        .filter(|(_, s)| s.rollout.is_some() || s.live_weights != s.desired_weights)
        .map(|(domain, server)| RolloutEntry { domain, server })
        .collect();
    json_body(&entries)
}

/// `/api/syncs`: the last syncs, newest first, with the diffs of what they changed.
async fn syncs(AxumState(state): AxumState<Arc<State>>) -> Response {
    json_body(&state.ui.syncs())
}

/// `/api/drift`: `/status`'s `drift`.
async fn drift(AxumState(state): AxumState<Arc<State>>) -> Response {
    let Status { drift, .. } = state.status();
    json_body(&drift)
}

/// The snapshot with each object that has an outstanding drift marked drifted.
fn with_drift(snapshot: &Snapshot, drift: &[DriftRecord]) -> Snapshot {
    let mut s = snapshot.clone();
    let outstanding: Vec<&DriftRecord> = drift.iter().filter(|d| d.outstanding()).collect();
    if outstanding.is_empty() {
        return s;
    }
    let mark = |o: &mut ObjectView| {
        if let Some(d) = outstanding
            .iter()
            .find(|d| d.kind == o.kind && d.namespace == o.namespace && d.name == o.name)
        {
            o.state = ObjectState::Drifted;
            o.message = Some(format!(
                "{} changed by {}",
                d.fields.join(", "),
                d.managers.join(", ")
            ));
        }
    };
    for v in &mut s.vimanas {
        v.object.iter_mut().for_each(&mark);
        for d in &mut v.domains {
            mark(&mut d.object);
            for sv in &mut d.servers {
                mark(&mut sv.object);
                sv.components.iter_mut().for_each(|c| mark(&mut c.object));
            }
        }
    }
    with_state_counts(s)
}
