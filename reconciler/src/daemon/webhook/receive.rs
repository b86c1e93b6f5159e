//! What a webhook request gets, decided in the order of the module [`super`]: enabled and
//! configured, the rate limit, the body size (and the time it takes to arrive), the signature,
//! replays, then the payload.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};

use super::answer::Answer;
use super::event::{Event, event};
use super::replay::delivery_id;
use super::settings::WebhookSettings;
use super::signature::verify;
use crate::daemon::config::Provider;

/// Checks a request to the webhook of `provider` against `settings`, in order, and reads what
/// it asks for; an accepted answer asks the caller for a sync.
pub async fn receive(
    settings: &WebhookSettings,
    provider: Provider,
    headers: &HeaderMap,
    body: Body,
) -> Answer {
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
    let read = axum::body::to_bytes(body, settings.max_body_bytes);
    let body = match tokio::time::timeout(settings.body_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            return Answer::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!(
                    "the body did not arrive within {}",
                    model::duration::format(settings.body_timeout)
                ),
            );
        }
    };
    if let Err(why) = verify(provider, headers, &body, secret) {
        return Answer::new(StatusCode::UNAUTHORIZED, "unauthorized", why);
    }
    // Only signed deliveries are remembered: a forged one cannot make a real one look replayed.
    if let Some(id) = delivery_id(provider, headers)
        && !settings.deliveries.first_time(provider, &id)
    {
        let shown: String = id.chars().take(64).collect();
        return Answer::new(
            StatusCode::OK,
            "replayed",
            format!("delivery {shown:?} was received already: no sync requested"),
        );
    }
    match event(provider, headers, &body) {
        Event::Push(refs) => match refs.iter().find(|r| settings.tracks(r)) {
            Some(r) => Answer {
                pushed_ref: Some(r.clone()),
                ..Answer::new(StatusCode::ACCEPTED, "accepted", "sync requested")
            },
            None => Answer {
                pushed_ref: refs.first().cloned(),
                ..Answer::new(
                    StatusCode::OK,
                    "ignored",
                    format!("not the tracked ref ({})", settings.tracked),
                )
            },
        },
        Event::Any => Answer::new(StatusCode::ACCEPTED, "accepted", "sync requested"),
        Event::Ignored(why) => Answer::new(StatusCode::OK, "ignored", why),
        Event::Bad(why) => Answer::new(StatusCode::BAD_REQUEST, "bad_request", why),
    }
}
