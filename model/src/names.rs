//! Name rules of Kubernetes and of the platform. Each check returns `Err` with a sentence that
//! says what is wrong, written to follow "… is not a valid …: ".

/// Maximum length of a DNS-1123 subdomain (object names of custom resources).
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Maximum length of a DNS-1123 label (namespace names).
pub const DNS1123_LABEL_MAX: usize = 63;
/// Maximum length of a label value and of the name part of a label key.
pub const LABEL_VALUE_MAX: usize = 63;

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: at most 63 lowercase alphanumerics or `-`, starting and ending with an
/// alphanumeric. Namespaces are labels.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > DNS1123_LABEL_MAX {
        return Err(format!(
            "it is {} characters long, at most {DNS1123_LABEL_MAX} are allowed",
            s.len()
        ));
    }
    if let Some(c) = s.chars().find(|&c| !(is_lower_alnum(c) || c == '-')) {
        return Err(format!(
            "it contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if !s.starts_with(is_lower_alnum) || !s.ends_with(is_lower_alnum) {
        return Err("it must start and end with a lowercase letter or a digit".into());
    }
    Ok(())
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels. Names of
/// custom resources are subdomains.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Err(format!(
            "it is {} characters long, at most {DNS1123_SUBDOMAIN_MAX} are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(is_lower_alnum(c) || c == '-' || c == '.'))
    {
        return Err(format!(
            "it contains {c:?}; only lowercase letters, digits, '-' and '.' are allowed"
        ));
    }
    for part in s.split('.') {
        if part.is_empty() || !part.starts_with(is_lower_alnum) || !part.ends_with(is_lower_alnum) {
            return Err(
                "each dot-separated part must start and end with a lowercase letter or a digit"
                    .into(),
            );
        }
    }
    Ok(())
}

/// A DNS host name as used for Domain aliases: a subdomain with at least two labels, each at most
/// 63 characters (`api.example.org`). A leading `*.` wildcard label is accepted.
pub fn dns_name(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix("*.").unwrap_or(s);
    dns1123_subdomain(rest)?;
    if let Some(part) = rest.split('.').find(|p| p.len() > DNS1123_LABEL_MAX) {
        return Err(format!(
            "the part {part:?} is longer than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !rest.contains('.') {
        return Err(
            "it has a single label; use a fully qualified name such as api.example.org".into(),
        );
    }
    Ok(())
}

fn label_name_part(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the name part is empty".into());
    }
    if s.len() > LABEL_VALUE_MAX {
        return Err(format!(
            "the name part is {} characters long, at most {LABEL_VALUE_MAX} are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "it contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !s.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("it must start and end with a letter or a digit".into());
    }
    Ok(())
}

/// A qualified name, as label and annotation keys are: `[prefix/]name` where the prefix is a
/// DNS subdomain and the name at most 63 characters of `[A-Za-z0-9_.-]`.
pub fn qualified_name(s: &str) -> Result<(), String> {
    match s.split_once('/') {
        Some((prefix, name)) => {
            dns1123_subdomain(prefix)
                .map_err(|e| format!("the prefix {prefix:?} is invalid: {e}"))?;
            label_name_part(name)
        }
        None => label_name_part(s),
    }
}

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9_.-]` starting and ending with
/// an alphanumeric.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    label_name_part(s).map_err(|e| e.replace("the name part", "it"))
}

/// A Domain id: exactly 32 lowercase hexadecimal characters.
pub fn domain_id(s: &str) -> Result<(), String> {
    if s.len() != 32 {
        return Err(format!(
            "it has {} characters; a domain id has exactly 32",
            s.chars().count()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_digit() || ('a'..='f').contains(c)))
    {
        return Err(format!(
            "it contains {c:?}; only lowercase hexadecimal characters (0-9, a-f) are allowed"
        ));
    }
    Ok(())
}

/// A Server id: it becomes the value of the `vimana.host/server` label and part of derived
/// Component names, so it must be a DNS-1123 label.
pub fn server_id(s: &str) -> Result<(), String> {
    dns1123_label(s)
}

/// A fully qualified gRPC service name: dot-separated identifiers with at least a package
/// (`calc.v1.Adder`).
pub fn grpc_service(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < 2 {
        return Err("it has no package; use the fully qualified name such as calc.v1.Adder".into());
    }
    for part in parts {
        let mut chars = part.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!(
                "the part {part:?} is not an identifier (letters, digits and '_', not starting with a digit)"
            ));
        }
    }
    Ok(())
}

/// A Component version: a semantic version without build metadata. Build metadata (`+...`) is
/// refused because semver ignores it for precedence (so `1.0.0+a` and `1.0.0+b` would be the
/// same version) and because `+` is not allowed in the `vimana.host/version` label.
pub fn version(s: &str) -> Result<semver::Version, String> {
    let v = semver::Version::parse(s).map_err(|e| format!("it is not a semantic version ({e})"))?;
    if !v.build.is_empty() {
        return Err(
            "it has build metadata (+...), which versions of Components may not carry".into(),
        );
    }
    Ok(v)
}

/// An OCI image reference: `[registry[:port]/]repository[:tag][@digest]`, lowercase repository.
pub fn image_reference(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err("it contains white space".into());
    }
    // Control characters and non-ASCII (bidirectional overrides such as U+202E, look-alike
    // letters) have no place in a reference and could disguise one in a terminal.
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "it contains the character {:?}; references are ASCII letters, digits and separators",
            c
        ));
    }
    if s.len() > 4096 {
        return Err("it is longer than 4096 bytes".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else {
            return Err(format!("the digest {d:?} is not of the form algorithm:hex"));
        };
        if alg.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("the digest {d:?} is not of the form algorithm:hex"));
        }
    }
    // A tag follows the last ':' that comes after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(format!("the tag {tag:?} is not valid"));
        }
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    // A first part with a '.' or ':' or equal to localhost names a registry.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let registry = parts.remove(0);
        let (host, port) = match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        };
        let host_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
        if !host_ok || !port_ok {
            return Err(format!(
                "the registry {registry:?} is not a host name with an optional port"
            ));
        }
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.starts_with(is_lower_alnum)
            && part.ends_with(is_lower_alnum)
            && part
                .chars()
                .all(|c| is_lower_alnum(c) || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(format!(
                "the repository part {part:?} must be lowercase letters, digits and separators"
            ));
        }
    }
    Ok(())
}

/// The name a Component gets when its source gives none: `<server>-<version>` with every
/// character that a name cannot hold replaced by `-` (`adder-1-1-0`).
pub fn derived_component_name(server: &str, version: &str) -> String {
    let raw = format!("{server}-{version}").to_ascii_lowercase();
    raw.chars()
        .map(|c| {
            if is_lower_alnum(c) || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(dns1123_subdomain("adder-1-1-0").is_ok());
        assert!(dns1123_subdomain("a.b").is_ok());
        assert!(dns1123_subdomain("Adder").is_err());
        assert!(dns1123_subdomain("-a").is_err());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1123_subdomain(&"a".repeat(254)).is_err());
    }

    #[test]
    fn labels_and_keys() {
        assert!(dns1123_label("vimana").is_ok());
        assert!(dns1123_label("a.b").is_err());
        assert!(qualified_name("vimana.host/domain").is_ok());
        assert!(qualified_name("app").is_ok());
        assert!(qualified_name("Bad Prefix/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("1.0.0-rc.1").is_ok());
        assert!(label_value("1.0.0+b").is_err());
    }

    #[test]
    fn domain_ids() {
        assert!(domain_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(domain_id("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(domain_id("0123").is_err());
    }

    #[test]
    fn versions() {
        assert!(version("1.2.3").is_ok());
        assert!(version("1.2.3-rc.1").is_ok());
        assert!(version("1.2").is_err());
        assert!(version("1.2.3+build").is_err());
    }

    #[test]
    fn services_and_dns() {
        assert!(grpc_service("calc.v1.Adder").is_ok());
        assert!(grpc_service("Adder").is_err());
        assert!(grpc_service("calc.1x.Adder").is_err());
        assert!(dns_name("api.example.org").is_ok());
        assert!(dns_name("*.example.org").is_ok());
        assert!(dns_name("localhost").is_err());
        assert!(dns_name("Api.example.org").is_err());
    }

    #[test]
    fn images() {
        for ok in [
            "nginx",
            "ghcr.io/acme/adder:1.1.0",
            "localhost:5000/adder",
            "registry.example.org:443/team/adder:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(image_reference(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Ghcr.io/Acme/Adder",
            "acme/adder:",
            "a b",
            "acme/adder@sha256:zz",
            // Issue 15: what a Kumori tag or a YAML value must not smuggle in.
            "acme/adder:1.1.0 ; rm -rf /",
            "acme/adder:1.1.0\nkind: Secret",
            "evil\u{202e}oi.ghcr/acme/adder",
            "ghcr.io/acme/adder\u{202e}",
            "ex ample.io/acme/adder",
            "bad_host.io/acme/adder",
            "ghcr.io:99999x/acme/adder",
            "ACME/ADDER",
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_names() {
        assert_eq!(derived_component_name("adder", "1.1.0"), "adder-1-1-0");
        assert_eq!(
            derived_component_name("adder", "2.0.0-rc.1"),
            "adder-2-0-0-rc-1"
        );
    }
}
