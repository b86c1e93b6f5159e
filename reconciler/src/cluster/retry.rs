//! Retries of API calls: what is safe to retry (server errors, timeouts, dropped connections)
//! is retried under [`Policy::API`]; what is not (validation, conflicts, forbidden) fails at
//! once with the API's reason. Throttling (429) is not retried here: the client's
//! `throttle` layer has already tried it again after each `Retry-After`, up to
//! `throttle::RETRIES_429` times, and a 429 that comes through says the server is still
//! overloaded, which more attempts would only prolong.

use std::future::Future;

pub use crate::error::describe;
use crate::retry::{Policy, Retryable};

/// Whether an error of the API client may succeed when tried again.
pub fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(r) => matches!(r.code, 500 | 502 | 503 | 504),
        // Transport failures: dropped connections, timeouts, refused connections.
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or has used the
/// attempts of [`Policy::API`]; `what` names it in the logs.
pub async fn retry<T, F, Fut>(what: &str, op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    op.retry(Policy::API)
        .when(retryable)
        .notify(|e, delay| tracing::debug!(what, error = %e, ?delay, "retrying"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(kube::core::ErrorResponse {
            status: "Failure".into(),
            message: String::new(),
            reason: String::new(),
            code,
        })
    }

    #[test]
    fn server_errors_are_retried_and_429_and_refusals_are_not() {
        for code in [500, 502, 503, 504] {
            assert!(retryable(&api(code)), "{code}");
        }
        for code in [400, 403, 404, 409, 422, 429] {
            assert!(!retryable(&api(code)), "{code}");
        }
    }
}
