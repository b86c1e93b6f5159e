//! The one retry and backoff policy of the reconciler: how long to wait between attempts, and
//! how many to make, for every place that tries again. A [`Policy`] is backon's exponential
//! backoff (a factor of 1 makes it constant) with a [`Jitter`]; the presets name each use:
//!
//! | preset | delays | attempts | jitter |
//! | --- | --- | --- | --- |
//! | [`Policy::API`]: a Kubernetes API request | 100 ms, doubling (... 1.6 s) | 6 | none |
//! | [`Policy::NOTIFY`]: a notification webhook | 400 ms, 800 ms | 3 | none |
//! | [`Policy::WATCH_RELIST`]: the LIST of a watch (Components, drift) | 200 ms | unbounded | none |
//! | [`Policy::FAILED_SYNC`]: the daemon after failures | 1 s, doubling, at most 300 s | unbounded | equal |
//! | [`Policy::lease`]: leader election | the retry period | unbounded | up to +20 % |
//!
//! A future is retried with backon's [`Retryable`] over a policy (`op.retry(Policy::API)`, with
//! `.when(...)` to retry some errors only); a loop that schedules itself asks for the delay
//! after its n-th failure in a row ([`Policy::delay`]).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

pub use backon::Retryable;

/// How a delay is spread, so that many replicas or requests do not retry in step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// The delays as they are.
    None,
    /// A delay `d` becomes one in `[d/2, d]` ("equal jitter": never less than half, so retries
    /// cannot bunch up at zero).
    Equal,
    /// A delay `d` becomes one in `[d, d·(1 + f)]`.
    UpTo(f64),
}

impl Jitter {
    /// Spreads `d` by `sample` in `[0, 1]`.
    fn apply(self, d: Duration, sample: f64) -> Duration {
        let sample = sample.clamp(0.0, 1.0);
        match self {
            Jitter::None => d,
            Jitter::Equal => d / 2 + (d / 2).mul_f64(sample),
            Jitter::UpTo(f) => d + d.mul_f64(sample * f),
        }
    }
}

/// Delays between attempts and how many attempts: see the module's table of presets.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    delays: ExponentialBuilder,
    jitter: Jitter,
}

impl Policy {
    /// A Kubernetes API request that failed in a way worth retrying: 6 attempts, 100 ms before
    /// the second, doubling.
    pub const API: Policy = Policy::exponential(Duration::from_millis(100)).attempts(6);
    /// A notification webhook POST: 3 attempts, 400 ms then 800 ms between them.
    pub const NOTIFY: Policy = Policy::exponential(Duration::from_millis(400)).attempts(3);
    /// The LIST of a watch (the Components of a pass, the drift watch), after it or the WATCH
    /// failed: every 200 ms, for as long as the watch runs.
    pub const WATCH_RELIST: Policy = Policy::constant(Duration::from_millis(200));
    /// The daemon's next try after failed fetches or syncs: 1 s, doubling up to 300 s, equal
    /// jitter.
    pub const FAILED_SYNC: Policy = Policy::exponential(Duration::from_secs(1))
        .max_delay(Duration::from_secs(300))
        .jitter(Jitter::Equal);

    /// The tries to acquire or renew the leader Lease: every `retry_period`, up to 20 % later
    /// (so that candidates started together do not collide at every try).
    pub const fn lease(retry_period: Duration) -> Policy {
        Policy::constant(retry_period).jitter(Jitter::UpTo(0.2))
    }

    /// Delays from `first`, doubling, without bound or end.
    pub const fn exponential(first: Duration) -> Policy {
        Policy {
            delays: ExponentialBuilder::new()
                .with_min_delay(first)
                .with_factor(2.0)
                .without_max_delay()
                .without_max_times(),
            jitter: Jitter::None,
        }
    }

    /// The same delay each time, without end.
    pub const fn constant(every: Duration) -> Policy {
        Policy {
            delays: ExponentialBuilder::new()
                .with_min_delay(every)
                .with_factor(1.0)
                .without_max_delay()
                .without_max_times(),
            jitter: Jitter::None,
        }
    }

    /// Delays grow up to `max` (before jitter).
    pub const fn max_delay(self, max: Duration) -> Policy {
        Policy {
            delays: self.delays.with_max_delay(max),
            ..self
        }
    }

    /// At most `n` attempts in all, the first included.
    pub const fn attempts(self, n: usize) -> Policy {
        Policy {
            delays: self.delays.with_max_times(n.saturating_sub(1)),
            ..self
        }
    }

    /// Spreads each delay by `jitter`.
    pub const fn jitter(self, jitter: Jitter) -> Policy {
        Policy { jitter, ..self }
    }

    /// The delay after `failures` failures in a row (1: before the first retry), spread by a
    /// random draw; `None` once the attempts are spent (or for 0).
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        self.delay_at(failures, rand::random::<f64>())
    }

    /// As [`Policy::delay`], with `sample` in `[0, 1]` placing the delay within its jitter.
    pub fn delay_at(&self, failures: u32, sample: f64) -> Option<Duration> {
        let n = usize::try_from(failures.checked_sub(1)?).ok()?;
        let d = self.delays.build().nth(n)?;
        Some(self.jitter.apply(d, sample))
    }
}

/// The delays of a [`Policy`], for backon's [`Retryable`].
#[derive(Debug)]
pub struct Delays {
    delays: ExponentialBackoff,
    jitter: Jitter,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let d = self.delays.next()?;
        Some(self.jitter.apply(d, rand::random::<f64>()))
    }
}

impl BackoffBuilder for Policy {
    type Backoff = Delays;

    fn build(self) -> Delays {
        Delays {
            delays: self.delays.build(),
            jitter: self.jitter,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Delays compared to the millisecond: backon computes them in `f32`.
    fn delays(p: Policy) -> Vec<u128> {
        p.build().take(10).map(|d| d.as_millis()).collect()
    }

    #[test]
    fn the_presets_keep_the_delays_and_attempts_of_each_place() {
        assert_eq!(delays(Policy::API), [100, 200, 400, 800, 1600]);
        assert_eq!(delays(Policy::NOTIFY), [400, 800]);
        assert_eq!(delays(Policy::WATCH_RELIST), [200; 10]);
        let failed = Policy::FAILED_SYNC;
        assert_eq!(failed.delay_at(1, 0.0), Some(ms(500)));
        assert_eq!(failed.delay_at(1, 1.0), Some(ms(1000)));
        assert_eq!(failed.delay_at(4, 1.0), Some(ms(8000)));
        assert_eq!(failed.delay_at(20, 1.0), Some(Duration::from_secs(300)));
        assert_eq!(failed.delay_at(0, 1.0), None);
        let lease = Policy::lease(Duration::from_secs(2));
        assert_eq!(lease.delay_at(7, 0.0), Some(Duration::from_secs(2)));
        assert_eq!(lease.delay_at(7, 1.0), Some(ms(2400)));
        assert_eq!(Policy::API.delay_at(6, 0.0), None, "past the attempts");
    }

    #[tokio::test]
    async fn a_future_is_retried_until_the_attempts_are_spent() {
        let mut calls = 0;
        let result: Result<(), &str> = (|| {
            calls += 1;
            async { Err("no") }
        })
        .retry(Policy::exponential(ms(1)).attempts(3))
        .await;
        assert_eq!((result, calls), (Err("no"), 3));
    }
}
