//! What asks for a sync ([`Trigger`]) and the queue of requests ([`Triggers`]): at most one
//! pending request, into which the triggers that arrive while a sync runs are folded.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::config::Provider;

/// What asked for a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The daemon started, or this replica became leader.
    Start,
    /// The cron schedule fired.
    Schedule,
    /// A webhook of this provider reported a push of the tracked ref.
    Webhook(Provider),
    /// Someone asked (`State::trigger`).
    Manual,
    /// A retry after a failed fetch or sync.
    Retry,
    /// A rollout step is due (its bake ended, or a wait should look again).
    Rollout,
}

impl Trigger {
    /// The `trigger` label of `reconciler_sync_triggers_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Schedule => "schedule",
            Trigger::Webhook(_) => "webhook",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::Rollout => "rollout",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Webhook(p) => write!(f, "webhook:{}", p.as_str()),
            other => f.write_str(other.metric_label()),
        }
    }
}

/// The queue of sync requests: at most one pending request, which remembers the first trigger
/// and how many were folded into it.
#[derive(Clone, Default)]
pub struct Triggers {
    inner: Arc<TriggersInner>,
}

#[derive(Default)]
struct TriggersInner {
    pending: Mutex<Option<Pending>>,
    notify: Notify,
}

/// The pending request: its first trigger, how many requests it stands for, and whether they
/// were all webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The first trigger folded in.
    pub first: Trigger,
    /// How many triggers were folded in.
    pub count: u64,
    /// Whether every trigger was a webhook: a webhook says Git changed, so when the fetch finds
    /// the revision already synced there is nothing to do (a burst of webhooks for one push
    /// makes one sync). Other triggers sync unchanged revisions too (drift, rollout steps).
    pub webhooks_only: bool,
}

impl std::fmt::Debug for Triggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triggers")
            .field(
                "pending",
                &*self.inner.pending.lock().expect("not poisoned"),
            )
            .finish()
    }
}

impl Triggers {
    /// Asks for a sync; folds into the pending request if there is one.
    pub fn fire(&self, trigger: Trigger) {
        let mut pending = self.inner.pending.lock().expect("not poisoned");
        let webhook = matches!(trigger, Trigger::Webhook(_));
        match pending.as_mut() {
            Some(p) => {
                p.count += 1;
                p.webhooks_only &= webhook;
            }
            None => {
                *pending = Some(Pending {
                    first: trigger,
                    count: 1,
                    webhooks_only: webhook,
                })
            }
        }
        drop(pending);
        // One stored permit at most: any number of fires during a sync wake the loop once.
        self.inner.notify.notify_one();
    }

    /// Takes the pending request: its first trigger and how many requests it stands for.
    pub fn take(&self) -> Option<(Trigger, u64)> {
        self.take_pending().map(|p| (p.first, p.count))
    }

    /// Takes the pending request; triggers from now on fold into a new one.
    pub fn take_pending(&self) -> Option<Pending> {
        self.inner.pending.lock().expect("not poisoned").take()
    }

    /// Whether a request waits for the loop (`pending` in `/status`).
    pub fn is_pending(&self) -> bool {
        self.inner.pending.lock().expect("not poisoned").is_some()
    }

    /// Resolves after a [`Triggers::fire`] (at once if one happened since the last wait).
    pub async fn notified(&self) {
        self.inner.notify.notified().await;
    }
}
