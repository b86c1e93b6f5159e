//! The one error type of the crate: what makes a set of objects unusable as a graph or a plan.

use std::fmt;

use model::{Kind, Location, Manifest, Object, ObjectKey};
use serde::Serialize;

/// One end of an error: an object, its platform identity, and where it is written.
///
/// Objects rendered from sources carry a location (the referencing field's, or the document's);
/// objects without a source, such as live objects read from a cluster, are named by their
/// Kubernetes key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct End {
    /// Kubernetes key of the object.
    pub key: ObjectKey,
    /// Platform identity (`Object::identity`).
    pub identity: String,
    /// Where the object, or the field the error is about, is written.
    pub location: Option<Location>,
}

impl End {
    /// The end for `manifest`, located at `field` when its source knows that field, else at the
    /// start of its document.
    pub fn of(manifest: &Manifest, field: Option<&str>) -> End {
        let location = manifest.source.as_ref().map(|s| match field {
            Some(f) => s.field(f),
            None => s.document.clone(),
        });
        End::object(&manifest.object, location)
    }

    /// The end for an object at a known location (or none).
    pub fn object(object: &Object, location: Option<Location>) -> End {
        End {
            key: object.key(),
            identity: object.identity(),
            location,
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.key.kind, self.identity)?;
        match &self.location {
            Some(loc) => write!(f, " at {loc}"),
            None => write!(f, " ({})", self.key),
        }
    }
}

/// Which identity two objects share in a [`Error::Duplicate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IdentityKind {
    /// Kind, namespace and name.
    KubernetesKey,
    /// A Domain's `spec.id`, unique in the cluster.
    DomainId,
    /// A Server's `<domain-id>:<server-id>`.
    ServerId,
    /// A Component's `<domain-id>:<server-id>@<version>`.
    ComponentId,
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityKind::KubernetesKey => "Kubernetes kind, namespace and name",
            IdentityKind::DomainId => "Domain id",
            IdentityKind::ServerId => "Server identity <domain-id>:<server-id>",
            IdentityKind::ComponentId => "Component identity <domain-id>:<server-id>@<version>",
        })
    }
}

/// Why a set of objects cannot be turned into a graph, or a plan cannot be made.
///
/// Every variant names both ends with their source locations, so that a message can be acted on
/// without looking anything up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "camelCase")]
pub enum Error {
    /// An object refers to another that is not in the set: a Domain's `spec.vimana`, a Server's
    /// `spec.domain`, a Component's `spec.domain` + `spec.server`, or a version named in a
    /// Server's `spec.versionWeights` (whatever its weight).
    #[error(
        "{from} refers in {field} to {target_kind} {target:?}, which does not exist{}",
        nearest.as_ref().map(|n| format!("; the closest is {n}")).unwrap_or_default()
    )]
    Dangling {
        /// The referencing object, located at the referencing field.
        from: End,
        /// Dotted path of the referencing field (`spec.domain`).
        field: String,
        /// Kind of the missing object.
        target_kind: Kind,
        /// Identity of the missing object (for a Vimana: `<namespace>/<name>`).
        target: String,
        /// The existing object of that kind whose identity is closest, as a hint for typos.
        nearest: Option<End>,
    },
    /// Two objects share an identity that must be unique.
    #[error("{first} and {second} have the same {identity_kind} {value:?}; each must be unique")]
    Duplicate {
        /// Which identity.
        identity_kind: IdentityKind,
        /// The shared value (`<domain-id>:<server-id>` for a Server, say).
        value: String,
        /// The object seen first (in manifest order).
        first: End,
        /// The object seen second.
        second: End,
    },
    /// The references close a cycle. The four kinds only refer to earlier kinds, so this cannot
    /// happen with valid objects; it is checked so that a future kind cannot break the ordering
    /// silently.
    #[error("{from} and {to} depend on each other through a cycle")]
    Cycle {
        /// The object at the start of the edge that closes the cycle.
        from: End,
        /// The object at its end.
        to: End,
    },
    /// A live Component would change a field that makes it another version (DESIGN section 6:
    /// versions are immutable).
    #[error(
        "{desired} would change {field} of live {live} from {live_value:?} to {desired_value:?}; \
         a Component version is immutable: give the change a new version in a new Component \
         (another metadata.name, or none to derive one) and move the weights to it"
    )]
    ImmutableComponent {
        /// The desired Component, located at the changed field.
        desired: End,
        /// The live Component with the same Kubernetes key.
        live: End,
        /// Dotted path of the field (`spec.image`, `spec.version`,
        /// `metadata.annotations.kumori.vimana.host/digest`).
        field: String,
        /// The live value (empty when absent).
        live_value: String,
        /// The desired value (empty when absent).
        desired_value: String,
    },
}

impl Error {
    /// Where the error is reported: the referencing field of a dangling reference, the second of
    /// two duplicates, the start of the edge that closes a cycle, the changed field of a
    /// Component. `None` for objects without a source.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Dangling { from, .. } => from.location.as_ref(),
            Error::Duplicate { second, .. } => second.location.as_ref(),
            Error::Cycle { from, .. } => from.location.as_ref(),
            Error::ImmutableComponent { desired, .. } => desired.location.as_ref(),
        }
    }
}

/// Sorts errors by [`Error::location`], those without a location last; stable, so errors at the
/// same place keep the order they were found in.
pub(crate) fn sort(errors: &mut [Error]) {
    errors.sort_by(|a, b| match (a.location(), b.location()) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}
