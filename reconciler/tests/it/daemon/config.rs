//! The config file: defaults, the example of DESIGN section 9, mistakes named by key, secrets.

use std::path::Path;
use std::time::Duration;

use super::imp::config::{Auth, Config, LogFormat, Provider, SecretRef, redact_url};
use super::imp::error::Error;

fn parse(text: &str) -> Config {
    Config::parse(text, Some(Path::new("/etc/reconciler"))).unwrap()
}

/// The mistakes of a config, as `key: message` lines.
fn mistakes(text: &str, base: &Path) -> Vec<String> {
    match Config::parse(text, Some(base)) {
        Err(Error::Config(e)) => e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect(),
        other => panic!("expected config mistakes, got {other:?}"),
    }
}

#[test]
fn only_the_url_is_required_and_every_default_is_filled_in() {
    let c = parse("source:\n  url: https://git.example.org/platform/config.git\n");
    assert_eq!(c.instance, "default");
    assert_eq!(c.source.url, "https://git.example.org/platform/config.git");
    assert_eq!(c.source.reference, "main");
    assert_eq!(c.source.path, "");
    assert_eq!(c.source.auth, Auth::None);
    assert_eq!(c.source.timeout, Duration::from_secs(120));
    assert!(c.source.cache_dir.ends_with("vimana-reconciler"));
    let schedule = c.schedule.expect("a default schedule");
    assert_eq!(schedule.expression(), "*/5 * * * *");
    assert_eq!(schedule.jitter(), Duration::from_secs(15));
    assert_eq!(c.webhook.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.webhook.secret, None);
    assert_eq!(c.webhook.providers, Provider::ALL.to_vec());
    assert_eq!(c.webhook.max_body_bytes, 1024 * 1024);
    assert_eq!(c.webhook.rate_limit.burst, 100);
    assert_eq!(c.webhook.rate_limit.per_second, 10.0);
    assert_eq!(c.cluster.kubeconfig, None);
    assert_eq!(c.cluster.context, None);
    assert_eq!(c.cluster.namespace, "vimana");
    assert!(!c.cluster.embedded);
    assert!(c.apply.prune);
    assert!(!c.apply.allow_empty);
    assert_eq!(c.apply.concurrency, 64);
    assert_eq!(c.apply.drift, reconciler::drift::Mode::Correct);
    assert_eq!(c.rollout.defaults, model::rollout::Policy::default());
    assert!(c.rollout.analyses.is_empty());
    assert!(c.notify.is_empty());
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.log.level, "info");
}

#[test]
fn the_example_of_the_design_reads_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/token"), "tok-123\n").unwrap();
    std::fs::write(dir.path().join("secrets/webhook"), "hook-secret").unwrap();
    let text = r#"
instance: prod-eu
source:
  url: https://git.example.org/platform/vimana-config.git
  ref: main
  path: clusters/prod/
  auth: { tokenFile: secrets/token }
schedule: "*/5 * * * *"
webhook:
  listen: 0.0.0.0:8080
  secretFile: secrets/webhook
cluster:
  kubeconfig: /etc/reconciler/kubeconfig
  namespace: vimana
apply: { prune: true, allowEmpty: false, concurrency: 8 }
rollout:
  steps: [10, 25, 50, 100]
  interval: 2m
  maxFailures: 1
  analyses:
    error-rate:
      prometheus: http://prometheus.monitoring:9090
      query: 'sum(rate(grpc_server_handled_total{server="{{server}}",version="{{version}}",code!="OK"}[1m]))'
      max: 0.01
notify:
  - url: https://hooks.example.org/vimana
log: { format: json, level: debug }
"#;
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.instance, "prod-eu");
    assert_eq!(c.source.path, "clusters/prod");
    match &c.source.auth {
        Auth::Token { username, token } => {
            assert_eq!(username, "git");
            assert_eq!(token, &SecretRef::File(dir.path().join("secrets/token")));
            assert_eq!(token.read("t").unwrap().expose(), "tok-123");
        }
        other => panic!("expected a token, got {other:?}"),
    }
    assert_eq!(
        c.webhook.secret,
        Some(SecretRef::File(dir.path().join("secrets/webhook")))
    );
    assert_eq!(
        c.cluster.kubeconfig.as_deref(),
        Some(Path::new("/etc/reconciler/kubeconfig"))
    );
    assert_eq!(c.rollout.defaults.steps, vec![10, 25, 50, 100]);
    assert_eq!(c.rollout.defaults.interval, Duration::from_secs(120));
    let a = &c.rollout.analyses["error-rate"];
    assert_eq!(a.prometheus, "http://prometheus.monitoring:9090");
    assert_eq!(a.max, Some(0.01));
    assert_eq!(a.min, None);
    assert!(a.query.contains("{{version}}"));
    assert_eq!(c.notify[0].url, "https://hooks.example.org/vimana");
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.level, "debug");
}

#[test]
fn secrets_never_print() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "s3cr3t-t0ken\n").unwrap();
    let c = Config::parse(
        "source: { url: https://h.example/r.git, auth: { tokenFile: token } }\n",
        Some(dir.path()),
    )
    .unwrap();
    let Auth::Token { token, .. } = &c.source.auth else {
        panic!("a token")
    };
    let secret = token.read("source.auth.tokenFile").unwrap();
    assert_eq!(secret.expose(), "s3cr3t-t0ken");
    assert_eq!(format!("{secret}"), "<redacted>");
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert_eq!(
        redact_url("https://bot:s3cr3t@h.example/r.git"),
        "https://bot:<redacted>@h.example/r.git"
    );
    assert_eq!(
        redact_url("https://h.example/r.git"),
        "https://h.example/r.git"
    );
}

#[test]
fn a_token_written_into_the_source_url_never_prints_with_the_config() {
    let c =
        parse("source: { url: \"https://ghp_s3cr3tT0ken@h.example/r.git?private_token=p4ss\" }\n");
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("p4ss"),
        "{shown}"
    );
    assert!(shown.contains("h.example"), "{shown}");
}

#[test]
fn an_unknown_key_is_named_with_the_keys_expected() {
    let m = mistakes(
        "source:\n  url: https://h.example/r.git\n  auth: { tokenfile: /t }\n",
        Path::new("/"),
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("source.auth"), "{m:?}");
    assert!(m[0].contains("unknown field `tokenfile`"), "{m:?}");
    assert!(m[0].contains("`tokenFile`"), "{m:?}");

    let m = mistakes("source: { url: x }\nwebhooks: {}\n", Path::new("/"));
    assert!(m[0].contains("unknown field `webhooks`"), "{m:?}");
    assert!(m[0].contains("`webhook`"), "{m:?}");

    let m = mistakes("instance: a\n", Path::new("/"));
    assert!(m[0].contains("missing field `source`"), "{m:?}");
    assert!(m[0].contains("source.url"), "{m:?}");

    let m = mistakes("# nothing\n", Path::new("/"));
    assert!(m[0].contains("empty"), "{m:?}");

    let m = mistakes(
        "source: { url: x }\napply: { prune: maybe }\n",
        Path::new("/"),
    );
    assert!(m[0].contains("apply.prune"), "{m:?}");
}

#[test]
fn every_rule_mistake_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
instance: "Not a label!"
source:
  url: http://git.example.org/r.git
  path: ../outside
  timeout: 10x
  auth: { tokenFile: missing-token }
schedule: "* * *"
webhook: { listen: "port 80", maxBodyBytes: 10, rateLimit: { burst: 0 } }
cluster: { embedded: true, kubeconfig: /k, namespace: Bad_NS }
apply: { concurrency: 0 }
rollout:
  steps: [50, 10]
  interval: soon
  maxFailures: 0
  analysis: latency
  analyses:
    error-rate: { prometheus: "prometheus:9090", query: "", min: 2, max: 1 }
notify: [ { url: "mailto:ops@example.org" } ]
log: { level: "loud" }
"#;
    let m = mistakes(text, dir.path());
    let keys: Vec<&str> = m.iter().map(|l| l.split(": ").next().unwrap()).collect();
    for key in [
        "instance",
        "source.path",
        "source.auth.tokenFile",
        "source.timeout",
        "schedule",
        "webhook.listen",
        "webhook.maxBodyBytes",
        "webhook.rateLimit.burst",
        "cluster.embedded",
        "cluster.namespace",
        "apply.concurrency",
        "rollout.steps",
        "rollout.interval",
        "rollout.maxFailures",
        "rollout.analysis",
        "rollout.analyses.error-rate.prometheus",
        "rollout.analyses.error-rate.query",
        "rollout.analyses.error-rate",
        "notify[0].url",
        "log.level",
    ] {
        assert!(keys.contains(&key), "no mistake for {key} in {m:#?}");
    }
    // The token goes over plain http to a remote host: refused, and the file is missing.
    let token_lines: Vec<&String> = m
        .iter()
        .filter(|l| l.starts_with("source.auth.tokenFile"))
        .collect();
    assert!(token_lines.iter().any(|l| l.contains("https://")), "{m:#?}");
    assert!(
        token_lines.iter().any(|l| l.contains("missing-token")),
        "{m:#?}"
    );
    let rendered = Config::parse(text, Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(rendered.starts_with("the config has "), "{rendered}");
    assert!(
        rendered.contains("\n  - rollout.maxFailures: it must be at least 1"),
        "{rendered}"
    );
}

#[test]
fn ssh_needs_a_key_and_known_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let m = mistakes(
        "source: { url: git@github.com:acme/config.git }\n",
        dir.path(),
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("source.auth: an SSH remote needs sshKeyFile")),
        "{m:?}"
    );

    std::fs::write(dir.path().join("id"), "key").unwrap();
    let m = mistakes(
        "source: { url: 'ssh://git@h.example:2222/r.git', auth: { sshKeyFile: id } }\n",
        dir.path(),
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("source.auth.knownHostsFile")),
        "{m:?}"
    );

    std::fs::write(
        dir.path().join("known_hosts"),
        "[h.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBc=\n",
    )
    .unwrap();
    let c = Config::parse(
        "source: { url: 'ssh://git@h.example:2222/r.git', auth: { sshKeyFile: id, knownHostsFile: known_hosts } }\n",
        Some(dir.path()),
    )
    .unwrap();
    assert_eq!(
        c.source.auth,
        Auth::Ssh {
            username: None,
            key_file: dir.path().join("id"),
            known_hosts_file: dir.path().join("known_hosts"),
        }
    );

    let m = mistakes(
        "source: { url: 'https://h.example/r.git', auth: { sshKeyFile: id, knownHostsFile: known_hosts } }\n",
        dir.path(),
    );
    assert!(
        m.iter().any(|l| l.starts_with("source.auth.sshKeyFile")),
        "{m:?}"
    );
}

#[test]
fn a_token_may_go_over_plain_http_to_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t"), "x").unwrap();
    Config::parse(
        "source: { url: 'http://127.0.0.1:9999/git/r.git', auth: { tokenEnv: NO_SUCH_VAR_FOR_TEST, username: bot } }\n",
        Some(dir.path()),
    )
    .map(|_| ())
    .expect_err("an unset variable is a mistake");
    let c = Config::parse(
        "source: { url: 'http://127.0.0.1:9999/git/r.git', auth: { tokenFile: t, username: bot } }\n",
        Some(dir.path()),
    )
    .unwrap();
    assert!(matches!(&c.source.auth, Auth::Token { username, .. } if username == "bot"));
    let m = mistakes(
        "source: { url: 'http://git.example.org/r.git', auth: { tokenFile: t } }\n",
        dir.path(),
    );
    assert_eq!(m.len(), 1, "{m:?}");
}

#[test]
fn apply_drift_is_correct_or_detect() {
    use reconciler::drift::Mode;
    let c = parse("source: { url: x }\napply: { drift: detect }\n");
    assert_eq!(c.apply.drift, Mode::Detect);
    let c = parse("source: { url: x }\napply: { drift: correct }\n");
    assert_eq!(c.apply.drift, Mode::Correct);
    let m = mistakes(
        "source: { url: x }\napply: { drift: fix }\n",
        Path::new("/"),
    );
    assert_eq!(m, [r#"apply.drift: "fix" is not correct or detect"#]);
    let m = mistakes(
        "source: { url: x }\napply: { drift: ignore }\n",
        Path::new("/"),
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("apply.drift: \"ignore\" is for single objects")
            && m[0].contains("reconciler.vimana.host/drift: ignore"),
        "{m:?}"
    );
}

#[test]
fn schedule_forms() {
    let c = parse("source: { url: x }\nschedule: off\n");
    assert!(c.schedule.is_none());
    let c = parse("source: { url: x }\nschedule: { cron: '0 */2 * * * *', jitter: 1m }\n");
    let s = c.schedule.unwrap();
    assert_eq!(s.expression(), "0 */2 * * * *");
    assert_eq!(s.jitter(), Duration::from_secs(60));
    let base = Path::new("/");
    let m = mistakes(
        "source: { url: x }\nschedule: { cron: '* * * * *', every: 1m }\n",
        base,
    );
    assert_eq!(
        m,
        vec!["schedule.every: unknown key; expected `cron` or `jitter`"]
    );
    let m = mistakes("source: { url: x }\nschedule: 5\n", base);
    assert!(
        m[0].starts_with("schedule: expected a cron expression"),
        "{m:?}"
    );
    let m = mistakes("source: { url: x }\nschedule: '61 * * * *'\n", base);
    assert!(
        m[0].starts_with("schedule: \"61 * * * *\" is not a valid cron expression"),
        "{m:?}"
    );
}

#[test]
fn relative_paths_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "source: { url: ../repo, cacheDir: cache }\n",
    )
    .unwrap();
    let c = Config::load(&dir.path().join("c.yaml")).unwrap();
    assert_eq!(c.source.url, dir.path().join("../repo").to_string_lossy());
    assert_eq!(c.source.cache_dir, dir.path().join("cache"));
    std::fs::write(
        dir.path().join("bad.yaml"),
        "source: { url: x }\napply: { concurrency: 1000 }\n",
    )
    .unwrap();
    let e = Config::load(&dir.path().join("bad.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "the config file {} has 1 mistake",
            dir.path().join("bad.yaml").display()
        )),
        "{e}"
    );
    let e = Config::load(&dir.path().join("none.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read the config file"), "{e}");
}

#[test]
fn log_levels_and_directives() {
    for ok in [
        "info",
        "DEBUG",
        "warn,reconciler=debug",
        "off",
        "reconciler::daemon=trace",
    ] {
        let c = parse(&format!("source: {{ url: x }}\nlog: {{ level: '{ok}' }}\n"));
        assert_eq!(c.log.level, ok);
    }
    for bad in ["infoo", "reconciler=loud", "=debug", "info,"] {
        let m = mistakes(
            &format!("source: {{ url: x }}\nlog: {{ level: '{bad}' }}\n"),
            Path::new("/"),
        );
        assert!(m[0].starts_with("log.level: "), "{bad}: {m:?}");
    }
    let m = mistakes(
        "source: { url: x }\nlog: { format: yaml }\n",
        Path::new("/"),
    );
    assert!(
        m[0].contains("unknown variant `yaml`, expected `text` or `json`"),
        "{m:?}"
    );
}
