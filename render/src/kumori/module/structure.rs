//! The structural rules of loaded files and packages: a file holds artifacts or one library,
//! interfaces and implementations pair by name within a package; and the lookups of
//! components and deployments that the rules and the renderer share.

use super::*;
use crate::diagnostic::closest;

impl Program {
    /// The structural rules of files and packages.
    pub fn check_structure(&mut self) {
        let mut out = Vec::new();
        for pkg in &self.packages {
            let mut package_name: Option<(String, Span)> = None;
            for &id in &pkg.files {
                let info = self.file(id);
                let path = self.map.path(id);
                let f = &info.ast;
                if let Some(name) = &f.package {
                    match &package_name {
                        Some((first, first_span)) if *first != name.text => out.push(
                            Diagnostic::error(
                                "kumori-package-mismatch",
                                format!(
                                    "files of one folder are one package: `{}` here, `{first}` elsewhere",
                                    name.text
                                ),
                            )
                            .at(path, name.span.range(), "this package name")
                            .also(self.map.path(first_span.file), first_span.range(), "first named here")
                            .help("use the same `package` line in every file of the folder"),
                        ),
                        Some(_) => {}
                        None => package_name = Some((name.text.clone(), name.span)),
                    }
                }
                let mut unscoped = 0;
                for item in &f.items {
                    match item {
                        Item::TypeDecl(d) if f.library.is_none() => out.push(
                            Diagnostic::error(
                                "kumori-declaration-outside-library",
                                format!("type `{}` is declared outside a library", d.name.text),
                            )
                            .at(path, d.span.range(), "type declaration")
                            .help("put type declarations in a file that starts with `library`; artifacts go in other files"),
                        ),
                        Item::Component(c) if f.library.is_some() => out.push(
                            Diagnostic::error(
                                "kumori-artifact-in-library",
                                format!("component `{}` in a library file", c.name.text),
                            )
                            .at(path, c.span.range(), "artifact")
                            .help("a file holds either artifacts or one library: move it to its own file"),
                        ),
                        Item::Deployment(d) if f.library.is_some() => out.push(
                            Diagnostic::error("kumori-artifact-in-library", "deployment in a library file")
                                .at(path, d.span.range(), "artifact")
                                .help("a file holds either artifacts or one library: move it to its own file"),
                        ),
                        Item::Component(c) => {
                            if !c.scoped {
                                unscoped += 1;
                            }
                            if c.scoped && unscoped > 0 || unscoped > 1 {
                                out.push(
                                    Diagnostic::error(
                                        "kumori-unscoped-component",
                                        format!("component `{}` follows an unscoped component", c.name.text),
                                    )
                                    .at(path, c.span.range(), "another component")
                                    .help("a file with an unscoped component (`component X` without braces) holds only that component; use `component X { ... }` for several"),
                                );
                            }
                        }
                        Item::Deployment(d) if info.interface => out.push(
                            Diagnostic::error("kumori-deployment-in-interface", "deployment in an interface file")
                                .at(path, d.span.range(), "deployment")
                                .help("interface files (*.h.kumori) hold component interfaces; put deployments in a .kumori file"),
                        ),
                        Item::Service(s) => out.push(
                            Diagnostic::error(
                                "kumori-service-unsupported",
                                "Kumori services are not supported for Vimana",
                            )
                            .at(path, s.span.range(), "service")
                            .help("a Vimana Component runs one component; bind a component or a deployment of one instead"),
                        ),
                        _ => {}
                    }
                }
            }
        }
        self.diagnostics.extend(out);
    }

    /// Every component of a package, interfaces and implementations apart.
    pub fn components(&self, pkg: usize) -> (Vec<ItemRef>, Vec<ItemRef>) {
        let mut interfaces = Vec::new();
        let mut implementations = Vec::new();
        for &id in &self.packages[pkg].files {
            let info = self.file(id);
            if info.ast.library.is_some() {
                continue;
            }
            for (i, item) in info.ast.items.iter().enumerate() {
                if let Item::Component(_) = item {
                    let r = ItemRef { file: id, item: i };
                    if info.interface {
                        interfaces.push(r);
                    } else {
                        implementations.push(r);
                    }
                }
            }
        }
        (interfaces, implementations)
    }

    /// The component at `r`.
    pub fn component(&self, r: ItemRef) -> &ast::Component {
        match &self.file(r.file).ast.items[r.item] {
            Item::Component(c) => c,
            _ => unreachable!("ItemRef points at a component"),
        }
    }

    /// The deployment at `r`.
    pub fn deployment(&self, r: ItemRef) -> &ast::Deployment {
        match &self.file(r.file).ast.items[r.item] {
            Item::Deployment(d) => d,
            _ => unreachable!("ItemRef points at a deployment"),
        }
    }

    /// Deployments of a package with the name each is known by (`deployment NAME` or its
    /// `name` field).
    pub fn deployments(&self, pkg: usize) -> Vec<(String, ItemRef)> {
        let mut out = Vec::new();
        for &id in &self.packages[pkg].files {
            for (i, item) in self.file(id).ast.items.iter().enumerate() {
                if let Item::Deployment(d) = item {
                    let name = d.name.as_ref().map(|n| n.text.clone()).or_else(|| {
                        d.body.field("name").and_then(|f| match &f.value.kind {
                            ast::ExprKind::Str(s) => Some(s.clone()),
                            _ => None,
                        })
                    });
                    if let Some(name) = name {
                        out.push((name, ItemRef { file: id, item: i }));
                    }
                }
            }
        }
        out
    }

    /// Pairs interfaces with implementations in every package of the module: reports
    /// implementations without an interface, and duplicates.
    pub fn check_pairing(&mut self, module: usize) {
        let mut out = Vec::new();
        for pkg in 0..self.packages.len() {
            if self.packages[pkg].module != module {
                continue;
            }
            let (interfaces, implementations) = self.components(pkg);
            for list in [&interfaces, &implementations] {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for r in list {
                    let c = self.component(*r);
                    if let Some(first) = seen.get(c.name.text.as_str()) {
                        out.push(
                            Diagnostic::duplicate(
                                "kumori-duplicate-component",
                                format!(
                                    "component `{}` is defined twice in this package",
                                    c.name.text
                                ),
                                "defined",
                                (self.map.path(c.name.span.file), c.name.span.range()),
                                (self.map.path(first.file), first.range()),
                            )
                            .help("rename one of them"),
                        );
                    } else {
                        seen.insert(&c.name.text, c.name.span);
                    }
                }
            }
            for r in &implementations {
                if !self.has_interface(pkg, *r) {
                    out.push(self.missing_interface(pkg, *r));
                }
            }
        }
        self.diagnostics.extend(out);
    }

    /// Whether the implementation `imp` of package `pkg` has an interface of its name.
    pub fn has_interface(&self, pkg: usize, imp: ItemRef) -> bool {
        let name = &self.component(imp).name.text;
        self.components(pkg)
            .0
            .iter()
            .any(|i| self.component(*i).name.text == *name)
    }

    /// The error for the implementation `imp` of package `pkg`, which has no interface: with
    /// the name of the interface it was most likely meant to implement, if there is one.
    pub fn missing_interface(&self, pkg: usize, imp: ItemRef) -> Diagnostic {
        let c = self.component(imp);
        let dir = &self.packages[pkg].dir;
        let help = match self.meant_interface(pkg, imp) {
            Some(meant) => format!(
                "did you mean `{meant}`? The interface `{meant}` of this package has no \
                 implementation: name both the same"
            ),
            None => format!(
                "declare its interface, even an empty one, in a .h.kumori file of the same folder (`{}`): `component {} {{}}`",
                if dir.is_empty() { "." } else { dir },
                c.name.text
            ),
        };
        Diagnostic::error(
            "kumori-missing-interface",
            format!("component `{}` has no interface", c.name.text),
        )
        .at(
            self.map.path(c.name.span.file),
            c.name.span.range(),
            "implementation without an interface",
        )
        .help(help)
    }

    /// The interface of package `pkg` that the implementation `imp` (which has none of its
    /// name) was most likely meant to implement: among the interfaces without an
    /// implementation, the one of the closest name, or the only one when `imp` is the only
    /// implementation without an interface.
    pub fn meant_interface(&self, pkg: usize, imp: ItemRef) -> Option<String> {
        let (interfaces, implementations) = self.components(pkg);
        let named = |r: &ItemRef| self.component(*r).name.text.clone();
        let imps: Vec<String> = implementations.iter().map(named).collect();
        let lone: Vec<String> = interfaces
            .iter()
            .map(named)
            .filter(|n| !imps.contains(n))
            .collect();
        let orphans = implementations
            .iter()
            .filter(|r| !self.has_interface(pkg, **r))
            .count();
        let name = &self.component(imp).name.text;
        closest(name, lone.iter().map(String::as_str))
            .map(str::to_owned)
            .or_else(|| (lone.len() == 1 && orphans == 1).then(|| lone[0].clone()))
    }

    /// Whether `name` is an interface of package `pkg` without an implementation because an
    /// implementation was named otherwise ([`Self::meant_interface`]): then that
    /// implementation's missing interface is the one error to report.
    pub fn misnamed(&self, pkg: usize, name: &str) -> bool {
        self.components(pkg).1.into_iter().any(|r| {
            !self.has_interface(pkg, r) && self.meant_interface(pkg, r).as_deref() == Some(name)
        })
    }
}
