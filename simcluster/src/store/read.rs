//! The reads: GET of one object, LIST pages in key order with their continue tokens, and the
//! subscriptions that WATCH streams start from.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::{Event, EventType, Key, Page, Store, Subscription, Target};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::Status;

impl Store {
    /// One object, or 404 NotFound.
    pub fn get(&self, t: &Target) -> Result<Arc<Value>, Status> {
        let rt = self.registry.get(t.type_id);
        self.lock().objects[t.type_id]
            .get(&(t.namespace.clone(), t.name.clone()))
            .cloned()
            .ok_or_else(|| Status::not_found(rt, &t.name))
    }

    /// A page of objects of a type, in one namespace or all, in name order.
    pub fn list(
        &self,
        type_id: usize,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, Status> {
        let start: Option<Key> = match continue_token {
            Some(tok) => Some(
                decode_continue(tok)
                    .ok_or_else(|| Status::bad_request("continue key is not valid"))?,
            ),
            None => None,
        };
        let inner = self.lock();
        let map = &inner.objects[type_id];
        let lower = match (&start, namespace) {
            (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.to_owned(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut remaining = 0;
        let mut last: Option<&Key> = None;
        let limit = limit.filter(|&l| l > 0);
        for (key, obj) in map.range((lower, std::ops::Bound::Unbounded)) {
            if let Some(ns) = namespace
                && key.0 != ns
            {
                break;
            }
            if !labels.matches(&obj["metadata"]["labels"]) || !fields.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
            last = Some(key);
        }
        let continue_token = if remaining > 0 {
            last.map(encode_continue)
        } else {
            None
        };
        Ok(Page {
            items,
            rv: inner.rv,
            continue_token,
            remaining,
        })
    }

    /// Subscribes to changes. Returns the events after `since` (from the log) and a receiver of
    /// later ones; `None` asks for the current objects as synthetic ADDED events instead.
    /// Fails with 410 Gone when `since` is older than the log.
    pub fn watch(&self, type_id: usize, since: Option<u64>) -> Result<Subscription, Status> {
        let mut inner = self.lock();
        let rx = self.events.subscribe();
        let backlog = match since {
            None => inner.objects[type_id]
                .values()
                .map(|o| {
                    Arc::new(Event {
                        rv: rv_of(o),
                        type_id,
                        kind: EventType::Added,
                        object: o.clone(),
                        previous: None,
                    })
                })
                .collect(),
            Some(rv) => {
                inner.forget_old_events(std::time::Instant::now());
                let forgotten = inner.forgotten[type_id];
                if rv < forgotten {
                    return Err(Status::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({forgotten})"),
                    ));
                }
                inner
                    .log
                    .iter()
                    .map(|(_, e)| e)
                    .filter(|e| e.rv > rv && e.type_id == type_id)
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            backlog,
            rv: inner.rv,
            rx,
        })
    }

    /// A receiver of every change (for the simulated operator).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}

fn rv_of(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn encode_continue(key: &Key) -> String {
    let raw = format!("{}\u{0}{}", key.0, key.1);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(tok: &str) -> Option<Key> {
    if !tok.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..tok.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(tok.get(i..i + 2)?, 16).ok())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    let (ns, name) = s.split_once('\u{0}')?;
    Some((ns.to_owned(), name.to_owned()))
}
