//! `webhook`: the listen address, the secret, the providers, the body limit and the rate
//! limit.

use std::net::SocketAddr;
use std::path::Path;

use super::problems::{Problems, resolve};
use crate::daemon::config::defaults::{DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES};
use crate::daemon::config::raw::RawWebhook;
use crate::daemon::config::secret::SecretRef;
use crate::daemon::config::typed::{Provider, RateLimit, WebhookConfig};

pub(super) fn check_webhook(
    raw: RawWebhook,
    base: Option<&Path>,
    p: &mut Problems,
) -> WebhookConfig {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            p.add(
                "webhook.listen",
                format!("{listen_text:?} is not an address and port such as 0.0.0.0:8080 or 127.0.0.1:9000"),
            );
            DEFAULT_LISTEN.parse().expect("the default address parses")
        }
    };
    let secret = match (raw.secret_file, raw.secret_env) {
        (Some(_), Some(_)) => {
            p.add("webhook", "give secretFile or secretEnv, not both");
            None
        }
        (Some(f), None) => Some(("webhook.secretFile", SecretRef::File(resolve(base, f)))),
        (None, Some(e)) => Some(("webhook.secretEnv", SecretRef::Env(e))),
        (None, None) => None,
    };
    if let Some((key, s)) = &secret
        && let Err(e) = s.read(key)
    {
        p.add(key, e.to_string());
    }
    let mut providers = raw.providers.unwrap_or_else(|| Provider::ALL.to_vec());
    providers.sort();
    providers.dedup();
    let max_body_bytes = raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes < 1024 {
        p.add(
            "webhook.maxBodyBytes",
            format!("{max_body_bytes} is too small for a push payload; use at least 1024"),
        );
    }
    let mut rate_limit = RateLimit::default();
    if let Some(r) = raw.rate_limit {
        if let Some(b) = r.burst {
            rate_limit.burst = b;
        }
        if let Some(s) = r.per_second {
            rate_limit.per_second = s;
        }
        if rate_limit.burst == 0 {
            p.add("webhook.rateLimit.burst", "it must be at least 1");
        }
        if !(rate_limit.per_second.is_finite() && rate_limit.per_second > 0.0) {
            p.add(
                "webhook.rateLimit.perSecond",
                "it must be a positive number",
            );
        }
    }
    WebhookConfig {
        listen,
        secret: secret.map(|(_, s)| s),
        providers,
        max_body_bytes,
        rate_limit,
    }
}
