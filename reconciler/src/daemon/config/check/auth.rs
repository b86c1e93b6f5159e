//! `source.auth`: a token (HTTPS), an SSH key with its known_hosts file, or nothing, each
//! checked against the kind of remote it is given for.

use std::path::{Path, PathBuf};

use super::problems::{Problems, resolve};
use crate::daemon::config::defaults::DEFAULT_TOKEN_USERNAME;
use crate::daemon::config::raw::RawAuth;
use crate::daemon::config::secret::SecretRef;
use crate::daemon::config::typed::Auth;
use crate::daemon::config::urls::{UrlKind, is_loopback_url, redact_url};
use crate::daemon::knownhosts::KnownHosts;

/// The auth of a remote of `kind` at `url`: at most one of a token or an SSH key.
pub(super) fn check_auth(
    mut raw: RawAuth,
    kind: UrlKind,
    url: &str,
    base: Option<&Path>,
    p: &mut Problems,
) -> Auth {
    let token = match (raw.token_file.take(), raw.token_env.take()) {
        (Some(_), Some(_)) => {
            p.add("source.auth", "give tokenFile or tokenEnv, not both");
            None
        }
        (Some(f), None) => Some(("source.auth.tokenFile", SecretRef::File(resolve(base, f)))),
        (None, Some(e)) => Some(("source.auth.tokenEnv", SecretRef::Env(e))),
        (None, None) => None,
    };
    match (token, raw.ssh_key_file.take()) {
        (Some(_), Some(_)) => {
            p.add(
                "source.auth",
                "give a token (tokenFile) or an SSH key (sshKeyFile), not both",
            );
            Auth::None
        }
        (Some((key, token)), None) => token_auth(raw, key, token, kind, url, p),
        (None, Some(key_file)) => ssh_auth(raw, resolve(base, key_file), kind, url, base, p),
        (None, None) => no_auth(&raw, kind, p),
    }
}

/// A token, given at `key`: sent only over HTTPS, or plain HTTP to a loopback host.
fn token_auth(
    raw: RawAuth,
    key: &str,
    token: SecretRef,
    kind: UrlKind,
    url: &str,
    p: &mut Problems,
) -> Auth {
    match kind {
        UrlKind::Https => {}
        UrlKind::Http if is_loopback_url(url) => {}
        UrlKind::Http => p.add(
            key,
            "a token is sent only over https:// (or http:// to a loopback address); change source.url to https://",
        ),
        _ => p.add(
            key,
            format!(
                "a token authenticates https:// URLs; source.url {} is not one (use sshKeyFile for SSH)",
                redact_url(url)
            ),
        ),
    }
    if raw.known_hosts_file.is_some() {
        p.add(
            "source.auth.knownHostsFile",
            "it applies to SSH only; remove it or use sshKeyFile",
        );
    }
    if let Err(e) = token.read(key) {
        p.add(key, e.to_string());
    }
    Auth::Token {
        username: raw
            .username
            .unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.into()),
        token,
    }
}

/// An SSH key (resolved already): for SSH remotes, readable, with a readable known_hosts file.
fn ssh_auth(
    raw: RawAuth,
    key_file: PathBuf,
    kind: UrlKind,
    url: &str,
    base: Option<&Path>,
    p: &mut Problems,
) -> Auth {
    if kind != UrlKind::Ssh {
        p.add(
            "source.auth.sshKeyFile",
            format!(
                "an SSH key authenticates ssh:// or user@host:path URLs; source.url {} is not one",
                redact_url(url)
            ),
        );
    }
    if let Err(e) = std::fs::metadata(&key_file) {
        p.add(
            "source.auth.sshKeyFile",
            format!("cannot read {}: {e}", key_file.display()),
        );
    }
    let known_hosts_file = match raw.known_hosts_file {
        Some(f) => {
            let f = resolve(base, f);
            check_known_hosts(&f, p);
            f
        }
        None => {
            p.add(
                "source.auth.knownHostsFile",
                "SSH needs a known_hosts file to check the server's host key (ssh-keyscan HOST > known_hosts, then verify it)",
            );
            PathBuf::new()
        }
    };
    Auth::Ssh {
        username: raw.username,
        key_file,
        known_hosts_file,
    }
}

/// The known_hosts file reads and parses now, not at the first fetch.
fn check_known_hosts(file: &Path, p: &mut Problems) {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            if let Err(e) = KnownHosts::parse(&text) {
                p.add(
                    "source.auth.knownHostsFile",
                    format!("{}: {e}", file.display()),
                );
            }
        }
        Err(e) => p.add(
            "source.auth.knownHostsFile",
            format!("cannot read {}: {e}", file.display()),
        ),
    }
}

/// No credentials: an SSH remote needs some, and `username` or `knownHostsFile` alone mean
/// nothing.
fn no_auth(raw: &RawAuth, kind: UrlKind, p: &mut Problems) -> Auth {
    if kind == UrlKind::Ssh {
        p.add(
            "source.auth",
            "an SSH remote needs sshKeyFile and knownHostsFile (or use an https:// URL with tokenFile)",
        );
    }
    if raw.username.is_some() {
        p.add(
            "source.auth.username",
            "it needs tokenFile, tokenEnv or sshKeyFile",
        );
    }
    if raw.known_hosts_file.is_some() {
        p.add("source.auth.knownHostsFile", "it needs sshKeyFile");
    }
    Auth::None
}
