//! The shape of the file as serde reads it: every key optional but `source.url`, unknown keys
//! refused (serde_yaml names the key path and the keys expected there).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::typed::{LogFormat, Provider};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawConfig {
    pub(super) instance: Option<String>,
    pub(super) source: RawSource,
    pub(super) schedule: Option<serde_yaml::Value>,
    pub(super) webhook: Option<RawWebhook>,
    pub(super) cluster: Option<RawCluster>,
    pub(super) apply: Option<RawApply>,
    pub(super) rollout: Option<RawRollout>,
    pub(super) notify: Option<Vec<RawNotify>>,
    pub(super) log: Option<RawLog>,
    pub(super) render: Option<RawRender>,
    pub(super) ui: Option<RawUi>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSource {
    pub(super) url: String,
    #[serde(rename = "ref")]
    pub(super) reference: Option<String>,
    pub(super) path: Option<String>,
    pub(super) auth: Option<RawAuth>,
    pub(super) cache_dir: Option<PathBuf>,
    pub(super) timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawAuth {
    pub(super) token_file: Option<PathBuf>,
    pub(super) token_env: Option<String>,
    pub(super) username: Option<String>,
    pub(super) ssh_key_file: Option<PathBuf>,
    pub(super) known_hosts_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawWebhook {
    pub(super) listen: Option<String>,
    pub(super) secret_file: Option<PathBuf>,
    pub(super) secret_env: Option<String>,
    pub(super) providers: Option<Vec<Provider>>,
    pub(super) max_body_bytes: Option<usize>,
    pub(super) rate_limit: Option<RawRateLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRateLimit {
    pub(super) burst: Option<u32>,
    pub(super) per_second: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawCluster {
    pub(super) kubeconfig: Option<PathBuf>,
    pub(super) context: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) embedded: Option<bool>,
    pub(super) leader_election: Option<RawLeaderElection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawLeaderElection {
    pub(super) enabled: Option<bool>,
    pub(super) lease_duration: Option<String>,
    pub(super) renew_deadline: Option<String>,
    pub(super) retry_period: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawApply {
    pub(super) prune: Option<bool>,
    pub(super) allow_empty: Option<bool>,
    pub(super) concurrency: Option<u32>,
    pub(super) drift: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRollout {
    pub(super) steps: Option<Vec<u32>>,
    pub(super) interval: Option<String>,
    pub(super) max_failures: Option<u32>,
    pub(super) progress_deadline: Option<String>,
    pub(super) analysis: Option<String>,
    pub(super) analyses: Option<BTreeMap<String, RawAnalysis>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawAnalysis {
    pub(super) prometheus: String,
    pub(super) query: String,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawNotify {
    pub(super) url: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawLog {
    pub(super) format: Option<LogFormat>,
    pub(super) level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRender {
    /// Values are numbers or sizes with a unit (`16MiB`), read by `render::Limits::set`.
    pub(super) limits: Option<BTreeMap<String, serde_yaml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawUi {
    pub(super) token_file: Option<PathBuf>,
}
