//! Any object of the four kinds, its key, and where a rendered object came from.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::kind::Kind;
use crate::resources::{Component, Domain, ObjectMeta, Server, Status, Vimana};

/// Kubernetes identity of an object: kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Which of the four kinds.
    pub kind: Kind,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// An object of any of the four kinds.
///
/// Each kind is behind an [`Arc`]: a clone is a reference count, not a copy, and a change
/// copies only an object that is shared ([`Arc::make_mut`]). A pass holds the same object in
/// several places at once (the render, the graph, the plan's steps, the live state lent to
/// the plan); at 40k objects, copies of each were tens of MB (docs/memory.md). An `Object`
/// itself is two words, so vectors and maps of them have no slack the size of an object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Object {
    /// `kind: Vimana`: the gateway, with its regions; Domains name it.
    Vimana(Arc<Vimana>),
    /// `kind: Domain`: an id, aliases and gRPC settings.
    Domain(Arc<Domain>),
    /// `kind: Server`: its services and the weights of its versions.
    Server(Arc<Server>),
    /// `kind: Component`: one version of a Server, an image.
    Component(Arc<Component>),
}

macro_rules! object_from {
    ($($kind:ident),*) => {$(
        impl From<$kind> for Object {
            fn from(o: $kind) -> Object {
                Object::$kind(Arc::new(o))
            }
        }
    )*};
}
object_from!(Vimana, Domain, Server, Component);

impl Object {
    /// Which of the four kinds it is.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Vimana(_) => Kind::Vimana,
            Object::Domain(_) => Kind::Domain,
            Object::Server(_) => Kind::Server,
            Object::Component(_) => Kind::Component,
        }
    }

    /// The metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Vimana(o) => &o.metadata,
            Object::Domain(o) => &o.metadata,
            Object::Server(o) => &o.metadata,
            Object::Component(o) => &o.metadata,
        }
    }

    /// The metadata, mutable.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Vimana(o) => &mut Arc::make_mut(o).metadata,
            Object::Domain(o) => &mut Arc::make_mut(o).metadata,
            Object::Server(o) => &mut Arc::make_mut(o).metadata,
            Object::Component(o) => &mut Arc::make_mut(o).metadata,
        }
    }

    /// The status, if any.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Object::Vimana(o) => o.status.as_ref(),
            Object::Domain(o) => o.status.as_ref(),
            Object::Server(o) => o.status.as_ref(),
            Object::Component(o) => o.status.as_ref(),
        }
    }

    /// The Kubernetes key; an absent namespace reads as empty.
    pub fn key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey {
            kind: self.kind(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone(),
        }
    }

    /// The platform identity: the Vimana name, the Domain id, `<domain>:<server>` or
    /// `<domain>:<server>@<version>`.
    pub fn identity(&self) -> String {
        match self {
            Object::Vimana(o) => o.metadata.name.clone(),
            Object::Domain(o) => o.spec.id.clone(),
            Object::Server(o) => format!("{}:{}", o.spec.domain, o.spec.id),
            Object::Component(o) => {
                format!("{}:{}@{}", o.spec.domain, o.spec.server, o.spec.version)
            }
        }
    }

    /// The object as JSON, keys in canonical (sorted) order.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("model objects always serialize")
    }

    /// Reads an object of any of the four kinds from JSON, choosing by `kind`.
    pub fn from_value(value: serde_json::Value) -> Result<Object, serde_json::Error> {
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(Kind::from_kind_str);
        match kind {
            Some(Kind::Vimana) => serde_json::from_value::<Vimana>(value).map(Object::from),
            Some(Kind::Domain) => serde_json::from_value::<Domain>(value).map(Object::from),
            Some(Kind::Server) => serde_json::from_value::<Server>(value).map(Object::from),
            Some(Kind::Component) => serde_json::from_value::<Component>(value).map(Object::from),
            None => Err(serde::de::Error::custom(
                "kind is not one of Vimana, Domain, Server, Component",
            )),
        }
    }

    /// [`Object::from_value`] from a borrowed value: what reads an object and keeps its JSON
    /// too needs no copy of it.
    pub fn from_json(value: &serde_json::Value) -> Result<Object, serde_json::Error> {
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(Kind::from_kind_str);
        match kind {
            Some(Kind::Vimana) => Vimana::deserialize(value).map(Object::from),
            Some(Kind::Domain) => Domain::deserialize(value).map(Object::from),
            Some(Kind::Server) => Server::deserialize(value).map(Object::from),
            Some(Kind::Component) => Component::deserialize(value).map(Object::from),
            None => Err(serde::de::Error::custom(
                "kind is not one of Vimana, Domain, Server, Component",
            )),
        }
    }
}

/// A place in a source file: repository-relative path, 1-based line and column.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Path relative to the repository root, `/`-separated.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where a rendered object was written: its document and the fields that reference others.
///
/// Compact on purpose: the render holds one per object (40k at once), so the fields are one
/// sorted vector of paths with line and column, all in the document's file, rather than a map
/// of `Location`s that each copy the file's path (about 0.6 KiB per object less).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Start of the YAML document.
    pub document: Location,
    /// The fields, sorted by dotted path; see [`SourceInfo::new`].
    fields: Vec<FieldAt>,
}

/// Where one field of a document is written: its dotted path (`spec.domain`,
/// `spec.versionWeights.1.0.0`), line and column in the document's file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldAt {
    /// Dotted path.
    pub path: Box<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl SourceInfo {
    /// The source of a document at `document` with these fields (in any order; a path given
    /// twice keeps its last place).
    pub fn new(document: Location, fields: impl IntoIterator<Item = FieldAt>) -> SourceInfo {
        let mut fields: Vec<FieldAt> = fields.into_iter().collect();
        fields.reverse();
        fields.sort_by(|a, b| a.path.cmp(&b.path));
        fields.dedup_by(|later, kept| later.path == kept.path);
        fields.shrink_to_fit();
        SourceInfo { document, fields }
    }

    /// The location of a field, else of the document.
    pub fn field(&self, path: &str) -> Location {
        match self.position(path) {
            Some(i) => Location {
                file: self.document.file.clone(),
                line: self.fields[i].line,
                column: self.fields[i].column,
            },
            None => self.document.clone(),
        }
    }

    /// The index of a field among [`SourceInfo::fields`], if it is known.
    pub fn position(&self, path: &str) -> Option<usize> {
        self.fields.binary_search_by(|f| (*f.path).cmp(path)).ok()
    }

    /// The fields, sorted by path.
    pub fn fields(&self) -> &[FieldAt] {
        &self.fields
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    fn at(path: &str, line: u32) -> FieldAt {
        FieldAt {
            path: path.into(),
            line,
            column: 3,
        }
    }

    #[test]
    fn fields_are_found_by_path_in_the_documents_file() {
        let doc = Location {
            file: "a.yaml".into(),
            line: 10,
            column: 1,
        };
        let s = SourceInfo::new(
            doc.clone(),
            [
                at("spec.server", 12),
                at("spec.domain", 11),
                at("spec.domain", 13),
            ],
        );
        let paths: Vec<&str> = s.fields().iter().map(|f| &*f.path).collect();
        assert_eq!(paths, ["spec.domain", "spec.server"]);
        assert_eq!(
            s.field("spec.domain").to_string(),
            "a.yaml:13:3",
            "the last place wins"
        );
        assert_eq!(s.position("spec.server"), Some(1));
        assert_eq!(s.field("spec.image"), doc);
    }
}

/// A rendered object with the place it came from (`None` for objects read from a cluster).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The object as rendered, labels and annotations set.
    pub object: Object,
    /// Where it came from.
    pub source: Option<SourceInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ComponentSpec, Resource};

    #[test]
    fn round_trips_through_json_with_api_version_and_kind() {
        let c: Component = Resource::new(
            "adder-1-0-0",
            ComponentSpec {
                version: "1.0.0".into(),
                server: "adder".into(),
                domain: "0123456789abcdef0123456789abcdef".into(),
                image: "ghcr.io/acme/adder:1.0.0".into(),
            },
        );
        let o = Object::from(c);
        let v = o.to_value();
        assert_eq!(v["apiVersion"], "api.vimana.host/v1alpha1");
        assert_eq!(v["kind"], "Component");
        assert!(v.get("status").is_none());
        assert_eq!(Object::from_json(&v).unwrap(), o);
        assert_eq!(Object::from_value(v).unwrap(), o);
        assert_eq!(o.identity(), "0123456789abcdef0123456789abcdef:adder@1.0.0");
    }

    #[test]
    fn wrong_kind_is_refused() {
        let v = serde_json::json!({
            "apiVersion": "api.vimana.host/v1alpha1", "kind": "Pod",
            "metadata": {"name": "x"}, "spec": {}
        });
        assert!(Object::from_value(v).is_err());
    }
}
