//! Remote URLs: what kind of remote a `source.url` names, which hosts are loopback, and URLs
//! without their user information for logs, errors and `/status`. URLs are read with the `url`
//! crate; scp-like SSH remotes (`git@host:path`) are not URLs and are recognized as `git` does.

use url::{Host, Position, Url};

/// What kind of remote a `source.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlKind {
    /// `https://`.
    Https,
    /// `http://`.
    Http,
    /// `ssh://`, `git+ssh://` or `[user@]host:path`.
    Ssh,
    /// `git://`.
    Git,
    /// `file://`.
    File,
    /// A path on this machine.
    Path,
}

/// Classifies a remote URL by its scheme (in any case); what is not a URL of a known scheme
/// is an scp-like SSH remote or a local path.
pub fn url_kind(url: &str) -> UrlKind {
    let scheme = Url::parse(url).map(|u| u.scheme().to_owned());
    match scheme.as_deref() {
        Ok("https") => UrlKind::Https,
        Ok("http") => UrlKind::Http,
        Ok("ssh" | "git+ssh") => UrlKind::Ssh,
        Ok("git") => UrlKind::Git,
        Ok("file") => UrlKind::File,
        // `host:path` also reads as a URL, of scheme `host`.
        _ if is_scp_like(url) => UrlKind::Ssh,
        _ => UrlKind::Path,
    }
}

/// Why `url`, written as a URL (`scheme://...`), cannot be read as one (an empty host, a port
/// out of range...); `None` for a readable URL and for what is not written as a URL. The
/// message never repeats the URL, which may hold a password.
pub fn unreadable_url(url: &str) -> Option<String> {
    if !url.contains("://") {
        return None;
    }
    Url::parse(url).err().map(|e| e.to_string())
}

/// `[user@]host:path`, as `git` reads it: a colon before any slash, and not `C:\`-like.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) => {
            colon > 1 && slash.is_none_or(|s| colon < s) && !url.contains("://")
        }
        (None, _) => false,
    }
}

/// Whether `url` is an `http://` or `https://` URL with a host.
pub fn is_http_url(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Whether the host of `url` is this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The port written in `url` (`ssh://host:2222/...`); `None` when it names none, and for
/// scp-like remotes, which cannot.
pub fn explicit_port(url: &str) -> Option<u16> {
    if is_scp_like(url) {
        return None;
    }
    Url::parse(url).ok()?.port()
}

/// `url` with its password replaced (`https://bot:token@host/x` → `https://bot:<redacted>@host/x`),
/// for logs, errors and `/status`. What is not a URL (an scp-like remote, a path) holds no
/// password and is returned as it is; a URL that cannot be read is not shown at all.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) if u.password().is_some() => format!(
            "{}:<redacted>@{}",
            &u[..Position::AfterUsername],
            &u[Position::BeforeHost..]
        ),
        Ok(_) => url.to_owned(),
        Err(_) if unreadable_url(url).is_some() => "<unreadable URL>".to_owned(),
        Err(_) => url.to_owned(),
    }
}
