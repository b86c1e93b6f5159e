//! `.reconcilerignore` files, with gitignore syntax and semantics: a file in any folder applies
//! to that folder and below, deeper files override shallower ones, `!` re-includes, and nothing
//! under an excluded folder can be re-included.

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::Limits;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{SourceError, SourceTree, parent};

/// The ignore rules of a repository.
pub struct IgnoreRules {
    /// (folder, its matcher), deepest folders last.
    matchers: Vec<(String, Gitignore)>,
}

impl IgnoreRules {
    /// Reads every ignore file among `files` (repository-relative paths) and the ones in the
    /// folders above `path`, each of at most `limits.file_bytes`. Unreadable files and
    /// invalid lines are reported.
    pub fn load(
        tree: &dyn SourceTree,
        path: &str,
        files: &[String],
        limits: &Limits,
        diagnostics: &mut Diagnostics,
    ) -> IgnoreRules {
        let mut ignore_files: Vec<String> = Vec::new();
        // Ignore files of enclosing folders apply too, as .gitignore files do.
        let mut dir = path;
        while !dir.is_empty() {
            dir = parent(dir);
            let candidate = if dir.is_empty() {
                crate::IGNORE_FILE.to_owned()
            } else {
                format!("{dir}/{}", crate::IGNORE_FILE)
            };
            // Asked by size, never by reading: what is there but cannot be read (a FIFO, a
            // file too large) is reported below.
            if !matches!(tree.size(&candidate), Err(SourceError::NotFound { .. })) {
                ignore_files.push(candidate);
            }
        }
        ignore_files.extend(
            files
                .iter()
                .filter(|f| f.rsplit('/').next() == Some(crate::IGNORE_FILE))
                .cloned(),
        );
        ignore_files.sort_by_key(|f| f.matches('/').count());
        ignore_files.dedup();

        let mut matchers = Vec::new();
        for file in ignore_files {
            let folder = parent(&file).to_owned();
            let text = match tree.read_at_most(&file, limits.file_bytes, "fileBytes") {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    diagnostics.push(Diagnostic::unreadable(&file, &e));
                    continue;
                }
            };
            diagnostics.files.add(&file, &text);
            // Matching is done on repository-relative paths, so the builder's root is a
            // placeholder that only anchors patterns to the ignore file's folder.
            let mut builder = GitignoreBuilder::new(format!("/{folder}"));
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let content = line.trim_end_matches(['\n', '\r']);
                if let Err(e) = builder.add_line(None, content) {
                    diagnostics.push(
                        Diagnostic::error(
                            "invalid-ignore-pattern",
                            format!("invalid pattern in {}: {e}", crate::IGNORE_FILE),
                        )
                        .at(&file, offset..offset + content.len(), "this pattern")
                        .help("write gitignore patterns such as `drafts/` or `*.local.yaml`"),
                    );
                }
                offset += line.len();
            }
            match builder.build() {
                Ok(m) => matchers.push((folder, m)),
                Err(e) => diagnostics.push(
                    Diagnostic::error("invalid-ignore-pattern", format!("{file}: {e}"))
                        .help("write gitignore patterns such as `drafts/` or `*.local.yaml`"),
                ),
            }
        }
        IgnoreRules { matchers }
    }

    /// Whether the file `path` is excluded.
    pub fn is_ignored(&self, path: &str) -> bool {
        // The deepest ignore file with an opinion decides, as in Git.
        for (folder, matcher) in self.matchers.iter().rev() {
            let applies = folder.is_empty()
                || path
                    .strip_prefix(folder.as_str())
                    .is_some_and(|r| r.starts_with('/'));
            if !applies {
                continue;
            }
            let m = matcher.matched_path_or_any_parents(format!("/{path}"), false);
            if m.is_ignore() {
                return true;
            }
            if m.is_whitelist() {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemTree;

    fn rules(tree: &MemTree, path: &str) -> IgnoreRules {
        let files = tree.files(path).unwrap();
        let mut d = Diagnostics::default();
        let r = IgnoreRules::load(tree, path, &files, &Limits::default(), &mut d);
        assert!(d.items.is_empty(), "{:?}", d.items);
        r
    }

    #[test]
    fn gitignore_semantics() {
        let tree = MemTree::new()
            .with(
                ".reconcilerignore",
                "drafts/\n*.local.yaml\n!keep.local.yaml\n",
            )
            .with("a/.reconcilerignore", "secret.yaml\n")
            .with("a/secret.yaml", "")
            .with("a/ok.yaml", "")
            .with("drafts/x.yaml", "")
            .with("b/drafts/y.yaml", "")
            .with("b/dev.local.yaml", "")
            .with("b/keep.local.yaml", "");
        let r = rules(&tree, "");
        assert!(r.is_ignored("a/secret.yaml"));
        assert!(!r.is_ignored("a/ok.yaml"));
        assert!(r.is_ignored("drafts/x.yaml"));
        assert!(r.is_ignored("b/drafts/y.yaml"));
        assert!(r.is_ignored("b/dev.local.yaml"));
        assert!(!r.is_ignored("b/keep.local.yaml"));
    }

    #[test]
    fn ignore_files_above_the_path_apply() {
        let tree = MemTree::new()
            .with(".reconcilerignore", "*.draft.yaml\n")
            .with("clusters/prod/a.draft.yaml", "")
            .with("clusters/prod/a.yaml", "");
        let r = rules(&tree, "clusters/prod");
        assert!(r.is_ignored("clusters/prod/a.draft.yaml"));
        assert!(!r.is_ignored("clusters/prod/a.yaml"));
    }
}
