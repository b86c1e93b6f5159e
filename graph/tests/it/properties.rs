//! Properties of plans over random small repositories and live states (proptest, from a fixed
//! seed, so a failure reproduces and shrinks to a small case): every edge respected, deletions
//! in reverse order, the weight-safety rule at every step of an execution, and convergence
//! (after running a plan, the next plan is empty).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};

use graph::{Action, DependencyGraph, Live, Node, Phase, Plan, StepId};
use model::{Object, ObjectKey};
use proptest::array::{uniform3, uniform4};
use proptest::bool::weighted;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::{Strategy, any};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::fixtures::*;

const DOMAINS: usize = 3;
const SERVERS: usize = 3;
const VERSIONS: usize = 4;
/// The most objects a draw has: a Vimana, and each Domain with its Servers and Components.
const MAX_OBJECTS: usize = 1 + DOMAINS * (1 + SERVERS * (1 + VERSIONS));

/// One version of a Server: whether its Component is there, whether the Server weights it,
/// whether a live Server weights it even when it is not there, and the weight.
#[derive(Clone, Debug)]
struct VersionDraw {
    present: bool,
    weighted: bool,
    stray: bool,
    weight: i32,
}

/// One Server: its versions, whether it lists a service, and (in a live draw with moves) the
/// Domain, counted from its own, that it and its Components were moved to.
#[derive(Clone, Debug)]
struct ServerDraw {
    versions: [VersionDraw; VERSIONS],
    services: bool,
    moved: Option<usize>,
}

/// One Domain: whether it names no Vimana, whether it carries a label, and its Servers.
#[derive(Clone, Debug)]
struct DomainDraw {
    no_vimana: bool,
    label: bool,
    servers: [Option<ServerDraw>; SERVERS],
}

/// A repository drawn from a small universe, so that two draws overlap.
#[derive(Clone, Debug)]
struct RepoDraw {
    /// Whether a live draw has the Vimana (a desired one always has).
    vimana: bool,
    domains: [Option<DomainDraw>; DOMAINS],
}

fn version_draw() -> impl Strategy<Value = VersionDraw> {
    (weighted(0.6), weighted(0.7), weighted(0.1), 0..4i32).prop_map(
        |(present, weighted, stray, weight)| VersionDraw {
            present,
            weighted,
            stray,
            weight,
        },
    )
}

fn server_draw() -> impl Strategy<Value = ServerDraw> {
    (
        uniform4(version_draw()),
        weighted(0.1),
        option::weighted(0.2, 1..DOMAINS),
    )
        .prop_map(|(versions, services, moved)| ServerDraw {
            versions,
            services,
            moved,
        })
}

fn domain_draw() -> impl Strategy<Value = DomainDraw> {
    (
        weighted(0.1),
        weighted(0.15),
        uniform3(option::weighted(0.75, server_draw())),
    )
        .prop_map(|(no_vimana, label, servers)| DomainDraw {
            no_vimana,
            label,
            servers,
        })
}

fn repo_draw() -> impl Strategy<Value = RepoDraw> {
    (
        weighted(0.9),
        uniform3(option::weighted(0.8, domain_draw())),
    )
        .prop_map(|(vimana, domains)| RepoDraw { vimana, domains })
}

/// The objects of a draw. A live draw may be inconsistent (weights naming absent versions,
/// Servers and Components moved to another Domain under the same name) as a cluster can be.
fn draw(repo: &RepoDraw, live: bool, moves: bool) -> Vec<Object> {
    let mut out = Vec::new();
    if !live || repo.vimana {
        out.push(vimana("main"));
    }
    for (d, dom_draw) in repo.domains.iter().enumerate() {
        let Some(dom_draw) = dom_draw else {
            continue;
        };
        let id = format!("d{d}");
        let mut dom = domain(&id);
        if dom_draw.no_vimana {
            dom = dom.vimana(None);
        }
        if dom_draw.label {
            dom = dom.label(if live { "team" } else { "tier" }, "x");
        }
        out.push(dom);
        for (s, server_draw) in dom_draw.servers.iter().enumerate() {
            let Some(server_draw) = server_draw else {
                continue;
            };
            let sid = format!("s{s}");
            let mut weights = Vec::new();
            let mut components = Vec::new();
            for (v, version_draw) in server_draw.versions.iter().enumerate() {
                let version = format!("1.{v}.0");
                if version_draw.present {
                    components.push(component(&id, &sid, &version));
                }
                if (version_draw.present && version_draw.weighted) || (live && version_draw.stray) {
                    weights.push((version, version_draw.weight));
                }
            }
            let weights: Vec<(&str, i32)> = weights.iter().map(|(v, w)| (v.as_str(), *w)).collect();
            let mut objects = vec![server(&id, &sid, &weights)];
            objects.extend(components);
            if server_draw.services {
                objects[0] = objects[0].clone().services(&["x.v1.S"]);
            }
            if let (true, true, Some(offset)) = (live, moves, server_draw.moved) {
                let other = format!("d{}", (d + offset) % DOMAINS);
                objects = objects.into_iter().map(|o| o.moved_to(&other)).collect();
            }
            out.extend(objects);
        }
    }
    out
}

/// A desired repository, a live state, whether live objects were moved, and which live objects
/// are prune candidates (by position).
#[derive(Clone, Debug)]
struct CaseDraw {
    desired: RepoDraw,
    live: RepoDraw,
    moves: bool,
    prune: Vec<bool>,
}

fn case_draw() -> impl Strategy<Value = CaseDraw> {
    (
        repo_draw(),
        repo_draw(),
        any::<bool>(),
        vec(weighted(0.8), MAX_OBJECTS),
    )
        .prop_map(|(desired, live, moves, prune)| CaseDraw {
            desired,
            live,
            moves,
            prune,
        })
}

struct Case {
    desired: Vec<Object>,
    live: Live,
    moves: bool,
}

impl Case {
    fn of(draw_: &CaseDraw) -> Case {
        let desired = draw(&draw_.desired, false, false);
        let live_objects = draw(&draw_.live, true, draw_.moves);
        let prune: Vec<ObjectKey> = live_objects
            .iter()
            .zip(&draw_.prune)
            .filter(|(_, p)| **p)
            .map(|(o, _)| o.key())
            .collect();
        Case {
            desired,
            live: Live::new(live_objects).with_prune(prune),
            moves: draw_.moves,
        }
    }
}

/// A runner of `cases` cases from a fixed seed, so that a failure reproduces (and shrinks to
/// a small case); nothing is written to disk.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn wave_of(plan: &Plan) -> HashMap<StepId, usize> {
    plan.waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| w.steps.iter().map(move |s| (s.id, i)))
        .collect()
}

/// The live parent of an object by platform identity, first in live order, as the platform
/// resolves it.
fn live_parent(live: &[Object], object: &Object) -> Option<ObjectKey> {
    let (kind, target) = match object {
        Object::Vimana(_) => return None,
        Object::Domain(d) => (
            model::Kind::Vimana,
            format!(
                "{}/{}",
                d.metadata.namespace.as_deref()?,
                d.spec.vimana.as_ref()?
            ),
        ),
        Object::Server(s) => (model::Kind::Domain, s.spec.domain.clone()),
        Object::Component(c) => (
            model::Kind::Server,
            format!("{}:{}", c.spec.domain, c.spec.server),
        ),
    };
    live.iter()
        .find(|o| {
            o.kind() == kind
                && match o {
                    Object::Vimana(v) => {
                        format!(
                            "{}/{}",
                            v.metadata.namespace.as_deref().unwrap_or(""),
                            v.metadata.name
                        ) == target
                    }
                    _ => o.identity() == target,
                }
        })
        .map(Object::key)
}

fn server_weights(o: &Object) -> &BTreeMap<String, i32> {
    match o {
        Object::Server(s) => &s.spec.version_weights,
        _ => panic!("not a server"),
    }
}

/// Pairs (Server key, version) whose positive live weight has no live Component to go to.
fn broken_routes(live: &BTreeMap<ObjectKey, Object>) -> HashSet<(ObjectKey, String)> {
    let components: HashSet<String> = live
        .values()
        .filter(|o| o.kind() == model::Kind::Component)
        .map(Object::identity)
        .collect();
    let mut out = HashSet::new();
    for o in live.values() {
        if let Object::Server(s) = o {
            for (v, w) in &s.spec.version_weights {
                if *w > 0 && !components.contains(&format!("{}@{v}", o.identity())) {
                    out.insert((o.key(), v.clone()));
                }
            }
        }
    }
    out
}

/// Runs the plan step by step on a copy of the live state, checking after every step that no
/// weight points at a missing Component unless it already did before the plan (and, with
/// moves, while a moved Server waits for its Components). Returns the final state.
fn execute(plan: &Plan, live: &[Object], check_routes: bool) -> BTreeMap<ObjectKey, Object> {
    let mut state: BTreeMap<ObjectKey, Object> = BTreeMap::new();
    for o in live {
        state.entry(o.key()).or_insert_with(|| o.clone());
    }
    let before = broken_routes(&state);
    for step in plan.steps() {
        match &step.action {
            Action::Create { object } | Action::Update { object, .. } => {
                state.insert(object.key(), object.clone());
            }
            Action::Weights { to, .. } => {
                let Some(Object::Server(s)) = state.get_mut(step.node.key()) else {
                    panic!("weights step {} without a live Server", step.id)
                };
                std::sync::Arc::make_mut(s).spec.version_weights = to.clone();
            }
            Action::Drain { .. } => {
                let Some(Object::Server(s)) = state.get_mut(step.node.key()) else {
                    panic!("drain step {} without a live Server", step.id)
                };
                std::sync::Arc::make_mut(s).spec.version_weights.clear();
            }
            Action::Delete { object } => {
                assert!(state.remove(&object.key()).is_some());
            }
        }
        if check_routes {
            let now = broken_routes(&state);
            let new: Vec<_> = now.difference(&before).collect();
            assert!(
                new.is_empty(),
                "after step {} ({} {}), weights point at missing Components: {new:?}",
                step.id,
                step.action.verb(),
                step.node
            );
        }
    }
    state
}

#[test]
fn plans_respect_every_edge_reverse_deletions_and_keep_weights_safe() {
    let seen = RefCell::new(HashMap::<&str, usize>::new());
    let count = Cell::new(0);
    let result = runner(600).run(&case_draw(), |draw_| {
        let n = count.replace(count.get() + 1);
        let case = Case::of(&draw_);
        let mut seen = seen.borrow_mut();
        let desired = match DependencyGraph::new(case.desired.iter().cloned().map(bare).collect()) {
            Ok(g) => g,
            Err(e) => panic!("case {n}: the generator drew an invalid repository: {e:?}"),
        };
        let plan = graph::plan(&desired, &case.live).unwrap_or_else(|e| panic!("case {n}: {e:?}"));
        let waves = wave_of(&plan);
        let step_of: HashMap<&Node, &graph::Step> = plan.steps().map(|s| (&s.node, s)).collect();
        let ctx = format!("case {n}: {:#?}", outline(&plan));
        phases_in_order(&plan, &ctx);
        dependencies_come_first(&plan, &waves, &ctx);
        edges_are_respected(&desired, &step_of, &waves, &ctx, &mut seen);
        applied_or_unchanged(&desired, &plan, &step_of, &waves, &ctx);
        let deleted = deletions(&case, &desired, &plan, &ctx);
        deletions_in_reverse_order(&case.live.objects, &deleted, &waves, &ctx, &mut seen);
        weight_safe(
            &case.live.objects,
            &desired,
            &deleted,
            &step_of,
            &ctx,
            &mut seen,
        );
        if !plan.withheld.is_empty() {
            seen.entry("withheld").and_modify(|c| *c += 1).or_insert(1);
        }
        deterministic_and_convergent(&case, &desired, &plan, &ctx);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    // The generator reaches every rule often enough for the checks above to mean something.
    for what in [
        "edges with both ends changed",
        "deleted child and parent",
        "weights",
        "drain",
        "withheld",
    ] {
        let count = seen.get(what).copied().unwrap_or(0);
        assert!(count >= 10, "only {count} cases of {what}: {seen:?}");
    }
}

/// Applies, then deletions; no wave is empty.
fn phases_in_order(plan: &Plan, ctx: &str) {
    // Phases: applies, then deletions.
    let phases: Vec<Phase> = plan.waves.iter().map(|w| w.phase).collect();
    assert!(
        phases
            .windows(2)
            .all(|p| !(p[0] == Phase::Delete && p[1] == Phase::Apply)),
        "{ctx}"
    );
    assert!(plan.waves.iter().all(|w| !w.steps.is_empty()), "{ctx}");
}

/// Every dependency of a step is in an earlier wave.
fn dependencies_come_first(plan: &Plan, waves: &HashMap<StepId, usize>, ctx: &str) {
    // Every dependency is in an earlier wave.
    for step in plan.steps() {
        for dep in &step.depends_on {
            assert!(
                waves[dep] < waves[&step.id],
                "{ctx}: {} after {dep}",
                step.id
            );
        }
    }
}

/// Every edge of the desired graph whose ends both have a step orders them.
fn edges_are_respected(
    desired: &DependencyGraph,
    step_of: &HashMap<&Node, &graph::Step>,
    waves: &HashMap<StepId, usize>,
    ctx: &str,
    seen: &mut HashMap<&str, usize>,
) {
    // Every edge of the desired graph is respected by the apply steps.
    for edge in desired.edges() {
        if let (Some(a), Some(b)) = (step_of.get(&edge.from), step_of.get(&edge.to)) {
            assert!(
                waves[&a.id] < waves[&b.id],
                "{ctx}: edge {} -> {}",
                edge.from,
                edge.to
            );
            assert!(b.depends_on.contains(&a.id), "{ctx}");
            seen.entry("edges with both ends changed")
                .and_modify(|c| *c += 1)
                .or_insert(1);
        }
    }
}

/// Every desired node has an apply step or is unchanged, not both.
fn applied_or_unchanged(
    desired: &DependencyGraph,
    plan: &Plan,
    step_of: &HashMap<&Node, &graph::Step>,
    waves: &HashMap<StepId, usize>,
    ctx: &str,
) {
    // Every desired node has an apply step or is unchanged, not both.
    let unchanged: HashSet<&Node> = plan.unchanged.iter().map(|u| &u.node).collect();
    for node in desired.topological_order() {
        let applied = step_of
            .get(&node)
            .is_some_and(|s| plan.waves[waves[&s.id]].phase == Phase::Apply);
        assert!(applied ^ unchanged.contains(&node), "{ctx}: {node}");
    }
}

/// The deletion steps, which are exactly the prune candidates that are not desired, less the
/// withheld.
fn deletions<'p>(
    case: &Case,
    desired: &DependencyGraph,
    plan: &'p Plan,
    ctx: &str,
) -> HashMap<ObjectKey, &'p graph::Step> {
    // Deletions: exactly the prune candidates that are not desired, less the withheld.
    let live = &case.live.objects;
    let withheld: HashSet<&Node> = plan.withheld.iter().map(|w| &w.node).collect();
    let expected: HashSet<ObjectKey> = live
        .iter()
        .map(Object::key)
        .filter(|k| case.live.prune.contains(k) && desired.get(k).is_none())
        .filter(|k| !withheld.contains(&Node::Object(k.clone())))
        .collect();
    let deleted: HashMap<ObjectKey, &graph::Step> = plan
        .steps()
        .filter(|s| matches!(s.action, Action::Delete { .. }))
        .map(|s| (s.node.key().clone(), s))
        .collect();
    assert_eq!(
        deleted.keys().cloned().collect::<HashSet<_>>(),
        expected,
        "{ctx}"
    );
    deleted
}

/// A deleted child goes in an earlier wave than its deleted parent.
fn deletions_in_reverse_order(
    live: &[Object],
    deleted: &HashMap<ObjectKey, &graph::Step>,
    waves: &HashMap<StepId, usize>,
    ctx: &str,
    seen: &mut HashMap<&str, usize>,
) {
    // In reverse order: a deleted child goes in an earlier wave than its deleted parent.
    for (k, step) in deleted {
        let Action::Delete { object } = &step.action else {
            unreachable!()
        };
        if let Some(parent) = live_parent(live, object)
            && let Some(p) = deleted.get(&parent)
        {
            assert!(
                waves[&step.id] < waves[&p.id],
                "{ctx}: {k} and its parent {parent}"
            );
            seen.entry("deleted child and parent")
                .and_modify(|c| *c += 1)
                .or_insert(1);
        }
    }
}

/// A deleted Component that a live Server weights waits for the step that takes the weight
/// away, or the desired state routes its version to another object of the same identity.
fn weight_safe(
    live: &[Object],
    desired: &DependencyGraph,
    deleted: &HashMap<ObjectKey, &graph::Step>,
    step_of: &HashMap<&Node, &graph::Step>,
    ctx: &str,
    seen: &mut HashMap<&str, usize>,
) {
    // The weight-safety rule, stated on the output.
    for step in deleted.values() {
        let Action::Delete {
            object: Object::Component(c),
        } = &step.action
        else {
            continue;
        };
        let identity = format!("{}:{}", c.spec.domain, c.spec.server);
        let servers = live
            .iter()
            .filter(|o| o.kind() == model::Kind::Server && o.identity() == identity);
        for server in servers {
            if server_weights(server)
                .get(&c.spec.version)
                .copied()
                .unwrap_or(0)
                <= 0
            {
                continue;
            }
            let guard = step_of.get(&Node::Weights(server.key()));
            match guard {
                Some(g) => {
                    assert!(
                        step.depends_on.contains(&g.id),
                        "{ctx}: {} waits for {}",
                        step.node,
                        g.id
                    );
                    seen.entry(g.action.verb())
                        .and_modify(|c| *c += 1)
                        .or_insert(1);
                }
                None => {
                    // No step changes that Server's weights: the desired state routes this
                    // version to another object with the same identity.
                    let desired_server = desired
                        .get(&server.key())
                        .expect("a guard or a desired Server");
                    let takeover =
                        format!("{}@{}", desired_server.object.identity(), c.spec.version);
                    assert!(
                        desired
                            .by_identity(model::Kind::Component, &takeover)
                            .is_some(),
                        "{ctx}: {} deleted while weighted",
                        step.node
                    );
                }
            }
        }
    }
}

/// The same plan again, and after running it no plan is left to run.
fn deterministic_and_convergent(case: &Case, desired: &DependencyGraph, plan: &Plan, ctx: &str) {
    let live = &case.live.objects;
    // Deterministic.
    assert_eq!(graph::plan(desired, &case.live).unwrap(), *plan, "{ctx}");

    // Running it step by step keeps every route that worked working (moves excepted: a
    // moved Server routes to its Components' new identities a wave before they move), and
    // converges: planning again finds nothing to do.
    let state = execute(plan, live, !case.moves);
    // The same prune candidates: what the plan created is desired, so never a candidate.
    let prune = case.live.prune.clone();
    let again = graph::plan(
        desired,
        &Live::new(state.into_values().collect()).with_prune(prune),
    )
    .unwrap();
    assert!(again.is_empty(), "{ctx}\nthen: {:#?}", outline(&again));
    assert_eq!(again.withheld, plan.withheld, "{ctx}");
}

/// Every subset of a two-Server Domain, desired against every subset live (all prunable): the
/// exhaustive check of the same rules on the shapes that matter most.
#[test]
fn exhaustive_small_cases_converge_without_breaking_a_route() {
    let universe = [
        vimana("main"),
        domain("d1"),
        server("d1", "a", &[("1.0.0", 1), ("2.0.0", 1)]),
        component("d1", "a", "1.0.0"),
        component("d1", "a", "2.0.0"),
        server("d1", "b", &[("1.0.0", 1)]),
        component("d1", "b", "1.0.0"),
    ];
    // Keep only consistent repositories: every reference resolves.
    let valid = |mask: u32| -> Option<Vec<Object>> {
        let objects: Vec<Object> = (0..universe.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| universe[i].clone())
            .collect();
        let mut objects = objects;
        // A Server names only the versions present.
        for o in &mut objects {
            if let Object::Server(s) = o {
                let present: Vec<String> = universe
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| {
                        mask & (1 << i) != 0
                            && matches!(c, Object::Component(c) if c.spec.server == s.spec.id)
                    })
                    .map(|(_, c)| match c {
                        Object::Component(c) => c.spec.version.clone(),
                        _ => unreachable!(),
                    })
                    .collect();
                std::sync::Arc::make_mut(s)
                    .spec
                    .version_weights
                    .retain(|v, _| present.contains(v));
            }
        }
        DependencyGraph::new(objects.iter().cloned().map(bare).collect()).ok()?;
        Some(objects)
    };
    let repos: Vec<Vec<Object>> = (0..1u32 << universe.len()).filter_map(valid).collect();
    // Vimana alone or not, plus a Domain with Server a (absent or any of its 4 version sets)
    // and Server b (absent or 2 version sets): 2 + 5 * 3.
    assert_eq!(repos.len(), 17);
    let mut pairs = 0;
    for desired in &repos {
        let g = dag(desired);
        for live in &repos {
            let plan = plan_pruning(desired, live);
            let state = execute(&plan, live, true);
            let mut keys: HashSet<ObjectKey> = state.keys().cloned().collect();
            keys.extend(live.iter().map(Object::key));
            let again = graph::plan(
                &g,
                &Live::new(state.into_values().collect()).with_prune(keys),
            )
            .unwrap();
            assert!(again.is_empty(), "{:#?}", outline(&again));
            pairs += 1;
        }
    }
    assert_eq!(pairs, repos.len() * repos.len());
}
