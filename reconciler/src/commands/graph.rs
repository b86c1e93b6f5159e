//! `reconciler graph DIR [--format text|dot|json]`: the dependency graph of the rendered sources
//! and the plan of a first sync (against an empty cluster). docs/graph.md shows the output.

use std::io::Write;
use std::path::Path;

use graph::{DependencyGraph, End, Error, Live, view};

use crate::Outcome;
use crate::sources::{self, SourceArgs};

/// Arguments of `reconciler graph`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the sources are.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `graph`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The hierarchy as a tree with each Component's share of traffic, then the waves.
    Text,
    /// Graphviz DOT; `dot -Tsvg` turns it into a picture.
    Dot,
    /// `{"nodes", "edges", "plan"}` for tools.
    Json,
}

/// Renders the sources, builds the graph and prints it with the plan of a first sync; fails
/// (exit 2) on invalid sources or a graph error.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let Some(output) = sources::render_reporting(&args.source)? else {
        return Ok(Outcome::Failed);
    };
    let dag = match DependencyGraph::new(output.manifests) {
        Ok(dag) => dag,
        Err(mut errors) => {
            let shown = display_paths(&args.source.dir)?;
            for e in &mut errors {
                relocate(e, &shown);
                eprintln!("error: {e}");
            }
            let n = errors.len();
            eprintln!(
                "error: {n} error{} in the dependency graph; nothing was planned",
                if n == 1 { "" } else { "s" }
            );
            return Ok(Outcome::Failed);
        }
    };
    // Against an empty cluster nothing can be immutable yet, so this does not fail; the errors
    // are still reported rather than assumed away.
    let plan = match graph::plan(&dag, &Live::default()) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return Ok(Outcome::Failed);
        }
    };
    let text = match args.format {
        Format::Text => view::text(&dag, &plan, "Plan against an empty cluster"),
        Format::Dot => view::dot(&dag),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&view::json(&dag, &plan))?;
            s.push('\n');
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Outcome::Success)
}

/// Maps a repository-relative path to the path a person at the current directory would type,
/// as the render's diagnostics show them.
fn display_paths(dir: &Path) -> anyhow::Result<impl Fn(&str) -> String> {
    let (tree, _) = sources::locate(dir)?;
    Ok(sources::display_path(tree.root()))
}

/// Rewrites the file of every location in `e` with `shown`.
fn relocate(e: &mut Error, shown: &impl Fn(&str) -> String) {
    let ends: Vec<&mut End> = match e {
        Error::Dangling { from, nearest, .. } => std::iter::once(from).chain(nearest).collect(),
        Error::Duplicate { first, second, .. } => vec![first, second],
        Error::Cycle { from, to } => vec![from, to],
        Error::ImmutableComponent { desired, live, .. } => vec![desired, live],
    };
    for end in ends {
        if let Some(loc) = &mut end.location {
            loc.file = shown(&loc.file);
        }
    }
}
