//! Each error of building a graph, with both ends and their locations in the message. (A cycle
//! cannot be built from the four kinds; its message is tested by a unit test in `src/dag.rs`.)

use graph::{Error, IdentityKind};
use model::Kind;

use crate::fixtures::*;

fn messages(errors: &[Error]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn a_server_naming_a_missing_domain_names_both_ends_and_the_closest_domain() {
    let errors = errors(vec![
        at(vimana("main"), "vimana.yaml", 1),
        at(
            domain("0123456789abcdef0123456789abcdef"),
            "domains.yaml",
            1,
        ),
        at(
            server("0123456789abcdef0123456789abcdeX", "adder", &[]),
            "servers.yaml",
            10,
        ),
    ]);
    assert_eq!(
        messages(&errors),
        [
            "Server \"0123456789abcdef0123456789abcdeX:adder\" at servers.yaml:13:11 refers in \
             spec.domain to Domain \"0123456789abcdef0123456789abcdeX\", which does not exist; \
             the closest is Domain \"0123456789abcdef0123456789abcdef\" at domains.yaml:1:1"
        ]
    );
    let Error::Dangling {
        from,
        field,
        target_kind,
        target,
        nearest,
    } = &errors[0]
    else {
        panic!("{errors:?}")
    };
    assert_eq!(from.key.name, "0123456789abcdef0123456789abcdeX-adder");
    assert_eq!(field, "spec.domain");
    assert_eq!(*target_kind, Kind::Domain);
    assert_eq!(target, "0123456789abcdef0123456789abcdeX");
    assert!(nearest.is_some());
}

#[test]
fn every_kind_of_reference_can_dangle() {
    let errors = errors(vec![
        at(domain("d1").vimana(Some("gateway")), "domains.yaml", 1),
        at(vimana("main"), "vimana.yaml", 1),
        at(
            server("d1", "adder", &[("1.0.0", 50), ("2.0.0", 0)]),
            "servers.yaml",
            1,
        ),
        at(component("d1", "adder", "1.0.0"), "components.yaml", 1),
        at(component("d1", "addr", "1.0.0"), "components.yaml", 20),
    ]);
    assert_eq!(
        messages(&errors),
        [
            "Component \"d1:addr@1.0.0\" at components.yaml:24:11 refers in spec.server to \
             Server \"d1:addr\", which does not exist; the closest is Server \"d1:adder\" at \
             servers.yaml:1:1",
            "Domain \"d1\" at domains.yaml:4:11 refers in spec.vimana to Vimana \
             \"vimana/gateway\", which does not exist",
            // A weight of 0 still names a Component that must exist.
            "Server \"d1:adder\" at servers.yaml:8:7 refers in spec.versionWeights.2.0.0 to \
             Component \"d1:adder@2.0.0\", which does not exist; the closest is Component \
             \"d1:adder@1.0.0\" at components.yaml:1:1",
        ]
    );
}

#[test]
fn a_vimana_of_another_namespace_does_not_satisfy_a_reference() {
    let errors = errors(vec![
        bare(vimana("main").in_namespace("other")),
        bare(domain("d1")),
    ]);
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(&errors[0], Error::Dangling { target, .. } if target == "vimana/main"),
        "{errors:?}"
    );
}

#[test]
fn duplicate_identities_of_every_kind_name_both_objects() {
    let errors = errors(vec![
        at(vimana("main"), "a.yaml", 1),
        at(vimana("main"), "b.yaml", 1),
        at(domain("d1"), "a.yaml", 10),
        at(domain("d1").named("other"), "b.yaml", 10),
        at(server("d1", "adder", &[]), "a.yaml", 20),
        at(server("d1", "adder", &[]).named("adder-2"), "b.yaml", 20),
        at(component("d1", "adder", "1.0.0"), "a.yaml", 30),
        at(component("d1", "adder", "1.0.0").named("c2"), "b.yaml", 30),
    ]);
    let kinds: Vec<IdentityKind> = errors
        .iter()
        .map(|e| match e {
            Error::Duplicate { identity_kind, .. } => *identity_kind,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            IdentityKind::KubernetesKey,
            IdentityKind::DomainId,
            IdentityKind::ServerId,
            IdentityKind::ComponentId
        ]
    );
    assert_eq!(
        messages(&errors),
        [
            "Vimana \"main\" at a.yaml:1:1 and Vimana \"main\" at b.yaml:1:1 have the same \
             Kubernetes kind, namespace and name \"Vimana/vimana/main\"; each must be unique",
            "Domain \"d1\" at a.yaml:10:1 and Domain \"d1\" at b.yaml:10:1 have the same Domain \
             id \"d1\"; each must be unique",
            "Server \"d1:adder\" at a.yaml:20:1 and Server \"d1:adder\" at b.yaml:20:1 have the \
             same Server identity <domain-id>:<server-id> \"d1:adder\"; each must be unique",
            "Component \"d1:adder@1.0.0\" at a.yaml:30:1 and Component \"d1:adder@1.0.0\" at \
             b.yaml:30:1 have the same Component identity <domain-id>:<server-id>@<version> \
             \"d1:adder@1.0.0\"; each must be unique",
        ]
    );
}

#[test]
fn vimanas_of_the_same_name_in_two_namespaces_are_two_objects() {
    let g = dag(&[vimana("main"), vimana("main").in_namespace("other")]);
    assert_eq!(g.node_count(), 2);
}

#[test]
fn objects_without_a_source_are_named_by_their_key() {
    let errors = errors(vec![bare(component("d1", "adder", "1.0.0"))]);
    assert_eq!(
        messages(&errors),
        [
            "Component \"d1:adder@1.0.0\" (Component/vimana/d1-adder-1-0-0) refers in spec.server \
          to Server \"d1:adder\", which does not exist"
        ]
    );
}

#[test]
fn all_errors_are_reported_in_source_order() {
    let errors = errors(vec![
        at(domain("d1").vimana(None), "a.yaml", 1),
        at(server("d2", "x", &[]), "a.yaml", 10),
        at(server("d3", "y", &[]), "a.yaml", 20),
        at(domain("d1").vimana(None), "a.yaml", 30),
    ]);
    let lines: Vec<u32> = errors
        .iter()
        .map(|e| match e {
            Error::Dangling { from, .. } => from.location.as_ref().unwrap().line,
            Error::Duplicate { second, .. } => second.location.as_ref().unwrap().line,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(lines, [13, 23, 30]);
}

#[test]
fn errors_serialize_for_tools() {
    let errors = errors(vec![bare(server("d1", "adder", &[]))]);
    let v = serde_json::to_value(&errors).unwrap();
    assert_eq!(v[0]["error"], "dangling");
    assert_eq!(v[0]["field"], "spec.domain");
    assert_eq!(v[0]["from"]["key"]["name"], "d1-adder");
    assert_eq!(v[0]["target"], "d1");
}
