//! `reconciler diff DIR --base REV`: what merging would change, rendered from Git objects with
//! no cluster involved (pull requests).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};

use anyhow::Context;
use model::{Manifest, Object, keys, rollout};

use crate::Outcome;
use crate::cluster::{Cluster, ClusterArgs};
use crate::git::GitTree;
use crate::report::{self, Finding, Level, Report};
use crate::sources::{self, SourceArgs};
use crate::sync;

/// Arguments of `reconciler diff`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the sources are.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Compare with the render of this Git revision of the repository that holds DIR (a branch,
    /// tag, commit or expression such as `origin/main` or `HEAD~1`), rendered from Git objects,
    /// instead of with the live cluster: no cluster needed.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Which cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `diff`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text with unified diffs (colour on a terminal).
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// JSON for tools.
    Json,
}

/// Compares DIR with the live cluster, or with its render at `--base`; prints the report.
/// 0 no changes, 1 changes, 2 invalid sources or a failure.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match args.base.as_deref() {
        Some(rev) => run_base(args, rev),
        None => run_live(args),
    }
}

/// The live diff: a server-side dry run of every object the plan would change, compared with
/// the cluster.
fn run_live(args: &Args) -> anyhow::Result<Outcome> {
    let Some(output) = sources::render_reporting(&args.source)? else {
        return Ok(Outcome::Failed);
    };
    let options = sync::Options {
        instance: args.source.instance.clone(),
        namespace: args.source.namespace.clone(),
        ..sync::Options::default()
    };
    let result = crate::commands::sync::client_runtime(&args.cluster)?.block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        let r = sync::diff(&cluster, output.manifests, &options).await;
        cluster.close().await;
        anyhow::Ok(r)
    })?;
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Failed);
        }
    };
    report.title = format!(
        "Comparing `{}` (instance {}) with the live cluster",
        args.source.dir.display(),
        args.source.instance
    );
    print(args.format, &report)?;
    Ok(if report.has_errors() {
        Outcome::Failed
    } else if report.has_changes() {
        Outcome::Differences
    } else {
        Outcome::Success
    })
}

fn run_base(args: &Args, rev: &str) -> anyhow::Result<Outcome> {
    let (tree, path) = sources::locate(&args.source.dir)?;
    let repo = git2::Repository::open(tree.root()).with_context(|| {
        format!(
            "{} is not inside a Git repository; --base compares with a Git revision of the repository that holds DIR",
            args.source.dir.display()
        )
    })?;
    let base_tree = GitTree::at_revision(&repo, rev).with_context(|| {
        format!(
            "cannot find the revision {rev:?} in {}",
            tree.root().display()
        )
    })?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id().to_string()[..12].to_owned())
        .unwrap_or_default();

    let head = sources::render_tree(&tree, &path, &args.source);
    let base = sources::render_tree(&base_tree, &path, &args.source);
    let display = sources::display_path(tree.root());
    if args.format == Format::Text {
        sources::print_diagnostics(&head.diagnostics, &display);
    }

    let shown = if path.is_empty() {
        ".".to_owned()
    } else {
        path.clone()
    };
    let mut report = Report {
        title: format!("Comparing `{shown}` at base {rev} ({commit}) with the working tree"),
        ..Report::default()
    };
    for d in head.diagnostics.items.iter().filter(|d| d.is_error()) {
        let at = d.primary.as_ref().map_or_else(String::new, |l| {
            let loc = head.diagnostics.files.location(&l.file, l.span.start);
            format!("{}:{}:{}: ", display(&loc.file), loc.line, loc.column)
        });
        report.findings.push(Finding {
            level: Level::Error,
            code: d.code.to_owned(),
            message: format!("{at}{}", d.message),
        });
    }
    if report.has_errors() {
        print(args.format, &report)?;
        return Ok(Outcome::Failed);
    }

    let base_manifests: &[Manifest] = if base.diagnostics.has_errors() {
        let missing = base
            .diagnostics
            .items
            .iter()
            .any(|d| d.code == "source-path");
        report.findings.push(Finding {
            level: Level::Warning,
            code: if missing { "base-missing-path" } else { "base-invalid" }.into(),
            message: if missing {
                format!("`{shown}` does not exist at {rev}; every object is shown as created")
            } else {
                format!(
                    "the base revision {rev} does not render ({} errors); every object is shown as created",
                    base.diagnostics.error_count()
                )
            },
        });
        &[]
    } else {
        &base.manifests
    };
    report.changes = report::compare(
        base_manifests,
        &head.manifests,
        (&format!("base:{rev}"), "head"),
    );
    report.rollouts =
        report::rollouts(base_manifests, &head.manifests, &rollout::Policy::default());
    report
        .findings
        .extend(safety_findings(base_manifests, &head.manifests));
    print(args.format, &report)?;
    Ok(if report.has_changes() {
        Outcome::Differences
    } else {
        Outcome::Success
    })
}

fn print(format: Format, report: &Report) -> anyhow::Result<()> {
    let text = match format {
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            report::to_text(report, color)
        }
        Format::Markdown => report::to_markdown(report),
        Format::Json => report::to_json(report),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Findings about a change that renders fine but deserves a look before merging.
pub fn safety_findings(before: &[Manifest], after: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let components = |ms: &[Manifest]| -> BTreeMap<String, std::sync::Arc<model::Component>> {
        ms.iter()
            .filter_map(|m| match &m.object {
                Object::Component(c) => Some((m.object.identity(), c.clone())),
                _ => None,
            })
            .collect()
    };
    let (old, new) = (components(before), components(after));
    for (id, n) in &new {
        let Some(o) = old.get(id) else { continue };
        let digest =
            |c: &model::Component| c.metadata.annotations.get(keys::KUMORI_DIGEST).cloned();
        if o.spec.image != n.spec.image || digest(o) != digest(n) {
            let what = if o.spec.image != n.spec.image {
                format!(
                    "its image changes from {} to {}",
                    o.spec.image, n.spec.image
                )
            } else {
                "its Kumori render changes".to_owned()
            };
            findings.push(Finding {
                level: Level::Warning,
                code: "immutable-version".into(),
                message: format!(
                    "Component {id} already exists and {what}; versions are immutable, so sync will refuse it: give the change a new version"
                ),
            });
        }
    }
    let base_weights: BTreeMap<String, i32> = before
        .iter()
        .filter_map(|m| match &m.object {
            Object::Server(s) => Some(s),
            _ => None,
        })
        .flat_map(|s| {
            s.spec
                .version_weights
                .iter()
                .map(move |(v, w)| (format!("{}:{}@{v}", s.spec.domain, s.spec.id), *w))
        })
        .collect();
    // Only Components whose Server stays: when the Server goes too, the whole route goes.
    let servers_after: BTreeSet<String> = after
        .iter()
        .filter(|m| matches!(m.object, Object::Server(_)))
        .map(|m| m.object.identity())
        .collect();
    let removed: BTreeSet<&String> = old
        .iter()
        .filter(|(id, c)| {
            !new.contains_key(*id)
                && servers_after.contains(&format!("{}:{}", c.spec.domain, c.spec.server))
        })
        .map(|(id, _)| id)
        .collect();
    for id in removed {
        if let Some(&w) = base_weights.get(id).filter(|&&w| w > 0) {
            findings.push(Finding {
                level: Level::Warning,
                code: "removed-with-traffic".into(),
                message: format!(
                    "Component {id} is removed while it has weight {w} at the base; its traffic is shifted away by a rollout first and it is deleted only when its weight is 0"
                ),
            });
        }
    }
    if after.is_empty() && !before.is_empty() {
        findings.push(Finding {
            level: Level::Warning,
            code: "empty-render".into(),
            message: format!(
                "the change renders no objects; applying it would delete all {} objects, which sync refuses without --allow-empty",
                before.len()
            ),
        });
    }
    findings
}
