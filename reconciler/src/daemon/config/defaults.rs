//! The defaults of the config file: what a key means when it is absent.

use std::path::PathBuf;
use std::time::Duration;

/// Default `instance`, the same as `reconciler render --instance`.
pub const DEFAULT_INSTANCE: &str = "default";
/// Default `schedule`.
pub const DEFAULT_SCHEDULE: &str = "*/5 * * * *";
/// Default `schedule.jitter`.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(15);
/// Default `webhook.listen`.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default `webhook.maxBodyBytes`: larger than any push payload of the supported providers.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default `source.timeout`.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Default `source.auth.username` with a token.
pub const DEFAULT_TOKEN_USERNAME: &str = "git";
/// Default `cluster.leaderElection.leaseDuration`: how long a Lease holds without renewal.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// Default `cluster.leaderElection.renewDeadline`: how long a leader keeps trying to renew
/// before it steps down.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Default `cluster.leaderElection.retryPeriod`: the pause between tries to acquire or renew.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Default `source.cacheDir`: `$XDG_CACHE_HOME/vimana-reconciler`, else
/// `$HOME/.cache/vimana-reconciler`, else `vimana-reconciler` in the temporary folder.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty() && v != "/")
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("vimana-reconciler")
}
