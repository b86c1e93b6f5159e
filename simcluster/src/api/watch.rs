//! WATCH streams: the backlog (past events or the current objects), then live events, as
//! lines of JSON; objects that enter or leave the selection arrive as ADDED or DELETED, and
//! watches that allow them get BOOKMARKs.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::request::{Ctx, selectors};
use super::respond::bytes_response;
use super::route::ObjectRoute;
use crate::resources::ResourceType;
use crate::schema::Cause;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::Status;
use crate::store::{Event, EventType, Subscription};
use crate::table::{self, Form, Include};

/// One open watch: its selection, the lines waiting to be sent, the live events, the
/// resourceVersion it has seen (for bookmarks), and when it ends.
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
            (EventType::Modified, Some(true), false) => {
                // An object that leaves the selection is DELETED with its previous content,
                // the one that matched, at the event's resourceVersion
                // (`staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go`,
                // `convertToWatchEvent`).
                let mut gone = ev.previous.as_deref().cloned().unwrap_or_default();
                gone["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
                return Some(self.event(EventType::Deleted.as_str(), &gone));
            }
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
                        let e = Status::new(410, "Expired", "too old resource version: the watch fell behind");
                        return Some(json!({"type": "ERROR", "object": e.body()}));
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
                    let e = Status::new(
                        410,
                        "Expired",
                        "too old resource version: the watch fell behind",
                    );
                    self.backlog
                        .push_back(json!({"type": "ERROR", "object": e.body()}));
                    return;
                }
                Err(_) => return,
            }
        }
    }
}

/// WATCH: replays the backlog the query asks for, then streams live events until the
/// timeout, shutdown, or a watcher that falls behind.
pub(super) fn watch_stream(
    ctx: &Ctx<'_>,
    r: &ObjectRoute,
    rt: &ResourceType,
) -> Result<Response, Status> {
    let (labels, fields) = selectors(ctx)?;
    let mut fields = fields;
    if let Some(name) = &r.name {
        fields =
            FieldSelector::parse(&format!("metadata.name={name}")).map_err(Status::bad_request)?;
    }
    check_watch_options(ctx)?;
    let send_initial = ctx.flag("sendInitialEvents");
    let since = since(ctx, send_initial)?;
    let bookmarks_allowed = ctx.flag("allowWatchBookmarks");
    let timeout = ctx
        .q("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let Subscription {
        backlog,
        rv: current,
        rx,
    } = match ctx.state.store.watch(r.type_id, since) {
        Ok(x) => x,
        Err(e) if e.code == 410 => return Ok(expired(&e)),
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
    Ok(streamed(state))
}

/// `staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go`,
/// `validateWatchOptions`: `sendInitialEvents` (true or false) goes with
/// `resourceVersionMatch=NotOlderThan`, and that match with `sendInitialEvents` only.
fn check_watch_options(ctx: &Ctx<'_>) -> Result<(), Status> {
    let send_initial = ctx.q("sendInitialEvents").is_some();
    let matched = ctx.q("resourceVersionMatch");
    let mut causes = Vec::new();
    if send_initial && matched != Some("NotOlderThan") {
        causes.push(Cause::new(
            "FieldValueForbidden",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            "resourceVersionMatch",
        ));
    }
    if let Some(m) = matched {
        if !send_initial {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                "resourceVersionMatch",
            ));
        }
        if m != "NotOlderThan" {
            causes.push(Cause::new(
                "FieldValueNotSupported",
                format!("Unsupported value: \"{m}\": supported values: \"NotOlderThan\""),
                "resourceVersionMatch",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(Status::invalid_options("ListOptions", causes))
    }
}

/// The resourceVersion the watch starts after; `None` starts with the current objects (no
/// version, `0`, or `sendInitialEvents`).
fn since(ctx: &Ctx<'_>, send_initial: bool) -> Result<Option<u64>, Status> {
    match ctx.q("resourceVersion") {
        None | Some("0") => Ok(None),
        Some(_) if send_initial => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Status::bad_request(format!("resourceVersion {s:?} is not valid"))),
    }
}

/// The API server answers an expired watch with an ERROR event, not an HTTP error.
fn expired(e: &Status) -> Response {
    let mut out =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.body()})).expect("serializes");
    out.push(b'\n');
    bytes_response(StatusCode::OK, out)
}

/// The response that streams the watch's lines, one JSON event per line.
fn streamed(state: WatchState) -> Response {
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
    resp
}
