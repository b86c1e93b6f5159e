//! `known_hosts` checks: plain, ported, hashed, wildcard and negated entries; revoked keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use super::imp::knownhosts::{HostKeyCheck, KnownHosts};

fn key(n: u8) -> Vec<u8> {
    let mut k = b"\0\0\0\x0bssh-ed25519\0\0\0\x20".to_vec();
    k.extend(std::iter::repeat_n(n, 32));
    k
}

fn line(hosts: &str, n: u8) -> String {
    format!("{hosts} ssh-ed25519 {}\n", STANDARD.encode(key(n)))
}

fn hashed(host: &str, salt: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).unwrap();
    mac.update(host.as_bytes());
    format!(
        "|1|{}|{}",
        STANDARD.encode(salt),
        STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[test]
fn plain_and_ported_entries() {
    let text = format!(
        "# comment\n\n{}{}",
        line("git.example.org,10.0.0.1", 1),
        line("[git.example.org]:2222", 2)
    );
    let kh = KnownHosts::parse(&text).unwrap();
    assert_eq!(
        kh.check("git.example.org", None, &key(1)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("GIT.example.org", Some(22), &key(1)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("git.example.org", None, &key(2)),
        HostKeyCheck::Mismatch
    );
    assert_eq!(
        kh.check("git.example.org", Some(2222), &key(2)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("git.example.org", Some(2222), &key(1)),
        HostKeyCheck::Mismatch
    );
    assert_eq!(
        kh.check("other.example.org", None, &key(1)),
        HostKeyCheck::Unknown
    );
    assert_eq!(
        kh.check("git.example.org", Some(2200), &key(2)),
        HostKeyCheck::Unknown
    );
}

#[test]
fn hashed_entries() {
    let text = line(&hashed("git.example.org", b"0123456789abcdefghij"), 3)
        + &line(
            &hashed("[git.example.org]:2222", b"salt-salt-salt-salt-"),
            4,
        );
    let kh = KnownHosts::parse(&text).unwrap();
    assert_eq!(
        kh.check("git.example.org", None, &key(3)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("git.example.org", None, &key(4)),
        HostKeyCheck::Mismatch
    );
    assert_eq!(
        kh.check("git.example.org", Some(2222), &key(4)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("git.example.com", None, &key(3)),
        HostKeyCheck::Unknown
    );
}

#[test]
fn wildcards_negations_and_revocations() {
    let text = line("*.example.org,!evil.example.org", 5)
        + &line("git?.example.net", 6)
        + "@revoked "
        + &line("old.example.org", 5)
        + "@cert-authority *.example.com ssh-ed25519 AAAA\n";
    let kh = KnownHosts::parse(&text).unwrap();
    assert_eq!(
        kh.check("git.example.org", None, &key(5)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("evil.example.org", None, &key(5)),
        HostKeyCheck::Unknown
    );
    assert_eq!(
        kh.check("git1.example.net", None, &key(6)),
        HostKeyCheck::Known
    );
    assert_eq!(
        kh.check("git12.example.net", None, &key(6)),
        HostKeyCheck::Unknown
    );
    assert_eq!(
        kh.check("old.example.org", None, &key(5)),
        HostKeyCheck::Revoked
    );
    assert_eq!(
        kh.check("a.example.com", None, &key(5)),
        HostKeyCheck::Unknown
    );
}

#[test]
fn malformed_lines_name_their_number() {
    assert_eq!(
        KnownHosts::parse("# x\nhost ssh-ed25519\n").unwrap_err(),
        "line 2: expected `host[,host...] key-type base64-key`"
    );
    assert_eq!(
        KnownHosts::parse("host ssh-ed25519 !!!\n").unwrap_err(),
        "line 1: the key is not base64"
    );
}
