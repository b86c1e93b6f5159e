//! Git: a [`render::SourceTree`] over the tree of a commit, so that any revision renders
//! straight from Git objects without a checkout.

use git2::{ObjectType, Repository, Tree};
use render::{SourceError, SourceTree, source};

/// Mode of a symbolic link in a Git tree.
const SYMLINK_MODE: i32 = 0o120000;
/// How many symbolic links a read may follow before it gives up (loops).
const MAX_LINKS: usize = 8;

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

    fn read_following(&self, path: &str, links: usize) -> Result<Vec<u8>, SourceError> {
        let entry = self
            .root
            .get_path(std::path::Path::new(path))
            .map_err(|_| SourceError::NotFound { path: path.into() })?;
        let blob = entry
            .to_object(self.repo)
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| SourceError::Io {
                path: path.into(),
                message: e.message().to_owned(),
            })?;
        if entry.filemode() != SYMLINK_MODE {
            return Ok(blob.content().to_vec());
        }
        // A link is followed only while it stays inside the repository.
        let target = String::from_utf8_lossy(blob.content()).into_owned();
        if links >= MAX_LINKS {
            return Err(SourceError::Io {
                path: path.into(),
                message: "too many levels of symbolic links".into(),
            });
        }
        let resolved = source::join(source::parent(path), &target)
            .map_err(|_| SourceError::OutsideRoot { path: path.into() })?;
        self.read_following(&resolved, links + 1)
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

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.read_following(path, 0)
    }

    fn is_dir(&self, path: &str) -> bool {
        path.trim_end_matches('/').is_empty() || self.subtree(path.trim_end_matches('/')).is_ok()
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
