//! What a signed payload asks for ([`Event`]): the pushed refs, read from each provider's
//! event header and JSON body.

use axum::http::HeaderMap;

use crate::daemon::config::Provider;

/// What a signed payload asks for.
pub(super) enum Event {
    /// A push of these refs.
    Push(Vec<String>),
    /// A signed request with no ref: sync (generic only).
    Any,
    /// Not a push: ping or another event.
    Ignored(String),
    /// Unreadable.
    Bad(String),
}

/// Reads the event of `provider` from its headers and `body`.
pub(super) fn event(provider: Provider, headers: &HeaderMap, body: &[u8]) -> Event {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let json = || -> Result<serde_json::Value, Event> {
        serde_json::from_slice(body).map_err(|e| Event::Bad(format!("the body is not JSON: {e}")))
    };
    let ref_of = |v: &serde_json::Value| -> Event {
        match v.get("ref").and_then(|r| r.as_str()) {
            Some(r) => Event::Push(vec![r.to_owned()]),
            None => Event::Bad("the push payload has no `ref`".into()),
        }
    };
    match provider {
        Provider::Github => match header("x-github-event").as_deref() {
            Some("push") => json().map_or_else(|e| e, |v| ref_of(&v)),
            Some("ping") => Event::Ignored("ping".into()),
            Some(other) => Event::Ignored(format!("event {other:?} is not a push")),
            None => Event::Bad("missing X-GitHub-Event header".into()),
        },
        Provider::Gitlab => match header("x-gitlab-event").as_deref() {
            Some("Push Hook" | "Tag Push Hook") => json().map_or_else(|e| e, |v| ref_of(&v)),
            Some(other) => Event::Ignored(format!("event {other:?} is not a push")),
            None => Event::Bad("missing X-Gitlab-Event header".into()),
        },
        Provider::Gitea => match header("x-gitea-event").as_deref() {
            Some("push") => json().map_or_else(|e| e, |v| ref_of(&v)),
            Some(other) => Event::Ignored(format!("event {other:?} is not a push")),
            None => Event::Bad("missing X-Gitea-Event header".into()),
        },
        Provider::Bitbucket => match header("x-event-key").as_deref() {
            Some("repo:refs_changed") => match json() {
                Err(e) => e,
                Ok(v) => {
                    let refs: Vec<String> = v
                        .get("changes")
                        .and_then(|c| c.as_array())
                        .map(|changes| {
                            changes
                                .iter()
                                .filter_map(|c| {
                                    c.pointer("/ref/id")
                                        .or_else(|| c.get("refId"))
                                        .and_then(|r| r.as_str())
                                        .map(str::to_owned)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if refs.is_empty() {
                        Event::Bad("the refs_changed payload has no changes[].ref.id".into())
                    } else {
                        Event::Push(refs)
                    }
                }
            },
            Some("diagnostics:ping") => Event::Ignored("ping".into()),
            Some(other) => Event::Ignored(format!("event {other:?} is not a push")),
            None => Event::Bad("missing X-Event-Key header".into()),
        },
        Provider::Generic => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Event::Any;
            }
            match json() {
                Err(e) => e,
                Ok(v) => match v.get("ref") {
                    None | Some(serde_json::Value::Null) => Event::Any,
                    Some(serde_json::Value::String(r)) => Event::Push(vec![r.clone()]),
                    Some(_) => Event::Bad("`ref` is not a string".into()),
                },
            }
        }
    }
}
