//! Module loading: `kumori.mod.json`, packages (folders), parsing every file, resolving imports
//! (the built-in `kumori`, `io` and `strconv`, packages of this module, and modules it requires
//! that live in the same repository), and the structural rules of files: a file holds artifacts
//! or one library; interfaces and implementations pair by name within a package.

use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::diagnostic::Diagnostic;
use crate::limits::{Limits, bytes_text};
use crate::source::{self, SourceError, SourceTree};

use super::ast::{self, FileId, Item, Span};
use super::parser;

mod imports;
mod structure;

/// Name of the module manifest.
pub const MANIFEST: &str = "kumori.mod.json";
/// Path under which the built-in library is shown in diagnostics.
pub const BUILTIN_PATH: &str = "<builtin>/kumori.kumori";
/// The built-in library's source.
pub const BUILTIN_SOURCE: &str = include_str!("../kumori.kumori");

/// The texts of every file taking part in a render, by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<(String, String)>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: &str, text: String) -> FileId {
        self.files.push((path.to_owned(), text));
        FileId(self.files.len() as u32 - 1)
    }

    /// The repository-relative path of a file.
    pub fn path(&self, id: FileId) -> &str {
        &self.files[id.0 as usize].0
    }

    /// The text of a file.
    pub fn text(&self, id: FileId) -> &str {
        &self.files[id.0 as usize].1
    }

    /// Gives the file `id` another path and text (a cached program reuses one file for the YAML
    /// source of each binding in turn).
    pub fn replace(&mut self, id: FileId, path: &str, text: String) {
        self.files[id.0 as usize] = (path.to_owned(), text);
    }

    /// The id of an already added path.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|(p, _)| p == path)
            .map(|i| FileId(i as u32))
    }

    /// Every file, as (path, text).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }
}

/// What an import names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportTarget {
    /// The built-in `kumori` library.
    Kumori,
    /// The built-in `io` functions.
    Io,
    /// The built-in `strconv` functions.
    Strconv,
    /// A package of a loaded module (index into [`Program::packages`]).
    Package(usize),
}

/// A parsed file and what it sees.
#[derive(Clone, Debug)]
pub struct FileInfo {
    /// Its syntax tree, with error nodes where it did not parse.
    pub ast: ast::File,
    /// Its package (`None` for the built-in library).
    pub package: Option<usize>,
    /// An interface file (`*.h.kumori`).
    pub interface: bool,
    /// Imported names, by the name they are known by in the file.
    pub imports: HashMap<String, ImportTarget>,
}

/// A package: a folder of a module.
#[derive(Clone, Debug)]
pub struct Package {
    /// Import path: `<module path>` or `<module path>/<folder>`.
    pub key: String,
    /// Repository-relative folder.
    pub dir: String,
    /// Index into [`Program::modules`].
    pub module: usize,
    /// The `.kumori` files of the folder, in path order.
    pub files: Vec<FileId>,
}

/// A module: a folder with a `kumori.mod.json`, and the modules it requires.
#[derive(Clone, Debug)]
pub struct Module {
    /// Repository-relative folder.
    pub dir: String,
    /// `module` of the manifest.
    pub path: String,
    /// `requires[].target` of the manifest.
    pub requires: Vec<String>,
    /// `requires[]` with a valid semantic `version`: target and the version it requires.
    pub required: Vec<(String, semver::Version)>,
    /// `version` of the manifest, when it gives a valid one.
    pub version: Option<semver::Version>,
    /// The `kumori.mod.json` it was read from.
    pub manifest: FileId,
}

/// A component declaration: where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemRef {
    /// The file that declares it.
    pub file: FileId,
    /// Index into the file's items.
    pub item: usize,
}

/// Every loaded file, package and module, with their diagnostics.
#[derive(Debug, Default)]
pub struct Program {
    /// File texts.
    pub map: SourceMap,
    /// Parsed files, by [`FileId`] (`None` for files that are not Kumori sources).
    pub files: Vec<Option<FileInfo>>,
    /// Every package of the loaded modules, in load order.
    pub packages: Vec<Package>,
    /// Modules; the first is the one the binding names.
    pub modules: Vec<Module>,
    /// Diagnostics found while loading.
    pub diagnostics: Vec<Diagnostic>,
    /// The bounds of the render: file sizes, nesting, chains of references, value sizes.
    pub limits: Limits,
    repo_modules: Option<BTreeMap<String, String>>,
}

fn builtin() -> &'static parser::Parse {
    static PARSE: OnceLock<parser::Parse> = OnceLock::new();
    PARSE.get_or_init(|| parser::parse(BUILTIN_PATH, FileId(0), BUILTIN_SOURCE))
}

impl Program {
    /// A program holding only the built-in library (file 0), read and evaluated within
    /// `limits`.
    pub fn new(limits: Limits) -> Self {
        let mut p = Program {
            limits,
            ..Program::default()
        };
        let parse = builtin();
        p.map.add(BUILTIN_PATH, BUILTIN_SOURCE.to_owned());
        p.files.push(Some(FileInfo {
            ast: parse.file.clone(),
            package: None,
            interface: false,
            imports: HashMap::new(),
        }));
        p.diagnostics.extend(parse.diagnostics.iter().cloned());
        p
    }

    /// The parsed file `id`.
    pub fn file(&self, id: FileId) -> &FileInfo {
        self.files[id.0 as usize]
            .as_ref()
            .expect("only Kumori sources are looked up")
    }

    /// Adds a non-Kumori file (a YAML source, a manifest) so that spans can point into it.
    pub fn add_text(&mut self, path: &str, text: String) -> FileId {
        if let Some(id) = self.map.find(path) {
            return id;
        }
        let id = self.map.add(path, text);
        self.files.push(None);
        id
    }

    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Reports a file refused by its size ([`SourceError::TooLarge`]) at the file itself, and at
    /// `blame` (what asked for it) when given. Nothing of the file was read.
    fn too_large(&mut self, e: &SourceError, blame: Option<(&str, std::ops::Range<usize>, &str)>) {
        let SourceError::TooLarge {
            path, size, limit, ..
        } = e
        else {
            return;
        };
        // The file is shown by its path: its text was not read, so it is known as empty.
        self.add_text(path, String::new());
        let mut d = Diagnostic::error(
            "kumori-file-too-large",
            format!(
                "{path} is {}, over the limit of {} for one source file",
                bytes_text(*size),
                bytes_text(*limit)
            ),
        )
        .at(path, 0..0, "not read");
        if let Some((file, span, label)) = blame {
            d = d.also(file, span, label);
        }
        self.error(d.help(
            "Kumori sources are small text files: split this one, or raise the limit with \
             `--limit fileBytes=...` (`render.limits.fileBytes` in the daemon)",
        ));
    }

    /// A span in diagnostics form.
    pub fn loc(&self, span: Span) -> (String, std::ops::Range<usize>) {
        (self.map.path(span.file).to_owned(), span.range())
    }

    /// Loads the module in `dir` (and, on demand, the modules it requires from the same
    /// repository). Returns its index, or `None` when it has no readable manifest.
    pub fn load_module(
        &mut self,
        tree: &dyn SourceTree,
        dir: &str,
        blame: Option<(&str, std::ops::Range<usize>)>,
    ) -> Option<usize> {
        if let Some(i) = self.modules.iter().position(|m| m.dir == dir) {
            return Some(i);
        }
        let manifest_path = if dir.is_empty() {
            MANIFEST.to_owned()
        } else {
            format!("{dir}/{MANIFEST}")
        };
        let limit = self.limits.file_bytes;
        let bytes = match tree.read_at_most(&manifest_path, limit, "fileBytes") {
            Ok(b) => b,
            Err(e @ SourceError::TooLarge { .. }) => {
                self.too_large(&e, blame.map(|(f, s)| (f, s, "this module")));
                return None;
            }
            Err(e) => {
                let mut d = Diagnostic::error(
                    "kumori-module-not-found",
                    format!("no Kumori module in `{dir}`: {MANIFEST} cannot be read ({e})"),
                )
                .help(format!(
                    "point `module` at a folder that holds a {MANIFEST} file"
                ));
                if let Some((file, span)) = blame {
                    d = d.at(file, span, "this module");
                }
                self.error(d);
                return None;
            }
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let manifest = self.add_text(&manifest_path, text.clone());
        let (path, requires) = self.read_manifest(manifest, &manifest_path, &text, dir);
        let (version, required) = versions(&text);
        let index = self.modules.len();
        self.modules.push(Module {
            dir: dir.to_owned(),
            path,
            requires,
            required,
            version,
            manifest,
        });
        self.load_packages(tree, index);
        Some(index)
    }

    fn read_manifest(
        &mut self,
        _id: FileId,
        path: &str,
        text: &str,
        dir: &str,
    ) -> (String, Vec<String>) {
        let fallback = (dir.to_owned(), Vec::new());
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let offset = offset_of(text, e.line(), e.column());
                self.error(
                    Diagnostic::error(
                        "kumori-invalid-manifest",
                        format!("{MANIFEST} is not valid JSON: {e}"),
                    )
                    .at(path, offset..offset, "here")
                    .help(
                        r#"a manifest looks like {"spec": "kumori/module/v1", "module": "example.org/name", "kumori": "1.0.0", "requires": []}"#,
                    ),
                );
                return fallback;
            }
        };
        let whole = 0..text.len().min(1);
        let problem = |this: &mut Self, msg: String, help: &str| {
            this.error(
                Diagnostic::error("kumori-invalid-manifest", msg)
                    .at(path, whole.clone(), "in this manifest")
                    .help(help.to_owned()),
            );
        };
        let Some(obj) = value.as_object() else {
            problem(
                self,
                format!("{MANIFEST} must hold a JSON object"),
                "write {\"spec\": \"kumori/module/v1\", \"module\": ..., \"kumori\": ...}",
            );
            return fallback;
        };
        match obj.get("spec").and_then(|v| v.as_str()) {
            Some("kumori/module/v1") => {}
            other => problem(
                self,
                format!(
                    "{MANIFEST}: `spec` must be \"kumori/module/v1\", found {}",
                    other.map_or("nothing".to_owned(), |s| format!("{s:?}"))
                ),
                "set \"spec\": \"kumori/module/v1\"",
            ),
        }
        if obj.get("kumori").and_then(|v| v.as_str()).is_none() {
            problem(
                self,
                format!("{MANIFEST}: `kumori` (the language version) must be a string"),
                "add \"kumori\": \"1.0.0\"",
            );
        }
        if let Some(v) = obj.get("version")
            && v.as_str()
                .is_none_or(|s| semver::Version::parse(s).is_err())
        {
            problem(
                self,
                format!("{MANIFEST}: `version` must be a semantic version string"),
                "write \"version\": \"1.0.0\" or leave it out",
            );
        }
        let module = match obj.get("module").and_then(|v| v.as_str()) {
            Some(m) if !m.is_empty() => m.trim_end_matches('/').to_owned(),
            _ => {
                problem(
                    self,
                    format!("{MANIFEST}: `module` (the module path) must be a non-empty string"),
                    "add \"module\": \"example.org/name\"",
                );
                dir.to_owned()
            }
        };
        let mut requires = Vec::new();
        match obj.get("requires") {
            None => {}
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let target = item.get("target").and_then(|t| t.as_str());
                    let version = item.get("version").and_then(|t| t.as_str());
                    match (target, version) {
                        (Some(t), Some(v)) if semver::Version::parse(v).is_err() => {
                            problem(
                                self,
                                format!(
                                    "{MANIFEST}: the required version {v:?} is not a semantic version"
                                ),
                                "write the version the module needs at least, as \"1.2.0\"",
                            );
                            // Its imports still resolve: the version is the one mistake.
                            requires.push(t.trim_end_matches('/').to_owned());
                        }
                        (Some(t), Some(_)) => requires.push(t.trim_end_matches('/').to_owned()),
                        _ => problem(
                            self,
                            format!(
                                "{MANIFEST}: every requirement needs `target` and `version` strings"
                            ),
                            "write {\"target\": \"example.org/lib\", \"version\": \"1.0.0\"}",
                        ),
                    }
                }
            }
            Some(_) => problem(
                self,
                format!("{MANIFEST}: `requires` must be a list"),
                "write \"requires\": [{\"target\": ..., \"version\": ...}]",
            ),
        }
        (module, requires)
    }

    fn load_packages(&mut self, tree: &dyn SourceTree, module: usize) {
        let dir = self.modules[module].dir.clone();
        let mod_path = self.modules[module].path.clone();
        let files = match tree.files(&dir) {
            Ok(f) => f,
            Err(e) => {
                self.error(
                    Diagnostic::error(
                        "kumori-module-not-found",
                        format!("cannot list the module folder `{dir}`: {e}"),
                    )
                    .help(format!(
                        "point `module` at a folder that holds a {MANIFEST} file"
                    )),
                );
                return;
            }
        };
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        // Folders (below the module's own) that hold another module's manifest.
        let nested: Vec<String> = files
            .iter()
            .filter_map(|f| f.strip_prefix(&prefix))
            .filter_map(|rel| rel.strip_suffix(MANIFEST))
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        let mut by_folder: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &files {
            let Some(rel) = f.strip_prefix(&prefix) else {
                continue;
            };
            if !rel.ends_with(".kumori") || nested.iter().any(|n| rel.starts_with(n.as_str())) {
                continue;
            }
            by_folder
                .entry(source::parent(rel).to_owned())
                .or_default()
                .push(f.clone());
        }
        for (folder, paths) in by_folder {
            let key = if folder.is_empty() {
                mod_path.clone()
            } else {
                format!("{mod_path}/{folder}")
            };
            let pkg = self.packages.len();
            self.packages.push(Package {
                key,
                dir: format!("{prefix}{folder}").trim_end_matches('/').to_owned(),
                module,
                files: Vec::new(),
            });
            for path in paths {
                let limit = self.limits.file_bytes;
                let text = match tree.read_at_most(&path, limit, "fileBytes") {
                    Err(e @ SourceError::TooLarge { .. }) => {
                        self.too_large(&e, None);
                        continue;
                    }
                    Ok(b) => match String::from_utf8(b) {
                        Ok(t) => t,
                        Err(_) => {
                            self.error(
                                Diagnostic::error(
                                    "kumori-not-utf8",
                                    format!("{path} is not UTF-8 text"),
                                )
                                .help("save Kumori sources as UTF-8"),
                            );
                            continue;
                        }
                    },
                    Err(e) => {
                        self.error(
                            Diagnostic::error(
                                "kumori-unreadable",
                                format!("cannot read {path}: {e}"),
                            )
                            .help("make the file readable, or remove it from the module"),
                        );
                        continue;
                    }
                };
                let id = self.map.add(&path, text);
                let parse = parser::parse_within(&path, id, self.map.text(id), &self.limits);
                self.diagnostics.extend(parse.diagnostics);
                self.files.push(Some(FileInfo {
                    ast: parse.file,
                    package: Some(pkg),
                    interface: path.ends_with(".h.kumori"),
                    imports: HashMap::new(),
                }));
                self.packages[pkg].files.push(id);
            }
        }
    }
}

/// The byte offset of a 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let mut at = (offset + column.saturating_sub(1)).min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return at;
        }
        offset += l.len();
    }
    text.len()
}

/// The `version` of a manifest and the `requires[].version`s, those that are valid semantic
/// versions (the others are reported by `read_manifest`).
fn versions(text: &str) -> (Option<semver::Version>, Vec<(String, semver::Version)>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, Vec::new());
    };
    let parse = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_str())
            .and_then(|s| semver::Version::parse(s).ok())
    };
    let required = value
        .get("requires")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let target = item.get("target")?.as_str()?;
            Some((
                target.trim_end_matches('/').to_owned(),
                parse(item.get("version"))?,
            ))
        })
        .collect();
    (parse(value.get("version")), required)
}
