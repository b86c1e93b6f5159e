//! Building the graph of, and planning, a 40,101-object repository: 1 Vimana, 100 Domains, 20
//! Servers per Domain and 19 Components per Server, against three live states: an empty
//! cluster, a cluster equal to the repository (the daemon's usual pass), and a cluster in the
//! middle of a release (every Server's weights move, one Component in ten is pruned).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_main};
use graph::{DependencyGraph, Live, plan};
use model::{
    Component, ComponentSpec, Domain, DomainSpec, Manifest, Object, Resource, Server, ServerSpec,
    Vimana, VimanaSpec, keys,
};

const DOMAINS: usize = 100;
const SERVERS: usize = 20;
const VERSIONS: usize = 19;

fn named<S: model::Spec>(name: String, spec: S) -> Resource<S> {
    let mut r = Resource::new(name, spec);
    r.metadata.namespace = Some("vimana".into());
    r.metadata
        .labels
        .insert(keys::MANAGED_BY.into(), keys::MANAGED_BY_VALUE.into());
    r.metadata
        .labels
        .insert(keys::INSTANCE.into(), "default".into());
    r
}

/// The repository; `release` moves every Server's traffic one version up.
fn repository(release: bool) -> Vec<Object> {
    let mut out = Vec::new();
    let vimana: Vimana = named("main".into(), VimanaSpec::default());
    out.push(Object::from(vimana));
    for d in 0..DOMAINS {
        let id = format!("{d:032x}");
        let domain: Domain = named(
            format!("domain-{d}"),
            DomainSpec {
                id: id.clone(),
                vimana: Some("main".into()),
                ..DomainSpec::default()
            },
        );
        out.push(Object::from(domain));
        for s in 0..SERVERS {
            let server_id = format!("server-{s}");
            let current = if release { VERSIONS - 1 } else { VERSIONS - 2 };
            let weights: BTreeMap<String, i32> = [(format!("1.{current}.0"), 100)].into();
            let server: Server = named(
                format!("d{d}-{server_id}"),
                ServerSpec {
                    id: server_id.clone(),
                    domain: id.clone(),
                    services: vec![format!("bench.v1.S{s}")],
                    version_weights: weights,
                    ..ServerSpec::default()
                },
            );
            out.push(Object::from(server));
            for v in 0..VERSIONS {
                let version = format!("1.{v}.0");
                let component: Component = named(
                    format!("d{d}-{server_id}-1-{v}-0"),
                    ComponentSpec {
                        image: format!("registry.example.org/d{d}/{server_id}:{version}"),
                        version,
                        server: server_id.clone(),
                        domain: id.clone(),
                    },
                );
                out.push(Object::from(component));
            }
        }
    }
    out
}

fn manifests(objects: &[Object]) -> Vec<Manifest> {
    objects
        .iter()
        .map(|o| Manifest {
            object: o.clone(),
            source: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let before = repository(false);
    let after = manifests(&repository(true));
    assert_eq!(after.len(), 40_101);

    let empty = Live::default();
    let steady = Live::new(repository(true));
    // Mid-release: the cluster runs the previous release; one Component in ten (the oldest
    // versions) is no longer in the repository and may be pruned.
    let mut releasing_objects = before.clone();
    let mut pruned = Vec::new();
    for (i, o) in before.iter().enumerate() {
        if let Object::Component(comp) = o
            && (comp.spec.version == "1.0.0" || comp.spec.version == "1.1.0")
        {
            let mut extra = (**comp).clone();
            extra.metadata.name = format!("{}-old", extra.metadata.name);
            extra.spec.version = format!("0.{i}.0");
            pruned.push(extra.metadata.name.clone());
            releasing_objects.push(Object::from(extra));
        }
    }
    let prune_keys: Vec<model::ObjectKey> = releasing_objects
        .iter()
        .filter(|o| pruned.contains(&o.meta().name))
        .map(Object::key)
        .collect();
    let releasing = Live::new(releasing_objects).with_prune(prune_keys);

    let mut group = c.benchmark_group("40k objects");
    group.sample_size(10);
    // The render hands its manifests over; cloning them is the benchmark's cost, not the graph's.
    group.bench_function("build graph", |b| {
        b.iter_batched(
            || after.clone(),
            |m| DependencyGraph::new(black_box(m)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let dag = DependencyGraph::new(after.clone()).unwrap();
    for (name, live) in [
        ("plan against an empty cluster", &empty),
        ("plan against an equal cluster", &steady),
        ("plan against a cluster mid-release", &releasing),
    ] {
        group.bench_function(name, |b| b.iter(|| plan(&dag, black_box(live)).unwrap()));
    }
    group.bench_function("build graph and plan mid-release", |b| {
        b.iter_batched(
            || after.clone(),
            |m| {
                let dag = DependencyGraph::new(black_box(m)).unwrap();
                plan(&dag, &releasing).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

// The macro defines a public function that cannot carry a doc comment.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
