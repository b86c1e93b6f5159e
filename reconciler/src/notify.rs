//! Notifications: a JSON event POSTed to each configured URL on sync failure, rollout abort and
//! rollout success, with a few retries ([`Policy::NOTIFY`]); a URL that keeps failing is
//! reported, never fatal.

use std::time::Duration;

use serde::Serialize;

use crate::retry::{Policy, Retryable};

/// An event for the notification webhooks.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// What the event announces.
    pub kind: EventKind,
    /// Reconciler instance.
    pub instance: String,
    /// Git revision, if known.
    pub revision: Option<String>,
    /// The object concerned (`Server vimana/adder`), if any.
    pub object: Option<String>,
    /// What happened.
    pub message: String,
    /// When, RFC 3339.
    pub time: String,
}

/// What an event announces, sent as `sync-failed`, `rollout-aborted`, `rollout-succeeded` or
/// `drift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A sync of the daemon failed.
    SyncFailed,
    /// A rollout was rolled back to its baseline.
    RolloutAborted,
    /// A rollout moved live traffic to its target.
    RolloutSucceeded,
    /// A managed object drifted: changed, deleted or taken over behind the reconciler's back
    /// (the message says what was done).
    Drift,
}

/// Sends events to a list of URLs.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    urls: Vec<String>,
    http: reqwest::Client,
}

impl Notifier {
    /// A notifier for these URLs (none: events are dropped).
    pub fn new(urls: Vec<String>) -> Notifier {
        Notifier {
            urls,
            http: reqwest::Client::new(),
        }
    }

    /// Posts `event` to every URL, each tried as [`Policy::NOTIFY`] says; returns the URLs
    /// that failed, with why.
    pub async fn send(&self, event: &Event) -> Vec<String> {
        let mut failed = Vec::new();
        let body = serde_json::to_vec(event).expect("events serialize");
        for url in &self.urls {
            let (http, body) = (&self.http, &body);
            let post = move || async move {
                let request = http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .timeout(Duration::from_secs(5));
                match request.send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("answered {}", r.status())),
                    Err(e) => Err(e.without_url().to_string()),
                }
            };
            if let Err(last) = post.retry(Policy::NOTIFY).await {
                failed.push(format!("{}: {last}", redact(url)));
            }
        }
        failed
    }
}

/// A URL without its user info and query (where tokens hide).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact("https://user:pw@hooks.example.org/x?token=1"),
            "https://hooks.example.org/x"
        );
        assert_eq!(redact("http://h/p"), "http://h/p");
    }
}
