//! The webhook receiver: `POST /hooks/{github,gitlab,gitea,bitbucket,generic}`.
//!
//! Each request goes through, in order: the provider is enabled and a secret is configured
//! (else 404), the shared rate limit (429), the body size limit (413), the provider's signature
//! checked in constant time (401), then the payload: a push of the tracked ref asks the sync
//! loop for a sync (202); pings, other events and other refs are acknowledged (200); a payload
//! that cannot be read is 400.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::config::{Config, Provider, RateLimit, Secret};
use super::error::Error;
use super::runner::Trigger;
use super::state::State;

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            bucket: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Takes a token if one is left.
    pub fn try_acquire(&self) -> bool {
        let mut b = self.bucket.lock().expect("not poisoned");
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * self.limit.per_second;
        b.0 = (b.0 + refill).min(f64::from(self.limit.burst));
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the webhook receiver needs from the config.
#[derive(Debug)]
pub struct WebhookSettings {
    secret: Option<Secret>,
    providers: Vec<Provider>,
    max_body_bytes: usize,
    limiter: RateLimiter,
    tracked: String,
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
        }
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

/// The webhook routes over `state`.
pub fn app(state: Arc<State>) -> Router {
    Router::new()
        .route("/hooks/{provider}", post(hook))
        .with_state(state)
}

/// The answer to a webhook, with its metric label.
struct Answer {
    status: StatusCode,
    outcome: &'static str,
    message: String,
    pushed_ref: Option<String>,
}

impl Answer {
    fn new(status: StatusCode, outcome: &'static str, message: impl Into<String>) -> Self {
        Answer {
            status,
            outcome,
            message: message.into(),
            pushed_ref: None,
        }
    }

    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "outcome": self.outcome,
            "message": self.message,
            "ref": self.pushed_ref,
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

async fn hook(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(provider) = Provider::from_name(&name) else {
        return Answer::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no webhook provider {name:?}; use github, gitlab, gitea, bitbucket or generic"
            ),
        )
        .into_response();
    };
    let answer = handle(&state, provider, &headers, body).await;
    state.metrics.webhook(provider.as_str(), answer.outcome);
    match answer.outcome {
        "accepted" => tracing::info!(
            provider = provider.as_str(),
            r#ref = answer.pushed_ref.as_deref().unwrap_or(""),
            "webhook accepted: sync requested"
        ),
        "unauthorized" => {
            tracing::warn!(provider = provider.as_str(), reason = %answer.message, "webhook refused")
        }
        outcome => {
            tracing::debug!(provider = provider.as_str(), outcome, reason = %answer.message, "webhook not acted on")
        }
    }
    answer.into_response()
}

async fn handle(state: &State, provider: Provider, headers: &HeaderMap, body: Body) -> Answer {
    let settings = state.webhook();
    let Some(secret) = settings
        .secret
        .as_ref()
        .filter(|_| settings.providers.contains(&provider))
    else {
        return Answer::new(
            StatusCode::NOT_FOUND,
            "disabled",
            format!(
                "the {} webhook is not enabled (webhook.secretFile and webhook.providers)",
                provider.as_str()
            ),
        );
    };
    if !settings.limiter.try_acquire() {
        return Answer::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many webhook requests; try again shortly",
        );
    }
    let too_large = || {
        Answer::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the body is larger than webhook.maxBodyBytes ({})",
                settings.max_body_bytes
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > settings.max_body_bytes) {
        return too_large();
    }
    let Ok(body) = axum::body::to_bytes(body, settings.max_body_bytes).await else {
        return too_large();
    };
    if let Err(why) = verify(provider, headers, &body, secret) {
        return Answer::new(StatusCode::UNAUTHORIZED, "unauthorized", why);
    }
    match event(provider, headers, &body) {
        Event::Push(refs) => match refs.iter().find(|r| settings.tracks(r)) {
            Some(r) => {
                state.trigger(Trigger::Webhook(provider));
                Answer {
                    pushed_ref: Some(r.clone()),
                    ..Answer::new(StatusCode::ACCEPTED, "accepted", "sync requested")
                }
            }
            None => Answer {
                pushed_ref: refs.first().cloned(),
                ..Answer::new(
                    StatusCode::OK,
                    "ignored",
                    format!("not the tracked ref ({})", settings.tracked),
                )
            },
        },
        Event::Any => {
            state.trigger(Trigger::Webhook(provider));
            Answer::new(StatusCode::ACCEPTED, "accepted", "sync requested")
        }
        Event::Ignored(why) => Answer::new(StatusCode::OK, "ignored", why),
        Event::Bad(why) => Answer::new(StatusCode::BAD_REQUEST, "bad_request", why),
    }
}

/// Checks the provider's signature of `body`; the error says what was wrong, never the secret.
pub fn verify(
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    secret: &Secret,
) -> Result<(), String> {
    let header_value = |name: &str| -> Result<&str, String> {
        headers
            .get(name)
            .ok_or_else(|| format!("missing {name} header"))?
            .to_str()
            .map_err(|_| format!("{name} is not text"))
    };
    let hmac_hex = |name: &str, prefix: &str| -> Result<(), String> {
        let value = header_value(name)?;
        let hex = value
            .strip_prefix(prefix)
            .ok_or_else(|| format!("{name} does not start with {prefix:?}"))?;
        let signature =
            decode_hex(hex.trim()).ok_or_else(|| format!("{name} is not hexadecimal"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&signature)
            .map_err(|_| format!("{name} does not match the body and the secret"))
    };
    match provider {
        Provider::Github => hmac_hex("x-hub-signature-256", "sha256="),
        Provider::Gitlab => {
            let token = header_value("x-gitlab-token")?;
            if bool::from(token.as_bytes().ct_eq(secret.expose().as_bytes())) {
                Ok(())
            } else {
                Err("X-Gitlab-Token does not match the secret".into())
            }
        }
        Provider::Gitea => hmac_hex("x-gitea-signature", ""),
        Provider::Bitbucket => hmac_hex("x-hub-signature", "sha256="),
        Provider::Generic => hmac_hex("x-signature", "sha256="),
    }
}

/// The signature a sender computes: lowercase hex HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a signed payload asks for.
enum Event {
    /// A push of these refs.
    Push(Vec<String>),
    /// A signed request with no ref: sync (generic only).
    Any,
    /// Not a push: ping or another event.
    Ignored(String),
    /// Unreadable.
    Bad(String),
}

fn event(provider: Provider, headers: &HeaderMap, body: &[u8]) -> Event {
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
