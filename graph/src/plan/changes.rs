//! What differs between a desired object and its live copy: the changes an update step lists
//! ([`managed_changes`]), and the changes a live Component may not take (a version is
//! immutable).

use std::collections::BTreeSet;

use model::{Kind, Object, keys};

use crate::error::{End, Error};
use crate::owned::OwnedKeys;

/// Whether two Server specs are equal but for their weights. Written field by field, without
/// `..`, so that a new field of the spec cannot be forgotten here.
fn server_spec_eq_but_weights(a: &model::ServerSpec, b: &model::ServerSpec) -> bool {
    let model::ServerSpec {
        id,
        domain,
        services,
        auth,
        features,
        version_weights: _,
    } = a;
    *id == b.id
        && *domain == b.domain
        && *services == b.services
        && *auth == b.auth
        && *features == b.features
}

/// What the reconciler manages that differs between a desired object and its live copy, as
/// dotted paths; empty when the object is unchanged. Labels and annotations of the desired object
/// must be in the live one with the same values (others' keys are ignored); a key in `owned` (the
/// keys the reconciler owns on the live object) that the desired object no longer has and the
/// live one still carries is a change too; the spec must be equal, except a Server's
/// `versionWeights`, which its Weights step compares.
///
/// The rollout state annotation ([`keys::ROLLOUT_STATE`]) is never a removal: the rollout engine
/// writes it, the render never has it.
pub fn managed_changes(desired: &Object, live: &Object, owned: Option<&OwnedKeys>) -> Vec<String> {
    let mut changes = Vec::new();
    let (d, l) = (desired.meta(), live.meta());
    let none = OwnedKeys::default();
    let owned = owned.unwrap_or(&none);
    let mut section = |prefix: &str,
                       desired: &model::StringMap,
                       live: &model::StringMap,
                       owned: &BTreeSet<String>| {
        let first = changes.len();
        for (k, v) in desired {
            if live.get(k) != Some(v) {
                changes.push(format!("{prefix}.{k}"));
            }
        }
        for k in owned {
            let removed = !desired.contains_key(k) && live.contains_key(k);
            if removed && k != keys::ROLLOUT_STATE {
                changes.push(format!("{prefix}.{k}"));
            }
        }
        changes[first..].sort_unstable();
    };
    section("metadata.labels", &d.labels, &l.labels, &owned.labels);
    section(
        "metadata.annotations",
        &d.annotations,
        &l.annotations,
        &owned.annotations,
    );
    let spec_equal = match (desired, live) {
        (Object::Vimana(a), Object::Vimana(b)) => a.spec == b.spec,
        (Object::Domain(a), Object::Domain(b)) => a.spec == b.spec,
        (Object::Server(a), Object::Server(b)) => server_spec_eq_but_weights(&a.spec, &b.spec),
        (Object::Component(a), Object::Component(b)) => a.spec == b.spec,
        _ => false,
    };
    if !spec_equal {
        // Only objects that differ pay for the field-by-field comparison.
        let spec = |o: &Object| match o.to_value() {
            serde_json::Value::Object(mut m) => match m.remove("spec") {
                Some(serde_json::Value::Object(s)) => s,
                _ => serde_json::Map::new(),
            },
            _ => serde_json::Map::new(),
        };
        let (mut ds, mut ls) = (spec(desired), spec(live));
        if desired.kind() == Kind::Server {
            ds.remove("versionWeights");
            ls.remove("versionWeights");
        }
        let mut fields: Vec<&String> = ds.keys().chain(ls.keys()).collect();
        fields.sort();
        fields.dedup();
        for f in fields {
            if ds.get(f) != ls.get(f) {
                changes.push(format!("spec.{f}"));
            }
        }
    }
    changes
}

/// The error for a desired Component that would change the version, image or Kumori digest of
/// the live Component with the same key.
pub(super) fn immutable_change(desired: &model::Manifest, live: &Object) -> Option<Error> {
    let (Object::Component(d), Object::Component(l)) = (&desired.object, live) else {
        return None;
    };
    fn digest(o: &model::Component) -> &str {
        o.metadata
            .annotations
            .get(keys::KUMORI_DIGEST)
            .map_or("", String::as_str)
    }
    let (field, live_value, desired_value) = if d.spec.version != l.spec.version {
        (
            "spec.version",
            l.spec.version.clone(),
            d.spec.version.clone(),
        )
    } else if d.spec.image != l.spec.image {
        ("spec.image", l.spec.image.clone(), d.spec.image.clone())
    } else if digest(d) != digest(l) {
        (
            // The render knows no location for annotations; the error points at the document.
            "metadata.annotations.kumori.vimana.host/digest",
            digest(l).to_owned(),
            digest(d).to_owned(),
        )
    } else {
        return None;
    };
    Some(Error::ImmutableComponent {
        desired: End::of(desired, Some(field)),
        live: End::object(live, None),
        field: field.into(),
        live_value,
        desired_value,
    })
}
