//! Git: a [`render::SourceTree`] over the tree of a commit, so that any revision renders
//! straight from Git objects without a checkout.

use git2::{ObjectType, Repository, Tree};
use render::{SourceError, SourceTree, source};

/// Mode of a symbolic link in a Git tree.
const SYMLINK_MODE: i32 = 0o120000;
/// How many symbolic links a read may follow before it gives up (loops).
const MAX_LINKS: usize = 8;
/// The longest target a symbolic link may name (Linux's `PATH_MAX`).
const MAX_LINK_BYTES: u64 = 4096;

/// The files of one Git tree (usually a commit's root tree).
pub struct GitTree<'r> {
    repo: &'r Repository,
    root: Tree<'r>,
}

impl<'r> GitTree<'r> {
    /// A view of `root` in `repo`.
    pub fn new(repo: &'r Repository, root: Tree<'r>) -> Self {
        GitTree { repo, root }
    }

    /// The tree of revision `rev` (`main`, `HEAD~1`, a tag, a commit id, `origin/main`...).
    pub fn at_revision(repo: &'r Repository, rev: &str) -> Result<Self, git2::Error> {
        let tree = repo.revparse_single(rev)?.peel_to_tree()?;
        Ok(GitTree::new(repo, tree))
    }

    fn subtree(&self, dir: &str) -> Result<Tree<'r>, SourceError> {
        if dir.is_empty() {
            return Ok(self.root.clone());
        }
        let entry = self
            .root
            .get_path(std::path::Path::new(dir))
            .map_err(|_| SourceError::NotFound { path: dir.into() })?;
        entry
            .to_object(self.repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| SourceError::NotFound { path: dir.into() })
    }

    /// The blob that `path` names, following symbolic links while they stay inside the
    /// repository, its size and the path of the file it is, read from the object's header (a blob is never inflated to
    /// learn its size: a few hundred bytes of pack can stand for gigabytes).
    fn follow(&self, path: &str) -> Result<(git2::Oid, u64, String), SourceError> {
        let io = |e: git2::Error| SourceError::Io {
            path: path.into(),
            message: e.message().to_owned(),
        };
        let odb = self.repo.odb().map_err(io)?;
        let mut current = path.to_owned();
        for _ in 0..=MAX_LINKS {
            let entry = self
                .root
                .get_path(std::path::Path::new(&current))
                .map_err(|_| SourceError::NotFound { path: path.into() })?;
            let (size, kind) = odb.read_header(entry.id()).map_err(io)?;
            let size = size as u64;
            if kind != ObjectType::Blob {
                return Err(SourceError::NotAFile { path: path.into() });
            }
            if entry.filemode() != SYMLINK_MODE {
                return Ok((entry.id(), size, current));
            }
            // A link is followed only while it stays inside the repository; its target is a
            // path, never longer than a path may be.
            if size > MAX_LINK_BYTES {
                return Err(SourceError::NotAFile { path: path.into() });
            }
            let blob = self.repo.find_blob(entry.id()).map_err(io)?;
            let target = String::from_utf8_lossy(blob.content()).into_owned();
            current = source::join(source::parent(&current), &target)
                .map_err(|_| SourceError::OutsideRoot { path: path.into() })?;
        }
        Err(SourceError::Io {
            path: path.into(),
            message: "too many levels of symbolic links".into(),
        })
    }
}

impl SourceTree for GitTree<'_> {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let dir = dir.trim_end_matches('/');
        let tree = self.subtree(dir)?;
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            // Submodules (commits inside a tree) are not part of the repository's files.
            if entry.kind() == Some(ObjectType::Blob) {
                let name = entry.name().unwrap_or_default();
                let rel = format!("{parent}{name}");
                out.push(if dir.is_empty() {
                    rel
                } else {
                    format!("{dir}/{rel}")
                });
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| SourceError::Io {
            path: dir.into(),
            message: e.message().to_owned(),
        })?;
        out.sort();
        Ok(out)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        self.follow(path).map(|(_, size, _)| size)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let (id, _, _) = self.follow(path)?;
        let blob = self.repo.find_blob(id).map_err(|e| SourceError::Io {
            path: path.into(),
            message: e.message().to_owned(),
        })?;
        Ok(blob.content().to_vec())
    }

    fn is_dir(&self, path: &str) -> bool {
        path.trim_end_matches('/').is_empty() || self.subtree(path.trim_end_matches('/')).is_ok()
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        self.follow(path).map(|(_, _, real)| real)
    }

    /// The blob id: a hash of the content already, read from the tree without the blob.
    fn fingerprint(&self, path: &str) -> Result<render::Fingerprint, SourceError> {
        let (id, _, _) = self.follow(path)?;
        let mut out = [0; 32];
        let bytes = id.as_bytes();
        out[..bytes.len().min(32)].copy_from_slice(&bytes[..bytes.len().min(32)]);
        Ok(out)
    }
}

/// A Git work tree on branch `main`, written through files and commits: the demo's repository,
/// and the repositories of tests and benchmarks.
pub struct WorkTree {
    git: Repository,
    dir: std::path::PathBuf,
}

impl WorkTree {
    /// Creates a repository in `dir` with `main` as its first branch.
    pub fn init(dir: &std::path::Path) -> Result<WorkTree, git2::Error> {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        Ok(WorkTree {
            git: Repository::init_opts(dir, &opts)?,
            dir: dir.to_path_buf(),
        })
    }

    /// The folder of the work tree.
    pub fn path(&self) -> &std::path::Path {
        &self.dir
    }

    /// The Git repository of the work tree, for reads by revision.
    pub fn repository(&self) -> &Repository {
        &self.git
    }

    /// Writes a file (folders are created).
    pub fn write(&self, path: &str, text: &str) -> std::io::Result<()> {
        let p = self.dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, text)
    }

    /// Removes a file from the work tree (the next commit records it).
    pub fn remove(&self, path: &str) -> std::io::Result<()> {
        std::fs::remove_file(self.dir.join(path))
    }

    /// Commits every change of the work tree (additions, changes, removals); the commit id.
    pub fn commit(&self, message: &str) -> Result<String, git2::Error> {
        let mut index = self.git.index()?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        let tree = self.git.find_tree(index.write_tree()?)?;
        let sig = git2::Signature::now("Vimana Reconciler", "reconciler@localhost")?;
        let parent = self.git.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        Ok(self
            .git
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?
            .to_string())
    }
}
