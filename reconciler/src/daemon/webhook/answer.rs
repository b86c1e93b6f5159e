//! The answer to a webhook ([`Answer`]): a status, the outcome that
//! `reconciler_webhook_requests_total` counts, and a JSON body saying why.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The answer to a webhook, with its metric label.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `outcome` label of `reconciler_webhook_requests_total`, also in the body.
    pub outcome: &'static str,
    /// Why, for people.
    pub message: String,
    /// The pushed ref the answer is about, if the payload named one.
    pub pushed_ref: Option<String>,
}

impl Answer {
    /// An answer about no ref.
    pub fn new(status: StatusCode, outcome: &'static str, message: impl Into<String>) -> Self {
        Answer {
            status,
            outcome,
            message: message.into(),
            pushed_ref: None,
        }
    }

    /// Whether the webhook asks for a sync.
    pub fn is_accepted(&self) -> bool {
        self.outcome == "accepted"
    }

    /// The JSON body `{"outcome", "message", "ref"}`, with `Retry-After: 1` on 429.
    pub fn into_response(self) -> Response {
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
