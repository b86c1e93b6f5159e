//! The four Vimana kinds, in dependency order, with the names the API gives them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the four Vimana kinds, in dependency order (a kind depends only on earlier kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// The gateway.
    Vimana,
    /// A domain of servers.
    Domain,
    /// A server of a domain.
    Server,
    /// A version of a server.
    Component,
}

impl Kind {
    /// All kinds in dependency order.
    pub const ALL: [Kind; 4] = [Kind::Vimana, Kind::Domain, Kind::Server, Kind::Component];

    /// The `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vimana => "Vimana",
            Kind::Domain => "Domain",
            Kind::Server => "Server",
            Kind::Component => "Component",
        }
    }

    /// The resource name in API paths (`components`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Vimana => "vimanas",
            Kind::Domain => "domains",
            Kind::Server => "servers",
            Kind::Component => "components",
        }
    }

    /// The kind with this `kind` string.
    pub fn from_kind_str(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
