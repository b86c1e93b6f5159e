//! The files a render reads. A [`SourceTree`] is a repository seen through repository-relative,
//! `/`-separated paths; the edge provides one over a folder or a Git revision, tests use
//! [`MemTree`]. Render code reaches files only through this trait.

use foldhash::{HashMap, HashSet, HashSetExt};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::Limits;
use crate::limits::bytes_text;

/// The one error type of the crate: a file or folder of a [`SourceTree`] could not be listed or
/// read. Everything else that can be wrong with sources is a [`crate::Diagnostic`], not an error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No such file or folder.
    #[error("{path}: no such file or folder")]
    NotFound {
        /// Repository-relative path that was asked for.
        path: String,
    },
    /// The path leaves the repository (`..` past the root, or a symbolic link out of it).
    #[error("{path}: leaves the repository")]
    OutsideRoot {
        /// The path as asked for, before it was found to leave.
        path: String,
    },
    /// The file is larger than the limit it is read under ([`crate::Limits`]); nothing of it
    /// was read.
    #[error("{path}: {} is over the limit of {} ({key})", bytes_text(*size), bytes_text(*limit))]
    TooLarge {
        /// Repository-relative path that was asked for.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit it was read under.
        limit: u64,
        /// The name of that limit (`fileBytes`, `openBytes`).
        key: &'static str,
    },
    /// Reading the file would take the bytes one render reads together over
    /// [`Limits::render_bytes`]; nothing of it was read.
    #[error("{path}: reading its {} would bring the render to {}, over the limit of {} (renderBytes)", bytes_text(*size), bytes_text(*total), bytes_text(*limit))]
    OverBudget {
        /// Repository-relative path that was asked for.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// What the render would have read with it.
        total: u64,
        /// [`Limits::render_bytes`] as set for the render.
        limit: u64,
    },
    /// Not a regular file (a FIFO, a socket, a device): reading it could block forever.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// Repository-relative path that was asked for.
        path: String,
    },
    /// Any other failure to read. The cause is kept as text, not as a `#[source]`: the trees
    /// that fail this way are the edge's (a folder, a Git revision), and their error types
    /// (`std::io::Error`, `git2::Error`) are neither `Clone` nor comparable, nor welcome in a
    /// crate that does no I/O.
    #[error("{path}: {message}")]
    Io {
        /// Repository-relative path that was asked for.
        path: String,
        /// What failed, as the edge's error says it.
        message: String,
    },
}

/// Read access to a repository.
pub trait SourceTree {
    /// Every file under the folder `dir` (`""` is the root), recursively, as repository-relative
    /// paths in sorted order. `.git` is never listed.
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError>;
    /// The size of a file in bytes, without reading it (following symbolic links as `read`).
    fn size(&self, path: &str) -> Result<u64, SourceError>;
    /// The content of a file. Trees read nothing but regular files.
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError>;
    /// The content of a file if it has at most `limit` bytes, checked on its size before it is
    /// read ([`SourceError::TooLarge`] otherwise). `key` names the limit for the message.
    fn read_at_most(
        &self,
        path: &str,
        limit: u64,
        key: &'static str,
    ) -> Result<Vec<u8>, SourceError> {
        let size = self.size(path)?;
        if size > limit {
            return Err(SourceError::TooLarge {
                path: path.into(),
                size,
                limit,
                key,
            });
        }
        self.read(path)
    }
    /// Whether `path` is a folder.
    fn is_dir(&self, path: &str) -> bool;
    /// The repository path that `path` names once symbolic links are followed (the file a read
    /// of `path` gets), so that a caller can check where a read really lands: `io.Open` reads
    /// only files of its module. Trees without links keep the default, `path` itself.
    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        Ok(path.to_owned())
    }
    /// A digest of the content of a file, equal for equal content (following symbolic links as
    /// `read`): what [`crate::Incremental`] compares to know that a file did not change. The
    /// default hashes what `read` returns; a tree that knows a content hash already (a Git
    /// blob id) returns it without reading the file. Only compared with fingerprints of the
    /// same tree type.
    fn fingerprint(&self, path: &str) -> Result<Fingerprint, SourceError> {
        Ok(Sha256::digest(self.read(path)?).into())
    }
}

/// A content digest of a file ([`SourceTree::fingerprint`]).
pub type Fingerprint = [u8; 32];

/// An in-memory repository.
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemTree::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.into(), content.into());
        self
    }

    /// Builder form of [`MemTree::insert`].
    pub fn with(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.insert(path, content);
        self
    }
}

fn under(dir: &str, path: &str) -> bool {
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

impl SourceTree for MemTree {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let dir = dir.trim_end_matches('/');
        if !dir.is_empty() && !self.is_dir(dir) {
            return Err(SourceError::NotFound { path: dir.into() });
        }
        Ok(self
            .files
            .keys()
            .filter(|p| under(dir, p))
            .cloned()
            .collect())
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        self.files
            .get(path)
            .map(|b| b.len() as u64)
            .ok_or_else(|| SourceError::NotFound { path: path.into() })
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| SourceError::NotFound { path: path.into() })
    }

    fn is_dir(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        path.is_empty() || self.files.keys().any(|p| under(path, p))
    }
}

/// The tree a render reads through: every read checked on the file's size first, against the
/// largest per-file limit ([`Limits::file_bytes`], [`Limits::open_bytes`]: callers check the
/// one that applies with [`SourceTree::read_at_most`]) and against what the render has read
/// so far ([`Limits::render_bytes`]). A file read twice (a Component's YAML, again for its
/// Kumori binding) counts once.
pub struct Metered<'t> {
    inner: &'t dyn SourceTree,
    limits: Limits,
    total: Cell<u64>,
    counted: RefCell<HashSet<String>>,
    refused: Cell<bool>,
}

impl<'t> Metered<'t> {
    /// `inner` read under `limits`.
    pub fn new(inner: &'t dyn SourceTree, limits: &Limits) -> Self {
        Metered {
            inner,
            limits: *limits,
            total: Cell::new(0),
            counted: RefCell::new(HashSet::new()),
            refused: Cell::new(false),
        }
    }

    /// The bytes read so far, each file once.
    pub fn total(&self) -> u64 {
        self.total.get()
    }

    /// Whether a read was refused for [`Limits::render_bytes`]: which file that hits depends on
    /// the order of reads, so such a render is not reused piecewise.
    pub fn refused(&self) -> bool {
        self.refused.get()
    }

    /// Whether `path` was read (and counted) through this tree.
    pub fn counted(&self, path: &str) -> bool {
        self.counted.borrow().contains(path)
    }
}

impl SourceTree for Metered<'_> {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.inner.files(dir)
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        self.inner.resolve(path)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        self.inner.size(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let size = self.inner.size(path)?;
        let (limit, key) = if self.limits.open_bytes > self.limits.file_bytes {
            (self.limits.open_bytes, "openBytes")
        } else {
            (self.limits.file_bytes, "fileBytes")
        };
        if size > limit {
            return Err(SourceError::TooLarge {
                path: path.into(),
                size,
                limit,
                key,
            });
        }
        let first = !self.counted.borrow().contains(path);
        let total = self.total.get().saturating_add(size);
        if first && total > self.limits.render_bytes {
            self.refused.set(true);
            return Err(SourceError::OverBudget {
                path: path.into(),
                size,
                total,
                limit: self.limits.render_bytes,
            });
        }
        let bytes = self.inner.read(path)?;
        if first {
            self.counted.borrow_mut().insert(path.to_owned());
            self.total
                .set(self.total.get().saturating_add(bytes.len() as u64));
        }
        Ok(bytes)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.inner.is_dir(path)
    }

    fn fingerprint(&self, path: &str) -> Result<Fingerprint, SourceError> {
        self.inner.fingerprint(path)
    }
}

/// One question asked of a tree, as [`Recorder`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Query {
    /// [`SourceTree::files`] of a folder.
    Files(String),
    /// [`SourceTree::size`] of a path.
    Size(String),
    /// [`SourceTree::read`] of a path, answered by its size and fingerprint.
    Read(String),
    /// [`SourceTree::is_dir`] of a path.
    IsDir(String),
    /// [`SourceTree::resolve`] of a path.
    Resolve(String),
}

impl Query {
    /// The digest of what `tree` answers now: equal digests, equal answers (a read by the
    /// size and fingerprint of the file, not its content).
    pub fn answer(&self, tree: &dyn SourceTree) -> Fingerprint {
        let text = match self {
            Query::Files(dir) => format!("{:?}", tree.files(dir)),
            Query::Size(path) => format!("{:?}", tree.size(path)),
            Query::Read(path) => format!("{:?} {:?}", tree.size(path), tree.fingerprint(path)),
            Query::IsDir(path) => format!("{:?}", tree.is_dir(path)),
            Query::Resolve(path) => format!("{:?}", tree.resolve(path)),
        };
        Sha256::digest(text.as_bytes()).into()
    }
}

/// What a part of a render asked of its tree, with the answers' digests; the part gives the
/// same result as long as every question is answered the same ([`Log::holds`]).
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// Each question once, with the digest of its answer.
    pub answers: BTreeMap<Query, Fingerprint>,
    /// The bytes of every successful read, by path (what [`Metered`] counted).
    pub reads: BTreeMap<String, u64>,
}

impl Log {
    /// Adds the questions of `other`.
    pub fn extend(&mut self, other: &Log) {
        for (q, a) in &other.answers {
            self.answers.entry(q.clone()).or_insert(*a);
        }
        for (p, n) in &other.reads {
            self.reads.entry(p.clone()).or_insert(*n);
        }
    }

    /// Whether `tree` answers every question as recorded; `memo` keeps answers between logs
    /// checked against the same tree.
    pub fn holds(&self, tree: &dyn SourceTree, memo: &mut HashMap<Query, Fingerprint>) -> bool {
        self.answers.iter().all(|(q, a)| {
            let now = *memo.entry(q.clone()).or_insert_with(|| q.answer(tree));
            now == *a
        })
    }
}

/// A tree that records the questions asked through it ([`Log`]), answering as `inner` does.
pub struct Recorder<'t> {
    inner: &'t dyn SourceTree,
    log: RefCell<Log>,
}

impl<'t> Recorder<'t> {
    /// Records what is asked of `inner`.
    pub fn new(inner: &'t dyn SourceTree) -> Self {
        Recorder {
            inner,
            log: RefCell::default(),
        }
    }

    /// What was asked so far.
    pub fn into_log(self) -> Log {
        self.log.into_inner()
    }

    fn note(&self, q: Query) {
        if !self.log.borrow().answers.contains_key(&q) {
            let a = q.answer(self.inner);
            self.log.borrow_mut().answers.insert(q, a);
        }
    }
}

impl SourceTree for Recorder<'_> {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.note(Query::Files(dir.to_owned()));
        self.inner.files(dir)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        self.note(Query::Size(path.to_owned()));
        self.inner.size(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.note(Query::Read(path.to_owned()));
        let bytes = self.inner.read(path)?;
        self.log
            .borrow_mut()
            .reads
            .entry(path.to_owned())
            .or_insert(bytes.len() as u64);
        Ok(bytes)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.note(Query::IsDir(path.to_owned()));
        self.inner.is_dir(path)
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        self.note(Query::Resolve(path.to_owned()));
        self.inner.resolve(path)
    }

    fn fingerprint(&self, path: &str) -> Result<Fingerprint, SourceError> {
        self.note(Query::Read(path.to_owned()));
        self.inner.fingerprint(path)
    }
}

/// Joins a relative path onto a repository-relative folder and normalizes `.` and `..`.
/// A result that would leave the repository is an error; an absolute `rel` is refused too.
pub fn join(dir: &str, rel: &str) -> Result<String, SourceError> {
    if rel.starts_with('/') {
        return Err(SourceError::OutsideRoot { path: rel.into() });
    }
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(SourceError::OutsideRoot {
                        path: format!("{dir}/{rel}"),
                    });
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The folder part of a repository-relative path (`""` for a file at the root).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_refuses_escapes() {
        assert_eq!(join("a/b", "../c").unwrap(), "a/c");
        assert_eq!(join("", "./x/y").unwrap(), "x/y");
        assert!(join("a", "../../x").is_err());
        assert!(join("a", "/etc/passwd").is_err());
        assert_eq!(parent("a/b/c.yaml"), "a/b");
        assert_eq!(parent("c.yaml"), "");
    }

    #[test]
    fn mem_tree_lists_under_a_folder() {
        let t = MemTree::new()
            .with("a/x.yaml", "")
            .with("ab/y.yaml", "")
            .with("a/b/z.yaml", "");
        assert_eq!(t.files("a").unwrap(), vec!["a/b/z.yaml", "a/x.yaml"]);
        assert!(t.is_dir("a/b"));
        assert!(!t.is_dir("a/x"));
        assert!(t.files("nope").is_err());
    }

    #[test]
    fn metered_reads_count_each_file_once_against_the_render_budget() {
        let t = MemTree::new()
            .with("a", vec![b'a'; 600])
            .with("b", vec![b'b'; 600])
            .with("big", vec![b'c'; 2000]);
        let limits = Limits {
            render_bytes: 1000,
            file_bytes: 1500,
            open_bytes: 100,
            ..Limits::default()
        };
        let m = Metered::new(&t, &limits);
        assert_eq!(m.read("a").unwrap().len(), 600);
        assert_eq!(m.read("a").unwrap().len(), 600);
        assert_eq!(m.total(), 600);
        let e = m.read("b").unwrap_err();
        assert!(
            matches!(e, SourceError::OverBudget { total: 1200, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("renderBytes"), "{e}");
        let e = m.read("big").unwrap_err();
        assert!(
            matches!(
                e,
                SourceError::TooLarge {
                    key: "fileBytes",
                    ..
                }
            ),
            "{e}"
        );
        let e = m.read_at_most("a", 100, "openBytes").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a: 600 bytes is over the limit of 100 bytes (openBytes)"
        );
    }
}
