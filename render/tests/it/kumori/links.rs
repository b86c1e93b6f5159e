//! A source tree with symbolic links, for golden inputs: a section `//- link PATH -> TARGET`
//! makes `PATH` a link to `TARGET` (relative to the link's folder), followed by reads as the
//! file-system and Git trees follow theirs, and resolved by `SourceTree::resolve`.

use std::collections::BTreeMap;

use render::source::{join, parent};
use render::{MemTree, SourceError, SourceTree};

/// [`MemTree`] plus symbolic links.
pub struct Linked {
    /// The files.
    pub tree: MemTree,
    /// Link path to its target as written.
    pub links: BTreeMap<String, String>,
}

impl SourceTree for Linked {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let mut out = self.tree.files(dir).unwrap_or_default();
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        out.extend(
            self.links
                .keys()
                .filter(|l| l.starts_with(&prefix))
                .cloned(),
        );
        out.sort();
        Ok(out)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        self.tree.size(&self.resolve(path)?)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.tree.read(&self.resolve(path)?)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.tree.is_dir(path)
    }

    fn resolve(&self, path: &str) -> Result<String, SourceError> {
        let mut current = path.to_owned();
        for _ in 0..8 {
            match self.links.get(&current) {
                Some(target) => {
                    current = join(parent(&current), target)
                        .map_err(|_| SourceError::OutsideRoot { path: path.into() })?;
                }
                None => return Ok(current),
            }
        }
        Err(SourceError::Io {
            path: path.into(),
            message: "too many levels of symbolic links".into(),
        })
    }
}
