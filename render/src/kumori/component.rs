//! Evaluating a component: the sections its interface and implementation declare (`config`,
//! `resource`, `srv`, `var`), the values given for them, the evaluation of its body, and the
//! checks against `kumori.component` and the rules of the component model.

use foldhash::{HashMap, HashMapExt};
use std::ops::Range;

use crate::diagnostic::{Diagnostic, closest, did_you_mean};
use crate::source::SourceTree;

use super::ast::{self, Block, ExprKind, Item, Name, Span, VarBinding};
use super::check::{Checker, Rules};
use super::eval::{self, Declared, Evaluator, Given, Mode, V, Value};
use super::module::{ItemRef, Program};
use super::types::{Known, Ty, TypeEnv};

/// Values given to a component by a binding or a deployment.
#[derive(Default)]
pub(super) struct Values<'a> {
    /// Config values by name.
    pub config: HashMap<String, Given<'a>>,
    /// Resource values by name.
    pub resource: HashMap<String, Given<'a>>,
    /// Where each given value's key is written, by section (`true`: config) and name.
    pub keys: HashMap<(bool, String), Span>,
    /// Where missing values are reported (the binding or the deployment): file, range, and
    /// what it is.
    pub blame: Option<(String, Range<usize>, &'static str)>,
}

/// A loaded module ready to evaluate: the program, its types, and the tree `io.Open` reads.
pub(super) struct Cx<'p> {
    /// The program holding the module.
    pub prog: &'p Program,
    /// The types of the program's packages and of the built-in library.
    pub env: &'p TypeEnv,
    /// The built-in types evaluation treats specially.
    pub known: &'p Known,
    /// The repository, for `io.Open`.
    pub tree: &'p dyn SourceTree,
}

/// The fields of a struct value, in order.
type StructFields = Vec<(Name, Value)>;

/// What the interface and the implementation of a component declare, merged.
struct Sections<'p> {
    config: Vec<Declared<'p>>,
    resource: Vec<Declared<'p>>,
    /// Names declared optional (`name?: Type`).
    optional: Vec<String>,
    /// The `srv` fields, the interface's first.
    srv: Vec<&'p ast::Field>,
    /// `var` bindings of the bodies, then of the files; the first binding of a name wins.
    vars: HashMap<String, &'p VarBinding>,
}

impl<'p> Cx<'p> {
    /// Evaluates every component and deployment of the packages of `module` without values
    /// (check mode).
    pub(super) fn check_all(&self, module: usize, diags: &mut Vec<Diagnostic>) {
        let prog = self.prog;
        for pkg in 0..prog.packages.len() {
            if prog.packages[pkg].module != module {
                continue;
            }
            let (_, implementations) = prog.components(pkg);
            for imp in implementations {
                let values = Values::default();
                self.component(pkg, imp, &values, Mode::Check, diags);
            }
            for (_, d) in prog.deployments(pkg) {
                self.deployment(d, &Values::default(), Mode::Check, diags);
            }
        }
    }

    /// Evaluates and checks the implementation `imp` of package `pkg` with `values`. Returns the
    /// evaluated component and its name.
    pub(super) fn component(
        &self,
        pkg: usize,
        imp_ref: ItemRef,
        values: &Values<'p>,
        mode: Mode,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Value, &'p Name)> {
        let prog = self.prog;
        let imp = prog.component(imp_ref);
        if !prog.has_interface(pkg, imp_ref) {
            // Its config and resources would be declared there: evaluating it would only
            // report what the missing interface causes. The one error is that one.
            let d = prog.missing_interface(pkg, imp_ref);
            if !prog.diagnostics.contains(&d) && !diags.contains(&d) {
                diags.push(d);
            }
            return None;
        }
        let sections = self.sections(pkg, imp_ref, diags);
        self.undeclared_values(&imp.name, values, &sections, diags);
        let Sections {
            config,
            resource,
            optional,
            srv,
            vars,
        } = sections;
        let mut ev = Evaluator::new(prog, self.env, self.known, self.tree, mode);
        ev.scope = eval::Scope {
            body: Some(&imp.body),
            srv: srv.clone(),
            config,
            resource,
            given_config: values.config.clone(),
            given_resource: values.resource.clone(),
            vars,
        };
        // Evaluate the implementation's own fields (declaration sections aside).
        let mut fields: Vec<(Name, Value)> = Vec::new();
        let body_value = ev.eval_fields(
            imp.body
                .fields
                .iter()
                .filter(|f| !matches!(f.key.text.as_str(), "config" | "resource" | "srv")),
            imp.body.span,
        );
        if let Some(first) = srv.first() {
            let v = ev.srv_value(first.value.span);
            fields.push((first.key.clone(), v));
        }
        let (config_values, resource_values) =
            self.declared_values(&mut ev, &imp.name, values, &optional, diags);
        let resources: Vec<(String, Ty, Span)> = ev
            .scope
            .resource
            .iter()
            .map(|d| (d.name.text.clone(), d.ty.clone(), d.name.span))
            .collect();
        diags.append(&mut ev.diags);
        if let V::Struct(own) = body_value.kind {
            fields.extend(own);
        }
        let span = imp.body.span;
        self.check_component(
            Value::new(V::Struct(fields.clone()), span),
            resources,
            diags,
        );
        for (text, section) in [("config", config_values), ("resource", resource_values)] {
            let name = Name {
                text: text.into(),
                span,
            };
            fields.push((name, Value::new(V::Struct(section), span)));
        }
        Some((Value::new(V::Struct(fields), span), &imp.name))
    }

    /// The sections of the implementation `imp_ref` of package `pkg` and of its interface, if
    /// it has one. Fields an interface may not have are reported.
    fn sections(&self, pkg: usize, imp_ref: ItemRef, diags: &mut Vec<Diagnostic>) -> Sections<'p> {
        let prog = self.prog;
        let imp = prog.component(imp_ref);
        let (ifaces, _) = prog.components(pkg);
        let iface_ref = ifaces
            .into_iter()
            .find(|r| prog.component(*r).name.text == imp.name.text);
        let mut sections = Sections {
            config: Vec::new(),
            resource: Vec::new(),
            optional: Vec::new(),
            srv: Vec::new(),
            vars: HashMap::new(),
        };
        let mut files = vec![imp_ref.file];
        let mut bodies: Vec<&'p Block> = Vec::new();
        if let Some(r) = iface_ref {
            let iface = prog.component(r);
            files.push(r.file);
            bodies.push(&iface.body);
            self.interface_fields(&iface.body, diags);
        }
        bodies.push(&imp.body);
        for body in &bodies {
            for f in &body.fields {
                match (f.key.text.as_str(), &f.value.kind) {
                    ("config", ExprKind::Struct(b)) => self.declarations(
                        b,
                        false,
                        &mut sections.config,
                        &mut sections.optional,
                        diags,
                    ),
                    ("resource", ExprKind::Struct(b)) => self.declarations(
                        b,
                        true,
                        &mut sections.resource,
                        &mut sections.optional,
                        diags,
                    ),
                    ("srv", _) => sections.srv.push(f),
                    ("config" | "resource", _) => diags.push(
                        Diagnostic::error(
                            "kumori-invalid-section",
                            format!("`{}` must be a block of declarations", f.key.text),
                        )
                        .at(
                            prog.map.path(f.value.span.file),
                            f.value.span.range(),
                            "not a block",
                        )
                        .help(format!("write `{} {{ name: Type }}`", f.key.text)),
                    ),
                    _ => {}
                }
            }
            for v in &body.vars {
                sections.vars.entry(v.name.text.clone()).or_insert(v);
            }
        }
        for file in &files {
            for item in &prog.file(*file).ast.items {
                if let Item::Vars(vs) = item {
                    for v in vs {
                        sections.vars.entry(v.name.text.clone()).or_insert(v);
                    }
                }
            }
        }
        sections
    }

    /// Reports the fields of an interface other than `srv`, `config` and `resource`.
    fn interface_fields(&self, body: &Block, diags: &mut Vec<Diagnostic>) {
        for f in &body.fields {
            if !matches!(f.key.text.as_str(), "srv" | "config" | "resource") {
                diags.push(
                    Diagnostic::error(
                        "kumori-interface-field",
                        format!(
                            "an interface declares `srv`, `config` and `resource`, not `{}`",
                            f.key.text
                        ),
                    )
                    .at(
                        self.prog.map.path(f.key.span.file),
                        f.key.span.range(),
                        "not part of an interface",
                    )
                    .help("move it to the implementation (the .kumori file)"),
                );
            }
        }
    }

    /// Declarations of a `config` or `resource` section.
    fn declarations(
        &self,
        block: &'p Block,
        resource: bool,
        out: &mut Vec<Declared<'p>>,
        optional: &mut Vec<String>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for f in &block.fields {
            if let Some(first) = out.iter().find(|d| d.name.text == f.key.text) {
                diags.push(
                    Diagnostic::duplicate(
                        "kumori-duplicate-declaration",
                        format!(
                            "{} `{}` is declared twice",
                            if resource { "resource" } else { "config" },
                            f.key.text
                        ),
                        "declared",
                        (self.prog.map.path(f.key.span.file), f.key.span.range()),
                        (
                            self.prog.map.path(first.name.span.file),
                            first.name.span.range(),
                        ),
                    )
                    .help("interface and implementation sections merge; declare each name once"),
                );
                continue;
            }
            let declared = f.colon.is_some() || f.optional.is_some() || f.default.is_some();
            let nested = if resource {
                None
            } else {
                eval::nested_declarations(f)
            };
            let (ty, default) = if let Some(b) = nested {
                (eval::nested_type(self.env, self.prog, b, diags), None)
            } else if declared {
                (
                    self.env.lower(self.prog, &f.value, diags),
                    f.default.as_ref(),
                )
            } else if resource {
                (Ty::Decl(self.known.resource), Some(&f.value))
            } else {
                // `name value` declares a config whose default is the value.
                (Ty::Any, Some(&f.value))
            };
            if resource && !matches!(ty, Ty::Error) {
                let all = [
                    self.known.secret,
                    self.known.port,
                    self.known.domain,
                    self.known.certificate,
                    self.known.ca,
                    self.known.registered,
                    self.known.non_replicated,
                    self.known.persisted,
                    self.known.volatile,
                ];
                if !self.env.only_named(&ty, &all) {
                    diags.push(
                        Diagnostic::error(
                            "kumori-not-a-resource",
                            format!("resource `{}` is declared as {}, which is not a resource type", f.key.text, self.env.describe(&ty)),
                        )
                        .at(self.prog.map.path(f.value.span.file), f.value.span.range(), "not a resource type")
                        .help("resources are kumori.Volume, kumori.CA, kumori.Certificate, kumori.Secret, kumori.Domain or kumori.Port (or kumori.Resource)"),
                    );
                }
            }
            if f.optional.is_some() {
                optional.push(f.key.text.clone());
            }
            out.push(Declared {
                name: &f.key,
                ty,
                default,
                nested,
            });
        }
    }

    /// Reports the values given for names that the component does not declare.
    fn undeclared_values(
        &self,
        component: &Name,
        values: &Values<'p>,
        sections: &Sections<'p>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for (section, given, decls) in [
            ("config", &values.config, &sections.config),
            ("resource", &values.resource, &sections.resource),
        ] {
            let mut keys: Vec<&String> = given.keys().collect();
            keys.sort();
            for k in keys {
                if decls.iter().any(|d| d.name.text == *k) {
                    continue;
                }
                let span = values.keys[&(section == "config", k.clone())];
                let names: Vec<&str> = decls.iter().map(|d| d.name.text.as_str()).collect();
                let help = did_you_mean(closest(k, names.iter().copied()), || {
                    if names.is_empty() {
                        format!(
                            "the interface of `{}` declares no {section}",
                            component.text
                        )
                    } else {
                        format!(
                            "the interface of `{}` declares: {}",
                            component.text,
                            names.join(", ")
                        )
                    }
                });
                diags.push(
                    Diagnostic::error(
                        "kumori-unknown-value",
                        format!("`{}` has no {section} `{k}`", component.text),
                    )
                    .at(
                        self.prog.map.path(span.file),
                        span.range(),
                        format!("not a declared {section}"),
                    )
                    .help(help),
                );
            }
        }
    }

    /// The values of the declared config and resources (given, default, or unknown), each
    /// section in declaration order. In render mode, a value that is neither given nor
    /// defaulted is reported unless it is optional, and an absent optional one is left out.
    fn declared_values(
        &self,
        ev: &mut Evaluator<'p>,
        component: &Name,
        values: &Values<'p>,
        optional: &[String],
        diags: &mut Vec<Diagnostic>,
    ) -> (StructFields, StructFields) {
        let decl_names: Vec<(&'p Name, bool)> = ev
            .scope
            .config
            .iter()
            .map(|d| (d.name, true))
            .chain(ev.scope.resource.iter().map(|d| (d.name, false)))
            .collect();
        let mut config_values = Vec::new();
        let mut resource_values = Vec::new();
        for (n, is_config) in decl_names {
            let v = if is_config {
                ev.config_value(n, n.span)
            } else {
                ev.resource_value(n, n.span)
            };
            let absent = matches!(v.kind, V::Unknown(_)) && ev.mode == Mode::Render;
            if absent && !optional.contains(&n.text) {
                diags.push(self.missing_value(component, n, is_config, values));
                continue;
            }
            if absent {
                continue;
            }
            // A field of a nested config without a value or default.
            if let (Some((path, span)), Mode::Render) = (eval::first_unknown(&v), ev.mode) {
                let field = Name {
                    text: format!("{}.{path}", n.text),
                    span,
                };
                diags.push(self.missing_value(component, &field, is_config, values));
                continue;
            }
            if is_config {
                config_values.push((n.clone(), v));
            } else {
                resource_values.push((n.clone(), v));
            }
        }
        (config_values, resource_values)
    }

    /// The error for the declaration `name` of `component`, which has no value and no default.
    fn missing_value(
        &self,
        component: &Name,
        name: &Name,
        is_config: bool,
        values: &Values<'p>,
    ) -> Diagnostic {
        let (section, code) = if is_config {
            ("config", "kumori-missing-config")
        } else {
            ("resource", "kumori-missing-resource")
        };
        let mut d = Diagnostic::error(
            code,
            format!(
                "no value for {section} `{}` of `{}`",
                name.text, component.text
            ),
        );
        if let Some((file, span, what)) = &values.blame {
            d = d.at(
                file.clone(),
                span.clone(),
                format!("this {what} gives no `{}`", name.text),
            );
        }
        let via_deployment = values.blame.as_ref().is_some_and(|b| b.2 == "deployment");
        // A field of a nested config (`Greeting.Text`) is given inside its struct.
        let parts: Vec<&str> = name.text.split('.').collect();
        let close = "} ".repeat(parts.len() - 1);
        let help = if via_deployment {
            format!(
                "give it in the deployment's `{section} {{ {} ... {close}}}`, or a default in the interface",
                parts.join(" { ")
            )
        } else {
            format!(
                "give it in `{section}: {{ {}: ... {close}}}` of the binding, or a default in the interface",
                parts.join(": { ")
            )
        };
        d.also(
            self.prog.map.path(name.span.file),
            name.span.range(),
            "declared here without a default",
        )
        .help(help)
    }

    /// Checks an evaluated implementation against `kumori.component` and the rules of the
    /// component model (config and resources were checked against their declarations when
    /// evaluated).
    fn check_component(
        &self,
        component: Value,
        resources: Vec<(String, Ty, Span)>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut checker = Checker::new(self.prog, self.env, self.known);
        checker.check_component(&component);
        let mut rules = Rules { checker, resources };
        rules.run(&component);
        diags.append(&mut rules.checker.diags);
    }
}
