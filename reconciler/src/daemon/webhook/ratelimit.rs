//! A token bucket that bounds the rate of webhook requests (`webhook.rateLimit`), checked
//! before any signature so that floods cannot make the daemon compute HMACs at will.

use std::sync::Mutex;
use std::time::Instant;

use crate::daemon::config::RateLimit;

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter whose bucket starts full: `burst` requests pass at once.
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
