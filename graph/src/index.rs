//! Lookup of objects by every identity the platform uses, and the references between them. Shared
//! by the desired graph (strict: duplicates are errors) and the live state (lenient).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use model::{Kind, Object, ObjectKey};

use crate::error::IdentityKind;

/// Position of an object in the slice an [`Index`] was built from.
pub(crate) type Pos = usize;

/// A reference from an object to the object it depends on (its parent in the hierarchy).
pub(crate) struct ParentRef<'a> {
    /// Dotted path of the referencing field.
    pub field: &'static str,
    /// Kind of the parent.
    pub kind: Kind,
    /// Lookup key of the parent in its [`Index`] map.
    pub lookup: &'a str,
}

/// The hierarchy reference of an object, if its kind has one: Domain → Vimana (when
/// `spec.vimana` is set), Server → Domain, Component → Server. A lookup key that is not a
/// field of the object is written into `buf`, which the caller reuses from object to object
/// (a graph of 40k objects made 40k strings here).
pub(crate) fn parent_ref<'a>(object: &'a Object, buf: &'a mut String) -> Option<ParentRef<'a>> {
    match object {
        Object::Vimana(_) => None,
        Object::Domain(d) => d.spec.vimana.as_ref().map(|v| {
            buf.clear();
            buf.push_str(d.metadata.namespace.as_deref().unwrap_or_default());
            buf.push('/');
            buf.push_str(v);
            ParentRef {
                field: "spec.vimana",
                kind: Kind::Vimana,
                lookup: buf.as_str(),
            }
        }),
        Object::Server(s) => Some(ParentRef {
            field: "spec.domain",
            kind: Kind::Domain,
            lookup: &s.spec.domain,
        }),
        // A Component names its Server by two fields; the error points at `spec.server`, the one
        // that is most often wrong (the domain id is usually copied whole).
        Object::Component(c) => {
            buf.clear();
            buf.push_str(&c.spec.domain);
            buf.push(':');
            buf.push_str(&c.spec.server);
            Some(ParentRef {
                field: "spec.server",
                kind: Kind::Server,
                lookup: buf.as_str(),
            })
        }
    }
}

/// Lookup key of a Vimana: references stay within a namespace.
pub(crate) fn vimana_lookup(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Lookup key of an object in the map of its kind: what [`ParentRef::lookup`] holds for it.
pub(crate) fn lookup_key(object: &Object) -> String {
    match object {
        Object::Vimana(v) => vimana_lookup(
            v.metadata.namespace.as_deref().unwrap_or_default(),
            &v.metadata.name,
        ),
        _ => object.identity(),
    }
}

/// Two objects that share an identity: the kind of identity and both positions.
pub(crate) struct Clash {
    pub identity_kind: IdentityKind,
    pub value: String,
    pub first: Pos,
    pub second: Pos,
}

/// Objects by Kubernetes key and by the identity of each kind. When two objects share an
/// identity, the first one stays in the maps.
#[derive(Default)]
pub(crate) struct Index {
    pub by_key: HashMap<ObjectKey, Pos>,
    by_kind: [HashMap<String, Pos>; 4],
}

impl Index {
    /// Indexes `objects`; returns the index and every identity clash.
    pub fn build<'a>(objects: impl IntoIterator<Item = &'a Object>) -> (Index, Vec<Clash>) {
        let objects = objects.into_iter();
        let capacity = objects.size_hint().0;
        let mut index = Index {
            by_key: HashMap::with_capacity(capacity),
            by_kind: Default::default(),
        };
        let mut clashes = Vec::new();
        for (pos, object) in objects.enumerate() {
            match index.by_key.entry(object.key()) {
                Entry::Occupied(e) => {
                    clashes.push(Clash {
                        identity_kind: IdentityKind::KubernetesKey,
                        value: e.key().to_string(),
                        first: *e.get(),
                        second: pos,
                    });
                    // The same key twice is one object written twice; its identity would only
                    // clash with itself.
                    continue;
                }
                Entry::Vacant(e) => {
                    e.insert(pos);
                }
            }
            let identity_kind = match object.kind() {
                // A Vimana's identity is its key, checked above.
                Kind::Vimana => None,
                Kind::Domain => Some(IdentityKind::DomainId),
                Kind::Server => Some(IdentityKind::ServerId),
                Kind::Component => Some(IdentityKind::ComponentId),
            };
            match index.by_kind[object.kind() as usize].entry(lookup_key(object)) {
                Entry::Occupied(e) => {
                    if let Some(identity_kind) = identity_kind {
                        clashes.push(Clash {
                            identity_kind,
                            value: e.key().clone(),
                            first: *e.get(),
                            second: pos,
                        });
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(pos);
                }
            }
        }
        (index, clashes)
    }

    /// The object of `kind` with lookup key `lookup`.
    pub fn get(&self, kind: Kind, lookup: &str) -> Option<Pos> {
        self.by_kind[kind as usize].get(lookup).copied()
    }

    /// Every lookup key of `kind` with its position.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&str, Pos)> {
        self.by_kind[kind as usize]
            .iter()
            .map(|(k, &p)| (k.as_str(), p))
    }

    /// The parent of `object` in this index, if its kind has one and it is there.
    pub fn parent(&self, object: &Object) -> Option<Pos> {
        parent_ref(object, &mut String::new()).and_then(|r| self.get(r.kind, r.lookup))
    }
}

/// A Kubernetes key borrowed from an object or an [`ObjectKey`]: kind, namespace, name. Maps of
/// the objects a plan reads are keyed by it, so that building and searching them copies no
/// string.
pub(crate) type KeyRef<'a> = (Kind, &'a str, &'a str);

/// The Kubernetes key of `object`, borrowed.
pub(crate) fn key_ref(object: &Object) -> KeyRef<'_> {
    let meta = object.meta();
    (
        object.kind(),
        meta.namespace.as_deref().unwrap_or_default(),
        &meta.name,
    )
}

/// An [`ObjectKey`], borrowed.
pub(crate) fn borrow_key(key: &ObjectKey) -> KeyRef<'_> {
    (key.kind, &key.namespace, &key.name)
}

/// Objects by Kubernetes key alone, the first of each key: what matching desired with live
/// objects needs.
pub(crate) fn keys(objects: &[Object]) -> HashMap<KeyRef<'_>, Pos> {
    let mut map = HashMap::with_capacity(objects.len());
    for (pos, object) in objects.iter().enumerate() {
        map.entry(key_ref(object)).or_insert(pos);
    }
    map
}
