//! Fixtures of the daemon tests: upstream repositories driven with the `git` command, a
//! `git daemon` on loopback, and a smart-HTTP Git server (`git http-backend` as CGI behind a
//! small axum server with basic authentication) on loopback, and a server that answers every
//! request with a redirect.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use base64::Engine;

use super::imp::config::{Auth, SourceConfig};

/// Runs `git ARGS` in `dir` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An upstream repository: a work tree where commits are made, pushed (with force) to a bare
/// repository `served/repo.git` that the transports serve.
pub struct Upstream {
    /// Keeps the folders alive.
    pub dir: tempfile::TempDir,
}

impl Upstream {
    /// A new upstream with one commit on `main` holding `clusters/prod/app.yaml`.
    pub fn new() -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        std::fs::create_dir_all(dir.path().join("served")).unwrap();
        git(
            &dir.path().join("served"),
            &["init", "--bare", "-q", "repo.git"],
        );
        let up = Upstream { dir };
        git(&up.work(), &["init", "-q"]);
        git(
            &up.work(),
            &["remote", "add", "origin", up.bare().to_str().unwrap()],
        );
        up.commit(&[("clusters/prod/app.yaml", "version: 1\n")], "first");
        up
    }

    /// The work tree.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The folder the network transports serve.
    pub fn served_root(&self) -> PathBuf {
        self.dir.path().join("served")
    }

    /// The bare repository.
    pub fn bare(&self) -> PathBuf {
        self.served_root().join("repo.git")
    }

    /// Writes `files`, commits them on the current branch, force-pushes every branch and tag,
    /// and returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, text) in files {
            let p = self.work().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        git(&self.work(), &["add", "-A"]);
        git(
            &self.work(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.push();
        self.head()
    }

    /// Force-pushes every branch and tag, pruning deleted ones.
    pub fn push(&self) {
        git(
            &self.work(),
            &[
                "push",
                "-q",
                "--force",
                "--prune",
                "origin",
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            ],
        );
    }

    /// The commit of `HEAD`.
    pub fn head(&self) -> String {
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    /// A source config for `url` at `reference`, caching under `cache`.
    pub fn source(url: &str, reference: &str, cache: &Path) -> SourceConfig {
        SourceConfig {
            url: url.to_owned(),
            reference: reference.to_owned(),
            path: String::new(),
            auth: Auth::None,
            cache_dir: cache.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A port on 127.0.0.1 free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// `git daemon` serving a folder on loopback; stopped when dropped.
pub struct GitDaemon {
    child: Child,
    /// The loopback port it listens on (`git://127.0.0.1:PORT/`).
    pub port: u16,
}

impl GitDaemon {
    /// Serves every repository under `root` read-only.
    pub fn start(root: &Path) -> GitDaemon {
        let port = free_port();
        let mut child = Command::new("/usr/lib/git-core/git-daemon")
            .args([
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                &format!("--base-path={}", root.display()),
                "--listen=127.0.0.1",
                &format!("--port={port}"),
            ])
            .arg(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        wait_for_port(port, &mut child);
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A smart-HTTP Git server on loopback: `git http-backend` behind basic authentication.
pub struct HttpGit {
    /// The address.
    pub addr: SocketAddr,
    /// How many requests carried an `Authorization` header, right or wrong.
    pub authorized: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpGit {
    /// Serves the repositories under `root` at `/git/...`, to `user`/`password` only.
    pub fn start(root: &Path, user: &str, password: &str) -> HttpGit {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        HttpGit::serve(root, Some(expected))
    }

    /// Serves the repositories under `root` at `/git/...` to anyone.
    pub fn start_public(root: &Path) -> HttpGit {
        HttpGit::serve(root, None)
    }

    fn serve(root: &Path, expected: Option<String>) -> HttpGit {
        let root = root.to_owned();
        let authorized = Arc::new(AtomicUsize::new(0));
        let counter = authorized.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app =
                    axum::Router::new().fallback(
                        move |method: Method, uri: Uri, headers: HeaderMap, body: Body| {
                            let root = root.clone();
                            let expected = expected.clone();
                            if headers.contains_key("authorization") {
                                counter.fetch_add(1, Ordering::SeqCst);
                            }
                            async move {
                                cgi(&root, expected.as_deref(), method, uri, headers, body).await
                            }
                        },
                    );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the HTTP server starts");
        HttpGit {
            addr,
            authorized,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// How many requests carried an `Authorization` header.
    pub fn authorization_headers(&self) -> usize {
        self.authorized.load(Ordering::SeqCst)
    }

    /// The URL of the repository `name` (`repo.git`).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/git/{name}", self.addr)
    }
}

impl Drop for HttpGit {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn cgi(
    root: &Path,
    expected: Option<&str>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let authorized = expected.is_none_or(|expected| {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected)
    });
    if !authorized {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"git\"")
            .body(Body::from("authentication required\n"))
            .unwrap();
    }
    let Some(path_info) = uri.path().strip_prefix("/git") else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    let input = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = Command::new("/usr/lib/git-core/git-http-backend");
    cmd.env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("PATH_INFO", path_info)
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", input.len().to_string())
        .env("REMOTE_USER", "test")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd.spawn().expect("git http-backend starts");
        let mut stdin = child.stdin.take().unwrap();
        // Large requests are written from a thread so that a full stdout pipe cannot
        // deadlock against a full stdin pipe.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("git http-backend runs");
        let _ = writer.join();
        out.stdout
    })
    .await
    .unwrap();
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from("bad CGI output"))
            .unwrap();
    };
    let head = String::from_utf8_lossy(&output[..end]).into_owned();
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code: u16 = value
                .split_whitespace()
                .next()
                .unwrap_or("500")
                .parse()
                .unwrap_or(500);
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    response
        .body(Body::from(output[end + sep..].to_vec()))
        .unwrap()
}

/// A server on loopback that answers every request with `302 Found` to the same path and
/// query under `target` (`http://127.0.0.1:PORT`), as a moved or hostile Git remote does.
pub struct Redirector {
    /// The address.
    pub addr: SocketAddr,
    /// How many requests carried an `Authorization` header.
    pub authorized: Arc<AtomicUsize>,
    _server: tokio::runtime::Runtime,
}

impl Redirector {
    /// Redirects to `target`.
    pub fn start(target: &str) -> Redirector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let authorized = Arc::new(AtomicUsize::new(0));
        let counter = authorized.clone();
        let target = target.trim_end_matches('/').to_owned();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            if headers.contains_key("authorization") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            let location = format!(
                "{target}{}",
                uri.path_and_query().map_or("/", |p| p.as_str())
            );
            async move {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", location)
                    .body(Body::empty())
                    .unwrap()
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Redirector {
            addr,
            authorized,
            _server: runtime,
        }
    }

    /// The URL of the repository `name` here.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/git/{name}", self.addr)
    }
}

/// An OpenSSH server on loopback that lets the current user in with one key; stopped when
/// dropped. `None` when `sshd` or `ssh-keygen` is not installed (Debian: openssh-server).
pub struct Sshd {
    child: Child,
    /// The loopback port sshd listens on.
    pub port: u16,
    /// The user that may log in.
    pub user: String,
    /// `known_hosts` lines that trust this server.
    pub known_hosts: String,
    /// The private key the server accepts.
    pub client_key: PathBuf,
    /// A private key the server does not accept.
    pub other_key: PathBuf,
    /// A `known_hosts` line with another key for this server.
    pub wrong_known_hosts: String,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path) -> String {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Sshd {
    /// Starts a server, or `None` (with a note on stderr) when OpenSSH is missing.
    pub fn start() -> Option<Sshd> {
        let sshd = Path::new("/usr/sbin/sshd");
        let has_keygen = Command::new("ssh-keygen")
            .arg("-?")
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !sshd.exists() || !has_keygen {
            eprintln!("skipped: OpenSSH (sshd, ssh-keygen) is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host_public = keygen(&d.join("host_key"));
        let other_host_public = keygen(&d.join("other_host_key"));
        let client_public = keygen(&d.join("client_key"));
        keygen(&d.join("other_key"));
        std::fs::write(d.join("authorized_keys"), format!("{client_public}\n")).unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n",
                host = d.join("host_key").display(),
                dir = d.display(),
            ),
        )
        .unwrap();
        // The privilege separation folder that a root sshd insists on.
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        wait_for_port(port, &mut child);
        Some(Sshd {
            child,
            port,
            user,
            known_hosts: format!("[127.0.0.1]:{port} {host_public}\n"),
            wrong_known_hosts: format!("[127.0.0.1]:{port} {other_host_public}\n"),
            client_key: d.join("client_key"),
            other_key: d.join("other_key"),
            _dir: dir,
        })
    }

    /// The `ssh://` URL of a repository on this machine.
    pub fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
