//! `reconciler simcluster`: serves the simulated cluster (DESIGN section 10) until stopped.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::Outcome;

/// Arguments of `reconciler simcluster`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (loopback; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write a kubeconfig for kubectl and the kube crate to this file.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// How long the simulated operator waits before it sets `Available` (e.g. `500ms`, `2s`).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub operator_delay: Duration,
    /// Component versions that never become Available (comma-separated).
    #[arg(long, value_name = "V1,V2", value_delimiter = ',')]
    pub unavailable_versions: Vec<String>,
    /// A fault rule, repeatable: `verb=list,resource=components,error=503,rate=0.5,latency=100ms,drop=0.1`;
    /// `latency=5ms` delays every request, `write-latency=8ms` the writes to etcd (not dry runs)
    /// instead (docs/simcluster.md).
    #[arg(long = "fault", value_name = "RULE")]
    pub faults: Vec<String>,
    /// Read-only requests served at once; more get 429 with `Retry-After: 1`, as from
    /// kube-apiserver's flag of the same name (default there 400). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_requests_inflight: usize,
    /// Mutating requests served at once (dry runs included), more get 429 (kube-apiserver's
    /// default 200). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_mutating_requests_inflight: usize,
    /// Bearer token clients must present (default: a random one, written to the kubeconfig).
    #[arg(long, env = "SIMCLUSTER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Namespace of the kubeconfig context.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// How often watches that allow bookmarks receive one.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub bookmark_interval: Duration,
    /// How long past events are kept for watches that resume from a resourceVersion; an older
    /// one gets 410 Gone and the client lists again (kube-apiserver keeps 75s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub watch_history: Duration,
    /// Do not print the request log to standard error.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    model::duration::parse(s)
}

/// Serves until SIGINT or SIGTERM.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let faults = args
        .faults
        .iter()
        .map(|f| simcluster::FaultRule::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let config = simcluster::Config {
        listen: args.listen,
        token: args.token.clone(),
        operator_delay: args.operator_delay,
        unavailable_versions: args
            .unavailable_versions
            .iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect::<BTreeSet<_>>(),
        faults,
        max_in_flight: simcluster::inflight::Limits {
            read: args.max_requests_inflight,
            mutating: args.max_mutating_requests_inflight,
        },
        bookmark_interval: args.bookmark_interval,
        watch_history: args.watch_history,
        log_requests: !args.quiet,
        namespace: args.namespace.clone(),
        ..simcluster::Config::default()
    };
    simcluster::run_until_signal(config, |handle| {
        if let Some(path) = &args.kubeconfig_out {
            handle.write_kubeconfig(path)?;
        }
        let mut out = std::io::stdout().lock();
        // The URL goes first and alone on its line, so scripts can read it.
        let _ = writeln!(out, "{}", handle.url());
        if let Some(path) = &args.kubeconfig_out {
            let _ = writeln!(
                out,
                "kubeconfig written to {}; try: kubectl --kubeconfig {} api-resources",
                path.display(),
                path.display()
            );
        }
        let _ = out.flush();
        Ok(())
    })
    .context("simulated cluster")?;
    Ok(Outcome::Success)
}
