//! The API server's max-in-flight limit: at most so many read-only and so many mutating
//! requests served at once, the next one answered at once with 429 and `Retry-After`, as
//! kube-apiserver's `--max-requests-inflight` and `--max-mutating-requests-inflight` (400 and
//! 200 by default) do in `WithMaxInFlightLimit`
//! (`staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go`). API Priority and
//! Fairness (`filters/priority-and-fairness.go`), which replaces it when enabled, shares the
//! same answer, `tooManyRequests`, and may queue a request a while before it rejects it; the
//! simulation rejects at once, the stricter of the two for a client.
//!
//! As in kube-apiserver: get, list and watch are read-only, every other verb mutating (a dry
//! run included: it takes the same path); watches are long-running and never counted; a
//! request holds its slot while it is served, injected latency included, so that a slow
//! server fills up as a real one does.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The two limits; 0 means no limit (kube-apiserver's meaning of 0 too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Read-only requests (get, list, discovery) served at once.
    pub read: usize,
    /// Mutating requests (create, update, patch, apply, delete, deletecollection) at once.
    pub mutating: usize,
}

/// Seconds a rejected client is asked to wait: maxinflight.go's constant `retryAfter = "1"`
/// (APF computes 1 to 32 s from its recent rejections).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The body of a rejection, word for word kube-apiserver's `tooManyRequests` (plain text, not
/// a `Status`: the filter answers before the API machinery that writes `Status`es).
pub const MESSAGE: &str = "Too many requests, please try again later.\n";

/// The slots of both limits.
#[derive(Debug)]
pub struct InFlight {
    read: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

/// Whether a request may be served now.
#[derive(Debug)]
pub enum Admission {
    /// Served, holding this slot until answered (`None`: not counted).
    Served(Option<OwnedSemaphorePermit>),
    /// Over the limit: answer 429.
    Rejected,
}

impl InFlight {
    /// Slots for `limits`.
    pub fn new(limits: Limits) -> InFlight {
        let slots = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        InFlight {
            read: slots(limits.read),
            mutating: slots(limits.mutating),
        }
    }

    /// Takes a slot for a request with this verb (`discovery` for the discovery documents),
    /// or rejects it when its limit is reached.
    pub fn admit(&self, verb: &str) -> Admission {
        let slots = match verb {
            "watch" => None,
            "get" | "list" | "discovery" => self.read.as_ref(),
            _ => self.mutating.as_ref(),
        };
        match slots {
            None => Admission::Served(None),
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(permit) => Admission::Served(Some(permit)),
                Err(_) => Admission::Rejected,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_counts_its_own_verbs_and_watches_are_free() {
        let f = InFlight::new(Limits {
            read: 1,
            mutating: 2,
        });
        let held = f.admit("list");
        assert!(matches!(held, Admission::Served(Some(_))));
        assert!(matches!(f.admit("get"), Admission::Rejected));
        assert!(matches!(f.admit("watch"), Admission::Served(None)));
        let (a, b) = (f.admit("apply"), f.admit("delete"));
        assert!(matches!(f.admit("create"), Admission::Rejected));
        drop((held, a));
        assert!(matches!(f.admit("get"), Admission::Served(Some(_))));
        assert!(matches!(f.admit("patch"), Admission::Served(Some(_))));
        drop(b);
        let unlimited = InFlight::new(Limits::default());
        assert!(matches!(unlimited.admit("apply"), Admission::Served(None)));
    }
}
