//! The four Vimana kinds with spec and status, as the API server stores them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::Kind;

/// Labels or annotations: keys sorted, as in a `BTreeMap`, but held in one vector of exactly
/// the entries. A `BTreeMap` node has room for 11 entries whatever the map holds; with the
/// 5 labels of a rendered Component, and 40k objects held at once, that slack was 25 MB
/// (docs/memory.md).
pub type StringMap = litemap::LiteMap<String, String>;

/// The metadata of a Vimana object that the reconciler reads and writes. Server-set fields are
/// kept when an object comes from a cluster and are absent from rendered objects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name, a DNS-1123 subdomain.
    pub name: String,
    /// Namespace; always set on rendered objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.labels`, sorted by key.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    /// `metadata.annotations`, sorted by key.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub annotations: StringMap,
    /// Server-set: unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Server-set: version for optimistic concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Server-set: bumped on every change of the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// `status` of every Vimana kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Conditions set by the Vimana operator (type `Available`, among others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Status {
    /// The condition of the given type, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// Status of a condition (metav1.ConditionStatus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known.
    Unknown,
}

/// A metav1.Condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, such as `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// The generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 time of the last change of `status`.
    pub last_transition_time: String,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

/// The spec of one of the four kinds.
pub trait Spec: Serialize + DeserializeOwned + Clone + fmt::Debug + PartialEq {
    /// The kind this spec belongs to.
    const KIND: Kind;
}

/// An object of a Vimana kind: metadata, spec and status. `apiVersion` and `kind` are implied by
/// the spec type and written on serialization.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource<S> {
    /// Name, namespace, labels and annotations.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: S,
    /// Observed state; `None` on rendered objects.
    pub status: Option<Status>,
}

impl<S: Spec> Resource<S> {
    /// A resource with the given name and spec, no namespace, labels or status.
    pub fn new(name: impl Into<String>, spec: S) -> Self {
        Resource {
            metadata: ObjectMeta {
                name: name.into(),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRef<'a, S> {
    api_version: &'a str,
    kind: &'a str,
    metadata: &'a ObjectMeta,
    spec: &'a S,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire<S> {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: S,
    #[serde(default)]
    status: Option<Status>,
}

impl<S: Spec> Serialize for Resource<S> {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        WireRef {
            api_version: crate::API_VERSION,
            kind: S::KIND.as_str(),
            metadata: &self.metadata,
            spec: &self.spec,
            status: self.status.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de, S: Spec> Deserialize<'de> for Resource<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<S>::deserialize(deserializer)?;
        if wire.api_version != crate::API_VERSION {
            return Err(serde::de::Error::custom(format!(
                "apiVersion is {:?}, expected {:?}",
                wire.api_version,
                crate::API_VERSION
            )));
        }
        if wire.kind != S::KIND.as_str() {
            return Err(serde::de::Error::custom(format!(
                "kind is {:?}, expected {:?}",
                wire.kind,
                S::KIND.as_str()
            )));
        }
        Ok(Resource {
            metadata: wire.metadata,
            spec: wire.spec,
            status: wire.status,
        })
    }
}

/// A Vimana: the gateway that exposes its Domains.
pub type Vimana = Resource<VimanaSpec>;
/// A Domain: SNI routing, reflection and OpenAPI settings of a set of Servers.
pub type Domain = Resource<DomainSpec>;
/// A Server: a set of gRPC services deployed and upgraded as a unit, with version weights.
pub type Server = Resource<ServerSpec>;
/// A Component: one concrete, immutable version of a Server.
pub type Component = Resource<ComponentSpec>;

/// Spec of a Vimana.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimanaSpec {
    /// Regions the gateway runs in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

impl Spec for VimanaSpec {
    const KIND: Kind = Kind::Vimana;
}

/// Spec of a Domain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// 32 lowercase hexadecimal characters, unique in the cluster.
    pub id: String,
    /// Name of the Vimana the Domain belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vimana: Option<String>,
    /// Alias DNS names, unique across Domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Regions the Domain is served in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Failover regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover: Vec<String>,
    /// gRPC settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcSpec>,
    /// Whether an OpenAPI schema is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_api: Option<bool>,
}

impl Spec for DomainSpec {
    const KIND: Kind = Kind::Domain;
}

/// `Domain.spec.grpc`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcSpec {
    /// Server reflection settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflection: Option<ReflectionSpec>,
}

/// `Domain.spec.grpc.reflection`: at most one of the two lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReflectionSpec {
    /// Reflect no service but these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none_but: Option<Vec<String>>,
    /// Reflect every service but these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_but: Option<Vec<String>>,
}

/// Spec of a Server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// Id, unique within its Domain.
    pub id: String,
    /// Id of the Domain.
    pub domain: String,
    /// Fully qualified gRPC service names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// Feature flags, each an object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, serde_json::Value>,
    /// Traffic weight of each version; a version's share is its weight over the sum.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version_weights: BTreeMap<String, i32>,
}

impl Spec for ServerSpec {
    const KIND: Kind = Kind::Server;
}

/// `Server.spec.auth`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// JWKS URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwks: Vec<String>,
}

/// Spec of a Component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Semantic version, unique within its Server and never re-used.
    pub version: String,
    /// Id of the Server.
    pub server: String,
    /// Id of the Domain.
    pub domain: String,
    /// OCI image reference.
    pub image: String,
}

impl Spec for ComponentSpec {
    const KIND: Kind = Kind::Component;
}
