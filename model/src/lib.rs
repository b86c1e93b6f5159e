//! The typed model of the four Vimana kinds (`api.vimana.host/v1alpha1`): Vimana, Domain,
//! Server and Component, with their specs and statuses, plus the labels, annotations, name rules
//! and rollout policy that every crate of the reconciler agrees on.
//!
//! The model is the *cluster* shape of the objects: what is sent to and read from the API server.
//! Source-only fields (such as a Component's `spec.kumori` binding) live in the `render` crate.
//! This crate does no I/O.

pub mod duration;
pub mod keys;
pub mod kind;
pub mod names;
pub mod object;
pub mod resources;
pub mod rollout;

pub use kind::Kind;
pub use object::{FieldAt, Location, Manifest, Object, ObjectKey, SourceInfo};
pub use resources::{
    AuthSpec, Component, ComponentSpec, Condition, ConditionStatus, Domain, DomainSpec, GrpcSpec,
    ObjectMeta, ReflectionSpec, Resource, Server, ServerSpec, Spec, Status, StringMap, Vimana,
    VimanaSpec,
};

/// API group of the Vimana kinds.
pub const GROUP: &str = "api.vimana.host";
/// API version of the Vimana kinds.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` value of every Vimana object.
pub const API_VERSION: &str = "api.vimana.host/v1alpha1";
/// Suffix of a Domain's canonical name: `<id>.vimana.host`.
pub const CANONICAL_DOMAIN_SUFFIX: &str = "vimana.host";

/// The canonical DNS name of a Domain: `<id>.vimana.host`.
pub fn canonical_domain_name(id: &str) -> String {
    format!("{id}.{CANONICAL_DOMAIN_SUFFIX}")
}
