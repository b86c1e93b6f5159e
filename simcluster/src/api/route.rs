//! API paths parsed into routes (discovery documents or objects of a served type), and the
//! verb a request on an object stands for (`get`, `list`, `watch`, `apply`, ...).

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, header};

use crate::resources::Registry;

/// What an API path asks for: a discovery or OpenAPI document, or objects of a served type.
#[derive(Debug)]
pub(super) enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    /// `/openapi/v3` (`None`) or one group version of it.
    OpenApi(Option<String>),
    Object(ObjectRoute),
}

/// A path to objects of a served type (`/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUB]]`).
#[derive(Debug)]
pub(super) struct ObjectRoute {
    pub(super) type_id: usize,
    /// Namespace from the path (`None` for cluster-scoped types and all-namespace lists).
    pub(super) namespace: Option<String>,
    /// `None` for a collection (LIST, WATCH, POST, DELETE of a collection).
    pub(super) name: Option<String>,
    /// `status`, the one subresource served; others are refused as not found.
    pub(super) subresource: Option<String>,
}

/// The route of a path, or `None` for a path the server does not serve.
pub(super) fn parse_route(reg: &Registry, path: &str) -> Option<Route> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["openapi", "v3"] => Some(Route::OpenApi(None)),
        ["openapi", "v3", rest @ ..] => Some(Route::OpenApi(Some(rest.join("/")))),
        ["api", v] => Some(Route::Resources(String::new(), (*v).to_owned())),
        ["apis", g] => Some(Route::Group((*g).to_owned())),
        ["apis", g, v] => Some(Route::Resources((*g).to_owned(), (*v).to_owned())),
        ["api", v, rest @ ..] => object_route(reg, "", v, rest).map(Route::Object),
        ["apis", g, v, rest @ ..] => object_route(reg, g, v, rest).map(Route::Object),
        _ => None,
    }
}

fn object_route(reg: &Registry, group: &str, version: &str, rest: &[&str]) -> Option<ObjectRoute> {
    let owned = |s: &&str| (*s).to_owned();
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(type_id) = reg.find(group, version, plural)
        && reg.get(type_id).namespaced
        && tail.len() <= 2
    {
        return Some(ObjectRoute {
            type_id,
            namespace: Some((*ns).to_owned()),
            name: tail.first().map(owned),
            subresource: tail.get(1).map(owned),
        });
    }
    let [plural, tail @ ..] = rest else {
        return None;
    };
    let type_id = reg.find(group, version, plural)?;
    if tail.len() > 2 || (reg.get(type_id).namespaced && !tail.is_empty()) {
        return None;
    }
    Some(ObjectRoute {
        type_id,
        namespace: None,
        name: tail.first().map(owned),
        subresource: tail.get(1).map(owned),
    })
}

/// The Kubernetes verb of a request on objects, the label it is counted and faulted under.
pub(super) fn verb_of(
    method: &Method,
    route: &ObjectRoute,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> &'static str {
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    match (method.as_str(), &route.name) {
        ("GET", Some(_)) if watch => "watch",
        ("GET", Some(_)) => "get",
        ("GET", None) if watch => "watch",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.starts_with("application/apply-patch") {
                "apply"
            } else {
                "patch"
            }
        }
        ("DELETE", Some(_)) => "delete",
        ("DELETE", None) => "deletecollection",
        _ => "unknown",
    }
}
