//! Finding the artifact a binding names in its module: `Name` in any package of the module (the
//! root first) or `folder/Name` in one folder, and the diagnostic when there is none.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, closest, did_you_mean};
use crate::source;

use super::component::Cx;
use super::module::ItemRef;

/// Which artifact of a module a Component binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// `component: NAME`: a component, configured by the binding's `config` and `resource`.
    Component(String),
    /// `deployment: NAME`: a kdsl `deployment` of the module, which carries its own values.
    Deployment(String),
}

/// What an artifact name found: a component implementation or a kdsl deployment.
pub(super) enum Found {
    /// A component implementation.
    Component(ItemRef),
    /// A kdsl `deployment`.
    Deployment(ItemRef),
}

impl Cx<'_> {
    /// The package, short name and item that `artifact` names in `module`, or `None` when the
    /// module has no such artifact (reported `at` the name: file and range).
    pub(super) fn find_artifact(
        &self,
        module: usize,
        artifact: &Artifact,
        at: (&str, Range<usize>),
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(usize, String, Found)> {
        let prog = self.prog;
        match artifact {
            Artifact::Component(name) => {
                let (pkg, short) = self.find_package(module, name);
                let imp = pkg.and_then(|p| {
                    prog.components(p)
                        .1
                        .into_iter()
                        .find(|r| prog.component(*r).name.text == short)
                        .map(|r| (p, r))
                });
                match imp {
                    Some((p, r)) => Some((p, short.to_owned(), Found::Component(r))),
                    None => {
                        self.unknown_artifact(module, at, "component", name, diags);
                        None
                    }
                }
            }
            Artifact::Deployment(name) => {
                let (pkg, short) = self.find_package(module, name);
                let dep = pkg.and_then(|p| {
                    prog.deployments(p)
                        .into_iter()
                        .find(|(n, _)| n == short)
                        .map(|(_, r)| (p, r))
                });
                match dep {
                    Some((p, r)) => Some((p, short.to_owned(), Found::Deployment(r))),
                    None => {
                        self.unknown_artifact(module, at, "deployment", name, diags);
                        None
                    }
                }
            }
        }
    }

    /// The package an artifact name points into: `Name` in any package of the module (the
    /// root first), `folder/Name` in that folder of the module.
    fn find_package<'n>(&self, module: usize, name: &'n str) -> (Option<usize>, &'n str) {
        let dir = &self.prog.modules[module].dir;
        match name.rsplit_once('/') {
            Some((folder, short)) => {
                let want = source::join(dir, folder).ok();
                let pkg = self
                    .prog
                    .packages
                    .iter()
                    .position(|p| p.module == module && Some(&p.dir) == want.as_ref());
                (pkg, short)
            }
            None => {
                let mut candidates: Vec<usize> = (0..self.prog.packages.len())
                    .filter(|&p| self.prog.packages[p].module == module)
                    .collect();
                candidates.sort_by_key(|&p| {
                    (
                        self.prog.packages[p].dir != *dir,
                        self.prog.packages[p].dir.clone(),
                    )
                });
                let pkg = candidates.into_iter().find(|&p| {
                    self.prog
                        .components(p)
                        .1
                        .iter()
                        .any(|r| self.prog.component(*r).name.text == name)
                        || self.prog.deployments(p).iter().any(|(n, _)| n == name)
                });
                (pkg, name)
            }
        }
    }

    fn unknown_artifact(
        &self,
        module: usize,
        (file, span): (&str, Range<usize>),
        kind: &str,
        name: &str,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut names: Vec<String> = Vec::new();
        let mut interface_only = false;
        let mut misnamed = false;
        for p in 0..self.prog.packages.len() {
            if self.prog.packages[p].module != module {
                continue;
            }
            if kind == "component" {
                let (ifaces, imps) = self.prog.components(p);
                names.extend(
                    imps.iter()
                        .map(|r| self.prog.component(*r).name.text.clone()),
                );
                interface_only |= ifaces
                    .iter()
                    .any(|r| self.prog.component(*r).name.text == name);
                misnamed |= self.prog.misnamed(p, name);
            } else {
                names.extend(self.prog.deployments(p).into_iter().map(|(n, _)| n));
            }
        }
        if misnamed {
            // An implementation meant for this interface is named otherwise: its
            // `kumori-missing-interface` names the cause.
            return;
        }
        let mpath = &self.prog.modules[module].path;
        if interface_only {
            diags.push(
                Diagnostic::error(
                    "kumori-unknown-artifact",
                    format!("component `{name}` of module \"{mpath}\" is only an interface"),
                )
                .at(file, span, "interface without an implementation")
                .help(format!(
                    "a component renders from its implementation: add `component {name} {{ ... }}` to a .kumori file next to its .h.kumori"
                )),
            );
            return;
        }
        let short = name.rsplit('/').next().unwrap_or(name);
        let help = did_you_mean(closest(short, names.iter().map(String::as_str)), || {
            if names.is_empty() {
                format!("the module defines no {kind}s")
            } else {
                format!("the module's {kind}s: {}", names.join(", "))
            }
        });
        diags.push(
            Diagnostic::error(
                "kumori-unknown-artifact",
                format!("module \"{mpath}\" has no {kind} `{name}`"),
            )
            .at(file, span, format!("no such {kind}"))
            .help(help),
        );
    }
}
