//! `reconciler rollout status|pause|resume|promote|abort|retry [SERVER]`: look at and drive
//! rollouts through annotations on the live Server, never through Git. The engine acts on the
//! next pass of `sync` or the daemon.

use std::io::Write;

use chrono::Utc;
use kube::api::{ListParams, Patch, PatchParams};
use model::{Kind, Object, keys, rollout::Policy};
use serde_json::json;

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs};
use crate::report::weights_text;
use crate::rollout::{Phase, State, control};

/// Arguments of `reconciler rollout`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do.
    #[arg(value_enum)]
    pub action: Verb,
    /// Server name (`metadata.name`); `status` without one shows every Server with a rollout.
    pub server: Option<String>,
    /// Namespace of the Server.
    #[arg(long, default_value = "vimana", env = "RECONCILER_NAMESPACE")]
    pub namespace: String,
    /// Which cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Rollout actions.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Show phase, step, weights, time to the next step and the last analysis values.
    Status,
    /// Stop at the current step until `resume`.
    Pause,
    /// Continue a paused rollout (the current step bakes again).
    Resume,
    /// Go to the target weights at once (their versions must be Available).
    Promote,
    /// Roll back to the baseline now.
    Abort,
    /// Try an aborted target again.
    Retry,
}

/// Runs the action.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    crate::commands::sync::client_runtime(&args.cluster)?.block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        let result = act(&cluster, args).await;
        cluster.close().await;
        result
    })
}

async fn act(cluster: &Cluster, args: &Args) -> anyhow::Result<Outcome> {
    let api = cluster.api(Kind::Server, &args.namespace);
    if args.action == Verb::Status {
        let servers = match &args.server {
            Some(name) => vec![
                api.get(name)
                    .await
                    .map_err(|e| not_found(e, name, &args.namespace))?,
            ],
            None => api.list(&ListParams::default()).await?.items,
        };
        let mut out = std::io::stdout().lock();
        let mut shown = 0;
        for s in servers {
            let Ok(Object::Server(server)) = Object::from_value(serde_json::to_value(&s)?) else {
                continue;
            };
            if args.server.is_none()
                && !server
                    .metadata
                    .annotations
                    .contains_key(keys::ROLLOUT_STATE)
            {
                continue;
            }
            write!(out, "{}", status_text(&server))?;
            shown += 1;
        }
        if shown == 0 {
            writeln!(out, "no rollouts in namespace {}", args.namespace)?;
        }
        return Ok(Outcome::Success);
    }
    let Some(name) = &args.server else {
        anyhow::bail!(
            "name the Server: reconciler rollout {:?} SERVER",
            args.action
        );
    };
    api.get(name)
        .await
        .map_err(|e| not_found(e, name, &args.namespace))?;
    let id = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let annotations = match args.action {
        Verb::Pause => json!({control::PAUSED: "true"}),
        Verb::Resume => json!({control::PAUSED: null}),
        Verb::Promote => json!({control::REQUEST: format!("promote@{id}")}),
        Verb::Abort => json!({control::REQUEST: format!("abort@{id}")}),
        Verb::Retry => json!({control::REQUEST: format!("retry@{id}")}),
        Verb::Status => unreachable!("handled above"),
    };
    let patch = json!({"metadata": {"annotations": annotations}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    println!(
        "{:?} requested for Server {}/{name}; a running daemon acts on it within seconds, else the next `reconciler sync` does",
        args.action, args.namespace
    );
    Ok(Outcome::Success)
}

fn not_found(e: kube::Error, name: &str, namespace: &str) -> anyhow::Error {
    match e {
        kube::Error::Api(r) if r.code == 404 => {
            anyhow::anyhow!(
                "there is no Server {name:?} in namespace {namespace}; give its metadata.name and --namespace"
            )
        }
        other => other.into(),
    }
}

/// The status of a Server's rollout as text.
pub fn status_text(server: &model::Server) -> String {
    let a = &server.metadata.annotations;
    let name = format!(
        "{}/{}",
        server.metadata.namespace.as_deref().unwrap_or_default(),
        server.metadata.name
    );
    let mut out = format!(
        "Server {name} ({}:{})\n",
        server.spec.domain, server.spec.id
    );
    out += &format!(
        "  weights now: {}\n",
        weights_text(&server.spec.version_weights)
    );
    let Some(state) = State::from_annotation(a.get(keys::ROLLOUT_STATE)) else {
        out += "  no rollout recorded\n";
        return out;
    };
    let policy = Policy::from_annotations(a, &Policy::default()).unwrap_or_default();
    let paused = a.get(control::PAUSED).is_some_and(|v| v == "true");
    out += &format!(
        "  phase: {:?}{}\n",
        state.phase,
        if paused && state.phase != Phase::Paused {
            " (pause requested)"
        } else {
            ""
        }
    );
    out += &format!(
        "  from:  {}\n  to:    {}\n",
        weights_text(&state.baseline),
        weights_text(&state.target)
    );
    let steps: Vec<String> = state.steps.iter().map(|p| format!("{p}%")).collect();
    out += &format!(
        "  step:  {} of {} ({}), interval {}\n",
        state.step.map_or(0, |i| i + 1),
        state.steps.len(),
        steps.join(", "),
        model::duration::format(policy.interval)
    );
    if state.phase == Phase::Progressing && state.step.is_some() {
        let left = state.bake_end(policy.interval) - Utc::now();
        let left = left.to_std().unwrap_or_default();
        out += &format!(
            "  next:  in {} (bake of the current step)\n",
            model::duration::format(std::time::Duration::from_secs(left.as_secs()))
        );
    }
    if let Some(why) = &state.reason {
        out += &format!("  reason: {why}\n");
    }
    out += &format!(
        "  checks: {} failed, {} without data, {} errors\n",
        state.failures, state.no_data, state.errors
    );
    for m in &state.measurements {
        let value = m.value.map_or_else(|| "-".to_owned(), |v| v.to_string());
        out += &format!(
            "    {} {} value {} ({})\n",
            m.version, m.outcome, value, m.detail
        );
    }
    if let Some(r) = &state.revision {
        out += &format!("  revision: {r}\n");
    }
    out
}
