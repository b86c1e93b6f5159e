//! The values the store takes and gives: write options and answers, the object a request
//! addresses, LIST pages, and the change events that watches see.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::managed::Scope;

/// `ADDED`, `MODIFIED` or `DELETED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// An object was created.
    Added,
    /// An object changed.
    Modified,
    /// An object was deleted.
    Deleted,
}

impl EventType {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change of one object.
#[derive(Clone, Debug)]
pub struct Event {
    /// The resourceVersion the change got (cluster-wide, increasing).
    pub rv: u64,
    /// The type of the object, its index in the [`crate::resources::Registry`].
    pub type_id: usize,
    /// Created, changed or deleted.
    pub kind: EventType,
    /// The object after the change (before it, for deletions, with the new resourceVersion).
    pub object: Arc<Value>,
    /// The object before a modification, so that watches with selectors can tell objects that
    /// entered or left the selection.
    pub previous: Option<Arc<Value>>,
}

impl Event {
    /// Namespace of the object; empty for cluster-scoped types.
    pub fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    }
}

/// `fieldValidation` of a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and answer with a warning (the API server default).
    #[default]
    Warn,
    /// Refuse unknown fields (kubectl's default).
    Strict,
}

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, persist nothing.
    pub dry_run: bool,
    /// Field manager (from `fieldManager`, else the user agent).
    pub manager: String,
    /// `force` of server-side apply.
    pub force: bool,
    /// What to do with unknown fields.
    pub validation: FieldValidation,
}

/// The answer to a write.
#[derive(Clone, Debug)]
pub struct Written {
    /// The object as stored (or as it would be, on a dry run).
    pub object: Arc<Value>,
    /// Whether the write created the object.
    pub created: bool,
    /// Warnings for the `Warning` header.
    pub warnings: Vec<String>,
}

/// Which object a request addresses.
#[derive(Clone, Debug)]
pub struct Target {
    /// The type of the object, its index in the [`crate::resources::Registry`].
    pub type_id: usize,
    /// Namespace; empty for cluster-scoped types.
    pub namespace: String,
    /// Name; empty for a create, whose body names the object (or asks for a generated name).
    pub name: String,
    /// Main resource or status subresource.
    pub scope: Scope,
}

/// The patch formats of PATCH, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/apply-patch+yaml`.
    Apply,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json` (built-in types only; treated as a merge patch).
    Strategic,
}

/// A page of a LIST.
#[derive(Debug)]
pub struct Page {
    /// The objects of the page, in (namespace, name) order.
    pub items: Vec<Arc<Value>>,
    /// The cluster's resourceVersion when the page was read.
    pub rv: u64,
    /// Continue token when more items remain.
    pub continue_token: Option<String>,
    /// How many items remain after this page.
    pub remaining: usize,
}

/// A watch subscription: past events to replay, then live ones.
#[derive(Debug)]
pub struct Subscription {
    /// Events to send first: the logged events after the asked version, or the current
    /// objects as ADDED.
    pub backlog: Vec<Arc<Event>>,
    /// resourceVersion of the store when subscribed.
    pub rv: u64,
    /// Every later change of the store, of every type: the watch filters them.
    pub rx: broadcast::Receiver<Arc<Event>>,
}
