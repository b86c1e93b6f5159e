//! Retries of API calls: what is safe to retry (server errors, throttling, timeouts, dropped
//! connections) is retried with exponential backoff; what is not (validation, conflicts,
//! forbidden) fails at once with the API's reason.

use std::future::Future;
use std::time::Duration;

/// Attempts per call, the first included.
pub const ATTEMPTS: u32 = 6;
/// Delay before the second attempt; it doubles each time (100 ms, 200 ms, ... 1.6 s).
pub const FIRST_DELAY: Duration = Duration::from_millis(100);

/// Whether an error of the API client may succeed when tried again.
pub fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(r) => matches!(r.code, 429 | 500 | 502 | 503 | 504),
        // Transport failures: dropped connections, timeouts, refused connections.
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or has been tried
/// [`ATTEMPTS`] times.
pub async fn retry<T, F, Fut>(what: &str, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(what, attempt, error = %e, "retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A short description of an API error: code, reason and message.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} {}: {}", r.code, r.reason, r.message),
        other => other.to_string(),
    }
}
