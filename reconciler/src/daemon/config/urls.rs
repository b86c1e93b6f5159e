//! Remote URLs: what kind of remote a `source.url` names, which hosts are loopback, and URLs
//! without their user information for logs, errors and `/status`. URLs are read with the `url`
//! crate; scp-like SSH remotes (`git@host:path`) are not URLs and are recognized as `git` does.

use url::{Host, Url};

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

/// The origin of an `http(s)://` URL: scheme, host and port (the scheme's default when none is
/// written), as credentials are scoped: a token goes only to the origin of `source.url`.
pub fn origin(url: &str) -> Option<(String, String, u16)> {
    let u = Url::parse(url).ok()?;
    let host = u.host_str().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    Some((u.scheme().to_owned(), host, u.port_or_known_default()?))
}

/// Whether two URLs have the same [`origin`]; false when either has none.
pub fn same_origin(a: &str, b: &str) -> bool {
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

/// `scheme://host:port` of `url`, for messages about where credentials would have gone; never
/// user information, path or query.
pub fn origin_text(url: &str) -> String {
    match origin(url) {
        Some((scheme, host, port)) if host.contains(':') => format!("{scheme}://[{host}]:{port}"),
        Some((scheme, host, port)) => format!("{scheme}://{host}:{port}"),
        None => "<unreadable URL>".to_owned(),
    }
}

/// What [`redact_url`] hides, found in the raw text rather than through a URL parser, which may
/// read `https://u:pa/ss@host/` as the host `u` and miss the password.
struct Parts<'a> {
    /// Up to and including `://`; empty for an scp-like remote.
    scheme: &'a str,
    /// Everything before the last `@` of the authority, if any.
    userinfo: Option<&'a str>,
    /// Host, port and path.
    rest: &'a str,
    /// After `?`, if any.
    query: Option<&'a str>,
    /// After `#`, if any.
    fragment: Option<&'a str>,
}

fn parts(url: &str) -> Parts<'_> {
    let (scheme, after) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The last `@` anywhere: a password may hold an unencoded `/`, `?` or `#`. A path that holds
    // an `@` is then hidden too, which errs on the side of showing less.
    let (userinfo, hostpart) = match after.rfind('@') {
        Some(i) if !scheme.is_empty() || is_scp_like(url) => (Some(&after[..i]), &after[i + 1..]),
        _ => (None, after),
    };
    let (hostpart, fragment) = match hostpart.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (hostpart, None),
    };
    let (rest, query) = match hostpart.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (hostpart, None),
    };
    Parts {
        scheme,
        userinfo,
        rest,
        query,
        fragment,
    }
}

/// A user name worth showing: lower-case letters, `.`, `_` and `-` only (`git`, `bot`,
/// `x-access-token`). Tokens mix cases and digits, so a token used as the user name
/// (`https://ghp_...@github.com/...`) is never taken for one.
fn reads_as_user_name(user: &str) -> bool {
    (1..=32).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || matches!(b, b'.' | b'_' | b'-'))
}

/// `url` without any credential, for logs, errors, `/status` and notifications:
///
/// - user information is replaced: `https://bot:token@host/x` → `https://bot:<redacted>@host/x`;
///   a user name is kept only when it reads as one ([`reads_as_user_name`]), so a token used as
///   the user name goes too (`https://ghp_...@host/x` → `https://<redacted>@host/x`);
/// - the query and the fragment are replaced whole (`?private_token=...` → `?<redacted>`):
///   any of their keys may name a secret;
/// - the raw text decides, not a URL parser, so an unencoded `/` in a password is hidden too.
///
/// What is not a URL (an scp-like remote, a path) holds no password and keeps its user name if
/// it reads as one; a URL that cannot be read is not shown at all.
pub fn redact_url(url: &str) -> String {
    if unreadable_url(url).is_some() {
        return "<unreadable URL>".to_owned();
    }
    let p = parts(url);
    let mut out = String::with_capacity(url.len());
    out.push_str(p.scheme);
    if let Some(userinfo) = p.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) if reads_as_user_name(user) => {
                out.push_str(user);
                out.push_str(":<redacted>");
            }
            None if reads_as_user_name(userinfo) => out.push_str(userinfo),
            _ => out.push_str("<redacted>"),
        }
        out.push('@');
    }
    out.push_str(p.rest);
    if p.query.is_some() {
        out.push_str("?<redacted>");
    }
    if p.fragment.is_some() {
        out.push_str("#<redacted>");
    }
    out
}

/// The pieces of `url` that [`redact_url`] hides (a password, a token used as the user name,
/// the query and fragment, each also percent-decoded), so that a message that echoes one in
/// another form (a library's error) can be scrubbed of it. Pieces shorter than 4 bytes are left
/// out: replacing them would garble messages without hiding a credential worth the name.
pub fn hidden_parts(url: &str) -> Vec<String> {
    let p = parts(url);
    let mut hidden: Vec<&str> = Vec::new();
    if let Some(userinfo) = p.userinfo {
        match userinfo.split_once(':') {
            Some((user, password)) => {
                hidden.push(password);
                if !reads_as_user_name(user) {
                    hidden.push(user);
                }
            }
            None if !reads_as_user_name(userinfo) => hidden.push(userinfo),
            None => {}
        }
    }
    hidden.extend(p.query);
    hidden.extend(p.fragment);
    if let Some(query) = p.query {
        hidden.extend(
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(_, v)| v),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for piece in hidden {
        let decoded = percent_decode(piece);
        for s in [piece.to_owned(), decoded] {
            if s.len() >= 4 && !out.contains(&s) {
                out.push(s);
            }
        }
    }
    // Longest first, so that a piece inside another is not replaced first.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_query_and_fragment_are_hidden() {
        let cases = [
            (
                "https://bot:s3cr3t@h.example/r.git",
                "https://bot:<redacted>@h.example/r.git",
            ),
            (
                "https://ghp_AbC123xyz@github.com/o/r.git",
                "https://<redacted>@github.com/o/r.git",
            ),
            (
                "https://ghp_AbC123xyz:x-oauth-basic@github.com/o/r",
                "https://<redacted>@github.com/o/r",
            ),
            (
                "https://oauth2:glpat-Secret1@gitlab.com/o/r",
                "https://<redacted>@gitlab.com/o/r",
            ),
            ("https://u:pa/ss@host/r.git", "<unreadable URL>"),
            (
                "https://u:12/ss-Secret@host/r.git",
                "https://u:<redacted>@host/r.git",
            ),
            ("https://u:p?ss#w@host/r.git", "<unreadable URL>"),
            (
                "https://u:1?ss#w@host/r.git",
                "https://u:<redacted>@host/r.git",
            ),
            (
                "https://host/r.git?private_token=glpat-Xyz",
                "https://host/r.git?<redacted>",
            ),
            (
                "https://host/r.git?a=1&access_token=T#frag",
                "https://host/r.git?<redacted>#<redacted>",
            ),
            ("https://bot@host/r.git", "https://bot@host/r.git"),
            ("https://h.example/r.git", "https://h.example/r.git"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("/srv/git/r.git", "/srv/git/r.git"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn hidden_parts_include_decoded_forms() {
        let parts = hidden_parts("https://bot:pa%2Fss-word@host/r?token=abcd%2B1");
        for p in ["pa%2Fss-word", "pa/ss-word", "abcd%2B1", "abcd+1"] {
            assert!(parts.iter().any(|x| x == p), "{p} in {parts:?}");
        }
        assert!(!parts.iter().any(|x| x == "bot"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "https://H.example/a",
            "https://h.example:443/b"
        ));
        assert!(!same_origin("http://127.0.0.1:1/a", "http://127.0.0.1:2/a"));
        assert!(!same_origin("http://h/a", "https://h/a"));
        assert!(!same_origin("http://h/a", "http://localhost/a"));
        assert_eq!(
            origin_text("https://u:p@h.example/x?y"),
            "https://h.example:443"
        );
    }
}
