//! Imports: what each `import` of a loaded file names (the built-in library, a package of this
//! module, or a module it requires that lives in the same repository), loading the required
//! modules found in the repository as needed.

use super::*;

impl Program {
    /// Resolves the imports of every loaded file, loading required modules found in the
    /// repository as needed.
    pub fn resolve_imports(&mut self, tree: &dyn SourceTree) {
        let mut done = 1; // file 0 is the built-in library
        while done < self.files.len() {
            let id = FileId(done as u32);
            done += 1;
            let Some(info) = &self.files[id.0 as usize] else {
                continue;
            };
            let Some(pkg) = info.package else { continue };
            let imports = info.ast.imports.clone();
            let module = self.packages[pkg].module;
            let mut table = HashMap::new();
            for import in &imports {
                let target = match import.path.as_str() {
                    "kumori" => Some(ImportTarget::Kumori),
                    "io" => Some(ImportTarget::Io),
                    "strconv" => Some(ImportTarget::Strconv),
                    path => self.find_package(tree, module, path, import.span),
                };
                let Some(target) = target else { continue };
                let name = import.local_name().to_owned();
                if table.insert(name.clone(), target).is_some() {
                    let (file, span) = self.loc(import.span);
                    self.error(
                        Diagnostic::error(
                            "kumori-duplicate-import",
                            format!("`{name}` is imported twice"),
                        )
                        .at(file, span, "second import of this name")
                        .help("give one of them another name: `import other \"path\"`"),
                    );
                }
            }
            if let Some(info) = &mut self.files[id.0 as usize] {
                info.imports = table;
            }
        }
    }

    fn find_package(
        &mut self,
        tree: &dyn SourceTree,
        module: usize,
        path: &str,
        span: Span,
    ) -> Option<ImportTarget> {
        if let Some(i) = self.packages.iter().position(|p| p.key == path) {
            return Some(ImportTarget::Package(i));
        }
        let (file, range) = self.loc(span);
        let own = self.modules[module].path.clone();
        if path == own || path.starts_with(&format!("{own}/")) {
            self.error(
                Diagnostic::error(
                    "kumori-unresolved-import",
                    format!("package \"{path}\" does not exist in module \"{own}\""),
                )
                .at(file, range, "no such folder with .kumori files")
                .help(format!(
                    "packages of this module are imported as \"{own}/<folder>\""
                )),
            );
            return None;
        }
        let required = self.modules[module]
            .requires
            .iter()
            .find(|t| path == t.as_str() || path.starts_with(&format!("{t}/")))
            .cloned();
        let Some(target) = required else {
            self.error(
                Diagnostic::error(
                    "kumori-unresolved-import",
                    format!("cannot resolve import \"{path}\""),
                )
                .at(
                    file,
                    range,
                    "not a package of this module nor of a requirement",
                )
                .help(format!(
                    "add the module that provides it to `requires` in {MANIFEST}, or import \
                     one of the built-in packages \"kumori\", \"io\", \"strconv\""
                )),
            );
            return None;
        };
        let found = self.repo_module(tree, &target);
        let Some(dir) = found else {
            self.error(
                Diagnostic::error(
                    "kumori-unresolved-import",
                    format!(
                        "cannot resolve import \"{path}\": module \"{target}\" is not in this repository"
                    ),
                )
                .at(file, range, "required module not found")
                .help(
                    "modules are not fetched: put the required module (a folder with its \
                     kumori.mod.json) in the repository",
                ),
            );
            return None;
        };
        let found = self.load_module(tree, &dir, Some((&file, range.clone())))?;
        self.check_version(module, found, &target);
        if let Some(i) = self.packages.iter().position(|p| p.key == path) {
            return Some(ImportTarget::Package(i));
        }
        self.error(
            Diagnostic::error(
                "kumori-unresolved-import",
                format!(
                    "package \"{path}\" does not exist in module \"{target}\" (folder `{dir}`)"
                ),
            )
            .at(file, range, "no such package")
            .help(format!(
                "packages of that module are imported as \"{target}/<folder>\""
            )),
        );
        None
    }

    /// The folder of the repository's module whose path is `target`.
    fn repo_module(&mut self, tree: &dyn SourceTree, target: &str) -> Option<String> {
        if self.repo_modules.is_none() {
            let mut found = BTreeMap::new();
            for f in tree.files("").unwrap_or_default() {
                let is_manifest = f == MANIFEST || f.ends_with(&format!("/{MANIFEST}"));
                if !is_manifest {
                    continue;
                }
                // A manifest over the limit is left out here, and reported if it is loaded.
                let Ok(bytes) = tree.read_at_most(&f, self.limits.file_bytes, "fileBytes") else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                if let Some(m) = v.get("module").and_then(|m| m.as_str()) {
                    found
                        .entry(m.trim_end_matches('/').to_owned())
                        .or_insert_with(|| source::parent(&f).to_owned());
                }
            }
            self.repo_modules = Some(found);
        }
        self.repo_modules.as_ref()?.get(target).cloned()
    }

    /// Compares the version of `target` that `module` requires with the version of the module
    /// found for it (`found`). A required version is the oldest that will do: the module found
    /// must be that version or a later compatible one (the same major version; for 0.x, the
    /// same minor), as Go and Cargo read `1.2.0`. Either side without a version is not compared.
    fn check_version(&mut self, module: usize, found: usize, target: &str) {
        let Some(want) = self.modules[module]
            .required
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, v)| v.clone())
        else {
            return;
        };
        let Some(have) = self.modules[found].version.clone() else {
            return;
        };
        let compatible =
            semver::VersionReq::parse(&format!("^{want}")).is_ok_and(|req| req.matches(&have));
        if compatible {
            return;
        }
        let (mine, theirs) = (self.modules[module].manifest, self.modules[found].manifest);
        let at = |text: &str, needle: &str| {
            text.find(needle)
                .map_or(0..text.len().min(1), |i| i..i + needle.len())
        };
        let here = at(self.map.text(mine), &format!("\"{target}\""));
        let there = at(self.map.text(theirs), &format!("\"{have}\""));
        let help = if have < want {
            format!(
                "put version {want} or a later {}.x of \"{target}\" in the repository, or require \
                 the version it has, \"{have}\", if that will do",
                want.major
            )
        } else {
            format!(
                "{have} is not compatible with {want} (another major version): require \"{have}\" \
                 once the importing packages work with it, or keep a compatible copy of \"{target}\""
            )
        };
        let d = Diagnostic::error(
            "kumori-module-version",
            format!(
                "module \"{target}\" is required at version {want}, but the one in the repository \
                 (`{}`) is {have}",
                self.modules[found].dir
            ),
        )
        .at(self.map.path(mine), here, format!("requires {want}"))
        .also(self.map.path(theirs), there, format!("version {have}"))
        .help(help);
        if !self.diagnostics.contains(&d) {
            self.error(d);
        }
    }
}
