//! What the webhook receiver takes from the config ([`WebhookSettings`]): the secret, the
//! enabled providers, the body limit and read timeout, the rate limit, the tracked ref, and the
//! delivery ids seen lately.

use std::time::Duration;

use crate::daemon::config::{Config, Provider, RateLimit, Secret};
use crate::daemon::error::Error;

use super::ratelimit::RateLimiter;
use super::replay::Deliveries;

/// How long a webhook's body may take to arrive once its headers have: a client that sends a
/// body slowly (or declares more than it sends) is answered 408 after this.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the webhook receiver needs from the config.
#[derive(Debug)]
pub struct WebhookSettings {
    pub(super) secret: Option<Secret>,
    pub(super) providers: Vec<Provider>,
    pub(super) max_body_bytes: usize,
    pub(super) limiter: RateLimiter,
    pub(super) tracked: String,
    pub(super) body_timeout: Duration,
    pub(super) deliveries: Deliveries,
}

impl WebhookSettings {
    /// Settings that accept pushes of `tracked_ref` (`source.ref`) on `providers`, signed with
    /// `secret`; without a secret every webhook path answers 404.
    pub fn new(
        secret: Option<Secret>,
        providers: Vec<Provider>,
        max_body_bytes: usize,
        rate_limit: RateLimit,
        tracked_ref: &str,
    ) -> Self {
        WebhookSettings {
            secret,
            providers,
            max_body_bytes,
            limiter: RateLimiter::new(rate_limit),
            tracked: tracked_ref.trim().to_owned(),
            body_timeout: BODY_READ_TIMEOUT,
            deliveries: Deliveries::default(),
        }
    }

    /// The same settings with another body read timeout than [`BODY_READ_TIMEOUT`] (tests).
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The settings of a config; reads the webhook secret.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let w = &config.webhook;
        let secret = match &w.secret {
            Some(s) => Some(s.read("webhook secret")?),
            None => {
                tracing::warn!("no webhook.secretFile or webhook.secretEnv: webhooks are disabled");
                None
            }
        };
        Ok(WebhookSettings::new(
            secret,
            w.providers.clone(),
            w.max_body_bytes,
            w.rate_limit,
            &config.source.reference,
        ))
    }

    /// Whether a push of `pushed` (a full ref such as `refs/heads/main`, or exactly `source.ref`)
    /// changes what is synced.
    pub fn tracks(&self, pushed: &str) -> bool {
        let t = &self.tracked;
        if pushed == t {
            true
        } else if t.starts_with("refs/") {
            false
        } else {
            pushed.strip_prefix("refs/heads/") == Some(t.as_str())
                || pushed.strip_prefix("refs/tags/") == Some(t.as_str())
        }
    }
}
