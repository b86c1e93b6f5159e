//! Evaluating a kdsl `deployment`: its own fields checked against `kumori.Deployment`, then the
//! component its `artifact` names, with the deployment's values (a binding's override them).

use crate::diagnostic::Diagnostic;

use super::ast::{ExprKind, Name};
use super::check::Checker;
use super::component::{Cx, Values};
use super::eval::{Evaluator, Given, Mode, V, Value};
use super::module::{ImportTarget, ItemRef};
use super::types::Ty;

impl<'p> Cx<'p> {
    /// Evaluates a kdsl deployment: its own fields, then its artifact with its values (the
    /// binding's values override them).
    pub(super) fn deployment(
        &self,
        r: ItemRef,
        outer: &Values<'p>,
        mode: Mode,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Value, &'p Name)> {
        let prog = self.prog;
        let dep = prog.deployment(r);
        let path = prog.map.path(r.file);
        let mut values = Values {
            // The deployment is what should give every value.
            blame: Some((path.to_owned(), dep.span.range(), "deployment")),
            ..Values::default()
        };
        let mut artifact = None;
        let mut others = Vec::new();
        for f in &dep.body.fields {
            match (f.key.text.as_str(), &f.value.kind) {
                ("artifact", _) => artifact = Some(&f.value),
                ("config" | "resource", ExprKind::Struct(b)) => {
                    let map = if f.key.text == "config" {
                        &mut values.config
                    } else {
                        &mut values.resource
                    };
                    for g in &b.fields {
                        map.insert(g.key.text.clone(), Given::Expr(&g.value));
                        values
                            .keys
                            .insert((f.key.text == "config", g.key.text.clone()), g.key.span);
                    }
                }
                ("config" | "resource", _) => diags.push(
                    Diagnostic::error(
                        "kumori-invalid-section",
                        format!("`{}` of a deployment must be a block of values", f.key.text),
                    )
                    .at(path, f.value.span.range(), "not a block")
                    .help(format!("write `{} {{ NAME value }}`", f.key.text)),
                ),
                _ => others.push(f),
            }
        }
        // The deployment's other fields against `kumori.Deployment`.
        let mut ev = Evaluator::new(prog, self.env, self.known, self.tree, mode);
        let mut own = ev.eval_fields(others.into_iter(), dep.body.span);
        diags.append(&mut ev.diags);
        if let V::Struct(fs) = &mut own.kind {
            fs.push((
                Name {
                    text: "artifact".into(),
                    span: dep.span,
                },
                Value::new(V::Unknown(Ty::Any), dep.span),
            ));
        }
        let dep_ty = self
            .env
            .lookup(None, "Deployment")
            .map(Ty::Decl)
            .unwrap_or(Ty::Any);
        let mut checker = Checker::new(prog, self.env, self.known);
        checker.check(&own, &dep_ty, "the deployment");
        diags.append(&mut checker.diags);
        let Some(artifact) = artifact else {
            diags.push(
                Diagnostic::error("kumori-deployment-artifact", "the deployment names no `artifact`")
                    .at(path, dep.span.range(), "deployment")
                    .help("add `artifact NAME` (a component of this package) or `artifact pkg.NAME` (of an imported package)"),
            );
            return None;
        };
        let target = match artifact.path() {
            Some([name]) => Some((prog.file(r.file).package?, name)),
            Some([head, name]) => match prog.file(r.file).imports.get(&head.text) {
                Some(ImportTarget::Package(p)) => Some((*p, name)),
                _ => None,
            },
            _ => None,
        };
        let found = target.and_then(|(p, name)| {
            prog.components(p)
                .1
                .into_iter()
                .find(|c| prog.component(*c).name.text == name.text)
                .map(|c| (p, c))
        });
        let Some((pkg, imp)) = found else {
            if let Some((p, name)) = target {
                let only_interface = prog
                    .components(p)
                    .0
                    .iter()
                    .any(|c| prog.component(*c).name.text == name.text);
                let same_module = prog.file(r.file).package.map(|d| prog.packages[d].module)
                    == Some(prog.packages[p].module);
                if same_module && prog.misnamed(p, &name.text) {
                    // The implementation meant for it is named otherwise: its
                    // `kumori-missing-interface` is the one error.
                    return None;
                }
                if only_interface {
                    diags.push(
                        Diagnostic::error(
                            "kumori-deployment-artifact",
                            format!("the deployment's artifact `{}` is only an interface", name.text),
                        )
                        .at(path, artifact.span.range(), "interface without an implementation")
                        .help(format!(
                            "a component renders from its implementation: add `component {} {{ ... }}` to a .kumori file next to its .h.kumori",
                            name.text
                        )),
                    );
                    return None;
                }
            }
            diags.push(
                Diagnostic::error("kumori-deployment-artifact", "the deployment's `artifact` is not a component implementation")
                    .at(path, artifact.span.range(), "no such component")
                    .help("name a component of this package (`artifact Name`) or of an imported package (`artifact pkg.Name`)"),
            );
            return None;
        };
        for (k, v) in &outer.config {
            values.config.insert(k.clone(), v.clone());
        }
        for (k, v) in &outer.resource {
            values.resource.insert(k.clone(), v.clone());
        }
        values
            .keys
            .extend(outer.keys.iter().map(|(k, v)| (k.clone(), *v)));
        self.component(pkg, imp, &values, mode, diags)
    }
}
