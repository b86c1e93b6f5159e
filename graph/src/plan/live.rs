//! The live state a plan starts from: the objects read from the cluster, which of them may be
//! pruned, and the keys the reconciler owns on them.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::BTreeMap;

use model::{Object, ObjectKey};

use crate::owned::OwnedKeys;

/// A Server's `spec.versionWeights`: version → weight.
pub type Weights = BTreeMap<String, i32>;

/// The live state a plan starts from.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Objects read from the cluster, with status and live `versionWeights`.
    pub objects: Vec<Object>,
    /// Keys of the live objects that may be deleted when they are not desired. The caller
    /// decides (DESIGN section 6: in the inventory and carrying the instance label).
    pub prune: HashSet<ObjectKey>,
    /// Per live object, the label and annotation keys the reconciler's field manager owns
    /// ([`crate::owned_keys`]). An owned key the desired object no longer has is a change (the
    /// apply removes it); an object without an entry is compared on the desired keys only.
    pub owned: HashMap<ObjectKey, OwnedKeys>,
    /// Keys of live objects the caller already found to be what the reconciler manages of
    /// the desired object ([`crate::managed_changes`] empty, and a Server's weights equal):
    /// they are not compared again, so the caller may drop what only the comparison reads
    /// (their labels and annotations). What a plan reads for other reasons stays: the spec
    /// (references, weights) and a Component's Kumori digest (an immutable change).
    pub unchanged: HashSet<ObjectKey>,
}

impl Live {
    /// A live state with these objects, none of them a prune candidate.
    pub fn new(objects: Vec<Object>) -> Live {
        Live {
            objects,
            prune: HashSet::new(),
            owned: HashMap::new(),
            unchanged: HashSet::new(),
        }
    }

    /// Marks these keys as prune candidates.
    pub fn with_prune(mut self, keys: impl IntoIterator<Item = ObjectKey>) -> Live {
        self.prune.extend(keys);
        self
    }

    /// Marks these keys as already compared and unchanged (see [`Live::unchanged`]).
    pub fn with_unchanged(mut self, keys: impl IntoIterator<Item = ObjectKey>) -> Live {
        self.unchanged.extend(keys);
        self
    }

    /// Records the keys the reconciler owns on these live objects.
    pub fn with_owned(mut self, owned: impl IntoIterator<Item = (ObjectKey, OwnedKeys)>) -> Live {
        self.owned.extend(owned);
        self
    }
}

/// The weights of a live Server, or none.
pub(super) fn live_weights(live: Option<&Object>) -> &Weights {
    static NONE: Weights = Weights::new();
    match live {
        Some(Object::Server(s)) => &s.spec.version_weights,
        _ => &NONE,
    }
}
