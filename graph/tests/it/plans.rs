//! Plans for named scenarios: a first sync, a steady state, releases, moves and removals.

use graph::{Action, Error, Live, Node, OwnedKeys, Phase, Plan, StepId};
use model::{Object, keys};

use crate::fixtures::*;

fn step_of<'a>(plan: &'a Plan, node: &Node) -> &'a graph::Step {
    plan.steps()
        .find(|s| &s.node == node)
        .unwrap_or_else(|| panic!("no step for {node} in {:#?}", outline(plan)))
}

fn obj(o: &Object) -> Node {
    Node::Object(o.key())
}

fn weights_node(o: &Object) -> Node {
    Node::Weights(o.key())
}

#[test]
fn a_first_sync_creates_parents_first_and_sets_weights_last() {
    let repo = small_repo();
    let plan = graph::plan(&dag(&repo), &Live::default()).unwrap();
    assert_eq!(
        outline(&plan),
        [
            "1 create Vimana/vimana/main",
            "2 create Domain/vimana/d1",
            "3 create Server/vimana/d1-adder",
            "3 create Server/vimana/d1-mul",
            "4 create Component/vimana/d1-adder-1-0-0",
            "4 create Component/vimana/d1-adder-1-1-0",
            "4 create Component/vimana/d1-mul-2-0-0",
            "5 weights Weights of Server/vimana/d1-adder",
            "5 weights Weights of Server/vimana/d1-mul",
        ]
    );
    assert!(plan.waves.iter().all(|w| w.phase == Phase::Apply));
    // The Server is created without weights: no Component exists yet for them to point at.
    let Action::Create {
        object: Object::Server(s),
    } = &step_of(&plan, &obj(&repo[2])).action
    else {
        panic!()
    };
    assert!(s.spec.version_weights.is_empty());
    let Action::Weights { from, to, object } = &step_of(&plan, &weights_node(&repo[2])).action
    else {
        panic!()
    };
    assert!(from.is_empty());
    assert_eq!(to.get("1.0.0"), Some(&90));
    assert_eq!(object.key(), repo[2].key());
    // Ids count up in wave order and dependencies point back.
    for (i, step) in plan.steps().enumerate() {
        assert_eq!(step.id, StepId(i));
    }
    assert_eq!(
        step_of(&plan, &weights_node(&repo[2])).depends_on,
        [StepId(2), StepId(4), StepId(5)]
    );
}

#[test]
fn a_cluster_equal_to_the_repository_needs_nothing() {
    let repo = small_repo();
    // What the cluster adds: status, server-set metadata, labels and annotations of others,
    // the rollout state.
    let live: Vec<Object> = repo
        .iter()
        .map(|o| {
            o.clone()
                .with_status()
                .label("team", "payments")
                .annotation(keys::ROLLOUT_STATE, "{\"phase\":\"Done\"}")
        })
        .collect();
    let plan = plan_pruning(&repo, &live);
    assert!(plan.is_empty(), "{:#?}", outline(&plan));
    assert_eq!(plan.unchanged.len(), repo.len() + 2);
    assert_eq!(plan.summary().unchanged, 9);
}

#[test]
fn a_plan_large_enough_to_be_compared_on_several_threads_is_the_plan_of_each_object() {
    // 12,001 objects: the plan compares desired and live copies on more than one thread
    // (from 8,192 objects on two cores). Every 7th Component differs in an annotation, every
    // 11th in a label, every 13th is not live; the steps must name exactly those, each with
    // its own changes.
    const NOTE: &str = "example.org/note";
    let mut repo = vec![vimana("main")];
    for d in 0..40 {
        let domain_id = format!("d{d:02}");
        repo.push(domain(&domain_id));
        for s in 0..50 {
            let server_id = format!("s{s:02}");
            repo.push(server(&domain_id, &server_id, &[("1.0.0", 100)]));
            for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"] {
                let c = component(&domain_id, &server_id, v);
                let noted = repo.len() % 7 == 0;
                repo.push(if noted {
                    c.annotation(NOTE, "desired")
                } else {
                    c
                });
            }
        }
    }
    let mut live = Vec::new();
    let mut expected = Vec::new();
    for (i, o) in repo.iter().enumerate() {
        let is_component = matches!(o, Object::Component(_));
        if is_component && i % 13 == 0 {
            expected.push(format!("create {}", obj(o)));
            continue;
        }
        let mut copy = o.clone().with_status();
        if is_component && i % 7 == 0 {
            copy = copy.annotation(NOTE, "live");
            expected.push(format!("update {} [metadata.annotations.{NOTE}]", obj(o)));
        } else if is_component && i % 11 == 0 {
            copy.meta_mut()
                .labels
                .insert(keys::MANAGED_BY.into(), "someone-else".into());
            expected.push(format!(
                "update {} [metadata.labels.{}]",
                obj(o),
                keys::MANAGED_BY
            ));
        }
        live.push(copy);
    }
    assert!(repo.len() > 12_000);
    let plan = plan_pruning(&repo, &live);
    let mut steps: Vec<String> = plan
        .steps()
        .map(|s| match &s.action {
            Action::Update { changes, .. } => {
                format!("update {} [{}]", s.node, changes.join(", "))
            }
            a => format!("{} {}", a.verb(), s.node),
        })
        .collect();
    steps.sort();
    expected.sort();
    assert_eq!(steps, expected);
    assert_eq!(plan.unchanged.len() + steps.len(), repo.len() + 2000);
}

#[test]
fn objects_the_caller_found_unchanged_are_not_compared_again_but_still_checked() {
    let repo = small_repo();
    // Live copies without their labels and annotations, as a caller that compared them
    // already keeps them: marked unchanged, they need no step.
    let slim: Vec<Object> = repo
        .iter()
        .map(|o| {
            let mut o = o.clone().with_status();
            o.meta_mut().labels.clear();
            o.meta_mut().annotations.clear();
            o
        })
        .collect();
    let unchanged = slim.iter().map(key);
    let live = Live::new(slim.clone()).with_unchanged(unchanged);
    let plan = graph::plan(&dag(&repo), &live).unwrap();
    assert!(plan.is_empty(), "{:#?}", outline(&plan));
    // Not marked, the same copies are updates.
    let plan = graph::plan(&dag(&repo), &Live::new(slim)).unwrap();
    assert!(!plan.is_empty());
    // Marked or not, a live Component of another version is refused, and a Server's weights
    // are still compared.
    let Object::Component(mut c) = repo[4].clone() else {
        panic!()
    };
    std::sync::Arc::make_mut(&mut c).spec.image = "other:1".into();
    let mut live: Vec<Object> = repo.clone();
    live[4] = Object::Component(c);
    live[2] = live[2].clone().weights(&[("1.0.0", 100)]);
    let all = live.iter().map(key).collect::<Vec<_>>();
    let errors = graph::plan(
        &dag(&repo),
        &Live::new(live.clone()).with_unchanged(all.clone()),
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    live[4] = repo[4].clone();
    let plan = graph::plan(&dag(&repo), &Live::new(live).with_unchanged(all)).unwrap();
    assert_eq!(
        outline(&plan),
        ["1 weights Weights of Server/vimana/d1-adder"]
    );
}

#[test]
fn a_changed_label_or_spec_field_is_an_update_that_names_it() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired[1] = desired[1].clone().label("tier", "gold");
    desired[2] = desired[2].clone().services(&["calc.v1.Adder"]);
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        [
            "1 update Domain/vimana/d1",
            "2 update Server/vimana/d1-adder"
        ]
    );
    let changes: Vec<Vec<String>> = plan
        .steps()
        .map(|s| match &s.action {
            Action::Update { changes, .. } => changes.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        changes,
        [vec!["metadata.labels.tier"], vec!["spec.services"]]
    );
}

/// The plan from `live` to `desired` where the reconciler owns, on every live object, the
/// label and annotation keys that `owns` gives for it.
fn plan_owning(
    desired: &[Object],
    live: &[Object],
    owns: impl Fn(&Object) -> OwnedKeys,
) -> graph::Plan {
    let owned = live.iter().map(|o| (o.key(), owns(o)));
    let state = Live::new(live.to_vec())
        .with_prune(live.iter().map(Object::key))
        .with_owned(owned);
    graph::plan(&dag(desired), &state).unwrap()
}

/// What the reconciler owns after applying `object`: its labels and annotations.
fn applied_keys(object: &Object) -> OwnedKeys {
    OwnedKeys {
        labels: object.meta().labels.keys().cloned().collect(),
        annotations: object.meta().annotations.keys().cloned().collect(),
    }
}

fn changes_of(plan: &graph::Plan) -> Vec<Vec<String>> {
    plan.steps()
        .map(|s| match &s.action {
            Action::Update { changes, .. } => changes.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_label_or_annotation_removed_from_the_sources_is_an_update_that_names_it() {
    let repo = small_repo();
    // The cluster as the last sync left it: a label and an annotation the sources had then.
    let mut live = repo.clone();
    live[1] = live[1].clone().label("tier", "gold");
    live[2] = live[2]
        .clone()
        .annotation(keys::ROLLOUT_STEPS, "10,100")
        .label("team", "payments");
    let plan = plan_owning(&repo, &live, applied_keys);
    assert_eq!(
        outline(&plan),
        [
            "1 update Domain/vimana/d1",
            "2 update Server/vimana/d1-adder"
        ]
    );
    assert_eq!(
        changes_of(&plan),
        [
            vec!["metadata.labels.tier"],
            vec![
                "metadata.labels.team",
                "metadata.annotations.rollout.vimana.host/steps"
            ]
        ]
    );
    // The update sends the desired object: without the removed keys, so the apply drops them.
    let sent = plan.steps().next().unwrap().action.object();
    assert!(!sent.meta().labels.contains_key("tier"));
}

#[test]
fn removed_and_changed_keys_are_listed_in_order() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired[1] = desired[1].clone().label("b", "2").label("d", "new");
    let live = [
        repo[0].clone(),
        repo[1]
            .clone()
            .label("a", "1")
            .label("b", "2")
            .label("c", "3")
            .label("d", "old"),
    ];
    let plan = plan_owning(&desired[..2], &live, applied_keys);
    assert_eq!(
        changes_of(&plan),
        [vec![
            "metadata.labels.a",
            "metadata.labels.c",
            "metadata.labels.d"
        ]]
    );
}

#[test]
fn keys_the_reconciler_does_not_own_are_not_removed() {
    let repo = small_repo();
    // Another tool's label, a key we own that is already gone, and the rollout state (written
    // by the rollout engine with our field manager, never rendered).
    let live: Vec<Object> = repo
        .iter()
        .map(|o| {
            o.clone()
                .label("team", "payments")
                .annotation(keys::ROLLOUT_STATE, "{\"phase\":\"Done\"}")
        })
        .collect();
    let plan = plan_owning(&repo, &live, |o| {
        let mut owned = applied_keys(o);
        owned.labels.remove("team");
        owned.labels.insert("gone-already".into());
        owned
    });
    assert!(plan.is_empty(), "{:#?}", outline(&plan));
    // Without ownership (Live::new alone) nothing is removed either: the old rule.
    let live_with_extra: Vec<Object> = repo
        .iter()
        .map(|o| o.clone().label("tier", "gold"))
        .collect();
    assert!(plan_pruning(&repo, &live_with_extra).is_empty());
}

#[test]
fn a_weights_change_alone_is_only_a_weights_step() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired[2] = desired[2].clone().weights(&[("1.0.0", 50), ("1.1.0", 50)]);
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        ["1 weights Weights of Server/vimana/d1-adder"]
    );
    assert!(plan.unchanged.iter().any(|u| u.node == obj(&repo[2])));
}

#[test]
fn a_server_update_keeps_the_live_weights_until_its_weights_step() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired[2] = desired[2]
        .clone()
        .services(&["calc.v1.Adder"])
        .weights(&[("1.1.0", 100)]);
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        [
            "1 update Server/vimana/d1-adder",
            "2 weights Weights of Server/vimana/d1-adder"
        ]
    );
    let Action::Update {
        object: Object::Server(s),
        changes,
    } = &plan.waves[0].steps[0].action
    else {
        panic!()
    };
    assert_eq!(changes, &["spec.services"]);
    assert_eq!(
        s.spec.version_weights,
        [("1.0.0".to_string(), 90), ("1.1.0".to_string(), 10)].into()
    );
}

#[test]
fn a_release_creates_the_new_version_moves_traffic_then_deletes_the_old_ones() {
    let repo = small_repo();
    let desired = vec![
        vimana("main"),
        domain("d1"),
        server("d1", "adder", &[("1.2.0", 100)]),
        component("d1", "adder", "1.2.0"),
        server("d1", "mul", &[("2.0.0", 100)]),
        component("d1", "mul", "2.0.0"),
    ];
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        [
            "1 create Component/vimana/d1-adder-1-2-0",
            "2 weights Weights of Server/vimana/d1-adder",
            "3 delete Component/vimana/d1-adder-1-0-0",
            "3 delete Component/vimana/d1-adder-1-1-0",
        ]
    );
    // Both old versions carry weight (90 and 10): each waits for the step that drops it.
    let weights = step_of(&plan, &weights_node(&desired[2])).id;
    for old in [&repo[3], &repo[4]] {
        assert_eq!(step_of(&plan, &obj(old)).depends_on, [weights]);
    }
    assert_eq!(plan.waves[2].phase, Phase::Delete);
    let text = graph::view::plan_text(&plan, "Plan");
    assert!(
        text.contains("[3] delete   Component d1-adder-1-1-0 (adder@1.1.0)  after [1]"),
        "{text}"
    );
}

#[test]
fn a_version_without_live_weight_is_deleted_without_waiting() {
    let live = vec![
        vimana("main"),
        domain("d1"),
        server("d1", "adder", &[("1.0.0", 100), ("1.1.0", 0)]),
        component("d1", "adder", "1.0.0"),
        component("d1", "adder", "1.1.0"),
    ];
    let desired = vec![
        vimana("main"),
        domain("d1"),
        server("d1", "adder", &[("1.0.0", 100)]),
        component("d1", "adder", "1.0.0"),
    ];
    let plan = plan_pruning(&desired, &live);
    assert_eq!(
        outline(&plan),
        [
            "1 weights Weights of Server/vimana/d1-adder",
            "2 delete Component/vimana/d1-adder-1-1-0",
        ]
    );
    assert!(step_of(&plan, &obj(&live[4])).depends_on.is_empty());
}

#[test]
fn a_renamed_component_of_the_same_version_is_made_before_the_old_one_breaks() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired[4] = desired[4].clone().named("adder-canary");
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        [
            "1 create Component/vimana/adder-canary",
            "2 delete Component/vimana/d1-adder-1-1-0",
        ]
    );
    // The weights still name 1.1.0, which the new object carries: no weights step, and the
    // deletion waits for the new object instead.
    assert_eq!(step_of(&plan, &obj(&repo[4])).depends_on, [StepId(0)]);
}

#[test]
fn a_component_that_changes_version_in_place_is_refused() {
    let repo = small_repo();
    let mut desired = repo.clone();
    let Object::Component(mut c) = repo[4].clone() else {
        panic!()
    };
    std::sync::Arc::make_mut(&mut c).spec.version = "1.2.0".into();
    desired[4] = Object::Component(c);
    desired[2] = desired[2].clone().weights(&[("1.0.0", 90), ("1.2.0", 10)]);
    let manifests = desired
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, o)| at(o, "repo.yaml", 1 + 10 * i as u32))
        .collect();
    let errors = graph::plan(
        &graph::DependencyGraph::new(manifests).unwrap(),
        &Live::new(repo.clone()),
    )
    .unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "Component \"d1:adder@1.2.0\" at repo.yaml:46:12 would change spec.version of live \
          Component \"d1:adder@1.1.0\" (Component/vimana/d1-adder-1-1-0) from \"1.1.0\" to \
          \"1.2.0\"; a Component version is immutable: give the change a new version in a new \
          Component (another metadata.name, or none to derive one) and move the weights to it"
        ]
    );
}

#[test]
fn a_component_whose_image_or_digest_changes_is_refused() {
    let repo = small_repo();
    let cases = [
        (
            repo[3].clone().image("registry.example.org/adder:patched"),
            "spec.image",
        ),
        (
            repo[3].clone().annotation(keys::KUMORI_DIGEST, "sha256:ab"),
            "metadata.annotations.kumori.vimana.host/digest",
        ),
    ];
    for (changed, expected_field) in cases {
        let mut desired = repo.clone();
        desired[3] = changed;
        let errors = graph::plan(&dag(&desired), &Live::new(repo.clone())).unwrap_err();
        assert!(
            matches!(&errors[..], [Error::ImmutableComponent { field, .. }] if field == expected_field),
            "{errors:?}"
        );
    }
}

#[test]
fn a_server_moved_to_another_domain_follows_the_new_domain_and_the_old_one_goes_last() {
    let live = vec![
        vimana("main"),
        domain("d1"),
        server("d1", "adder", &[("1.0.0", 100)]),
        component("d1", "adder", "1.0.0"),
    ];
    // Same objects (same names), now in Domain d2, which replaces d1.
    let desired = vec![
        vimana("main"),
        domain("d2"),
        live[2].clone().moved_to("d2"),
        live[3].clone().moved_to("d2"),
    ];
    let plan = plan_pruning(&desired, &live);
    assert_eq!(
        outline(&plan),
        [
            "1 create Domain/vimana/d2",
            "2 update Server/vimana/d1-adder",
            "3 update Component/vimana/d1-adder-1-0-0",
            "4 delete Domain/vimana/d1",
        ]
    );
    // The old Domain goes only after the Server that referred to it has moved away.
    assert_eq!(step_of(&plan, &obj(&live[1])).depends_on, [StepId(1)]);
    // The weights move with the Server object: unchanged.
    assert!(
        plan.unchanged
            .iter()
            .any(|u| u.node == weights_node(&live[2]))
    );
}

#[test]
fn a_removed_server_is_drained_then_its_components_then_the_server_go() {
    let repo = small_repo();
    let desired = repo[..5].to_vec();
    let plan = plan_pruning(&desired, &repo);
    assert_eq!(
        outline(&plan),
        [
            "1 drain Weights of Server/vimana/d1-mul",
            "2 delete Component/vimana/d1-mul-2-0-0",
            "3 delete Server/vimana/d1-mul",
        ]
    );
    let Action::Drain { object, from } = &plan.waves[0].steps[0].action else {
        panic!()
    };
    assert_eq!(from.get("2.0.0"), Some(&100));
    let Object::Server(s) = object else { panic!() };
    assert!(s.spec.version_weights.is_empty());
    assert_eq!(step_of(&plan, &obj(&repo[6])).depends_on, [StepId(0)]);
    assert_eq!(
        step_of(&plan, &obj(&repo[5])).depends_on,
        [StepId(0), StepId(1)]
    );
}

#[test]
fn a_server_without_traffic_is_removed_without_a_drain() {
    let mut live = small_repo();
    live[5] = live[5].clone().weights(&[("2.0.0", 0)]);
    let plan = plan_pruning(&small_repo()[..5], &live);
    assert_eq!(
        outline(&plan),
        [
            "1 delete Component/vimana/d1-mul-2-0-0",
            "2 delete Server/vimana/d1-mul",
        ]
    );
}

#[test]
fn a_component_that_a_foreign_server_still_routes_to_is_withheld() {
    let repo = small_repo();
    // The Server `mul` is no longer ours (not a prune candidate) but its Component is.
    let desired = repo[..5].to_vec();
    let live = Live::new(repo.clone()).with_prune([key(&repo[6])]);
    let plan = graph::plan(&dag(&desired), &live).unwrap();
    assert!(plan.is_empty(), "{:#?}", outline(&plan));
    assert_eq!(plan.withheld.len(), 1);
    assert_eq!(plan.withheld[0].node, obj(&repo[6]));
    assert_eq!(plan.withheld[0].server, key(&repo[5]));
    assert_eq!(plan.withheld[0].weight, 100);
    assert!(
        graph::view::plan_text(&plan, "Plan").contains("withheld: Component/vimana/d1-mul-2-0-0")
    );
}

#[test]
fn live_objects_that_are_not_prune_candidates_are_left_alone() {
    let repo = small_repo();
    let plan = graph::plan(&dag(&repo[..2]), &Live::new(repo.clone())).unwrap();
    assert!(plan.is_empty(), "{:#?}", outline(&plan));
}

#[test]
fn independent_changes_share_a_wave() {
    let repo = small_repo();
    let mut desired = repo.clone();
    desired.extend([
        domain("d2"),
        component("d1", "adder", "1.2.0"),
        server("d1", "div", &[("1.0.0", 1)]),
        component("d1", "div", "1.0.0"),
    ]);
    // And one removal unrelated to all of them, in its own phase.
    let mut live = repo.clone();
    live.push(domain("d9"));
    let plan = plan_pruning(&desired, &live);
    assert_eq!(
        outline(&plan),
        [
            "1 create Domain/vimana/d2",
            "1 create Server/vimana/d1-div",
            "1 create Component/vimana/d1-adder-1-2-0",
            "2 create Component/vimana/d1-div-1-0-0",
            "3 weights Weights of Server/vimana/d1-div",
            "4 delete Domain/vimana/d9",
        ]
    );
}

#[test]
fn removals_of_unrelated_objects_share_a_wave() {
    let live = vec![
        vimana("main"),
        domain("d1"),
        domain("d2"),
        server("d2", "adder", &[]),
        component("d2", "adder", "1.0.0"),
    ];
    let plan = plan_pruning(&live[..1], &live);
    assert_eq!(
        outline(&plan),
        [
            "1 delete Domain/vimana/d1",
            "1 delete Component/vimana/d2-adder-1-0-0",
            "2 delete Server/vimana/d2-adder",
            "3 delete Domain/vimana/d2",
        ]
    );
}

#[test]
fn a_plan_serializes_with_tagged_actions() {
    let repo = small_repo();
    let plan = graph::plan(&dag(&repo), &Live::default()).unwrap();
    let v = serde_json::to_value(&plan).unwrap();
    let step = &v["waves"][4]["steps"][0];
    assert_eq!(v["waves"][0]["phase"], "apply");
    assert_eq!(step["node"]["kind"], "Weights");
    assert_eq!(step["node"]["name"], "d1-adder");
    assert_eq!(step["action"]["type"], "weights");
    assert_eq!(step["action"]["to"]["1.1.0"], 10);
    assert_eq!(step["action"]["object"]["kind"], "Server");
    assert_eq!(step["dependsOn"], serde_json::json!([2, 4, 5]));
    assert_eq!(step["identity"], "d1:adder");
}
