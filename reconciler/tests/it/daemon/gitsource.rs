//! The Git source against real repositories: a local path, `file://`, `git daemon` on
//! loopback and smart HTTP with basic authentication; refs, subpaths, force-pushes, deleted
//! branches, damaged caches and unreachable remotes; a token never follows a redirect to
//! another origin.

use render::SourceTree;

use super::imp::StopSignal;
use super::imp::config::{Auth, SecretRef};
use super::imp::error::GitErrorKind;
use super::imp::gitsource::GitSource;
use super::imp::runner::{SyncRequest, Trigger};
use super::support::{GitDaemon, HttpGit, Redirector, Sshd, Upstream, git};

/// The content of `path` at the source's last good revision, read from Git objects.
fn read_at_last_good(source: &GitSource, path: &str) -> String {
    let revision = source.last_good().expect("a fetched revision");
    let request = SyncRequest {
        revision,
        repository: source.repository_path().to_owned(),
        path: source.path().to_owned(),
        trigger: Trigger::Manual,
        previous: None,
        stop: StopSignal::new().1,
    };
    request
        .with_tree(|tree| String::from_utf8(tree.read(path).unwrap()).unwrap())
        .unwrap()
}

#[test]
fn a_local_path_is_cloned_once_then_fetched() {
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let first = up.head();
    let source = GitSource::new(&Upstream::source(
        up.bare().to_str().unwrap(),
        "main",
        cache.path(),
    ))
    .unwrap();
    assert_eq!(source.last_good(), None);
    let rev = source.fetch().unwrap();
    assert_eq!(rev.commit, first);
    assert_eq!(rev.reference, "refs/heads/main");
    assert_eq!(rev.summary, "first");
    assert_eq!(
        read_at_last_good(&source, "clusters/prod/app.yaml"),
        "version: 1\n"
    );
    let second = up.commit(&[("clusters/prod/app.yaml", "version: 2\n")], "second");
    let rev = source.fetch().unwrap();
    assert_eq!(rev.commit, second);
    assert_eq!(source.last_good(), Some(rev));
    assert_eq!(
        read_at_last_good(&source, "clusters/prod/app.yaml"),
        "version: 2\n"
    );
    // One cache folder, reused.
    let folders: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(folders.len(), 1);
    // An unchanged remote resolves to the same commit.
    assert_eq!(source.fetch().unwrap().commit, second);
}

#[test]
fn file_urls_with_tags_commits_and_full_refs() {
    let up = Upstream::new();
    let first = up.head();
    git(&up.work(), &["tag", "v1"]);
    git(
        &up.work(),
        &["tag", "-a", "-m", "annotated", "v1-annotated"],
    );
    up.push();
    let second = up.commit(&[("clusters/prod/app.yaml", "version: 2\n")], "second");
    let url = format!("file://{}", up.bare().display());
    let cache = tempfile::tempdir().unwrap();
    let fetch = |reference: &str| {
        GitSource::new(&Upstream::source(&url, reference, cache.path()))
            .unwrap()
            .fetch()
    };
    let tag = fetch("v1").unwrap();
    assert_eq!(
        (tag.commit.as_str(), tag.reference.as_str()),
        (first.as_str(), "refs/tags/v1")
    );
    assert_eq!(
        fetch("v1-annotated").unwrap().commit,
        first,
        "annotated tags peel to their commit"
    );
    assert_eq!(fetch("main").unwrap().commit, second);
    assert_eq!(fetch("refs/heads/main").unwrap().commit, second);
    let by_id = fetch(&first).unwrap();
    assert_eq!(
        (by_id.commit.as_str(), by_id.reference.as_str()),
        (first.as_str(), first.as_str())
    );
    // A moved tag is followed.
    git(&up.work(), &["tag", "-f", "v1", &second]);
    up.push();
    assert_eq!(fetch("v1").unwrap().commit, second);

    let missing = fetch("release").unwrap_err();
    assert_eq!(missing.kind, GitErrorKind::NotFound);
    assert!(
        missing
            .message
            .contains("has no branch or tag named \"release\""),
        "{missing}"
    );
    let missing = fetch("0123456789012345678901234567890123456789").unwrap_err();
    assert_eq!(missing.kind, GitErrorKind::NotFound);
    assert!(
        missing.message.contains("is not on any branch or tag"),
        "{missing}"
    );
}

#[test]
fn a_subpath_must_be_a_folder_of_the_commit() {
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let mut config = Upstream::source(up.bare().to_str().unwrap(), "main", cache.path());
    config.path = "clusters/prod".into();
    let source = GitSource::new(&config).unwrap();
    source.fetch().unwrap();
    assert_eq!(source.path(), "clusters/prod");
    config.path = "clusters/staging".into();
    let err = GitSource::new(&config).unwrap().fetch().unwrap_err();
    assert_eq!(err.kind, GitErrorKind::NotFound);
    assert!(
        err.message
            .contains("source.path \"clusters/staging\" is not a folder"),
        "{err}"
    );
}

#[test]
fn a_force_push_replaces_the_branch() {
    let up = Upstream::new();
    let first = up.head();
    let cache = tempfile::tempdir().unwrap();
    let source = GitSource::new(&Upstream::source(
        up.bare().to_str().unwrap(),
        "main",
        cache.path(),
    ))
    .unwrap();
    let second = up.commit(&[("a.yaml", "a: 2\n")], "second");
    assert_eq!(source.fetch().unwrap().commit, second);
    git(&up.work(), &["reset", "-q", "--hard", &first]);
    let rewritten = up.commit(&[("a.yaml", "a: rewritten\n")], "rewritten");
    assert_ne!(rewritten, second);
    let rev = source.fetch().unwrap();
    assert_eq!(rev.commit, rewritten);
    assert_eq!(read_at_last_good(&source, "a.yaml"), "a: rewritten\n");
}

#[test]
fn a_deleted_branch_is_not_served_from_the_cache() {
    let up = Upstream::new();
    git(&up.work(), &["branch", "feature"]);
    up.push();
    let cache = tempfile::tempdir().unwrap();
    let source = GitSource::new(&Upstream::source(
        up.bare().to_str().unwrap(),
        "feature",
        cache.path(),
    ))
    .unwrap();
    source.fetch().unwrap();
    git(&up.work(), &["branch", "-q", "-D", "feature"]);
    up.push();
    let err = source.fetch().unwrap_err();
    assert_eq!(err.kind, GitErrorKind::NotFound, "{err}");
    assert!(source.last_good().is_some(), "the last good revision stays");
}

#[test]
fn a_damaged_cache_is_cloned_again() {
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let config = Upstream::source(up.bare().to_str().unwrap(), "main", cache.path());
    let source = GitSource::new(&config).unwrap();
    let first = source.fetch().unwrap().commit;
    let dir = source.repository_path().to_owned();

    // Half-written: a folder with nothing usable in it.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(dir.join("objects")).unwrap();
    assert_eq!(source.fetch().unwrap().commit, first);

    // Garbage where the repository's HEAD and config should be.
    std::fs::write(dir.join("HEAD"), "garbage").unwrap();
    std::fs::write(dir.join("config"), "[[[").unwrap();
    assert_eq!(source.fetch().unwrap().commit, first);

    // Refs intact but the objects gone: found when a new process reads the revision.
    for entry in walk(&dir.join("objects")) {
        if entry.is_file() && !entry.to_string_lossy().contains("/info/") {
            std::fs::remove_file(entry).unwrap();
        }
    }
    let restarted = GitSource::new(&config).unwrap();
    assert_eq!(restarted.fetch().unwrap().commit, first);
    assert_eq!(
        read_at_last_good(&restarted, "clusters/prod/app.yaml"),
        "version: 1\n"
    );

    // One blob missing while the commit and its trees are there: a fetch finds nothing to
    // download, and only reading the revision shows the damage.
    let blob = git(&up.work(), &["rev-parse", "HEAD:clusters/prod/app.yaml"]);
    let dir = restarted.repository_path().to_owned();
    let packs = dir.join("objects/pack");
    let moved = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&packs).unwrap() {
        let p = entry.unwrap().path();
        std::fs::rename(&p, moved.path().join(p.file_name().unwrap())).unwrap();
    }
    for entry in std::fs::read_dir(moved.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "pack") {
            let pack = std::fs::File::open(&p).unwrap();
            let status = std::process::Command::new("git")
                .args(["unpack-objects", "-q"])
                .current_dir(&dir)
                .stdin(pack)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    std::fs::remove_file(dir.join("objects").join(&blob[..2]).join(&blob[2..])).unwrap();
    let restarted = GitSource::new(&config).unwrap();
    assert_eq!(restarted.fetch().unwrap().commit, first);
    assert_eq!(
        read_at_last_good(&restarted, "clusters/prod/app.yaml"),
        "version: 1\n"
    );

    // No temporary folders left behind.
    let left: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn an_unreachable_remote_keeps_the_last_good_revision() {
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let source = GitSource::new(&Upstream::source(
        up.bare().to_str().unwrap(),
        "main",
        cache.path(),
    ))
    .unwrap();
    let good = source.fetch().unwrap();
    let away = up.served_root().join("away.git");
    std::fs::rename(up.bare(), &away).unwrap();
    let err = source.fetch().unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Unreachable, "{err}");
    assert_eq!(source.last_good(), Some(good.clone()));
    assert_eq!(
        read_at_last_good(&source, "clusters/prod/app.yaml"),
        "version: 1\n"
    );
    std::fs::rename(&away, up.bare()).unwrap();
    assert_eq!(source.fetch().unwrap(), good);
}

#[test]
fn git_daemon_on_loopback() {
    let up = Upstream::new();
    let daemon = GitDaemon::start(&up.served_root());
    let cache = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let source = GitSource::new(&Upstream::source(&url, "main", cache.path())).unwrap();
    assert_eq!(source.fetch().unwrap().commit, up.head());
    let second = up.commit(&[("b.yaml", "b: 1\n")], "second");
    assert_eq!(source.fetch().unwrap().commit, second);
    assert_eq!(read_at_last_good(&source, "b.yaml"), "b: 1\n");
    drop(daemon);
    let err = source.fetch().unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Unreachable, "{err}");
    assert_eq!(source.last_good().unwrap().commit, second);
}

const TOKEN: &str = "tok-Very-Secret-4242";

fn http_source(server: &HttpGit, token: Option<&str>, cache: &std::path::Path) -> GitSource {
    let mut config = Upstream::source(&server.url("repo.git"), "main", cache);
    if let Some(token) = token {
        let file = cache.join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        config.auth = Auth::Token {
            username: "bot".into(),
            token: SecretRef::File(file),
        };
    }
    GitSource::new(&config).unwrap()
}

/// A source for `url` with `token` as the password of user `bot`.
fn token_source(url: &str, token: &str, cache: &std::path::Path) -> GitSource {
    let mut config = Upstream::source(url, "main", cache);
    let file = cache.join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    config.auth = Auth::Token {
        username: "bot".into(),
        token: SecretRef::File(file),
    };
    GitSource::new(&config).unwrap()
}

#[test]
fn git_token_follows_a_redirect_to_another_port() {
    let up = Upstream::new();
    // Another origin that asks for credentials, as a host harvesting tokens would.
    let elsewhere = HttpGit::start(&up.served_root(), "bot", TOKEN);
    let remote = Redirector::start(&format!("http://{}", elsewhere.addr));
    let cache = tempfile::tempdir().unwrap();
    let err = token_source(&remote.url("repo.git"), TOKEN, cache.path())
        .fetch()
        .unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Auth, "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("redirected to http://{}", elsewhere.addr)),
        "{message}"
    );
    assert!(message.contains("sent only to"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    assert_eq!(
        elsewhere.authorization_headers(),
        0,
        "the token went elsewhere"
    );
    assert_eq!(
        remote.authorized.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[test]
fn git_token_follows_a_redirect_to_another_host() {
    let up = Upstream::new();
    let elsewhere = HttpGit::start(&up.served_root(), "bot", TOKEN);
    // `localhost` is another host name than `127.0.0.1`, whatever it resolves to.
    let remote = Redirector::start(&format!("http://localhost:{}", elsewhere.addr.port()));
    let cache = tempfile::tempdir().unwrap();
    let err = token_source(&remote.url("repo.git"), TOKEN, cache.path())
        .fetch()
        .unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Auth, "{err}");
    let message = err.to_string();
    assert!(message.contains("cannot redirect from"), "{message}");
    assert!(
        message.contains("within the host of source.url"),
        "{message}"
    );
    assert_eq!(
        elsewhere.authorization_headers(),
        0,
        "the token went elsewhere"
    );
}

#[test]
fn a_redirect_to_another_origin_is_followed_without_the_token() {
    let up = Upstream::new();
    let elsewhere = HttpGit::start_public(&up.served_root());
    let remote = Redirector::start(&format!("http://{}", elsewhere.addr));
    let cache = tempfile::tempdir().unwrap();
    let source = token_source(&remote.url("repo.git"), TOKEN, cache.path());
    assert_eq!(source.fetch().unwrap().commit, up.head());
    assert_eq!(elsewhere.authorization_headers(), 0);
}

#[test]
fn smart_http_with_a_token() {
    let up = Upstream::new();
    let server = HttpGit::start(&up.served_root(), "bot", TOKEN);
    let cache = tempfile::tempdir().unwrap();
    let source = http_source(&server, Some(TOKEN), cache.path());
    assert_eq!(source.fetch().unwrap().commit, up.head());
    let second = up.commit(&[("c.yaml", "c: 1\n")], "second");
    assert_eq!(source.fetch().unwrap().commit, second);
    assert_eq!(read_at_last_good(&source, "c.yaml"), "c: 1\n");
}

#[test]
fn smart_http_with_a_wrong_token_fails_without_telling_the_token() {
    let up = Upstream::new();
    let server = HttpGit::start(&up.served_root(), "bot", TOKEN);
    let cache = tempfile::tempdir().unwrap();
    let wrong = "tok-Wrong-Secret-1717";
    let err = http_source(&server, Some(wrong), cache.path())
        .fetch()
        .unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Auth, "{err}");
    assert!(err.message.contains("refused the token"), "{err}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(wrong) && !shown.contains(TOKEN), "{shown}");
    }
    let err = http_source(&server, None, cache.path())
        .fetch()
        .unwrap_err();
    assert_eq!(err.kind, GitErrorKind::Auth, "{err}");
    assert!(err.message.contains("asks for credentials"), "{err}");
}

#[test]
fn a_token_in_the_url_is_not_shown() {
    let up = Upstream::new();
    let server = HttpGit::start(&up.served_root(), "bot", TOKEN);
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://bot:{TOKEN}@{}/git/missing.git", server.addr);
    let source = GitSource::new(&Upstream::source(&url, "main", cache.path())).unwrap();
    assert!(!format!("{source:?}").contains(TOKEN));
    let err = source.fetch().unwrap_err();
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(err.to_string().contains("bot:<redacted>@"), "{err}");
}

fn ssh_source(
    server: &Sshd,
    up: &Upstream,
    key: &std::path::Path,
    known_hosts: &str,
    cache: &std::path::Path,
) -> GitSource {
    let file = cache.join(format!("known_hosts-{}", known_hosts.len()));
    std::fs::write(&file, known_hosts).unwrap();
    let mut config = Upstream::source(&server.url(&up.bare()), "main", cache);
    config.auth = Auth::Ssh {
        username: None,
        key_file: key.to_owned(),
        known_hosts_file: file,
    };
    GitSource::new(&config).unwrap()
}

#[test]
fn ssh_with_a_key_and_a_known_host() {
    let Some(server) = Sshd::start() else { return };
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let source = ssh_source(
        &server,
        &up,
        &server.client_key,
        &server.known_hosts,
        cache.path(),
    );
    assert_eq!(source.fetch().unwrap().commit, up.head());
    let second = up.commit(&[("d.yaml", "d: 1\n")], "second");
    assert_eq!(source.fetch().unwrap().commit, second);
    assert_eq!(read_at_last_good(&source, "d.yaml"), "d: 1\n");
}

#[test]
fn ssh_refuses_unknown_or_changed_host_keys_and_reports_refused_keys() {
    let Some(server) = Sshd::start() else { return };
    let up = Upstream::new();
    let cache = tempfile::tempdir().unwrap();
    let changed = ssh_source(
        &server,
        &up,
        &server.client_key,
        &server.wrong_known_hosts,
        cache.path(),
    )
    .fetch()
    .unwrap_err();
    assert_eq!(changed.kind, GitErrorKind::HostKey, "{changed}");
    assert!(
        changed
            .message
            .contains("differs from the one in source.auth.knownHostsFile"),
        "{changed}"
    );
    let other_host = server
        .known_hosts
        .replace("[127.0.0.1]", "[git.example.org]");
    let unknown = ssh_source(&server, &up, &server.client_key, &other_host, cache.path())
        .fetch()
        .unwrap_err();
    assert_eq!(unknown.kind, GitErrorKind::HostKey, "{unknown}");
    assert!(
        unknown
            .message
            .contains("is not in source.auth.knownHostsFile"),
        "{unknown}"
    );
    let refused = ssh_source(
        &server,
        &up,
        &server.other_key,
        &server.known_hosts,
        cache.path(),
    )
    .fetch()
    .unwrap_err();
    assert_eq!(refused.kind, GitErrorKind::Auth, "{refused}");
    assert!(refused.message.contains("refused the SSH key"), "{refused}");
}
