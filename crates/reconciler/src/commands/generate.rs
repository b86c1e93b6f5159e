//! `reconciler generate` (hidden): writes a synthetic repository of any size for benchmarks:
//! one Vimana, `domains` Domains with `servers` Servers each, `versions` Components per Server.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use crate::Outcome;

/// Arguments of `reconciler generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write (created; existing files of the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of Domains.
    #[arg(long, default_value_t = 10)]
    pub domains: usize,
    /// Servers per Domain.
    #[arg(long, default_value_t = 10)]
    pub servers: usize,
    /// Components (versions) per Server.
    #[arg(long, default_value_t = 3)]
    pub versions: usize,
    /// Shift the weights of every n-th Server to its newest version and add a version to it
    /// (0: none): a change to diff against the unmodified repository.
    #[arg(long, default_value_t = 0)]
    pub bump_every: usize,
}

/// A domain id made from a number: 32 lowercase hex characters.
fn domain_id(d: usize) -> String {
    format!("{:032x}", 0x5eed_0000_0000_0000_u128 + d as u128)
}

/// Writes the repository: one file per Domain with its Servers and Components.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    std::fs::write(
        args.out.join("vimana.yaml"),
        "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: edge}\nspec: {regions: [eu-west-1, us-east-1]}\n",
    )?;
    let mut objects = 1;
    for d in 0..args.domains {
        let id = domain_id(d);
        let mut text = String::new();
        let _ = write!(
            text,
            "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: domain-{d}}}\nspec:\n  id: {id}\n  vimana: edge\n  aliases: [d{d}.example.org]\n"
        );
        objects += 1;
        for s in 0..args.servers {
            let bumped = args.bump_every > 0 && (d * args.servers + s) % args.bump_every == 0;
            let versions = args.versions + usize::from(bumped);
            let newest = versions - 1;
            // Traffic on the two newest versions, 90/10; a bumped server moves all of it to the
            // new newest version.
            let weights: Vec<String> = (0..versions)
                .filter_map(|v| {
                    let w = match (bumped, newest - v) {
                        (true, 0) => 100,
                        (true, _) => return None,
                        (false, 0) => 10,
                        (false, 1) => 90,
                        (false, _) => return None,
                    };
                    Some(format!("1.{v}.0: {w}"))
                })
                .collect();
            let weights = if args.versions == 1 && !bumped {
                "1.0.0: 100".to_owned()
            } else {
                weights.join(", ")
            };
            let _ = write!(
                text,
                "---\napiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: d{d}-s{s}}}\nspec:\n  id: s{s}\n  domain: {id}\n  services: [svc{s}.v1.Api]\n  versionWeights: {{{weights}}}\n"
            );
            objects += 1;
            for v in 0..versions {
                let _ = write!(
                    text,
                    "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: {{name: d{d}-s{s}-1-{v}-0}}\nspec: {{domain: {id}, server: s{s}, version: 1.{v}.0, image: \"registry.example.org/d{d}/s{s}:1.{v}.0\"}}\n"
                );
                objects += 1;
            }
        }
        std::fs::write(args.out.join(format!("domain-{d}.yaml")), text)?;
    }
    eprintln!("wrote {objects} objects to {}", args.out.display());
    Ok(Outcome::Success)
}
