//! `reconciler render DIR [--format yaml|json]`.

use std::io::Write;

use crate::Outcome;
use crate::sources::{self, SourceArgs};

/// Arguments of `reconciler render`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the sources are.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

/// Output formats of `render`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A multi-document YAML stream.
    Yaml,
    /// One JSON array of objects.
    Json,
}

/// Renders and prints the manifests, or prints every error and fails.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let Some(output) = sources::render_reporting(&args.source)? else {
        return Ok(Outcome::Failed);
    };
    let text = match args.format {
        Format::Yaml => output.to_yaml(),
        Format::Json => output.to_json(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Outcome::Success)
}
