//! Builders for test objects: `component("d1", "adder", "1.0.0")` and friends, all in namespace
//! `vimana`, with modifiers from [`Build`].

use graph::{DependencyGraph, Live, Plan};
use model::{
    ComponentSpec, DomainSpec, FieldAt, Location, Manifest, Object, ObjectKey, Resource,
    ServerSpec, SourceInfo, VimanaSpec, keys,
};

pub const NS: &str = "vimana";

fn in_ns<S: model::Spec>(name: &str, spec: S) -> Resource<S> {
    let mut r = Resource::new(name, spec);
    r.metadata.namespace = Some(NS.into());
    r.metadata
        .labels
        .insert(keys::MANAGED_BY.into(), keys::MANAGED_BY_VALUE.into());
    r
}

/// A Vimana of that name in the test namespace, with no regions.
pub fn vimana(name: &str) -> Object {
    Object::from(in_ns(name, VimanaSpec::default()))
}

/// A Domain with this id (also its name) under the Vimana `main`.
pub fn domain(id: &str) -> Object {
    Object::from(in_ns(
        id,
        DomainSpec {
            id: id.into(),
            vimana: Some("main".into()),
            ..DomainSpec::default()
        },
    ))
}

/// A Server `<domain>-<id>` with these weights.
pub fn server(domain: &str, id: &str, weights: &[(&str, i32)]) -> Object {
    Object::from(in_ns(
        &format!("{domain}-{id}"),
        ServerSpec {
            id: id.into(),
            domain: domain.into(),
            version_weights: weights.iter().map(|(v, w)| (v.to_string(), *w)).collect(),
            ..ServerSpec::default()
        },
    ))
}

/// A Component `<domain>-<server>-<version with dashes>`.
pub fn component(domain: &str, server: &str, version: &str) -> Object {
    Object::from(in_ns(
        &format!("{domain}-{server}-{}", version.replace('.', "-")),
        ComponentSpec {
            version: version.into(),
            server: server.into(),
            domain: domain.into(),
            image: format!("registry.example.org/{server}:{version}"),
        },
    ))
}

/// Modifiers of built objects.
pub trait Build: Sized {
    /// Another metadata.name.
    fn named(self, name: &str) -> Self;
    /// Another namespace.
    fn in_namespace(self, ns: &str) -> Self;
    /// An extra label.
    fn label(self, key: &str, value: &str) -> Self;
    /// An extra annotation.
    fn annotation(self, key: &str, value: &str) -> Self;
    /// Another image (Components).
    fn image(self, image: &str) -> Self;
    /// Other weights (Servers).
    fn weights(self, weights: &[(&str, i32)]) -> Self;
    /// Another Domain (Servers and Components) .
    fn moved_to(self, domain: &str) -> Self;
    /// Another `spec.vimana` (Domains).
    fn vimana(self, vimana: Option<&str>) -> Self;
    /// Extra services (Servers).
    fn services(self, services: &[&str]) -> Self;
    /// A status as the operator writes it.
    fn with_status(self) -> Self;
}

impl Build for Object {
    fn named(mut self, name: &str) -> Self {
        self.meta_mut().name = name.into();
        self
    }
    fn in_namespace(mut self, ns: &str) -> Self {
        self.meta_mut().namespace = Some(ns.into());
        self
    }
    fn label(mut self, key: &str, value: &str) -> Self {
        self.meta_mut().labels.insert(key.into(), value.into());
        self
    }
    fn annotation(mut self, key: &str, value: &str) -> Self {
        self.meta_mut().annotations.insert(key.into(), value.into());
        self
    }
    fn image(mut self, image: &str) -> Self {
        if let Object::Component(c) = &mut self {
            std::sync::Arc::make_mut(c).spec.image = image.into();
        }
        self
    }
    fn weights(mut self, weights: &[(&str, i32)]) -> Self {
        if let Object::Server(s) = &mut self {
            std::sync::Arc::make_mut(s).spec.version_weights =
                weights.iter().map(|(v, w)| (v.to_string(), *w)).collect();
        }
        self
    }
    fn moved_to(mut self, domain: &str) -> Self {
        match &mut self {
            Object::Server(s) => std::sync::Arc::make_mut(s).spec.domain = domain.into(),
            Object::Component(c) => std::sync::Arc::make_mut(c).spec.domain = domain.into(),
            _ => {}
        }
        self
    }
    fn vimana(mut self, vimana: Option<&str>) -> Self {
        if let Object::Domain(d) = &mut self {
            std::sync::Arc::make_mut(d).spec.vimana = vimana.map(Into::into);
        }
        self
    }
    fn services(mut self, services: &[&str]) -> Self {
        if let Object::Server(s) = &mut self {
            std::sync::Arc::make_mut(s).spec.services =
                services.iter().map(|s| s.to_string()).collect();
        }
        self
    }
    fn with_status(mut self) -> Self {
        let status = Some(model::Status {
            conditions: vec![model::Condition {
                type_: keys::CONDITION_AVAILABLE.into(),
                status: model::ConditionStatus::True,
                observed_generation: Some(1),
                last_transition_time: "2025-01-01T00:00:00Z".into(),
                reason: "Ready".into(),
                message: "ready".into(),
            }],
            observed_generation: Some(1),
        });
        match &mut self {
            Object::Vimana(o) => std::sync::Arc::make_mut(o).status = status,
            Object::Domain(o) => std::sync::Arc::make_mut(o).status = status,
            Object::Server(o) => std::sync::Arc::make_mut(o).status = status,
            Object::Component(o) => std::sync::Arc::make_mut(o).status = status,
        }
        self.meta_mut().uid = Some("uid-1".into());
        self.meta_mut().resource_version = Some("42".into());
        self
    }
}

/// A manifest without a source.
pub fn bare(object: Object) -> Manifest {
    Manifest {
        object,
        source: None,
    }
}

/// A manifest written at `file:line` (column 1), with the fields the render locates on the
/// following lines: `metadata.name` +1, `spec.vimana`/`spec.domain` +3, `spec.server` +4,
/// `spec.version` +5, `spec.versionWeights.<v>` +6 and on.
pub fn at(object: Object, file: &str, line: u32) -> Manifest {
    let loc = |l: u32, column: u32| Location {
        file: file.into(),
        line: l,
        column,
    };
    let field = |path: String, l: u32, column: u32| FieldAt {
        path: path.into(),
        line: l,
        column,
    };
    let mut fields = vec![field("metadata.name".into(), line + 1, 9)];
    match &object {
        Object::Domain(_) => fields.push(field("spec.vimana".into(), line + 3, 11)),
        Object::Server(s) => {
            fields.push(field("spec.domain".into(), line + 3, 11));
            for (i, v) in s.spec.version_weights.keys().enumerate() {
                fields.push(field(
                    format!("spec.versionWeights.{v}"),
                    line + 6 + i as u32,
                    7,
                ));
            }
        }
        Object::Component(_) => {
            fields.push(field("spec.domain".into(), line + 3, 11));
            fields.push(field("spec.server".into(), line + 4, 11));
            fields.push(field("spec.version".into(), line + 5, 12));
        }
        Object::Vimana(_) => {}
    }
    Manifest {
        object,
        source: Some(SourceInfo::new(loc(line, 1), fields)),
    }
}

/// The graph of these objects (without sources); panics with the errors if there are any.
pub fn dag(objects: &[Object]) -> DependencyGraph {
    match DependencyGraph::new(objects.iter().cloned().map(bare).collect()) {
        Ok(g) => g,
        Err(errors) => panic!("{errors:#?}"),
    }
}

/// The errors of building the graph of these manifests.
pub fn errors(manifests: Vec<Manifest>) -> Vec<graph::Error> {
    DependencyGraph::new(manifests).expect_err("the set should have errors")
}

/// The plan from `live` (every live object a prune candidate) to `desired`.
pub fn plan_pruning(desired: &[Object], live: &[Object]) -> Plan {
    let live = Live::new(live.to_vec()).with_prune(live.iter().map(Object::key));
    graph::plan(&dag(desired), &live).unwrap_or_else(|e| panic!("{e:#?}"))
}

/// The key of an object.
pub fn key(object: &Object) -> ObjectKey {
    object.key()
}

/// The steps of a plan as `wave verb node` lines, for whole-plan assertions.
pub fn outline(plan: &Plan) -> Vec<String> {
    plan.waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            w.steps
                .iter()
                .map(move |s| format!("{} {} {}", i + 1, s.action.verb(), s.node))
        })
        .collect()
}

/// A small repository: Vimana `main`, Domain `d1` with Server `adder` (1.0.0 and 1.1.0 at 90/10)
/// and Server `mul` (2.0.0 at 100).
pub fn small_repo() -> Vec<Object> {
    vec![
        vimana("main"),
        domain("d1"),
        server("d1", "adder", &[("1.0.0", 90), ("1.1.0", 10)]),
        component("d1", "adder", "1.0.0"),
        component("d1", "adder", "1.1.0"),
        server("d1", "mul", &[("2.0.0", 100)]),
        component("d1", "mul", "2.0.0"),
    ]
}
