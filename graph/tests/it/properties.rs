//! Properties of plans over random small repositories and live states (a fixed-seed generator,
//! so a failure reproduces): every edge respected, deletions in reverse order, the weight-safety
//! rule at every step of an execution, and convergence (after running a plan, the next plan is
//! empty).

use std::collections::{BTreeMap, HashMap, HashSet};

use graph::{Action, DependencyGraph, Live, Node, Phase, Plan, StepId};
use model::{Object, ObjectKey};

use crate::fixtures::*;

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const DOMAINS: usize = 3;
const SERVERS: usize = 3;
const VERSIONS: usize = 4;

/// A repository drawn from a small universe, so that two draws overlap. A live draw may be
/// inconsistent (weights naming absent versions, Servers and Components moved to another
/// Domain under the same name) as a cluster can be.
fn draw(rng: &mut Rng, live: bool, moves: bool) -> Vec<Object> {
    let mut out = Vec::new();
    if !live || rng.chance(0.9) {
        out.push(vimana("main"));
    }
    for d in 0..DOMAINS {
        if !rng.chance(0.8) {
            continue;
        }
        let id = format!("d{d}");
        let mut dom = domain(&id);
        if rng.chance(0.1) {
            dom = dom.vimana(None);
        }
        if rng.chance(0.15) {
            dom = dom.label(if live { "team" } else { "tier" }, "x");
        }
        out.push(dom);
        for s in 0..SERVERS {
            if !rng.chance(0.75) {
                continue;
            }
            let sid = format!("s{s}");
            let mut weights = Vec::new();
            let mut components = Vec::new();
            for v in 0..VERSIONS {
                let version = format!("1.{v}.0");
                let present = rng.chance(0.6);
                if present {
                    components.push(component(&id, &sid, &version));
                }
                if (present && rng.chance(0.7)) || (live && rng.chance(0.1)) {
                    weights.push((version, rng.below(4) as i32));
                }
            }
            let weights: Vec<(&str, i32)> = weights.iter().map(|(v, w)| (v.as_str(), *w)).collect();
            let mut objects = vec![server(&id, &sid, &weights)];
            objects.extend(components);
            if rng.chance(0.1) {
                objects[0] = objects[0].clone().services(&["x.v1.S"]);
            }
            if live && moves && rng.chance(0.2) {
                let other = format!("d{}", (d + 1 + rng.below(DOMAINS - 1)) % DOMAINS);
                objects = objects.into_iter().map(|o| o.moved_to(&other)).collect();
            }
            out.extend(objects);
        }
    }
    out
}

struct Case {
    desired: Vec<Object>,
    live: Live,
    moves: bool,
}

fn cases(n: usize) -> impl Iterator<Item = Case> {
    let mut rng = Rng(0x5eed_0f9a_4fe1);
    (0..n).map(move |i| {
        let moves = i % 2 == 1;
        let desired = draw(&mut rng, false, false);
        let live_objects = draw(&mut rng, true, moves);
        let prune: Vec<ObjectKey> = live_objects
            .iter()
            .filter(|_| rng.chance(0.8))
            .map(Object::key)
            .collect();
        Case {
            desired,
            live: Live::new(live_objects).with_prune(prune),
            moves,
        }
    })
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
                s.spec.version_weights = to.clone();
            }
            Action::Drain { .. } => {
                let Some(Object::Server(s)) = state.get_mut(step.node.key()) else {
                    panic!("drain step {} without a live Server", step.id)
                };
                s.spec.version_weights.clear();
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
    let mut seen = HashMap::<&str, usize>::new();
    for (n, case) in cases(600).enumerate() {
        let desired = match DependencyGraph::new(case.desired.iter().cloned().map(bare).collect()) {
            Ok(g) => g,
            Err(e) => panic!("case {n}: the generator drew an invalid repository: {e:?}"),
        };
        let plan = graph::plan(&desired, &case.live).unwrap_or_else(|e| panic!("case {n}: {e:?}"));
        let waves = wave_of(&plan);
        let step_of: HashMap<&Node, &graph::Step> = plan.steps().map(|s| (&s.node, s)).collect();
        let ctx = format!("case {n}: {:#?}", outline(&plan));

        // Phases: applies, then deletions.
        let phases: Vec<Phase> = plan.waves.iter().map(|w| w.phase).collect();
        assert!(
            phases
                .windows(2)
                .all(|p| !(p[0] == Phase::Delete && p[1] == Phase::Apply)),
            "{ctx}"
        );
        assert!(plan.waves.iter().all(|w| !w.steps.is_empty()), "{ctx}");

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

        // Every desired node has an apply step or is unchanged, not both.
        let unchanged: HashSet<&Node> = plan.unchanged.iter().map(|u| &u.node).collect();
        for node in desired.topological_order() {
            let applied = step_of
                .get(&node)
                .is_some_and(|s| plan.waves[waves[&s.id]].phase == Phase::Apply);
            assert!(applied ^ unchanged.contains(&node), "{ctx}: {node}");
        }

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

        // In reverse order: a deleted child goes in an earlier wave than its deleted parent.
        for (k, step) in &deleted {
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
        if !plan.withheld.is_empty() {
            seen.entry("withheld").and_modify(|c| *c += 1).or_insert(1);
        }

        // Deterministic.
        assert_eq!(graph::plan(&desired, &case.live).unwrap(), plan, "{ctx}");

        // Running it step by step keeps every route that worked working (moves excepted: a
        // moved Server routes to its Components' new identities a wave before they move), and
        // converges: planning again finds nothing to do.
        let state = execute(&plan, live, !case.moves);
        // The same prune candidates: what the plan created is desired, so never a candidate.
        let prune = case.live.prune.clone();
        let again = graph::plan(
            &desired,
            &Live::new(state.into_values().collect()).with_prune(prune),
        )
        .unwrap();
        assert!(again.is_empty(), "{ctx}\nthen: {:#?}", outline(&again));
        assert_eq!(again.withheld, plan.withheld, "{ctx}");
    }
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
                s.spec.version_weights.retain(|v, _| present.contains(v));
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
