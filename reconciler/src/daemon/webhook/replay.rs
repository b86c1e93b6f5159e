//! Replayed deliveries ([`Deliveries`]): the ids of signed webhook deliveries seen lately, so
//! that a delivery sent again (a provider's retry, or a captured request replayed) is
//! acknowledged without another fetch. Memory is bounded: at most [`REMEMBERED`] ids, none
//! older than [`REMEMBER_FOR`], kept as SHA-256 digests whatever the length of the header.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::daemon::config::Provider;

/// How many delivery ids are remembered; the oldest is forgotten first.
pub const REMEMBERED: usize = 1024;
/// How long a delivery id is remembered.
pub const REMEMBER_FOR: Duration = Duration::from_secs(3600);

/// The headers that carry a delivery's id, by provider; the first present is used. Bitbucket
/// Server sends `X-Request-Id`, Bitbucket Cloud `X-Request-UUID`; GitLab sends
/// `X-Gitlab-Event-UUID` and, since 17.4, `Idempotency-Key`.
pub fn id_headers(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Github => &["x-github-delivery"],
        Provider::Gitlab => &["x-gitlab-event-uuid", "idempotency-key"],
        Provider::Gitea => &["x-gitea-delivery"],
        Provider::Bitbucket => &["x-request-id", "x-request-uuid"],
        Provider::Generic => &["x-delivery-id", "idempotency-key"],
    }
}

/// The id of a delivery, if its provider's header holds one.
pub fn delivery_id(provider: Provider, headers: &HeaderMap) -> Option<String> {
    id_headers(provider).iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// The delivery ids seen lately.
#[derive(Debug, Default)]
pub struct Deliveries {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<(Instant, [u8; 32])>,
    keys: HashSet<[u8; 32]>,
}

impl Deliveries {
    /// Records the delivery `id` of `provider`; false when it was seen already (a replay).
    pub fn first_time(&self, provider: Provider, id: &str) -> bool {
        let mut hash = Sha256::new();
        hash.update(provider.as_str().as_bytes());
        hash.update([0]);
        hash.update(id.as_bytes());
        let key: [u8; 32] = hash.finalize().into();
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("not poisoned");
        while let Some((at, old)) = seen.order.front().copied() {
            if now.duration_since(at) < REMEMBER_FOR && seen.order.len() < REMEMBERED {
                break;
            }
            seen.order.pop_front();
            seen.keys.remove(&old);
        }
        if !seen.keys.insert(key) {
            return false;
        }
        seen.order.push_back((now, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_remembered_per_provider_and_the_oldest_forgotten() {
        let d = Deliveries::default();
        assert!(d.first_time(Provider::Github, "a"));
        assert!(!d.first_time(Provider::Github, "a"));
        assert!(d.first_time(Provider::Gitea, "a"));
        for i in 0..REMEMBERED {
            assert!(d.first_time(Provider::Generic, &i.to_string()));
        }
        assert!(
            d.first_time(Provider::Github, "a"),
            "forgotten after {REMEMBERED} others"
        );
        assert!(!d.first_time(Provider::Generic, &(REMEMBERED - 1).to_string()));
        assert!(d.seen.lock().unwrap().order.len() <= REMEMBERED);
    }
}
