//! The daemon's config file (DESIGN section 9): YAML read into raw serde structs that refuse
//! unknown keys, then checked into a typed [`Config`] with every default filled in. Only
//! `source.url` is required. Secrets are named by file or environment variable and read into a
//! [`Secret`], which never prints its value.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use model::rollout::Policy;
use serde::Deserialize;

use super::error::{ConfigErrors, ConfigProblem, Error};
use crate::rollout::analysis::Analysis;
use super::schedule::Schedule;

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

/// A secret value (token, webhook secret). Its `Debug` and `Display` print `<redacted>`, so it
/// cannot reach a log or an error message by accident; [`Secret::expose`] is the only way in.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value. Call it only where the secret is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret is read from. Read again at each use, so a rotated Kubernetes Secret is
/// picked up without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// A file; surrounding white space (a trailing newline) is not part of the secret.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl SecretRef {
    /// Reads the secret; `key` names the config key in the error (`source.auth.tokenFile`).
    pub fn read(&self, key: &str) -> Result<Secret, Error> {
        let (what, value) = match self {
            SecretRef::File(path) => {
                let what = format!("{key} {}", path.display());
                let bytes = std::fs::read(path).map_err(|e| Error::Secret {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
                let text = String::from_utf8(bytes).map_err(|_| Error::Secret {
                    what: what.clone(),
                    message: "it is not UTF-8 text".into(),
                })?;
                (what, text)
            }
            SecretRef::Env(name) => {
                let what = format!("{key} {name}");
                let value = std::env::var(name).map_err(|_| Error::Secret {
                    what: what.clone(),
                    message: "the environment variable is not set or not UTF-8".into(),
                })?;
                (what, value)
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::Secret {
                what,
                message: "it is empty".into(),
            });
        }
        Ok(Secret::new(value))
    }
}

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
}

/// `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// `webhook`.
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

/// `cluster`.
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

/// `apply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyConfig {
    /// `apply.prune`: delete inventory objects that left the render. Default true.
    pub prune: bool,
    /// `apply.allowEmpty`: let an empty render prune everything. Default false.
    pub allow_empty: bool,
    /// `apply.concurrency`: objects of one wave applied at once. Default 16.
    pub concurrency: u32,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig {
            prune: true,
            allow_empty: false,
            concurrency: 16,
        }
    }
}

/// `rollout`.
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

/// `log`.
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

// ---- raw shape of the file ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    instance: Option<String>,
    source: RawSource,
    schedule: Option<serde_yaml::Value>,
    webhook: Option<RawWebhook>,
    cluster: Option<RawCluster>,
    apply: Option<RawApply>,
    rollout: Option<RawRollout>,
    notify: Option<Vec<RawNotify>>,
    log: Option<RawLog>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSource {
    url: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    path: Option<String>,
    auth: Option<RawAuth>,
    cache_dir: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAuth {
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    username: Option<String>,
    ssh_key_file: Option<PathBuf>,
    known_hosts_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWebhook {
    listen: Option<String>,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    providers: Option<Vec<Provider>>,
    max_body_bytes: Option<usize>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRateLimit {
    burst: Option<u32>,
    per_second: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCluster {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: Option<String>,
    embedded: Option<bool>,
    leader_election: Option<RawLeaderElection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLeaderElection {
    enabled: Option<bool>,
    lease_duration: Option<String>,
    renew_deadline: Option<String>,
    retry_period: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawApply {
    prune: Option<bool>,
    allow_empty: Option<bool>,
    concurrency: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRollout {
    steps: Option<Vec<u32>>,
    interval: Option<String>,
    max_failures: Option<u32>,
    progress_deadline: Option<String>,
    analysis: Option<String>,
    analyses: Option<BTreeMap<String, RawAnalysis>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAnalysis {
    prometheus: String,
    query: String,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawNotify {
    url: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLog {
    format: Option<LogFormat>,
    level: Option<String>,
}

/// Mistakes found while checking, collected so that all are reported at once.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// What kind of remote a `source.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlKind {
    /// `https://`.
    Https,
    /// `http://`.
    Http,
    /// `ssh://` or `user@host:path`.
    Ssh,
    /// `git://`.
    Git,
    /// `file://`.
    File,
    /// A path on this machine.
    Path,
}

/// Classifies a remote URL.
pub fn url_kind(url: &str) -> UrlKind {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        UrlKind::Https
    } else if lower.starts_with("http://") {
        UrlKind::Http
    } else if lower.starts_with("ssh://") || lower.starts_with("git+ssh://") {
        UrlKind::Ssh
    } else if lower.starts_with("git://") {
        UrlKind::Git
    } else if lower.starts_with("file://") {
        UrlKind::File
    } else if is_scp_like(url) {
        UrlKind::Ssh
    } else {
        UrlKind::Path
    }
}

/// `[user@]host:path`, as `git` reads it: a colon before any slash, and not `C:\`-like.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) => {
            colon > 1 && slash.is_none_or(|s| colon < s) && !url.contains("://")
        }
        (None, _) => false,
    }
}

/// The host of an `http(s)://` URL, without user information or port.
fn http_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url` without user information (`https://user:token@host/x` → `https://host/x`), for logs,
/// errors and `/status`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:<redacted>@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

fn parse_duration(key: &str, raw: Option<String>, default: Duration, p: &mut Problems) -> Duration {
    match raw {
        None => default,
        Some(s) => match model::duration::parse(&s) {
            Ok(d) => d,
            Err(e) => {
                p.add(key, e);
                default
            }
        },
    }
}

fn http_url(key: &str, url: &str, p: &mut Problems) {
    if !matches!(url_kind(url), UrlKind::Http | UrlKind::Https) || http_host(url).is_empty() {
        p.add(key, format!("{url:?} is not an http:// or https:// URL"));
    }
}

/// The default `source.cacheDir`.
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

fn resolve(base: Option<&Path>, path: PathBuf) -> PathBuf {
    match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path,
    }
}

impl Config {
    /// Reads and checks the config file at `path`. Relative paths in it (`tokenFile`, a local
    /// `source.url`...) are relative to the file's folder.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        });
        Config::parse(&text, base).map_err(|e| match e {
            Error::Config(mut errors) => {
                errors.file = Some(path.to_owned());
                Error::Config(errors)
            }
            other => other,
        })
    }

    /// Checks the config in `text`; relative paths are resolved against `base` when given.
    /// Every mistake is reported, not only the first: unknown keys and wrong types by the YAML
    /// reader (one at a time, since it stops there), then every rule of the checked config.
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Config, Error> {
        let fail = |problems: Vec<ConfigProblem>| {
            Error::Config(ConfigErrors {
                file: None,
                problems,
            })
        };
        let is_empty = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
        if is_empty {
            return Err(fail(vec![ConfigProblem {
                key: String::new(),
                message: "the config is empty; it needs at least `source.url`".into(),
            }]));
        }
        let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
            fail(vec![ConfigProblem {
                key: String::new(),
                message: yaml_message(&e),
            }])
        })?;
        let mut p = Problems::default();
        let config = check(raw, base, &mut p);
        if p.0.is_empty() {
            Ok(config)
        } else {
            Err(fail(p.0))
        }
    }

    /// The rollout policy of a Server without annotations: `rollout.*` over the built-in
    /// defaults.
    pub fn rollout_defaults(&self) -> &Policy {
        &self.rollout.defaults
    }
}

/// serde_yaml's message, which already names the key path (`source.auth: unknown field
/// `tokenfile`, expected one of ...`), with a hint for the most common mistakes.
fn yaml_message(e: &serde_yaml::Error) -> String {
    let msg = e.to_string();
    if msg.contains("missing field `source`") {
        format!("{msg}; the config needs `source.url`, the Git repository to follow")
    } else {
        msg
    }
}

fn check(raw: RawConfig, base: Option<&Path>, p: &mut Problems) -> Config {
    let instance = raw.instance.unwrap_or_else(|| DEFAULT_INSTANCE.into());
    if let Err(e) = model::names::label_value(&instance).and_then(|()| {
        if instance.is_empty() {
            Err("it is empty".into())
        } else {
            Ok(())
        }
    }) {
        p.add(
            "instance",
            format!("{instance:?} cannot be a label value: {e}"),
        );
    }
    let source = check_source(raw.source, base, p);
    let schedule = check_schedule(raw.schedule, p);
    let webhook = check_webhook(raw.webhook.unwrap_or_default(), base, p);
    let cluster = check_cluster(raw.cluster.unwrap_or_default(), base, p);
    let apply = check_apply(raw.apply.unwrap_or_default(), p);
    let rollout = check_rollout(raw.rollout.unwrap_or_default(), p);
    let mut notify = Vec::new();
    for (i, n) in raw.notify.unwrap_or_default().into_iter().enumerate() {
        http_url(&format!("notify[{i}].url"), &n.url, p);
        notify.push(NotifyConfig { url: n.url });
    }
    let raw_log = raw.log.unwrap_or_default();
    let log = LogConfig {
        format: raw_log.format.unwrap_or_default(),
        level: raw_log.level.unwrap_or_else(|| "info".into()),
    };
    if let Err(e) = check_log_level(&log.level) {
        p.add("log.level", e);
    }
    Config {
        instance,
        source,
        schedule,
        webhook,
        cluster,
        apply,
        rollout,
        notify,
        log,
    }
}

/// A level (`info`) or directives `target=level` separated by commas. Stricter than
/// `EnvFilter`, which reads a misspelt level (`infoo`) as a target and logs nothing.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    for directive in level.split(',') {
        let ok = match directive.rsplit_once('=') {
            Some((target, l)) => !target.trim().is_empty() && is_level(l),
            None => is_level(directive),
        };
        if !ok {
            return Err(format!(
                "{directive:?} is not a level or `target=level`; levels are off, error, warn, info, debug, trace"
            ));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(|_| ())
        .map_err(|e| format!("{level:?}: {e}"))
}

fn check_source(raw: RawSource, base: Option<&Path>, p: &mut Problems) -> SourceConfig {
    let kind = url_kind(&raw.url);
    let url = if raw.url.trim().is_empty() {
        p.add(
            "source.url",
            "it is empty; give the URL or path of the Git repository",
        );
        raw.url
    } else if kind == UrlKind::Path {
        resolve(base, PathBuf::from(&raw.url))
            .to_string_lossy()
            .into_owned()
    } else {
        raw.url
    };
    let reference = raw.reference.unwrap_or_else(|| "main".into());
    if reference.trim().is_empty()
        || reference.contains(['~', '^', ':', ' ', '\\', '?', '*', '['])
        || reference.contains("..")
    {
        p.add(
            "source.ref",
            format!("{reference:?} is not a branch, tag or commit id; write a name such as main or v1.2.0, or a 40-character commit id"),
        );
    }
    let path = raw.path.unwrap_or_default();
    let path = path.trim_matches('/').to_owned();
    if path.split('/').any(|c| c == ".." || c == ".") || path.contains('\\') {
        p.add(
            "source.path",
            format!("{path:?} must be a folder inside the repository, without `.` or `..`"),
        );
    }
    let raw_auth = raw.auth.unwrap_or_default();
    let auth = check_auth(raw_auth, kind, &url, base, p);
    let timeout = parse_duration("source.timeout", raw.timeout, DEFAULT_FETCH_TIMEOUT, p);
    if timeout.is_zero() {
        p.add("source.timeout", "it must be longer than zero");
    }
    SourceConfig {
        url,
        reference,
        path,
        auth,
        cache_dir: raw
            .cache_dir
            .map(|d| resolve(base, d))
            .unwrap_or_else(default_cache_dir),
        timeout,
    }
}

fn check_auth(
    raw: RawAuth,
    kind: UrlKind,
    url: &str,
    base: Option<&Path>,
    p: &mut Problems,
) -> Auth {
    let token = match (raw.token_file, raw.token_env) {
        (Some(_), Some(_)) => {
            p.add("source.auth", "give tokenFile or tokenEnv, not both");
            None
        }
        (Some(f), None) => Some(("source.auth.tokenFile", SecretRef::File(resolve(base, f)))),
        (None, Some(e)) => Some(("source.auth.tokenEnv", SecretRef::Env(e))),
        (None, None) => None,
    };
    match (token, raw.ssh_key_file) {
        (Some(_), Some(_)) => {
            p.add(
                "source.auth",
                "give a token (tokenFile) or an SSH key (sshKeyFile), not both",
            );
            Auth::None
        }
        (Some((key, token)), None) => {
            match kind {
                UrlKind::Https => {}
                UrlKind::Http if is_loopback_host(http_host(url)) => {}
                UrlKind::Http => p.add(
                    key,
                    "a token is sent only over https:// (or http:// to a loopback address); change source.url to https://",
                ),
                _ => p.add(
                    key,
                    format!("a token authenticates https:// URLs; source.url {} is not one (use sshKeyFile for SSH)", redact_url(url)),
                ),
            }
            if raw.known_hosts_file.is_some() {
                p.add(
                    "source.auth.knownHostsFile",
                    "it applies to SSH only; remove it or use sshKeyFile",
                );
            }
            if let Err(e) = token.read(key) {
                p.add(key, e.to_string());
            }
            Auth::Token {
                username: raw
                    .username
                    .unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.into()),
                token,
            }
        }
        (None, Some(key_file)) => {
            if kind != UrlKind::Ssh {
                p.add(
                    "source.auth.sshKeyFile",
                    format!("an SSH key authenticates ssh:// or user@host:path URLs; source.url {} is not one", redact_url(url)),
                );
            }
            let key_file = resolve(base, key_file);
            if let Err(e) = std::fs::metadata(&key_file) {
                p.add(
                    "source.auth.sshKeyFile",
                    format!("cannot read {}: {e}", key_file.display()),
                );
            }
            let known_hosts_file = match raw.known_hosts_file {
                Some(f) => {
                    let f = resolve(base, f);
                    match std::fs::read_to_string(&f) {
                        Ok(text) => {
                            if let Err(e) = super::knownhosts::KnownHosts::parse(&text) {
                                p.add(
                                    "source.auth.knownHostsFile",
                                    format!("{}: {e}", f.display()),
                                );
                            }
                        }
                        Err(e) => p.add(
                            "source.auth.knownHostsFile",
                            format!("cannot read {}: {e}", f.display()),
                        ),
                    }
                    f
                }
                None => {
                    p.add(
                        "source.auth.knownHostsFile",
                        "SSH needs a known_hosts file to check the server's host key (ssh-keyscan HOST > known_hosts, then verify it)",
                    );
                    PathBuf::new()
                }
            };
            Auth::Ssh {
                username: raw.username,
                key_file,
                known_hosts_file,
            }
        }
        (None, None) => {
            if kind == UrlKind::Ssh {
                p.add(
                    "source.auth",
                    "an SSH remote needs sshKeyFile and knownHostsFile (or use an https:// URL with tokenFile)",
                );
            }
            if raw.username.is_some() {
                p.add(
                    "source.auth.username",
                    "it needs tokenFile, tokenEnv or sshKeyFile",
                );
            }
            if raw.known_hosts_file.is_some() {
                p.add("source.auth.knownHostsFile", "it needs sshKeyFile");
            }
            Auth::None
        }
    }
}

fn check_schedule(raw: Option<serde_yaml::Value>, p: &mut Problems) -> Option<Schedule> {
    use serde_yaml::Value;
    let (expr, jitter) = match raw {
        None => (DEFAULT_SCHEDULE.to_owned(), None),
        Some(Value::String(s)) => (s, None),
        Some(Value::Mapping(m)) => {
            let mut expr = None;
            let mut jitter = None;
            for (k, v) in m {
                match (k.as_str(), v) {
                    (Some("cron"), Value::String(s)) => expr = Some(s),
                    (Some("jitter"), Value::String(s)) => jitter = Some(s),
                    (Some(key @ ("cron" | "jitter")), _) => {
                        p.add(&format!("schedule.{key}"), "expected a string");
                    }
                    (Some(other), _) => p.add(
                        &format!("schedule.{other}"),
                        "unknown key; expected `cron` or `jitter`",
                    ),
                    (None, _) => p.add("schedule", "keys must be strings"),
                }
            }
            match expr {
                Some(e) => (e, jitter),
                None => {
                    p.add(
                        "schedule.cron",
                        "missing; write a cron expression such as \"*/5 * * * *\"",
                    );
                    return None;
                }
            }
        }
        Some(_) => {
            p.add(
                "schedule",
                "expected a cron expression such as \"*/5 * * * *\", `off`, or { cron: ..., jitter: 15s }",
            );
            return None;
        }
    };
    if matches!(expr.trim(), "off" | "never") {
        return None;
    }
    let jitter = parse_duration("schedule.jitter", jitter, DEFAULT_JITTER, p);
    match Schedule::parse(&expr, jitter) {
        Ok(s) => Some(s),
        Err(e) => {
            p.add("schedule", e);
            None
        }
    }
}

fn check_webhook(raw: RawWebhook, base: Option<&Path>, p: &mut Problems) -> WebhookConfig {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            p.add(
                "webhook.listen",
                format!("{listen_text:?} is not an address and port such as 0.0.0.0:8080 or 127.0.0.1:9000"),
            );
            DEFAULT_LISTEN.parse().expect("the default address parses")
        }
    };
    let secret = match (raw.secret_file, raw.secret_env) {
        (Some(_), Some(_)) => {
            p.add("webhook", "give secretFile or secretEnv, not both");
            None
        }
        (Some(f), None) => Some(("webhook.secretFile", SecretRef::File(resolve(base, f)))),
        (None, Some(e)) => Some(("webhook.secretEnv", SecretRef::Env(e))),
        (None, None) => None,
    };
    if let Some((key, s)) = &secret
        && let Err(e) = s.read(key)
    {
        p.add(key, e.to_string());
    }
    let mut providers = raw.providers.unwrap_or_else(|| Provider::ALL.to_vec());
    providers.sort();
    providers.dedup();
    let max_body_bytes = raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes < 1024 {
        p.add(
            "webhook.maxBodyBytes",
            format!("{max_body_bytes} is too small for a push payload; use at least 1024"),
        );
    }
    let mut rate_limit = RateLimit::default();
    if let Some(r) = raw.rate_limit {
        if let Some(b) = r.burst {
            rate_limit.burst = b;
        }
        if let Some(s) = r.per_second {
            rate_limit.per_second = s;
        }
        if rate_limit.burst == 0 {
            p.add("webhook.rateLimit.burst", "it must be at least 1");
        }
        if !(rate_limit.per_second.is_finite() && rate_limit.per_second > 0.0) {
            p.add(
                "webhook.rateLimit.perSecond",
                "it must be a positive number",
            );
        }
    }
    WebhookConfig {
        listen,
        secret: secret.map(|(_, s)| s),
        providers,
        max_body_bytes,
        rate_limit,
    }
}

fn check_cluster(raw: RawCluster, base: Option<&Path>, p: &mut Problems) -> ClusterConfig {
    let embedded = raw.embedded.unwrap_or(false);
    if embedded && (raw.kubeconfig.is_some() || raw.context.is_some()) {
        p.add(
            "cluster.embedded",
            "the embedded cluster needs no kubeconfig or context; remove one or the other",
        );
    }
    let namespace = raw.namespace.unwrap_or_else(|| "vimana".into());
    if let Err(e) = model::names::dns1123_label(&namespace) {
        p.add(
            "cluster.namespace",
            format!("{namespace:?} is not a namespace name: {e}"),
        );
    }
    ClusterConfig {
        kubeconfig: raw.kubeconfig.map(|k| resolve(base, k)),
        context: raw.context,
        namespace,
        embedded,
        leader_election: check_leader_election(raw.leader_election.unwrap_or_default(), p),
    }
}

fn check_leader_election(raw: RawLeaderElection, p: &mut Problems) -> LeaderElectionConfig {
    const KEY: &str = "cluster.leaderElection";
    let d = LeaderElectionConfig::default();
    let lease_duration = parse_duration(
        &format!("{KEY}.leaseDuration"),
        raw.lease_duration,
        d.lease_duration,
        p,
    );
    let renew_deadline = parse_duration(
        &format!("{KEY}.renewDeadline"),
        raw.renew_deadline,
        d.renew_deadline,
        p,
    );
    let retry_period = parse_duration(
        &format!("{KEY}.retryPeriod"),
        raw.retry_period,
        d.retry_period,
        p,
    );
    if lease_duration.is_zero() || lease_duration.subsec_nanos() != 0 {
        p.add(
            &format!("{KEY}.leaseDuration"),
            format!(
                "{} is not a whole number of seconds of at least 1s (the Lease stores seconds)",
                model::duration::format(lease_duration)
            ),
        );
    }
    if retry_period.is_zero() {
        p.add(&format!("{KEY}.retryPeriod"), "it must be longer than zero");
    }
    if renew_deadline >= lease_duration {
        p.add(
            &format!("{KEY}.renewDeadline"),
            format!(
                "{} must be shorter than leaseDuration ({}): a leader that cannot renew must step down before another replica may take the Lease",
                model::duration::format(renew_deadline),
                model::duration::format(lease_duration)
            ),
        );
    }
    if retry_period >= renew_deadline {
        p.add(
            &format!("{KEY}.retryPeriod"),
            format!(
                "{} must be shorter than renewDeadline ({}), so that a leader tries to renew more than once",
                model::duration::format(retry_period),
                model::duration::format(renew_deadline)
            ),
        );
    }
    LeaderElectionConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        lease_duration,
        renew_deadline,
        retry_period,
    }
}

fn check_apply(raw: RawApply, p: &mut Problems) -> ApplyConfig {
    let d = ApplyConfig::default();
    let concurrency = raw.concurrency.unwrap_or(d.concurrency);
    if !(1..=256).contains(&concurrency) {
        p.add(
            "apply.concurrency",
            format!("{concurrency} is not between 1 and 256"),
        );
    }
    ApplyConfig {
        prune: raw.prune.unwrap_or(d.prune),
        allow_empty: raw.allow_empty.unwrap_or(d.allow_empty),
        concurrency,
    }
}

fn check_rollout(raw: RawRollout, p: &mut Problems) -> RolloutConfig {
    let mut defaults = Policy::default();
    if let Some(steps) = raw.steps {
        let text = steps
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        match model::rollout::parse_steps(&text) {
            Ok(s) => defaults.steps = s,
            Err(e) => p.add(
                "rollout.steps",
                format!(
                    "{e}; write increasing percentages ending at 100, such as [10, 25, 50, 100]"
                ),
            ),
        }
    }
    defaults.interval = parse_duration("rollout.interval", raw.interval, defaults.interval, p);
    defaults.progress_deadline = parse_duration(
        "rollout.progressDeadline",
        raw.progress_deadline,
        defaults.progress_deadline,
        p,
    );
    if defaults.progress_deadline.is_zero() {
        p.add("rollout.progressDeadline", "it must be longer than zero");
    }
    if let Some(n) = raw.max_failures {
        if n == 0 {
            p.add("rollout.maxFailures", "it must be at least 1");
        } else {
            defaults.max_failures = n;
        }
    }
    let mut analyses = BTreeMap::new();
    for (name, a) in raw.analyses.unwrap_or_default() {
        let key = format!("rollout.analyses.{name}");
        if let Err(e) = model::names::dns1123_label(&name) {
            p.add(&key, format!("{name:?} is not a usable analysis name: {e}"));
        }
        http_url(&format!("{key}.prometheus"), &a.prometheus, p);
        if a.query.trim().is_empty() {
            p.add(&format!("{key}.query"), "it is empty; write a PromQL query");
        }
        match (a.min, a.max) {
            (None, None) => p.add(
                &key,
                "give min, max or both: the bounds the query result must stay within",
            ),
            (Some(min), Some(max)) if min > max => {
                p.add(&key, format!("min {min} is greater than max {max}"));
            }
            _ => {}
        }
        for (bound, v) in [("min", a.min), ("max", a.max)] {
            if v.is_some_and(|v| !v.is_finite()) {
                p.add(&format!("{key}.{bound}"), "it must be a finite number");
            }
        }
        analyses.insert(
            name,
            Analysis {
                name: name.clone(),
                prometheus: a.prometheus,
                query: a.query,
                min: a.min,
                max: a.max,
            },
        );
    }
    if let Some(name) = raw.analysis {
        if !analyses.contains_key(&name) {
            let known: Vec<&str> = analyses.keys().map(String::as_str).collect();
            p.add(
                "rollout.analysis",
                format!(
                    "{name:?} is not an analysis of rollout.analyses (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        defaults.analysis = Some(name);
    }
    RolloutConfig { defaults, analyses }
}
