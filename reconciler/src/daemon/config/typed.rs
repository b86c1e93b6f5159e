//! The checked config: one struct per section of the file, every default filled in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use model::rollout::Policy;
use serde::Deserialize;

use super::defaults::{DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD};
use super::secret::SecretRef;
use crate::daemon::schedule::Schedule;
use crate::rollout::analysis::Analysis;

/// The whole config, checked, with defaults filled in.
#[derive(Clone, Debug)]
pub struct Config {
    /// `instance`: written to the `reconciler.vimana.host/instance` label; names the inventory.
    pub instance: String,
    /// `source`: the Git repository.
    pub source: SourceConfig,
    /// `schedule`: when to sync without a webhook; `None` for `schedule: off`.
    pub schedule: Option<Schedule>,
    /// `webhook`: the HTTP server (webhooks and endpoints).
    pub webhook: WebhookConfig,
    /// `cluster`: which cluster to talk to.
    pub cluster: ClusterConfig,
    /// `apply`: how to apply.
    pub apply: ApplyConfig,
    /// `rollout`: default rollout policy and named analyses.
    pub rollout: RolloutConfig,
    /// `notify`: where to POST events.
    pub notify: Vec<NotifyConfig>,
    /// `log`: log format and level.
    pub log: LogConfig,
    /// `render`: how sources are rendered.
    pub render: RenderConfig,
    /// `ui`: the web view at `/` and its `/api/*` endpoints.
    pub ui: UiConfig,
}

/// `source`: the Git repository followed, and how to fetch it. Its `Debug` shows the URL
/// redacted: a token may have been written into it.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// `source.url`: `https://`, `http://` (loopback only with a token), `ssh://`,
    /// `user@host:path`, `git://`, `file://` or a path (relative to the config file).
    pub url: String,
    /// `source.ref`: a branch, a tag, a full ref (`refs/...`) or a 40-hex commit id.
    /// Default `main`.
    pub reference: String,
    /// `source.path`: the folder of the sources inside the repository, `/`-separated, without
    /// leading or trailing `/`. Default: the root (empty).
    pub path: String,
    /// `source.auth`.
    pub auth: Auth,
    /// `source.cacheDir`: where clones are kept. Default `$XDG_CACHE_HOME/vimana-reconciler`,
    /// else `$HOME/.cache/vimana-reconciler`, else the temporary folder.
    pub cache_dir: PathBuf,
    /// `source.timeout`: how long one fetch may take. Default `2m`.
    pub timeout: Duration,
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("url", &super::urls::redact_url(&self.url))
            .field("reference", &self.reference)
            .field("path", &self.path)
            .field("auth", &self.auth)
            .field("cache_dir", &self.cache_dir)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `source.auth`: how the daemon authenticates to the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (public repositories, local paths).
    None,
    /// HTTPS basic authentication with a token as the password.
    Token {
        /// `source.auth.username`. Default `git` (GitHub, GitLab and Gitea accept any
        /// non-empty name with a token; Bitbucket Server wants the account's).
        username: String,
        /// `source.auth.tokenFile` or `source.auth.tokenEnv`.
        token: SecretRef,
    },
    /// SSH with a private key; the host key must be in `known_hosts`.
    Ssh {
        /// `source.auth.username`; default: the URL's user, else `git`.
        username: Option<String>,
        /// `source.auth.sshKeyFile`: an unencrypted private key (OpenSSH or PEM format).
        key_file: PathBuf,
        /// `source.auth.knownHostsFile`: OpenSSH `known_hosts`; unknown hosts are refused.
        known_hosts_file: PathBuf,
    },
}

/// A webhook provider: its path is `/hooks/<name>`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    Github,
    /// GitLab: `X-Gitlab-Token: <secret>`.
    Gitlab,
    /// Gitea (and Forgejo): `X-Gitea-Signature: <hex>`.
    Gitea,
    /// Bitbucket Server / Data Center: `X-Hub-Signature: sha256=<hex>`.
    Bitbucket,
    /// Anything else: `X-Signature: sha256=<hex>`.
    Generic,
}

impl Provider {
    /// Every provider, in path order.
    pub const ALL: [Provider; 5] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Gitea,
        Provider::Bitbucket,
        Provider::Generic,
    ];

    /// The name in paths, config and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Gitea => "gitea",
            Provider::Bitbucket => "bitbucket",
            Provider::Generic => "generic",
        }
    }

    /// The provider of a path segment.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// `webhook`: the HTTP server and who may ask it for syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `webhook.listen`: the address of the HTTP server, which serves the webhooks and
    /// `/healthz`, `/readyz`, `/metrics`, `/status`. Default `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// `webhook.secretFile` or `webhook.secretEnv`; without one, the webhook paths answer 404.
    pub secret: Option<SecretRef>,
    /// `webhook.providers`: the enabled paths. Default: all five.
    pub providers: Vec<Provider>,
    /// `webhook.maxBodyBytes`: larger bodies get 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// `webhook.rateLimit`.
    pub rate_limit: RateLimit,
}

/// `webhook.rateLimit`: a token bucket shared by all webhook paths; over it, 429.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// `burst`: requests accepted at once. Default 100.
    pub burst: u32,
    /// `perSecond`: the steady rate. Default 10.
    pub per_second: f64,
}

impl Eq for RateLimit {}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 100,
            per_second: 10.0,
        }
    }
}

/// `cluster`: which cluster to write to, and leader election among replicas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `cluster.kubeconfig`; absent: in-cluster config, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// `cluster.context`: a context of the kubeconfig; absent: its current context.
    pub context: Option<String>,
    /// `cluster.namespace`: namespace of objects whose source names none. Default `vimana`.
    pub namespace: String,
    /// `cluster.embedded`: run on the embedded simulated cluster. Default false.
    pub embedded: bool,
    /// `cluster.leaderElection`: which replica may write.
    pub leader_election: LeaderElectionConfig,
}

/// `cluster.leaderElection`: replicas elect a leader on the Lease `reconciler-<instance>` in
/// `cluster.namespace`; only the leader syncs. The rule `retryPeriod < renewDeadline <
/// leaseDuration` leaves a leader that cannot renew `leaseDuration - renewDeadline` to stop
/// its sync before another replica may take the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// `enabled`: elect a leader. Default true; false makes this replica always write (one
    /// replica only).
    pub enabled: bool,
    /// `leaseDuration`: how long others wait after the last renewal they saw before taking the
    /// Lease; whole seconds (the Lease stores seconds). Default `15s`.
    pub lease_duration: Duration,
    /// `renewDeadline`: how long the leader keeps trying to renew before it steps down.
    /// Default `10s`.
    pub renew_deadline: Duration,
    /// `retryPeriod`: the pause between tries to acquire or renew. Default `2s`.
    pub retry_period: Duration,
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        LeaderElectionConfig {
            enabled: true,
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }
}

/// `apply`: how a sync writes to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyConfig {
    /// `apply.prune`: delete inventory objects that left the render. Default true.
    pub prune: bool,
    /// `apply.allowEmpty`: let an empty render prune everything. Default false.
    pub allow_empty: bool,
    /// `apply.concurrency`: API requests the daemon has in flight at once, and objects of one
    /// wave applied at once. Default [`crate::cluster::throttle::DEFAULT_MAX_IN_FLIGHT`].
    pub concurrency: u32,
    /// `apply.drift`: what the daemon does about a managed object changed behind its back,
    /// `correct` (put it back, the default) or `detect` (report it only); an object's
    /// `reconciler.vimana.host/drift` annotation says otherwise for that object.
    pub drift: crate::drift::Mode,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig {
            prune: true,
            allow_empty: false,
            concurrency: crate::cluster::throttle::DEFAULT_MAX_IN_FLIGHT as u32,
            drift: crate::drift::Mode::Correct,
        }
    }
}

/// `rollout`: what a Server without rollout annotations gets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutConfig {
    /// `rollout.steps`, `interval`, `maxFailures`, `progressDeadline` and `analysis`: the
    /// defaults under each Server's annotations.
    pub defaults: Policy,
    /// `rollout.analyses`: named Prometheus checks, as the rollout engine runs them.
    pub analyses: BTreeMap<String, Analysis>,
}

/// One entry of `notify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `url`: where events are POSTed as JSON.
    pub url: String,
}

/// `log.format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `log`: where logs go is fixed (standard error); what they look like and how much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `log.format`. Default `text`.
    pub format: LogFormat,
    /// `log.level`: a level (`info`) or `tracing` filter directives (`info,reconciler=debug`);
    /// `RUST_LOG` overrides it. Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// `render`: how each fetched revision is rendered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderConfig {
    /// `render.limits`: a map of limit names (`fileBytes`, `depth`...: `render::limits::KEYS`)
    /// to values, over `render::Limits::default()`.
    pub limits: render::Limits,
}

/// `ui`: the web view. Without a token its data endpoints answer anyone who reaches the
/// port, as `/status` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UiConfig {
    /// `ui.tokenFile`: the bearer token the `/api/*` endpoints ask for; read at start.
    pub token: Option<SecretRef>,
}
