//! Sources on the local file system: a [`render::SourceTree`] over a folder, the shared
//! `DIR --instance --namespace` arguments, and rendering with diagnostics printed to stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use render::{SourceError, SourceTree};

use crate::error::Error;

/// Where the sources are and how to label what they render to.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Folder of Vimana sources. Kumori modules may live anywhere in the same Git work tree.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Reconciler instance name, written to the `reconciler.vimana.host/instance` label.
    #[arg(long, default_value = "default", env = "RECONCILER_INSTANCE")]
    pub instance: String,
    /// Namespace of objects whose source names none.
    #[arg(long, default_value = "vimana", env = "RECONCILER_NAMESPACE")]
    pub namespace: String,
    /// Change a bound of the render, as `KEY=VALUE` (`fileBytes=16MiB`, `depth=64`); repeat
    /// for several. `docs/security.md` lists the limits and their defaults.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = parse_limit)]
    pub limits: Vec<String>,
}

impl SourceArgs {
    /// The render's limits: the defaults with every `--limit` applied.
    pub fn render_limits(&self) -> render::Limits {
        limits(&self.limits)
    }
}

/// The defaults with every `--limit KEY=VALUE` applied (each checked by [`parse_limit`]).
pub fn limits(pairs: &[String]) -> render::Limits {
    let mut limits = render::Limits::default();
    for pair in pairs {
        limits
            .set_pair(pair)
            .expect("checked when the command line was parsed");
    }
    limits
}

/// Checks one `--limit KEY=VALUE` as the command line is parsed.
pub fn parse_limit(pair: &str) -> Result<String, String> {
    render::Limits::default().set_pair(pair)?;
    Ok(pair.to_owned())
}

/// A repository on disk: a folder seen through repository-relative paths. Reads never leave the
/// root, through `..` or through symbolic links.
#[derive(Debug, Clone)]
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    /// A tree rooted at `root` (made absolute and canonical).
    pub fn new(root: &Path) -> std::io::Result<FsTree> {
        Ok(FsTree {
            root: root.canonicalize()?,
        })
    }

    /// The absolute root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn abs(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    fn walk(&self, rel: &str, out: &mut Vec<String>) -> Result<(), SourceError> {
        let dir = self.abs(rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error(rel, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(rel, &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type().map_err(|e| io_error(&child, &e))?;
            // Symbolic links to folders are not followed: they could loop or leave the tree.
            if file_type.is_dir() {
                self.walk(&child, out)?;
            } else {
                out.push(child);
            }
        }
        Ok(())
    }
}

impl FsTree {
    /// The real path of `path` and its metadata, when it is a regular file inside the root
    /// (symbolic links followed). A FIFO, socket or device is refused before it is opened:
    /// opening a FIFO blocks until someone writes to it.
    fn regular_file(&self, path: &str) -> Result<(PathBuf, std::fs::Metadata), SourceError> {
        let real = self
            .abs(path)
            .canonicalize()
            .map_err(|e| io_error(path, &e))?;
        if !real.starts_with(&self.root) {
            return Err(SourceError::OutsideRoot { path: path.into() });
        }
        let metadata = std::fs::metadata(&real).map_err(|e| io_error(path, &e))?;
        if !metadata.is_file() {
            return Err(SourceError::NotAFile { path: path.into() });
        }
        Ok((real, metadata))
    }
}

fn io_error(path: &str, e: &std::io::Error) -> SourceError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SourceError::NotFound { path: path.into() }
    } else {
        SourceError::Io {
            path: path.into(),
            message: e.to_string(),
        }
    }
}

impl SourceTree for FsTree {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        self.walk(dir.trim_end_matches('/'), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        let (_, metadata) = self.regular_file(path)?;
        Ok(metadata.len())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let (real, _) = self.regular_file(path)?;
        std::fs::read(&real).map_err(|e| io_error(path, &e))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.abs(path).is_dir()
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        let (real, _) = self.regular_file(path)?;
        let rel = real
            .strip_prefix(&self.root)
            .map_err(|_| SourceError::OutsideRoot { path: path.into() })?;
        Ok(rel.to_string_lossy().replace('\\', "/"))
    }
}

/// The repository that holds `dir`: the closest enclosing Git work tree, else `dir` itself;
/// and `dir` relative to it.
pub fn locate(dir: &Path) -> Result<(FsTree, String), Error> {
    let abs = dir.canonicalize().map_err(|source| Error::SourceFolder {
        path: dir.to_path_buf(),
        source,
    })?;
    if !abs.is_dir() {
        return Err(Error::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    let root = abs
        .ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(&abs)
        .to_path_buf();
    let rel = abs
        .strip_prefix(&root)
        .expect("an ancestor is a prefix")
        .to_string_lossy()
        .replace('\\', "/");
    let tree = FsTree::new(&root).map_err(|source| Error::SourceFolder { path: root, source })?;
    Ok((tree, rel))
}

/// Renders `path` of `tree` with the labels of `args`.
pub fn render_tree(tree: &dyn SourceTree, path: &str, args: &SourceArgs) -> render::Output {
    let options = render::Options {
        path: path.to_owned(),
        instance: args.instance.clone(),
        namespace: args.namespace.clone(),
        limits: args.render_limits(),
    };
    render::render(tree, &options)
}

/// How a repository-relative path is shown: relative to the current folder when possible.
pub fn display_path(root: &Path) -> impl Fn(&str) -> String + use<> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = root.to_path_buf();
    move |rel: &str| {
        let abs = root.join(rel);
        abs.strip_prefix(&cwd)
            .map(Path::to_path_buf)
            .unwrap_or(abs)
            .display()
            .to_string()
    }
}

/// Prints diagnostics to stderr, in colour on a terminal unless `NO_COLOR` is set.
pub fn print_diagnostics(diags: &render::Diagnostics, display: &dyn Fn(&str) -> String) {
    if diags.items.is_empty() {
        return;
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diags.to_text(display, color));
}

/// Renders the sources of `args`. Diagnostics go to stderr; `None` when there were errors.
pub fn render_reporting(args: &SourceArgs) -> Result<Option<render::Output>, Error> {
    let (tree, path) = locate(&args.dir)?;
    let output = render_tree(&tree, &path, args);
    let diags = &output.diagnostics;
    print_diagnostics(diags, &display_path(tree.root()));
    if diags.has_errors() {
        let n = diags.error_count();
        eprintln!(
            "error: {n} error{} in the sources; nothing was rendered",
            if n == 1 { "" } else { "s" }
        );
        return Ok(None);
    }
    Ok(Some(output))
}
