//! The command line: the subcommands and the one place where outcomes become exit codes
//! (README "Exit codes").

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;

/// Keeps a Vimana cluster equal to a Git repository of Kumori and Vimana sources.
#[derive(Parser, Debug)]
#[command(name = "reconciler", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole story on an embedded simulated cluster, with no set-up: graph, diff, the
    /// daemon, a webhook, a rollout step by step, and a broken version rolled back.
    Demo(commands::demo::Args),
    /// Print the rendered manifests of a folder of sources, or every error in them.
    Render(commands::render::Args),
    /// Show what a change would do: compare DIR with the live cluster, or with a Git revision
    /// (`--base`, no cluster needed), with unified diffs, rollout steps and safety findings.
    /// Exit 0 no changes, 1 changes, 2 errors.
    Diff(commands::diff::Args),
    /// Make the cluster equal to the sources of DIR: validate, dry-run, apply in dependency
    /// order, prune. Exit 0 success, 2 failure.
    Sync(commands::sync::Args),
    /// The daemon: keep the cluster equal to the Git source of the configuration file
    /// (schedule, webhooks, endpoints, leader election).
    Run(commands::run::Args),
    /// Look at or drive a Server's rollout: status, pause, resume, promote, abort, retry
    /// (through annotations on the live Server, never through Git).
    Rollout(commands::rollout::Args),
    /// Print the dependency graph of a folder of sources and the plan of a first sync
    /// (`--format text|dot|json`).
    Graph(commands::graph::Args),
    /// Serve the simulated cluster (a Kubernetes API stand-in with the Vimana CRDs) until stopped.
    Simcluster(commands::simcluster::Args),
}

/// How a command ended, mapped to the process exit code (DESIGN section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: success (for `diff`: no differences).
    Success,
    /// Exit 1: `diff` found differences.
    Differences,
    /// Exit 2: invalid sources or a failure, already reported.
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Differences => ExitCode::from(1),
            Outcome::Failed => ExitCode::from(2),
        }
    }
}

/// Parses the command line, runs the command and maps its outcome to the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        // Warnings of library code (retries, conditions, notifications) reach stderr; `run`
        // sets up its own logging from its configuration.
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .try_init();
    }
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(&args),
        Command::Render(args) => commands::render::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Sync(args) => commands::sync::run(&args),
        Command::Rollout(args) => commands::rollout::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::Graph(args) => commands::graph::run(&args),
        Command::Simcluster(args) => commands::simcluster::run(&args),
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Failed.into()
        }
    }
}
