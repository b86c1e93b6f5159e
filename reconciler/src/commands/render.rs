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
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        // One manifest at a time: the whole stream of 40k objects is 35 MB.
        Format::Yaml => output.write_yaml(&mut stdout)?,
        Format::Json => stdout.write_all(output.to_json().as_bytes())?,
    }
    stdout.flush()?;
    Ok(Outcome::Success)
}
