//! Lookup of objects by every identity the platform uses, and the references between them. Shared
//! by the desired graph (strict: duplicates are errors) and the live state (lenient).

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use foldhash::{HashMap, HashMapExt};
use hashbrown::HashTable;
use model::{Kind, Manifest, Object, ObjectKey};

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

/// The parts of an object's lookup key, to be joined: what [`ParentRef::lookup`] holds for it.
/// A Vimana's is `<namespace>/<name>` (references stay within a namespace), the others' their
/// platform identity ([`Object::identity`]): the Domain id, `<domain>:<server>`,
/// `<domain>:<server>@<version>`.
fn lookup_parts(object: &Object) -> [&str; 5] {
    match object {
        Object::Vimana(v) => [
            v.metadata.namespace.as_deref().unwrap_or_default(),
            "/",
            &v.metadata.name,
            "",
            "",
        ],
        Object::Domain(d) => [&d.spec.id, "", "", "", ""],
        Object::Server(s) => [&s.spec.domain, ":", &s.spec.id, "", ""],
        Object::Component(c) => [&c.spec.domain, ":", &c.spec.server, "@", &c.spec.version],
    }
}

/// Lookup key of an object in the map of its kind, written into `buf`.
fn write_lookup(object: &Object, buf: &mut String) {
    buf.clear();
    for part in lookup_parts(object) {
        buf.push_str(part);
    }
}

/// Lookup key of an object in the map of its kind.
pub(crate) fn lookup_key(object: &Object) -> String {
    let mut buf = String::new();
    write_lookup(object, &mut buf);
    buf
}

/// Whether `lookup` is the lookup key of `object`, compared part by part (no string made).
fn is_lookup_of(object: &Object, lookup: &str) -> bool {
    let mut rest = lookup;
    for part in lookup_parts(object) {
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Two objects that share an identity: the kind of identity and both positions.
pub(crate) struct Clash {
    pub identity_kind: IdentityKind,
    pub value: String,
    pub first: Pos,
    pub second: Pos,
}

/// What an [`Index`] indexes: objects by position.
pub(crate) trait Objects {
    /// How many.
    fn count(&self) -> usize;
    /// The object at `pos`.
    fn at(&self, pos: Pos) -> &Object;
}

impl Objects for [Object] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, pos: Pos) -> &Object {
        &self[pos]
    }
}

impl Objects for [Manifest] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, pos: Pos) -> &Object {
        &self[pos].object
    }
}

/// Objects by Kubernetes key and by the identity of each kind. When two objects share an
/// identity, the first one stays in the maps.
///
/// The tables hold positions only, hashed by the key each object has; a search compares the
/// objects themselves. A map keyed by strings would copy the key and the identity of every
/// object (three strings each), for every graph built: a tenth of the one-file pass at 40k
/// objects, with as much again to free them (docs/graph.md).
#[derive(Default)]
pub(crate) struct Index {
    by_key: HashTable<Pos>,
    by_kind: [HashTable<Pos>; 4],
    hasher: RandomState,
}

impl Index {
    /// Indexes `objects`; returns the index and every identity clash.
    pub fn build<O: Objects + ?Sized>(objects: &O) -> (Index, Vec<Clash>) {
        let hasher = RandomState::default();
        let mut by_key = HashTable::with_capacity(objects.count());
        let mut by_kind: [HashTable<Pos>; 4] = Default::default();
        for kind in Kind::ALL {
            let n = (0..objects.count())
                .filter(|&p| objects.at(p).kind() == kind)
                .count();
            by_kind[kind as usize].reserve(n, |_| unreachable!("empty table"));
        }
        let rehash_lookup = |p: &Pos| {
            let mut buf = String::new();
            write_lookup(objects.at(*p), &mut buf);
            hasher.hash_one(buf.as_str())
        };
        let mut clashes = Vec::new();
        let mut lookup = String::new();
        for pos in 0..objects.count() {
            let object = objects.at(pos);
            let key = key_ref(object);
            let hash = hasher.hash_one(key);
            if let Some(&first) = by_key.find(hash, |&p| key_ref(objects.at(p)) == key) {
                clashes.push(Clash {
                    identity_kind: IdentityKind::KubernetesKey,
                    value: object.key().to_string(),
                    first,
                    second: pos,
                });
                // The same key twice is one object written twice; its identity would only
                // clash with itself.
                continue;
            }
            by_key.insert_unique(hash, pos, |&p| hasher.hash_one(key_ref(objects.at(p))));
            let identity_kind = match object.kind() {
                // A Vimana's identity is its key, checked above.
                Kind::Vimana => None,
                Kind::Domain => Some(IdentityKind::DomainId),
                Kind::Server => Some(IdentityKind::ServerId),
                Kind::Component => Some(IdentityKind::ComponentId),
            };
            write_lookup(object, &mut lookup);
            let hash = hasher.hash_one(lookup.as_str());
            let table = &mut by_kind[object.kind() as usize];
            match table.find(hash, |&p| is_lookup_of(objects.at(p), &lookup)) {
                Some(&first) => {
                    if let Some(identity_kind) = identity_kind {
                        clashes.push(Clash {
                            identity_kind,
                            value: lookup.clone(),
                            first,
                            second: pos,
                        });
                    }
                }
                None => {
                    table.insert_unique(hash, pos, rehash_lookup);
                }
            }
        }
        let index = Index {
            by_key,
            by_kind,
            hasher,
        };
        (index, clashes)
    }

    /// The position of the object with this Kubernetes key.
    pub fn key<O: Objects + ?Sized>(&self, objects: &O, key: KeyRef<'_>) -> Option<Pos> {
        let hash = self.hasher.hash_one(key);
        self.by_key
            .find(hash, |&p| key_ref(objects.at(p)) == key)
            .copied()
    }

    /// How many objects are indexed by key.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The object of `kind` with lookup key `lookup`.
    pub fn get<O: Objects + ?Sized>(&self, objects: &O, kind: Kind, lookup: &str) -> Option<Pos> {
        let hash = self.hasher.hash_one(lookup);
        self.by_kind[kind as usize]
            .find(hash, |&p| is_lookup_of(objects.at(p), lookup))
            .copied()
    }

    /// Every object of `kind` in the lookup map, by position.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = Pos> + '_ {
        self.by_kind[kind as usize].iter().copied()
    }

    /// The parent of `object` in this index, if its kind has one and it is there.
    pub fn parent<O: Objects + ?Sized>(&self, objects: &O, object: &Object) -> Option<Pos> {
        parent_ref(object, &mut String::new()).and_then(|r| self.get(objects, r.kind, r.lookup))
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
