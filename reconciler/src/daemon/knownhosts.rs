//! OpenSSH `known_hosts` files: the host keys the daemon trusts for SSH remotes. Plain and
//! hashed (`|1|salt|hash`) host names, `[host]:port` entries, `*`/`?` wildcards, `!` negations
//! and `@revoked` markers are understood; `@cert-authority` lines are skipped (host
//! certificates are not supported, so such hosts count as unknown).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The entries of one `known_hosts` file.
#[derive(Clone, Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    revoked: bool,
    hosts: Hosts,
    key: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Hosts {
    Patterns(Vec<String>),
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

/// What a `known_hosts` file says about a host's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// The host is listed with this key.
    Known,
    /// The host is not listed.
    Unknown,
    /// The host is listed, with other keys only: possibly an attack.
    Mismatch,
    /// The key is marked `@revoked`.
    Revoked,
}

impl KnownHosts {
    /// Parses a file. Blank lines and `#` comments are skipped; a line without a host, a key
    /// type and a base64 key is an error naming its line number.
    pub fn parse(text: &str) -> Result<KnownHosts, String> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace().peekable();
            let mut revoked = false;
            if let Some(marker) = fields.peek().filter(|f| f.starts_with('@')) {
                match *marker {
                    "@revoked" => revoked = true,
                    "@cert-authority" => continue,
                    other => return Err(format!("line {}: unknown marker {other}", i + 1)),
                }
                fields.next();
            }
            let (Some(hosts), Some(_key_type), Some(key)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!(
                    "line {}: expected `host[,host...] key-type base64-key`",
                    i + 1
                ));
            };
            let key = STANDARD
                .decode(key)
                .map_err(|_| format!("line {}: the key is not base64", i + 1))?;
            let hosts = if let Some(hashed) = hosts.strip_prefix("|1|") {
                let (salt, hash) = hashed
                    .split_once('|')
                    .ok_or_else(|| format!("line {}: a hashed host is |1|salt|hash", i + 1))?;
                Hosts::Hashed {
                    salt: STANDARD
                        .decode(salt)
                        .map_err(|_| format!("line {}: the host salt is not base64", i + 1))?,
                    hash: STANDARD
                        .decode(hash)
                        .map_err(|_| format!("line {}: the host hash is not base64", i + 1))?,
                }
            } else {
                Hosts::Patterns(hosts.split(',').map(str::to_ascii_lowercase).collect())
            };
            entries.push(Entry {
                revoked,
                hosts,
                key,
            });
        }
        Ok(KnownHosts { entries })
    }

    /// Checks `key` (the SSH wire-format public key blob, as base64-decoded from a
    /// `known_hosts` line) of `host` on `port` (22 when `None`).
    pub fn check(&self, host: &str, port: Option<u16>, key: &[u8]) -> HostKeyCheck {
        let name = match port {
            Some(p) if p != 22 => format!("[{}]:{p}", host.to_ascii_lowercase()),
            _ => host.to_ascii_lowercase(),
        };
        let matching: Vec<&Entry> = self.entries.iter().filter(|e| e.matches(&name)).collect();
        if matching.iter().any(|e| e.revoked && e.key == key) {
            return HostKeyCheck::Revoked;
        }
        let listed: Vec<&&Entry> = matching.iter().filter(|e| !e.revoked).collect();
        if listed.is_empty() {
            HostKeyCheck::Unknown
        } else if listed.iter().any(|e| e.key == key) {
            HostKeyCheck::Known
        } else {
            HostKeyCheck::Mismatch
        }
    }
}

impl Entry {
    fn matches(&self, name: &str) -> bool {
        match &self.hosts {
            Hosts::Hashed { salt, hash } => {
                let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Hosts::Patterns(patterns) => {
                let mut positive = false;
                for p in patterns {
                    if let Some(neg) = p.strip_prefix('!') {
                        if wildcard(neg, name) {
                            return false;
                        }
                    } else if wildcard(p, name) {
                        positive = true;
                    }
                }
                positive
            }
        }
    }
}

/// `*` (any run) and `?` (one character) matching, as in `ssh_config` patterns.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
