//! Retries of API calls: what is safe to retry (server errors, throttling, timeouts, dropped
//! connections) is retried under [`Policy::API`]; what is not (validation, conflicts,
//! forbidden) fails at once with the API's reason.

use std::future::Future;

pub use crate::error::describe;
use crate::retry::{Policy, Retryable};

/// Whether an error of the API client may succeed when tried again.
pub fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(r) => matches!(r.code, 429 | 500 | 502 | 503 | 504),
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
