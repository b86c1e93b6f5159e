//! The Git source of the daemon: a bare clone kept in a cache folder and fetched before each
//! sync, resolving `source.ref` (branch, tag, full ref or commit id) to a commit that a sync
//! reads straight from Git objects through [`super::GitTree`].
//!
//! - Fetches use `+` refspecs into a private namespace (`refs/reconciler/...`) and prune, so a
//!   force-pushed or deleted branch is seen as the remote has it now.
//! - A new clone is made in a temporary folder and renamed into place only once complete, so a
//!   crash never leaves a half-written cache; a cache that cannot be opened, points to another
//!   remote, or fails while fetching or reading a new commit is cloned again beside the old one.
//! - Failures are classified ([`GitErrorKind`]) for the caller's retry policy, and the last
//!   good revision stays available ([`GitSource::last_good`]).
//! - Credentials are read at each fetch (rotated Secrets work), offered once (a refused token
//!   is not retried in a loop), and never appear in messages.
//! - A token goes only to the origin (scheme, host and port) of `source.url`: a redirect to
//!   another host is refused, and a redirect to another port or scheme of the same host is
//!   followed without the token (libgit2 asks for credentials with the URL it was sent to, and
//!   is told no). Both are logged.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, ErrorClass, FetchOptions,
    FetchPrune, Oid, RemoteCallbacks, RemoteRedirect, Repository,
};
use sha2::{Digest, Sha256};

use super::config::urls::{
    UrlKind, explicit_port, hidden_parts, origin_text, redact_url, same_origin, url_kind,
};
use super::config::{Auth, Secret, SourceConfig};
use super::error::{GitError, GitErrorKind};
use super::knownhosts::{HostKeyCheck, KnownHosts};

/// Where fetched refs are kept inside the cache, away from anything Git itself manages.
const NAMESPACE: &str = "refs/reconciler";
/// The last resolved commit: keeps its objects reachable and gives the next fetch a base to
/// negotiate from.
const LAST_REF: &str = "refs/reconciler/last";

/// A resolved revision of the source.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The commit id (hex).
    pub commit: String,
    /// The remote ref it came from (`refs/heads/main`, `refs/tags/v1.2.0`), or the commit id
    /// when `source.ref` is one.
    pub reference: String,
    /// The first line of the commit message.
    pub summary: String,
}

/// What `source.ref` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted {
    /// `refs/...` as written.
    Full(String),
    /// A branch, else a tag, of that name.
    Name(String),
    /// A full commit id.
    Commit(Oid),
}

impl Wanted {
    fn of(reference: &str) -> Wanted {
        let r = reference.trim();
        if r.starts_with("refs/") {
            Wanted::Full(r.to_owned())
        } else if (r.len() == 40 || r.len() == 64) && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            Oid::from_str(r).map_or_else(|_| Wanted::Name(r.to_owned()), Wanted::Commit)
        } else {
            Wanted::Name(r.to_owned())
        }
    }

    /// Remote refs to fetch, as `+src:dst` refspecs.
    fn refspecs(&self) -> Vec<String> {
        let map = |r: &str| format!("+{r}:{NAMESPACE}/{}", &r["refs/".len()..]);
        match self {
            Wanted::Full(r) => vec![map(r)],
            Wanted::Name(n) => vec![
                map(&format!("refs/heads/{n}")),
                map(&format!("refs/tags/{n}")),
            ],
            Wanted::Commit(_) => vec![map("refs/heads/*"), map("refs/tags/*")],
        }
    }

    /// Remote refs that could hold the wanted commit, in order of preference.
    fn candidates(&self) -> Vec<String> {
        match self {
            Wanted::Full(r) => vec![r.clone()],
            Wanted::Name(n) => vec![format!("refs/heads/{n}"), format!("refs/tags/{n}")],
            Wanted::Commit(_) => Vec::new(),
        }
    }
}

fn local_ref(remote_ref: &str) -> String {
    format!("{NAMESPACE}/{}", &remote_ref["refs/".len()..])
}

/// A Git repository followed by the daemon.
pub struct GitSource {
    url: String,
    reference: String,
    path: String,
    auth: Auth,
    dir: PathBuf,
    timeout: Duration,
    last_good: Mutex<Option<Revision>>,
    verified: Mutex<Option<Oid>>,
    /// Held for the whole of a fetch: a fetch that outlived its caller's timeout must end before
    /// another one touches the cache.
    busy: Mutex<()>,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSource")
            .field("url", &self.display_url())
            .field("reference", &self.reference)
            .field("path", &self.path)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What the callbacks of one fetch learned, read after libgit2 returns.
struct Attempt {
    deadline: Instant,
    credential_offers: Cell<u32>,
    failure: RefCell<Option<GitError>>,
    timed_out: Cell<bool>,
}

impl Attempt {
    /// Whether the fetch is still within `source.timeout`; libgit2 stops when it is not.
    fn in_time(&self) -> bool {
        let ok = Instant::now() < self.deadline;
        self.timed_out.set(!ok);
        ok
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl GitSource {
    /// A source for `config`; nothing is fetched yet. Its cache lives in a folder of
    /// `config.cache_dir` named after the URL.
    pub fn new(config: &SourceConfig) -> Result<GitSource, GitError> {
        std::fs::create_dir_all(&config.cache_dir).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!(
                    "cannot create the cache folder {}: {e}",
                    config.cache_dir.display()
                ),
            )
        })?;
        let digest = Sha256::digest(config.url.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let stem: String = redact_url(&config.url)
            .trim_end_matches('/')
            .trim_end_matches(".git")
            .rsplit(['/', ':'])
            .next()
            .unwrap_or("repo")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        Ok(GitSource {
            url: config.url.clone(),
            reference: config.reference.clone(),
            path: config.path.clone(),
            auth: config.auth.clone(),
            dir: config.cache_dir.join(format!("{stem}-{hex}.git")),
            timeout: config.timeout,
            last_good: Mutex::new(None),
            verified: Mutex::new(None),
            busy: Mutex::new(()),
        })
    }

    /// The remote URL without user information.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// `source.ref` as configured.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// `source.path`: the folder of the sources in the repository.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The bare repository of the cache. Open it with [`GitSource::open`] or
    /// `git2::Repository::open_bare`.
    pub fn repository_path(&self) -> &Path {
        &self.dir
    }

    /// The fetch timeout (`source.timeout`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The last revision fetched and checked successfully, if any: what the cluster should keep
    /// while the remote is unreachable.
    pub fn last_good(&self) -> Option<Revision> {
        self.last_good.lock().expect("not poisoned").clone()
    }

    /// Opens the cache repository, to read a revision with `GitTree::at_revision(&repo, commit)`.
    pub fn open(&self) -> Result<Repository, GitError> {
        Repository::open_bare(&self.dir).map_err(|e| {
            GitError::new(
                GitErrorKind::Cache,
                format!(
                    "cannot open the Git cache {}: {}",
                    self.dir.display(),
                    e.message()
                ),
            )
        })
    }

    /// Fetches the remote and resolves `source.ref`, cloning first when there is no usable
    /// cache. Blocking: call it from `spawn_blocking`. On success the revision becomes
    /// [`GitSource::last_good`]; on failure that stays as it was.
    pub fn fetch(&self) -> Result<Revision, GitError> {
        let _busy = self.busy.try_lock().map_err(|_| {
            GitError::new(
                GitErrorKind::Timeout,
                format!(
                    "an earlier fetch of {} is still running",
                    self.display_url()
                ),
            )
        })?;
        self.check_local_remote()?;
        let wanted = Wanted::of(&self.reference);
        let revision = match self.open_cache() {
            Ok(repo) => match self.fetch_into(&repo, &wanted) {
                Ok(rev) => rev,
                Err(e) if e.kind == GitErrorKind::Cache => {
                    tracing::warn!(cache = %self.dir.display(), error = %e, "the Git cache is damaged; cloning again");
                    drop(repo);
                    self.clone_fresh(&wanted)?
                }
                Err(e) => return Err(e),
            },
            Err(reason) => {
                tracing::info!(cache = %self.dir.display(), url = %self.display_url(), %reason, "cloning");
                self.clone_fresh(&wanted)?
            }
        };
        *self.last_good.lock().expect("not poisoned") = Some(revision.clone());
        Ok(revision)
    }

    /// A local remote that is gone is unreachable, not a sign of a broken cache.
    fn check_local_remote(&self) -> Result<(), GitError> {
        let path = match url_kind(&self.url) {
            UrlKind::Path => PathBuf::from(&self.url),
            UrlKind::File => PathBuf::from(&self.url["file://".len()..]),
            _ => return Ok(()),
        };
        if path.is_dir() {
            Ok(())
        } else {
            Err(GitError::new(
                GitErrorKind::Unreachable,
                format!(
                    "the repository {} does not exist or is not a folder",
                    path.display()
                ),
            ))
        }
    }

    /// The cache repository, if it is whole and follows this URL.
    fn open_cache(&self) -> Result<Repository, String> {
        if !self.dir.exists() {
            return Err("no cache yet".into());
        }
        let repo = Repository::open_bare(&self.dir)
            .map_err(|e| format!("cannot open it: {}", e.message()))?;
        if !repo.is_bare() {
            return Err("it is not a bare repository".into());
        }
        let remote = repo
            .find_remote("origin")
            .map_err(|e| format!("it has no origin remote: {}", e.message()))?;
        if remote.url() != Some(self.url.as_str()) {
            return Err("it follows another remote".into());
        }
        drop(remote);
        repo.odb()
            .map_err(|e| format!("cannot read its objects: {}", e.message()))?;
        Ok(repo)
    }

    /// Clones into a temporary folder beside the cache and renames it into place once the
    /// revision is fetched and checked; the old cache is removed only then.
    fn clone_fresh(&self, wanted: &Wanted) -> Result<Revision, GitError> {
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = parent.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let cache_err = |what: &str, e: &dyn std::fmt::Display| {
            GitError::new(GitErrorKind::Cache, format!("{what}: {e}"))
        };
        let _ = std::fs::remove_dir_all(&tmp);
        let result = (|| {
            let repo = Repository::init_bare(&tmp).map_err(|e| {
                cache_err(&format!("cannot create {}", tmp.display()), &e.message())
            })?;
            repo.remote("origin", &self.url)
                .map_err(|e| cache_err("cannot add the remote", &e.message()))?;
            *self.verified.lock().expect("not poisoned") = None;
            self.fetch_into(&repo, wanted)
        })();
        let revision = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let trash = parent.join(format!(".{name}.old-{}-{n}", std::process::id()));
        if self.dir.exists() {
            std::fs::rename(&self.dir, &trash).map_err(|e| {
                cache_err(
                    &format!("cannot move the old cache {} away", self.dir.display()),
                    &e,
                )
            })?;
        }
        std::fs::rename(&tmp, &self.dir).map_err(|e| {
            cache_err(
                &format!("cannot move the new clone to {}", self.dir.display()),
                &e,
            )
        })?;
        let _ = std::fs::remove_dir_all(&trash);
        Ok(revision)
    }

    fn fetch_into(&self, repo: &Repository, wanted: &Wanted) -> Result<Revision, GitError> {
        // A wanted commit already present needs no network: commits never change.
        let have_commit = match wanted {
            Wanted::Commit(oid) => repo.find_commit(*oid).is_ok(),
            _ => false,
        };
        if !have_commit {
            self.download(repo, wanted)?;
        }
        let (oid, reference) = self.resolve(repo, wanted)?;
        let commit = repo
            .find_commit(oid)
            .map_err(|e| cache_error(&format!("cannot read commit {oid}"), &e))?;
        if !self.path.is_empty() {
            let tree = commit
                .tree()
                .map_err(|e| cache_error(&format!("cannot read the tree of {oid}"), &e))?;
            let is_folder = tree
                .get_path(Path::new(&self.path))
                .ok()
                .is_some_and(|e| e.kind() == Some(git2::ObjectType::Tree));
            if !is_folder {
                return Err(GitError::new(
                    GitErrorKind::NotFound,
                    format!(
                        "source.path {:?} is not a folder in commit {} ({reference}) of {}",
                        self.path,
                        short(oid),
                        self.display_url()
                    ),
                ));
            }
        }
        self.verify(repo, oid)?;
        repo.reference(LAST_REF, oid, true, "reconciler: last resolved commit")
            .map_err(|e| cache_error("cannot record the resolved commit", &e))?;
        Ok(Revision {
            commit: oid.to_string(),
            reference,
            summary: commit.summary().unwrap_or_default().to_owned(),
        })
    }

    fn download(&self, repo: &Repository, wanted: &Wanted) -> Result<(), GitError> {
        let token = self.read_token()?;
        let known_hosts = self.read_known_hosts()?;
        let attempt = Attempt {
            deadline: Instant::now() + self.timeout,
            credential_offers: Cell::new(0),
            failure: RefCell::new(None),
            timed_out: Cell::new(false),
        };
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|url, url_user, allowed| {
            self.credentials(
                &attempt,
                url,
                token.as_ref().map(|t| t.expose()),
                url_user,
                allowed,
            )
        });
        callbacks.certificate_check(|cert, host| {
            let Some(hostkey) = cert.as_hostkey() else {
                // TLS certificates: libgit2 checks them against the system's roots.
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            match self.check_host_key(known_hosts.as_ref(), host, hostkey.hostkey()) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(message) => {
                    *attempt.failure.borrow_mut() =
                        Some(GitError::new(GitErrorKind::HostKey, message));
                    Err(git2::Error::from_str("host key refused"))
                }
            }
        });
        callbacks.transfer_progress(|_| attempt.in_time());
        callbacks.sideband_progress(|_| attempt.in_time());
        let mut options = FetchOptions::new();
        // With a token, libgit2 follows redirects only within the host of `source.url` (it
        // compares hosts, not ports: the credentials callback checks the rest).
        let redirects = match self.auth {
            Auth::Token { .. } => RemoteRedirect::None,
            _ => RemoteRedirect::Initial,
        };
        options
            .remote_callbacks(callbacks)
            .follow_redirects(redirects)
            .prune(FetchPrune::On)
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        let mut remote = repo
            .find_remote("origin")
            .map_err(|e| cache_error("the cache has no origin remote", &e))?;
        let refspecs = wanted.refspecs();
        let started = Instant::now();
        let result = remote.fetch(&refspecs, Some(&mut options), None);
        drop(options);
        match result {
            Ok(()) => {
                tracing::debug!(url = %self.display_url(), elapsed_ms = started.elapsed().as_millis() as u64, "fetched");
                Ok(())
            }
            Err(e) => Err(self.classify(&e, &attempt)),
        }
    }

    /// The token of `source.auth`, read now: a rotated Secret is used at the next fetch.
    fn read_token(&self) -> Result<Option<Secret>, GitError> {
        match &self.auth {
            Auth::Token { token, .. } => token
                .read("source.auth")
                .map(Some)
                .map_err(|e| GitError::new(GitErrorKind::Credentials, e.to_string())),
            _ => Ok(None),
        }
    }

    /// The host keys of `source.auth.knownHostsFile` for SSH, read now.
    fn read_known_hosts(&self) -> Result<Option<KnownHosts>, GitError> {
        let Auth::Ssh {
            known_hosts_file, ..
        } = &self.auth
        else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(known_hosts_file).map_err(|e| {
            GitError::new(
                GitErrorKind::Credentials,
                format!(
                    "cannot read source.auth.knownHostsFile {}: {e}",
                    known_hosts_file.display()
                ),
            )
        })?;
        KnownHosts::parse(&text).map(Some).map_err(|e| {
            GitError::new(
                GitErrorKind::Credentials,
                format!(
                    "source.auth.knownHostsFile {}: {e}",
                    known_hosts_file.display()
                ),
            )
        })
    }

    /// Whether the SSH host key `key` of `host` is known; the error says why it is refused.
    fn check_host_key(
        &self,
        known: Option<&KnownHosts>,
        host: &str,
        key: Option<&[u8]>,
    ) -> Result<(), String> {
        let Some(known) = known else {
            return Err(format!(
                "{}: SSH needs source.auth.knownHostsFile to check the host key of {host}",
                self.display_url()
            ));
        };
        let Some(key) = key else {
            return Err(format!("{host} sent no host key"));
        };
        match known.check(host, explicit_port(&self.url), key) {
            HostKeyCheck::Known => Ok(()),
            HostKeyCheck::Unknown => Err(format!(
                "the host key of {host} is not in source.auth.knownHostsFile; add it (ssh-keyscan {host}) after checking its fingerprint"
            )),
            HostKeyCheck::Mismatch => Err(format!(
                "the host key of {host} differs from the one in source.auth.knownHostsFile: refusing to connect (the key changed, or someone is in between)"
            )),
            HostKeyCheck::Revoked => Err(format!(
                "the host key of {host} is revoked in source.auth.knownHostsFile"
            )),
        }
    }

    fn credentials(
        &self,
        attempt: &Attempt,
        asked_by: &str,
        token: Option<&str>,
        url_user: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let fail = |kind: GitErrorKind, message: String| {
            *attempt.failure.borrow_mut() = Some(GitError::new(kind, message));
            Err(git2::Error::from_str("no usable credentials"))
        };
        match &self.auth {
            Auth::Ssh {
                username, key_file, ..
            } => {
                let user = username.as_deref().or(url_user).unwrap_or("git");
                if allowed.contains(CredentialType::USERNAME) {
                    return Cred::username(user);
                }
                if !allowed.contains(CredentialType::SSH_KEY) {
                    return fail(
                        GitErrorKind::Auth,
                        format!(
                            "{} does not accept SSH key authentication",
                            self.display_url()
                        ),
                    );
                }
                attempt
                    .credential_offers
                    .set(attempt.credential_offers.get() + 1);
                if attempt.credential_offers.get() > 1 {
                    return fail(
                        GitErrorKind::Auth,
                        format!(
                            "{} refused the SSH key source.auth.sshKeyFile {} for user {user}",
                            self.display_url(),
                            key_file.display()
                        ),
                    );
                }
                Cred::ssh_key(user, None, key_file, None)
            }
            Auth::Token { username, .. } => {
                // libgit2 asks with the URL it was redirected to: a token is for the origin of
                // `source.url` only.
                if !same_origin(asked_by, &self.url) {
                    let message = format!(
                        "{} redirected to {}, which asks for credentials: the token of source.auth is sent only to {} (the scheme, host and port of source.url)",
                        self.display_url(),
                        origin_text(asked_by),
                        origin_text(&self.url)
                    );
                    tracing::warn!(url = %self.display_url(), redirected_to = %origin_text(asked_by), "a redirect to another origin asks for credentials: the token is not sent");
                    return fail(GitErrorKind::Auth, message);
                }
                attempt
                    .credential_offers
                    .set(attempt.credential_offers.get() + 1);
                if attempt.credential_offers.get() > 1 {
                    return fail(
                        GitErrorKind::Auth,
                        format!(
                            "{} refused the token of source.auth (user {username}): check that it is valid and may read the repository",
                            self.display_url()
                        ),
                    );
                }
                if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                    return fail(
                        GitErrorKind::Auth,
                        format!(
                            "{} does not accept a username and token",
                            self.display_url()
                        ),
                    );
                }
                Cred::userpass_plaintext(username, token.unwrap_or_default())
            }
            Auth::None => fail(
                GitErrorKind::Auth,
                format!(
                    "{} asks for credentials; set source.auth.tokenFile (HTTPS) or source.auth.sshKeyFile (SSH)",
                    self.display_url()
                ),
            ),
        }
    }

    fn classify(&self, e: &git2::Error, attempt: &Attempt) -> GitError {
        if let Some(failure) = attempt.failure.borrow_mut().take() {
            return failure;
        }
        if attempt.timed_out.get() {
            return GitError::new(
                GitErrorKind::Timeout,
                format!(
                    "fetching {} took longer than source.timeout ({})",
                    self.display_url(),
                    model::duration::format(self.timeout)
                ),
            );
        }
        let detail = scrub(e.message(), &self.url);
        // libgit2's words for a redirect to another host, refused with a token (see `download`).
        if detail.starts_with("cannot redirect from") {
            tracing::warn!(url = %self.display_url(), %detail, "the remote redirected to another host: refused, the token is not sent there");
            return GitError::new(
                GitErrorKind::Auth,
                format!(
                    "cannot fetch {}: {detail}; with a token (source.auth), redirects are followed only within the host of source.url and the token goes only to its scheme, host and port",
                    self.display_url()
                ),
            );
        }
        let message = format!("cannot fetch {}: {detail}", self.display_url());
        let kind = match e.class() {
            ErrorClass::Net
            | ErrorClass::Http
            | ErrorClass::Ssh
            | ErrorClass::Ssl
            | ErrorClass::Os => GitErrorKind::Unreachable,
            ErrorClass::Odb
            | ErrorClass::Zlib
            | ErrorClass::Indexer
            | ErrorClass::Object
            | ErrorClass::Reference
            | ErrorClass::Repository
            | ErrorClass::Filesystem
            | ErrorClass::Index => GitErrorKind::Cache,
            _ if e.code() == git2::ErrorCode::Auth => GitErrorKind::Auth,
            _ => GitErrorKind::Unreachable,
        };
        GitError::new(kind, message)
    }

    fn resolve(&self, repo: &Repository, wanted: &Wanted) -> Result<(Oid, String), GitError> {
        if let Wanted::Commit(oid) = wanted {
            return match repo.find_commit(*oid) {
                Ok(_) => Ok((*oid, oid.to_string())),
                Err(_) => Err(GitError::new(
                    GitErrorKind::NotFound,
                    format!(
                        "commit {oid} is not on any branch or tag of {}",
                        self.display_url()
                    ),
                )),
            };
        }
        for remote_ref in wanted.candidates() {
            if let Ok(r) = repo.find_reference(&local_ref(&remote_ref)) {
                let commit = r.peel_to_commit().map_err(|e| {
                    cache_error(&format!("cannot read the commit of {remote_ref}"), &e)
                })?;
                return Ok((commit.id(), remote_ref));
            }
        }
        Err(GitError::new(
            GitErrorKind::NotFound,
            match wanted {
                Wanted::Full(r) => format!("{} has no ref {r}", self.display_url()),
                _ => format!(
                    "{} has no branch or tag named {:?} (source.ref)",
                    self.display_url(),
                    self.reference
                ),
            },
        ))
    }

    /// Reads every object of the commit's tree once per new commit: a damaged cache shows up
    /// here, before a sync reads half a revision.
    fn verify(&self, repo: &Repository, oid: Oid) -> Result<(), GitError> {
        if *self.verified.lock().expect("not poisoned") == Some(oid) {
            return Ok(());
        }
        let odb = repo
            .odb()
            .map_err(|e| cache_error("cannot open the object database", &e))?;
        let tree = repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| cache_error(&format!("cannot read the tree of {oid}"), &e))?;
        odb.read(tree.id())
            .map_err(|e| cache_error(&format!("cannot read the tree of {oid}"), &e))?;
        let mut failure = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            // Submodule entries point at commits of other repositories.
            if entry.kind() == Some(git2::ObjectType::Commit) {
                return git2::TreeWalkResult::Ok;
            }
            match odb.read(entry.id()) {
                Ok(_) => git2::TreeWalkResult::Ok,
                Err(e) => {
                    failure = Some(format!(
                        "{dir}{}: {}",
                        entry.name().unwrap_or("?"),
                        e.message()
                    ));
                    git2::TreeWalkResult::Abort
                }
            }
        })
        .map_err(|e| cache_error(&format!("cannot walk the tree of {oid}"), &e))?;
        if let Some(f) = failure {
            return Err(GitError::new(
                GitErrorKind::Cache,
                format!("the cache lacks an object of {oid}: {f}"),
            ));
        }
        *self.verified.lock().expect("not poisoned") = Some(oid);
        Ok(())
    }
}

fn cache_error(what: &str, e: &git2::Error) -> GitError {
    GitError::new(GitErrorKind::Cache, format!("{what}: {}", e.message()))
}

fn short(oid: Oid) -> String {
    oid.to_string()[..12].to_owned()
}

/// A libgit2 message with the configured URL replaced by its redacted form, and any credential
/// of the URL (password, token, query) hidden, in case it echoes them in another form.
fn scrub(message: &str, url: &str) -> String {
    let mut out = message.replace(url, &redact_url(url));
    for piece in hidden_parts(url) {
        out = out.replace(&piece, "<redacted>");
    }
    out
}
