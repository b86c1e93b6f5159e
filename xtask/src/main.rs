//! `xtask`: the workspace's benchmark tooling, kept out of the product binary. `generate` writes
//! synthetic repositories of any size; `bench` measures the `reconciler` binary on them next to
//! kubectl (`scripts/bench.sh`, `docs/performance.md`).

mod bench;
mod generate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmark tooling of vimana-reconciler.
#[derive(Parser, Debug)]
#[command(name = "xtask", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a synthetic repository of any size (one Vimana, Domains of Servers of versioned
    /// Components, half of them bound to Kumori modules).
    Generate(generate::Args),
    /// Measure render, plan, sync, diff and memory at several sizes next to kubectl on a
    /// simulated cluster (docs/performance.md).
    Bench(Box<bench::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
