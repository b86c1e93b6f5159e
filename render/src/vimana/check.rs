//! Rules between objects: unique identities (Kubernetes keys, Domain ids, aliases, Server ids
//! per Domain, versions per Server), references (Domain → Vimana, Server → Domain,
//! Component → Server) and weights that name existing versions.

use foldhash::{HashMap, HashMapExt};

use model::{Component, Kind, Object, Server, canonical_domain_name};

use super::Item;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Reports a second object with the identity of a first one.
fn duplicate(
    diags: &mut Diagnostics,
    code: &'static str,
    message: String,
    (second, second_field): (&Item<'_>, &str),
    (first, first_field): (&Item<'_>, &str),
    help: &str,
) {
    diags.push(
        Diagnostic::duplicate(
            code,
            message,
            "defined",
            (second.file, second.span(second_field)),
            (first.file, first.span(first_field)),
        )
        .help(help),
    );
}

/// Checks every rule between objects.
pub fn all(objects: &[Item<'_>], diags: &mut Diagnostics) {
    let ids = unique_identities(objects, diags);
    aliases(objects, &ids.domains, diags);
    references(objects, &ids, diags);
}

/// The identities of the objects, by position of the first object that has each.
struct Identities<'o> {
    /// Vimanas by namespace and name.
    vimanas: HashMap<(String, String), usize>,
    /// Domains by id.
    domains: HashMap<&'o str, usize>,
    /// Servers by domain id and server id.
    servers: HashMap<(&'o str, &'o str), usize>,
    /// Components by domain id, server id and version.
    components: HashMap<(&'o str, &'o str, &'o str), usize>,
}

/// Reports every object whose Kubernetes key or platform identity an earlier object has;
/// returns the identities.
fn unique_identities<'o>(objects: &'o [Item<'_>], diags: &mut Diagnostics) -> Identities<'o> {
    // Borrowed keys: a key of two new strings per object made this map a tenth of a render's
    // peak memory.
    // Sized once: growing them hashed every key again at each doubling.
    let count = |kind: Kind| objects.iter().filter(|o| o.object.kind() == kind).count();
    let mut keys: HashMap<(Kind, &str, &str), usize> = HashMap::with_capacity(objects.len());
    let mut vimanas = HashMap::new();
    let mut domains = HashMap::with_capacity(count(Kind::Domain));
    let mut servers = HashMap::with_capacity(count(Kind::Server));
    let mut components = HashMap::with_capacity(count(Kind::Component));

    for (i, obj) in objects.iter().enumerate() {
        let meta = obj.object.meta();
        let (kind, namespace) = (obj.object.kind(), meta.namespace.as_deref().unwrap_or(""));
        let key = (kind, namespace, meta.name.as_str());
        if !meta.name.is_empty() {
            if let Some(&first) = keys.get(&key) {
                let help = if obj.name_derived || objects[first].name_derived {
                    "the name of a Component without `metadata.name` is derived from its server and version; give one of them an explicit `metadata.name`"
                } else {
                    "rename one of them; names are unique per kind and namespace"
                };
                duplicate(
                    diags,
                    "duplicate-name",
                    format!(
                        "two {}s are named `{}` in namespace `{}`",
                        kind, meta.name, namespace
                    ),
                    (obj, "metadata.name"),
                    (&objects[first], "metadata.name"),
                    help,
                );
            } else {
                keys.insert(key, i);
            }
        }
        match &obj.object {
            Object::Vimana(_) => {
                vimanas.insert((namespace.to_owned(), meta.name.clone()), i);
            }
            Object::Domain(d) if !d.spec.id.is_empty() => {
                if let Some(&first) = domains.get(d.spec.id.as_str()) {
                    duplicate(
                        diags,
                        "duplicate-domain-id",
                        format!("two Domains have the id `{}`", d.spec.id),
                        (obj, "spec.id"),
                        (&objects[first], "spec.id"),
                        "domain ids are unique in the cluster; give one of them a new id (`openssl rand -hex 16`)",
                    );
                } else {
                    domains.insert(d.spec.id.as_str(), i);
                }
            }
            Object::Server(s) if !s.spec.id.is_empty() && !s.spec.domain.is_empty() => {
                let k = (s.spec.domain.as_str(), s.spec.id.as_str());
                if let Some(&first) = servers.get(&k) {
                    duplicate(
                        diags,
                        "duplicate-server-id",
                        format!(
                            "two Servers of domain {} have the id `{}`",
                            s.spec.domain, s.spec.id
                        ),
                        (obj, "spec.id"),
                        (&objects[first], "spec.id"),
                        "server ids are unique within their domain; rename one of them",
                    );
                } else {
                    servers.insert(k, i);
                }
            }
            Object::Component(c)
                if !c.spec.version.is_empty()
                    && !c.spec.server.is_empty()
                    && !c.spec.domain.is_empty() =>
            {
                let k = (
                    c.spec.domain.as_str(),
                    c.spec.server.as_str(),
                    c.spec.version.as_str(),
                );
                if let Some(&first) = components.get(&k) {
                    duplicate(
                        diags,
                        "duplicate-version",
                        format!(
                            "two Components are version {} of server {}:{}",
                            c.spec.version, c.spec.domain, c.spec.server
                        ),
                        (obj, "spec.version"),
                        (&objects[first], "spec.version"),
                        "versions are unique within a server and never re-used; give the new one a new version",
                    );
                } else {
                    components.insert(k, i);
                }
            }
            _ => {}
        }
    }
    Identities {
        vimanas,
        domains,
        servers,
        components,
    }
}

/// Reports references to objects that do not exist: a Domain's Vimana, a Server's Domain and
/// the versions it weights, a Component's Domain and Server.
fn references(objects: &[Item<'_>], ids: &Identities<'_>, diags: &mut Diagnostics) {
    // An object whose own fields are wrong has been reported; references that may point at it
    // are not reported again, so that one mistake gives one error.
    let broken = |kind: Kind| objects.iter().any(|o| o.broken && o.object.kind() == kind);
    let check_vimana = !broken(Kind::Vimana);
    let check_domain = !broken(Kind::Domain);
    let check_server = !broken(Kind::Server);
    let check_version = !broken(Kind::Component);
    let Identities {
        vimanas,
        domains,
        servers,
        components,
    } = ids;
    for obj in objects {
        match &obj.object {
            Object::Domain(d) => {
                if let Some(v) = d.spec.vimana.as_ref().filter(|_| check_vimana) {
                    vimana_reference(obj, v, vimanas, diags);
                }
            }
            Object::Server(s) if !s.spec.domain.is_empty() => {
                if check_domain && !domains.contains_key(s.spec.domain.as_str()) {
                    diags.push(unknown_domain(obj, &s.spec.domain));
                }
                if check_version {
                    weighted_versions(obj, s, components, diags);
                }
            }
            Object::Component(c) if !c.spec.domain.is_empty() => {
                if !domains.contains_key(c.spec.domain.as_str()) {
                    if check_domain {
                        diags.push(unknown_domain(obj, &c.spec.domain));
                    }
                } else if check_server
                    && !c.spec.server.is_empty()
                    && !servers.contains_key(&(c.spec.domain.as_str(), c.spec.server.as_str()))
                {
                    diags.push(unknown_server(obj, c));
                }
            }
            _ => {}
        }
    }
}

/// Reports a Domain's `spec.vimana` that names no Vimana of its namespace.
fn vimana_reference(
    obj: &Item<'_>,
    v: &String,
    vimanas: &HashMap<(String, String), usize>,
    diags: &mut Diagnostics,
) {
    let ns = obj.object.key().namespace;
    if vimanas.contains_key(&(ns.clone(), v.clone())) {
        return;
    }
    let elsewhere: Vec<&str> = vimanas
        .keys()
        .filter(|(_, n)| n == v)
        .map(|(ns, _)| ns.as_str())
        .collect();
    let mut d = Diagnostic::error(
        "unknown-vimana",
        format!(
            "{} belongs to Vimana `{v}`, which is not defined in namespace `{ns}`",
            obj.describe()
        ),
    )
    .at(obj.file, obj.span("spec.vimana"), "no such Vimana")
    .help(format!(
        "define a Vimana named `{v}` in namespace `{ns}`, or correct `spec.vimana`"
    ));
    if !elsewhere.is_empty() {
        d = d.note(format!(
            "a Vimana `{v}` exists in namespace(s) {}; references stay within a namespace",
            elsewhere.join(", ")
        ));
    }
    diags.push(d);
}

/// Reports the versions a Server weights that no Component of the Server has.
fn weighted_versions(
    obj: &Item<'_>,
    s: &Server,
    components: &HashMap<(&str, &str, &str), usize>,
    diags: &mut Diagnostics,
) {
    for version in s.spec.version_weights.keys() {
        if components.contains_key(&(s.spec.domain.as_str(), s.spec.id.as_str(), version.as_str()))
        {
            continue;
        }
        let mut known: Vec<&str> = components
            .keys()
            .filter(|(d, srv, _)| *d == s.spec.domain && *srv == s.spec.id)
            .map(|(_, _, v)| *v)
            .collect();
        known.sort_unstable();
        let help = if known.is_empty() {
            format!(
                "add a Component with `server: {}` and `version: {version}`, or remove the weight",
                s.spec.id
            )
        } else {
            format!(
                "the versions of this server are {}; add a Component for {version} or remove the weight",
                known.join(", ")
            )
        };
        diags.push(
            Diagnostic::error(
                "weight-unknown-version",
                format!(
                    "server {}:{} gives weight to version {version}, which has no Component",
                    s.spec.domain, s.spec.id
                ),
            )
            .at(
                obj.file,
                obj.span(&format!("spec.versionWeights.{version}")),
                "no Component of this version",
            )
            .help(help)
            .note("a weight that points at a missing Component sends errors to users"),
        );
    }
}

/// The error for a Component whose Server its Domain does not have.
fn unknown_server(obj: &Item<'_>, c: &Component) -> Diagnostic {
    Diagnostic::error(
        "unknown-server",
        format!(
            "{} is a version of server `{}`, which domain {} does not have",
            obj.describe(),
            c.spec.server,
            c.spec.domain
        ),
    )
    .at(
        obj.file,
        obj.span("spec.server"),
        "no such Server in this domain",
    )
    .help(format!(
        "define a Server with `id: {}` and `domain: {}`, or correct `spec.server`",
        c.spec.server, c.spec.domain
    ))
}

fn unknown_domain(obj: &Item<'_>, id: &str) -> Diagnostic {
    Diagnostic::error(
        "unknown-domain",
        format!("{} refers to domain {id}, which is not defined", obj.describe()),
    )
    .at(obj.file, obj.span("spec.domain"), "no Domain has this id")
    .help("`spec.domain` holds the `spec.id` of a Domain of the repository; define it or correct the id")
}

fn aliases(objects: &[Item<'_>], domains: &HashMap<&str, usize>, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, obj) in objects.iter().enumerate() {
        let Object::Domain(d) = &obj.object else {
            continue;
        };
        for (j, alias) in d.spec.aliases.iter().enumerate() {
            let field = format!("spec.aliases[{j}]");
            if let Some(id) = alias.strip_suffix(".vimana.host")
                && (domains.contains_key(id) || canonical_domain_name(id) == *alias)
            {
                diags.push(
                    Diagnostic::error(
                        "alias-is-canonical",
                        format!("the alias `{alias}` is the canonical name of a Domain"),
                    )
                    .at(obj.file, obj.span(&field), "a canonical name")
                    .help("canonical names `<id>.vimana.host` exist already; list only other names as aliases"),
                );
                continue;
            }
            match seen.get(alias.as_str()) {
                Some(&(first, first_j)) if first != i => diags.push(
                    Diagnostic::duplicate(
                        "duplicate-alias",
                        format!("the alias `{alias}` is claimed by two Domains"),
                        "claimed",
                        (obj.file, obj.span(&field)),
                        (
                            objects[first].file,
                            objects[first].span(&format!("spec.aliases[{first_j}]")),
                        ),
                    )
                    .help("an alias routes to one Domain only; remove it from one of them"),
                ),
                Some(_) => {}
                None => {
                    seen.insert(alias, (i, j));
                }
            }
        }
    }
}
