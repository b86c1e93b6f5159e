//! The HTTP front: routes Kubernetes API paths to the store, speaks the verbs, content types
//! and query parameters of the API server, counts and logs every request, injects faults, and
//! streams watches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::error::ApiError;
use crate::faults::{Fault, Faults};
use crate::managed::Scope;
use crate::metrics::{LogEntry, Metrics};
use crate::resources::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Event, EventType, FieldValidation, PatchType, Store, Target, WriteOptions};
use crate::table::{self, Form, Include};
use crate::time;

/// Everything the handlers share.
pub struct AppState {
    /// The objects.
    pub store: Arc<Store>,
    /// Counters and request log.
    pub metrics: Arc<Metrics>,
    /// Fault rules.
    pub faults: Arc<Faults>,
    /// Bearer token every API request must carry.
    pub token: String,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Turns true on shutdown; ends open watches.
    pub shutdown: watch::Receiver<bool>,
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

/// A parsed API path.
#[derive(Debug)]
enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    /// `/openapi/v3` (`None`) or one group version of it.
    OpenApi(Option<String>),
    Object(ObjectRoute),
}

#[derive(Debug)]
struct ObjectRoute {
    type_id: usize,
    /// Namespace from the path (`None` for cluster-scoped types and all-namespace lists).
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_route(reg: &Registry, path: &str) -> Option<Route> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["openapi", "v3"] => Some(Route::OpenApi(None)),
        ["openapi", "v3", rest @ ..] => Some(Route::OpenApi(Some(rest.join("/")))),
        ["api", v] => Some(Route::Resources(String::new(), (*v).to_owned())),
        ["apis", g] => Some(Route::Group((*g).to_owned())),
        ["apis", g, v] => Some(Route::Resources((*g).to_owned(), (*v).to_owned())),
        ["api", v, rest @ ..] => object_route(reg, "", v, rest).map(Route::Object),
        ["apis", g, v, rest @ ..] => object_route(reg, g, v, rest).map(Route::Object),
        _ => None,
    }
}

fn object_route(reg: &Registry, group: &str, version: &str, rest: &[&str]) -> Option<ObjectRoute> {
    let owned = |s: &&str| (*s).to_owned();
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(type_id) = reg.find(group, version, plural)
        && reg.get(type_id).namespaced
        && tail.len() <= 2
    {
        return Some(ObjectRoute {
            type_id,
            namespace: Some((*ns).to_owned()),
            name: tail.first().map(owned),
            subresource: tail.get(1).map(owned),
        });
    }
    let [plural, tail @ ..] = rest else {
        return None;
    };
    let type_id = reg.find(group, version, plural)?;
    if tail.len() > 2 || (reg.get(type_id).namespaced && !tail.is_empty()) {
        return None;
    }
    Some(ObjectRoute {
        type_id,
        namespace: None,
        name: tail.first().map(owned),
        subresource: tail.get(1).map(owned),
    })
}

struct Ctx<'a> {
    state: &'a AppState,
    query: HashMap<String, String>,
    headers: &'a HeaderMap,
}

impl Ctx<'_> {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1"))
    }

    fn form(&self) -> Form {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(Form::from_accept)
            .unwrap_or(Form::Object)
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let dry_run = match self.q("dryRun") {
            None => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value {other:?}: supported values: \"All\""
                )));
            }
        };
        let validation = match self.q("fieldValidation") {
            None | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation {other:?} is not one of Ignore, Warn, Strict"
                )));
            }
        };
        let manager = match self.q("fieldManager") {
            Some(m) if m.len() > 128 => {
                return Err(ApiError::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ));
            }
            Some(m) => m.to_owned(),
            None => self.user_agent_manager(),
        };
        Ok(WriteOptions {
            dry_run,
            manager,
            force: self.flag("force"),
            validation,
        })
    }

    /// The default field manager: the user agent up to its first `/` (as the API server does).
    fn user_agent_manager(&self) -> String {
        let ua = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        ua.split('/')
            .next()
            .unwrap_or(ua)
            .chars()
            .take(128)
            .collect()
    }
}

fn verb_of(
    method: &Method,
    route: &ObjectRoute,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> &'static str {
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    match (method.as_str(), &route.name) {
        ("GET", Some(_)) if watch => "watch",
        ("GET", Some(_)) => "get",
        ("GET", None) if watch => "watch",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.starts_with("application/apply-patch") {
                "apply"
            } else {
                "patch"
            }
        }
        ("DELETE", Some(_)) => "delete",
        ("DELETE", None) => "deletecollection",
        _ => "unknown",
    }
}

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
    let (verb, resource) = match &route {
        Some(Route::Object(r)) => {
            let t = reg.get(r.type_id);
            let resource = match &r.subresource {
                Some(s) => format!("{}/{s}", t.plural),
                None => t.plural.clone(),
            };
            (verb_of(&method, r, &query, &headers), resource)
        }
        Some(Route::OpenApi(_)) => ("discovery", "openapi".to_owned()),
        _ => ("discovery", String::new()),
    };
    state.metrics.count(verb, &resource);
    let mut response = if !authorized(&state, &headers) {
        error_response(&ApiError::new(401, "Unauthorized", "Unauthorized"))
    } else {
        match route {
            None => error_response(&ApiError::no_route()),
            Some(Route::Object(r)) => {
                let decision = state.faults.decide(verb, &resource);
                if !decision.latency.is_zero() {
                    tokio::time::sleep(decision.latency).await;
                }
                match decision.fault {
                    Some(Fault::Drop) => {
                        state.metrics.count_fault(verb, &resource, "drop");
                        dropped()
                    }
                    Some(Fault::Error(code)) => {
                        state
                            .metrics
                            .count_fault(verb, &resource, &format!("error_{code}"));
                        injected_error(code)
                    }
                    None => {
                        let ctx = Ctx {
                            state: &state,
                            query,
                            headers: &headers,
                        };
                        match object_request(&ctx, &method, &r, verb, body) {
                            Ok(r) => r,
                            Err(e) => error_response(&e),
                        }
                    }
                }
            }
            Some(route) => discovery(reg, &route),
        }
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
        None => error_response(&ApiError::no_route()),
    }
}

/// Marks a response whose connection must be dropped.
#[derive(Clone, Copy)]
struct Dropped;

/// A response whose body fails at once, so that hyper aborts the connection without a
/// complete answer.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simcluster: injected dropped connection",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.extensions_mut().insert(Dropped);
    r
}

fn injected_error(code: u16) -> Response {
    let (reason, message) = match code {
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later (injected by simcluster)",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request (injected by simcluster)",
        ),
        _ => (
            "InternalError",
            "an error on the server (\"injected by simcluster\") has prevented the request from succeeding",
        ),
    };
    let e = ApiError {
        details: Some(json!({"retryAfterSeconds": 1})),
        ..ApiError::new(code, reason, message)
    };
    let mut r = error_response(&e);
    if code == 429 || code == 503 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// A `Status` answer.
pub fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.status_body())
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    bytes_response(code, serde_json::to_vec(v).expect("JSON values serialize"))
}

fn bytes_response(code: StatusCode, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

fn object_request(
    ctx: &Ctx<'_>,
    method: &Method,
    r: &ObjectRoute,
    verb: &str,
    body: Bytes,
) -> Result<Response, ApiError> {
    let store = &ctx.state.store;
    let rt = store.registry().get(r.type_id);
    let scope = match r.subresource.as_deref() {
        None => Scope::All,
        Some("status") if rt.status_subresource => Scope::StatusOnly,
        Some(_) => return Err(ApiError::no_route()),
    };
    if !rt.writable && !matches!(verb, "get" | "list" | "watch") {
        return Err(ApiError::method_not_allowed(&format!(
            "{} {}",
            method,
            rt.group_resource()
        )));
    }
    if scope == Scope::StatusOnly && !matches!(verb, "get" | "update" | "patch" | "apply") {
        return Err(ApiError::method_not_allowed(&format!(
            "{method} {}/status",
            rt.group_resource()
        )));
    }
    let namespace = r.namespace.clone().unwrap_or_default();
    if rt.namespaced && namespace.is_empty() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::no_route());
    }
    let target = |name: &str| Target {
        type_id: r.type_id,
        namespace: namespace.clone(),
        name: name.to_owned(),
        scope,
    };
    let name = r.name.clone().unwrap_or_default();
    match verb {
        "get" => {
            let obj = store.get(&target(&name))?;
            Ok(single(ctx, rt, &obj, StatusCode::OK))
        }
        "list" => list(ctx, r, rt),
        "watch" => watch_stream(ctx, r, rt),
        "create" => {
            if r.name.is_some() {
                return Err(ApiError::method_not_allowed("POST on a named object"));
            }
            let body = parse_json(&body)?;
            let w = store.create(&target(""), body, &ctx.write_options()?)?;
            Ok(with_warnings(
                single(ctx, rt, &w.object, StatusCode::CREATED),
                &w.warnings,
            ))
        }
        "update" => {
            let w = store.update(&target(&name), parse_json(&body)?, &ctx.write_options()?)?;
            Ok(with_warnings(
                single(ctx, rt, &w.object, StatusCode::OK),
                &w.warnings,
            ))
        }
        "patch" | "apply" => {
            let ct = ctx
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let media = ct.split(';').next().unwrap_or_default().trim();
            let kind = match media {
                "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
                "application/merge-patch+json" => PatchType::Merge,
                "application/json-patch+json" => PatchType::Json,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                _ => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {media:?})"
                        ),
                    ));
                }
            };
            if kind != PatchType::Apply && ctx.q("force").is_some() {
                return Err(ApiError::invalid(
                    rt,
                    &name,
                    vec![crate::schema::Cause::new(
                        "FieldValueForbidden",
                        "Forbidden: may not be specified for non-apply patch",
                        "force",
                    )],
                ));
            }
            let w = store.patch(&target(&name), kind, &body, &ctx.write_options()?)?;
            let code = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(with_warnings(single(ctx, rt, &w.object, code), &w.warnings))
        }
        "delete" => {
            let opts: Value = if body.is_empty() {
                json!({})
            } else {
                parse_json(&body)?
            };
            let dry_run = ctx.q("dryRun") == Some("All")
                || opts["dryRun"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x == "All"));
            let obj = store.delete(&target(&name), &opts["preconditions"], dry_run)?;
            let pending = obj["metadata"].get("deletionTimestamp").is_some();
            if rt.custom || pending {
                Ok(json_response(StatusCode::OK, &obj))
            } else {
                Ok(json_response(
                    StatusCode::OK,
                    &json!({
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
                    }),
                ))
            }
        }
        "deletecollection" => {
            let labels = LabelSelector::parse(ctx.q("labelSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let fields = FieldSelector::parse(ctx.q("fieldSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let ns = r.namespace.as_deref();
            let page = store.list(r.type_id, ns, &labels, &fields, None, None)?;
            let dry_run = ctx.q("dryRun") == Some("All");
            let mut deleted = Vec::new();
            for obj in page.items {
                let n = obj["metadata"]["name"].as_str().unwrap_or_default();
                let t = Target {
                    namespace: obj["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    ..target(n)
                };
                match store.delete(&t, &Value::Null, dry_run) {
                    Ok(o) => deleted.push((*o).clone()),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                    "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": deleted
                }),
            ))
        }
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    serde_json::from_slice(body)
        .or_else(|_| {
            // kubectl and others may send YAML on create/update.
            std::str::from_utf8(body)
                .ok()
                .and_then(|s| serde_yaml::from_str(s).ok())
                .ok_or(())
        })
        .map_err(|()| ApiError::bad_request("the request body is not valid JSON"))
}

fn single(ctx: &Ctx<'_>, rt: &ResourceType, obj: &Value, code: StatusCode) -> Response {
    match ctx.form() {
        Form::Object => json_response(code, obj),
        Form::Metadata => json_response(code, &table::partial(obj)),
        Form::Table => {
            let include = Include::parse(ctx.q("includeObject"));
            let rv = obj["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            json_response(code, &table::table(rt, &[obj], include, rv, true))
        }
    }
}

fn selectors(ctx: &Ctx<'_>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(ctx.q("labelSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(ctx.q("fieldSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn list(ctx: &Ctx<'_>, r: &ObjectRoute, rt: &ResourceType) -> Result<Response, ApiError> {
    let store = &ctx.state.store;
    let (labels, fields) = selectors(ctx)?;
    let limit = match ctx.q("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("limit {l:?} is not a number")))?,
        ),
        None => None,
    };
    if let Some(rv) = ctx.q("resourceVersion") {
        let n: u64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("resourceVersion {rv:?} is not valid")))?;
        let current = store.resource_version();
        match ctx.q("resourceVersionMatch") {
            Some("Exact") if n != current => {
                return Err(ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {n} ({current})"),
                ));
            }
            _ if n > current => {
                return Err(ApiError::new(
                    504,
                    "Timeout",
                    format!("Too large resource version: {n}, current: {current}"),
                ));
            }
            _ => {}
        }
    }
    let page = store.list(
        r.type_id,
        r.namespace.as_deref(),
        &labels,
        &fields,
        limit,
        ctx.q("continue"),
    )?;
    let rv = page.rv.to_string();
    match ctx.form() {
        Form::Table => {
            let objs: Vec<&Value> = page.items.iter().map(|o| o.as_ref()).collect();
            let mut t = table::table(rt, &objs, Include::parse(ctx.q("includeObject")), &rv, true);
            if let Some(c) = &page.continue_token {
                t["metadata"]["continue"] = json!(c);
            }
            Ok(json_response(StatusCode::OK, &t))
        }
        form => {
            // Written by hand so that a LIST of many objects is serialized without building
            // one big JSON value first.
            let (kind, api_version) = if form == Form::Metadata {
                (
                    "PartialObjectMetadataList".to_owned(),
                    "meta.k8s.io/v1".to_owned(),
                )
            } else {
                (format!("{}List", rt.kind), rt.api_version())
            };
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = &page.continue_token {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(page.remaining);
            }
            let mut out = Vec::with_capacity(256 + page.items.len() * 512);
            out.extend_from_slice(format!("{{\"kind\":\"{kind}\",\"apiVersion\":\"{api_version}\",\"metadata\":{meta},\"items\":[").as_bytes());
            for (i, obj) in page.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if form == Form::Metadata {
                    serde_json::to_writer(&mut out, &table::partial(obj))
                        .expect("JSON values serialize");
                } else {
                    serde_json::to_writer(&mut out, obj.as_ref()).expect("JSON values serialize");
                }
            }
            out.extend_from_slice(b"]}");
            Ok(bytes_response(StatusCode::OK, out))
        }
    }
}

/// State of one watch stream.
struct WatchState {
    rt: ResourceType,
    type_id: usize,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    form: Form,
    include: Include,
    backlog: std::collections::VecDeque<Value>,
    rx: broadcast::Receiver<Arc<Event>>,
    progress: u64,
    bookmarks: Option<tokio::time::Interval>,
    deadline: tokio::time::Instant,
    shutdown: watch::Receiver<bool>,
    done: bool,
    headers_sent: bool,
}

impl WatchState {
    fn selected(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| obj["metadata"]["namespace"] == ns)
            && self.labels.matches(&obj["metadata"]["labels"])
            && self.fields.matches(obj)
    }

    /// The watch event for a store event, or `None` when the watch does not see it.
    fn translate(&mut self, ev: &Event) -> Option<Value> {
        self.progress = self.progress.max(ev.rv);
        if ev.type_id != self.type_id {
            return None;
        }
        let now = self.selected(&ev.object);
        let before = ev.previous.as_ref().map(|p| self.selected(p));
        let kind = match (ev.kind, before, now) {
            (EventType::Modified, Some(false), true) => EventType::Added,
            (EventType::Modified, Some(true), false) => EventType::Deleted,
            (EventType::Modified, Some(false), false) => return None,
            (_, _, false) => return None,
            (k, _, true) => k,
        };
        Some(self.event(kind.as_str(), &ev.object))
    }

    fn event(&mut self, type_: &str, obj: &Value) -> Value {
        let object = match self.form {
            Form::Object => obj.clone(),
            Form::Metadata => table::partial(obj),
            Form::Table => {
                let rv = obj["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let t = table::table(&self.rt, &[obj], self.include, &rv, !self.headers_sent);
                self.headers_sent = true;
                t
            }
        };
        json!({"type": type_, "object": object})
    }

    fn bookmark(&self, initial_end: bool) -> Value {
        let mut meta = json!({"resourceVersion": self.progress.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta}})
    }

    async fn next_line(&mut self) -> Option<Value> {
        loop {
            if let Some(v) = self.backlog.pop_front() {
                return Some(v);
            }
            if self.done {
                return None;
            }
            let bookmarks = &mut self.bookmarks;
            let tick = async {
                match bookmarks.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Ok(ev) => {
                        if let Some(line) = self.translate(&ev) {
                            return Some(line);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.done = true;
                        let e = ApiError::new(410, "Expired", "too old resource version: the watch fell behind");
                        return Some(json!({"type": "ERROR", "object": e.status_body()}));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = tick => {
                    self.drain();
                    if !self.done {
                        let b = self.bookmark(false);
                        self.backlog.push_back(b);
                    }
                }
                () = tokio::time::sleep_until(self.deadline) => return None,
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    /// Takes every event already sent, so that a bookmark that follows carries the latest
    /// resourceVersion the watch has seen. Every change of the store goes through the one
    /// channel, so `progress` is exact.
    fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(ev) => {
                    if let Some(line) = self.translate(&ev) {
                        self.backlog.push_back(line);
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    self.done = true;
                    let e = ApiError::new(
                        410,
                        "Expired",
                        "too old resource version: the watch fell behind",
                    );
                    self.backlog
                        .push_back(json!({"type": "ERROR", "object": e.status_body()}));
                    return;
                }
                Err(_) => return,
            }
        }
    }
}

fn watch_stream(ctx: &Ctx<'_>, r: &ObjectRoute, rt: &ResourceType) -> Result<Response, ApiError> {
    let store = ctx.state.store.clone();
    let (labels, fields) = selectors(ctx)?;
    let mut fields = fields;
    if let Some(name) = &r.name {
        fields = FieldSelector::parse(&format!("metadata.name={name}"))
            .map_err(ApiError::bad_request)?;
    }
    let rv = ctx.q("resourceVersion");
    let send_initial = ctx.flag("sendInitialEvents");
    let since =
        match rv {
            None | Some("0") => None,
            Some(_) if send_initial => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("resourceVersion {s:?} is not valid"))
            })?),
        };
    let bookmarks_allowed = ctx.flag("allowWatchBookmarks");
    let timeout = ctx
        .q("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let crate::store::Subscription {
        backlog,
        rv: current,
        rx,
    } = match store.watch(r.type_id, since) {
        Ok(x) => x,
        Err(e) if e.code == 410 => {
            // The API server answers an expired watch with an ERROR event, not an HTTP error.
            let line = serde_json::to_vec(&json!({"type": "ERROR", "object": e.status_body()}))
                .expect("serializes");
            let mut out = line;
            out.push(b'\n');
            return Ok(bytes_response(StatusCode::OK, out));
        }
        Err(e) => return Err(e),
    };
    let mut state = WatchState {
        rt: rt.clone(),
        type_id: r.type_id,
        namespace: r.namespace.clone(),
        labels,
        fields,
        form: ctx.form(),
        include: Include::parse(ctx.q("includeObject")),
        backlog: Default::default(),
        rx,
        progress: since.unwrap_or(current),
        bookmarks: bookmarks_allowed.then(|| {
            let period = ctx.state.bookmark_interval;
            tokio::time::interval_at(tokio::time::Instant::now() + period, period)
        }),
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        shutdown: ctx.state.shutdown.clone(),
        done: false,
        headers_sent: false,
    };
    for ev in backlog {
        if let Some(line) = state.translate(&ev) {
            state.backlog.push_back(line);
        }
    }
    state.progress = state.progress.max(current);
    if since.is_none() && send_initial && bookmarks_allowed {
        let b = state.bookmark(true);
        state.backlog.push_back(b);
    }
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let line = st.next_line().await?;
        let mut bytes = serde_json::to_vec(&line).expect("JSON values serialize");
        bytes.push(b'\n');
        Some((Ok::<Bytes, Infallible>(Bytes::from(bytes)), st))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
