//! `deploy/`, the `Dockerfile` and `.dockerignore`, checked without a cluster or Docker: every
//! manifest parses and its every field is one the Kubernetes API knows (a round trip through the
//! `k8s-openapi` types loses nothing), the config file of the ConfigMap is a valid daemon config
//! whose files are mounted where it reads them, the probes reach the daemon's routes on its
//! port, the pod is locked down, the RBAC rules are exactly what the code uses (a table below,
//! justified by the code it quotes), and the image has what the binary links.
//!
//! `kubectl apply --server-side --dry-run=client` cannot serve as the schema check: kubectl
//! refuses that combination of flags, and a client dry run needs the server's discovery of
//! `apps/v1` and `rbac.authorization.k8s.io/v1`, which the simulated cluster does not serve. The
//! round trip does the same check offline; `kubectl kustomize` checks the kustomization when
//! kubectl is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use reconciler::cluster::live::inventory_name;
use reconciler::daemon::config::{Auth, Config, Provider, RateLimit};
use reconciler::daemon::lease::lease_name;
use reconciler::daemon::server::app;
use reconciler::daemon::state::State;
use reconciler::daemon::webhook::WebhookSettings;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;

use crate::root;

fn deploy() -> PathBuf {
    root().join("deploy")
}

/// The manifests of `deploy/` (not `crds/`, which `crds.rs` checks), as JSON, by file.
fn manifests() -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(deploy()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".yaml") || name == "kustomization.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        out.insert(name.clone(), documents(&text, &name));
    }
    out
}

/// The YAML documents of `text` as JSON, empty ones left out.
fn documents(text: &str, file: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| {
            let v = serde_yaml::Value::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}"));
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn all() -> Vec<(String, Value)> {
    manifests()
        .into_iter()
        .flat_map(|(f, docs)| docs.into_iter().map(move |d| (f.clone(), d)))
        .collect()
}

fn one(kind: &str) -> Value {
    let found: Vec<Value> = all()
        .into_iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in deploy/");
    found.into_iter().next().unwrap()
}

/// The typed object, after checking that the typed form holds every field of the manifest.
fn typed<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let t: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", doc["kind"], doc["metadata"]["name"]));
    let back = serde_json::to_value(&t).unwrap();
    if let Some(path) = difference(doc, &back, String::new()) {
        panic!(
            "{} {}: `{path}` is not a field the API knows, or has the wrong type",
            doc["kind"], doc["metadata"]["name"]
        );
    }
    t
}

/// The first path where `written` has something `kept` has not (or differs).
fn difference(written: &Value, kept: &Value, path: String) -> Option<String> {
    match (written, kept) {
        (Value::Object(w), Value::Object(k)) => w.iter().find_map(|(key, v)| match k.get(key) {
            Some(kv) => difference(v, kv, format!("{path}.{key}")),
            None => Some(format!("{path}.{key}")),
        }),
        (Value::Array(w), Value::Array(k)) if w.len() == k.len() => w
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (a, b))| difference(a, b, format!("{path}[{i}]"))),
        (w, k) if w == k => None,
        _ => Some(path),
    }
}

/// The config file of the ConfigMap, with its secret files given under a scratch folder (the
/// check reads them), and the scratch folder.
fn config() -> (Config, String, tempfile::TempDir) {
    let cm = one("ConfigMap");
    let text = cm["data"]["config.yaml"].as_str().unwrap().to_owned();
    let scratch = tempfile::tempdir().unwrap();
    let fake_root = scratch.path().display().to_string();
    for (file, _) in secret_files(&text) {
        let p = PathBuf::from(format!("{fake_root}{file}"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "a-secret\n").unwrap();
    }
    let moved = secret_files(&text).iter().fold(text.clone(), |t, (f, _)| {
        t.replace(f, &format!("{fake_root}{f}"))
    });
    let config = Config::parse(&moved, None).unwrap_or_else(|e| panic!("{e}"));
    (config, text, scratch)
}

/// The secret files the config names, with the key naming them.
fn secret_files(text: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (key, config_key) in [
        ("tokenFile:", "source.auth.tokenFile"),
        ("secretFile:", "webhook.secretFile"),
        ("sshKeyFile:", "source.auth.sshKeyFile"),
        ("knownHostsFile:", "source.auth.knownHostsFile"),
    ] {
        if let Some(i) = text.find(key) {
            let rest = &text[i + key.len()..];
            let file: String = rest
                .trim_start()
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '}' && *c != ',')
                .collect();
            out.push((file, config_key));
        }
    }
    out
}

#[test]
fn every_manifest_is_known_to_the_api_and_in_the_config_namespace() {
    let (config, _, _scratch) = config();
    let mut kinds = BTreeSet::new();
    for (file, doc) in all() {
        let kind = doc["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no kind"));
        kinds.insert(kind.to_owned());
        match kind {
            "Namespace" => {
                let ns: Namespace = typed(&doc);
                assert_eq!(
                    ns.metadata.name.as_deref(),
                    Some(config.cluster.namespace.as_str())
                );
                continue;
            }
            "ServiceAccount" => drop(typed::<ServiceAccount>(&doc)),
            "Role" => drop(typed::<Role>(&doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(&doc)),
            "ConfigMap" => drop(typed::<ConfigMap>(&doc)),
            "Deployment" => drop(typed::<Deployment>(&doc)),
            "Service" => drop(typed::<Service>(&doc)),
            other => panic!(
                "{file}: unexpected kind {other} (a ClusterRole needs a reason in docs/deploy.md)"
            ),
        }
        assert_eq!(
            doc["metadata"]["namespace"], config.cluster.namespace,
            "{file}: {kind} in the config's namespace"
        );
    }
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Deployment",
            "Namespace",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .map(String::from)
        .into(),
    );
}

#[test]
fn the_kustomization_lists_every_manifest_and_builds() {
    let k: Value = serde_yaml::from_str(
        &std::fs::read_to_string(deploy().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let mut files: BTreeSet<String> = manifests().into_keys().collect();
    for entry in std::fs::read_dir(deploy().join("crds")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        files.insert(format!("crds/{name}"));
    }
    assert_eq!(listed, files, "kustomization.yaml resources");
    let image = one("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned();
    let (name, tag) = image.split_once(':').unwrap();
    assert_eq!(
        k["images"][0]["name"], name,
        "the images entry names the Deployment's image"
    );
    assert_eq!(k["images"][0]["newTag"], tag);

    let Ok(out) = std::process::Command::new("kubectl")
        .args(["kustomize", deploy().to_str().unwrap()])
        .output()
    else {
        eprintln!("skipped: kubectl is not installed, `kubectl kustomize deploy/` not run");
        return;
    };
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built: BTreeSet<(String, String)> = documents(
        std::str::from_utf8(&out.stdout).unwrap(),
        "kubectl kustomize",
    )
    .iter()
    .map(|v| {
        (
            v["kind"].as_str().unwrap().to_owned(),
            v["metadata"]["name"].as_str().unwrap().to_owned(),
        )
    })
    .collect();
    assert_eq!(built.len(), 4 + all().len(), "{built:?}");
}

#[test]
fn the_config_file_is_valid_and_its_files_are_mounted_where_it_reads_them() {
    let (config, text, _scratch) = config();
    assert_eq!(config.instance, "prod-eu");
    assert!(config.cluster.kubeconfig.is_none(), "in-cluster config");
    assert!(!config.cluster.embedded);
    assert!(config.cluster.leader_election.enabled);
    assert!(config.webhook.secret.is_some(), "webhooks are signed");
    assert!(matches!(config.source.auth, Auth::Token { .. }));

    let d = one("Deployment");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[..2], ["run", "--config"]);
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    let mounts: Vec<(&str, &str, bool)> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
                m["readOnly"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    // The volume mounted at the folder of `file`, its file name there, and whether read-only.
    let mounted = |file: &Path| -> (&Value, String, bool) {
        let (dir, volume, ro) = mounts
            .iter()
            .find(|(dir, _, _)| file.starts_with(dir))
            .unwrap_or_else(|| panic!("nothing is mounted where {} is read", file.display()));
        let rest = file.strip_prefix(dir).unwrap().display().to_string();
        (volumes[volume], rest, *ro)
    };

    // The config file: the ConfigMap's key, read-only.
    let (volume, name, ro) = mounted(Path::new(args[2]));
    assert_eq!(
        volume["configMap"]["name"],
        one("ConfigMap")["metadata"]["name"]
    );
    assert!(
        volume["configMap"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "config.yaml" && i["path"] == name)
    );
    assert!(ro);
    // Each secret file: a key of a Secret, read-only.
    let secrets = secret_files(&text);
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    for (file, key) in &secrets {
        let (volume, name, ro) = mounted(Path::new(file));
        let items = volume["secret"]["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {file} is not from a Secret"));
        assert!(
            items.iter().any(|i| i["path"] == name.as_str()),
            "{key}: {file}"
        );
        assert!(ro, "{key}: read-only");
        assert!(
            std::fs::read_to_string(root().join("docs/deploy.md"))
                .unwrap()
                .contains(volume["secret"]["secretName"].as_str().unwrap()),
            "docs/deploy.md says how to create {}",
            volume["secret"]["secretName"]
        );
    }
    // The Git cache and /tmp: the only writable folders, emptyDirs.
    for dir in [config.source.cache_dir.as_path(), Path::new("/tmp")] {
        let (volume, _, ro) = mounted(dir);
        assert!(
            volume.get("emptyDir").is_some(),
            "{} is an emptyDir",
            dir.display()
        );
        assert!(!ro, "{} is writable", dir.display());
    }
    for (dir, volume, ro) in &mounts {
        assert!(
            *ro || volumes[volume].get("emptyDir").is_some(),
            "{dir}: only emptyDirs are writable"
        );
    }
}

#[tokio::test]
async fn the_probes_and_the_service_reach_the_daemons_routes_on_its_port() {
    let (config, _, _scratch) = config();
    let d = one("Deployment");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let ports = c["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["containerPort"], config.webhook.listen.port());
    let port_name = ports[0]["name"].as_str().unwrap();
    let state = State::new(
        &config.instance,
        &config.source.url,
        &config.source.reference,
        &config.source.path,
        WebhookSettings::new(
            None,
            Provider::ALL.to_vec(),
            1024,
            RateLimit::default(),
            "main",
        ),
    );
    for (probe, path, answers) in [
        ("livenessProbe", "/healthz", [StatusCode::OK].as_slice()),
        // Not ready before a first sync: 503, which is the route answering, not a 404.
        (
            "readinessProbe",
            "/readyz",
            &[StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE],
        ),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["port"], port_name, "{probe} on the daemon's port");
        let status = app(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status();
        assert!(answers.contains(&status), "{path}: {status}");
    }

    let svc = one("Service");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], port_name);
    assert_eq!(
        svc["spec"]["selector"], d["spec"]["selector"]["matchLabels"],
        "the Service selects the Deployment's pods"
    );
}

#[test]
fn the_pod_runs_as_non_root_on_a_read_only_root_with_nothing_extra() {
    let d = one("Deployment");
    let pod = &d["spec"]["template"]["spec"];
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert!(psc["runAsUser"].as_i64().unwrap() > 0);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        pod["serviceAccountName"],
        one("ServiceAccount")["metadata"]["name"]
    );
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(pod.get(key).is_none_or(|v| v == false), "{key}");
    }
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("hostPath").is_none()),
        "no hostPath volumes"
    );
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert!(sc.get("privileged").is_none_or(|v| v == false));
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    let resources = &c["resources"];
    for key in ["cpu", "memory"] {
        assert!(resources["requests"].get(key).is_some(), "requests.{key}");
    }
    assert!(resources["limits"].get("memory").is_some(), "limits.memory");
    let ns = one("Namespace");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "the namespace enforces what the pod does"
    );
}

/// One call of the Kubernetes API made by `reconciler run`, quoted from the code, and the
/// permissions it needs: `(apiGroup, resource, verb, name)` with `name` the resource name the
/// rule may be limited to ("" for none).
struct Use {
    file: &'static str,
    code: &'static str,
    needs: &'static [(&'static str, &'static str, &'static str, Name)],
    why: &'static str,
}

/// The resource name a rule is limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Name {
    Any,
    Inventory,
    Lease,
}

const VIMANA: &str = "api.vimana.host";
const KINDS: [&str; 4] = ["vimanas", "domains", "servers", "components"];

/// The files whose code `reconciler run` runs against the cluster.
const DAEMON_FILES: [&str; 15] = [
    "sync/mod.rs",
    "sync/apply.rs",
    "sync/prune.rs",
    "sync/waves.rs",
    "cluster/live.rs",
    "cluster/mod.rs",
    "rollout/drive.rs",
    "cluster/fresh.rs",
    "cluster/watch.rs",
    "cluster/event.rs",
    "drift/mod.rs",
    "daemon/drift.rs",
    "rollout/mod.rs",
    "daemon/lease.rs",
    "commands/run.rs",
];

/// Substrings that mark a call of `kube::Api` in those files (counted to find calls the table
/// misses).
const API_CALLS: [&str; 9] = [
    "get_opt(",
    ".patch(name,",
    ".list(&",
    ".watch(&",
    ".patch(&",
    ".patch_status(&",
    ".delete(&",
    ".create(&",
    ".replace(&",
];

fn uses() -> Vec<Use> {
    const ALL_KINDS_APPLY: &[(&str, &str, &str, Name)] = &[
        (VIMANA, "vimanas", "patch", Name::Any),
        (VIMANA, "vimanas", "create", Name::Any),
        (VIMANA, "domains", "patch", Name::Any),
        (VIMANA, "domains", "create", Name::Any),
        (VIMANA, "servers", "patch", Name::Any),
        (VIMANA, "servers", "create", Name::Any),
        (VIMANA, "components", "patch", Name::Any),
        (VIMANA, "components", "create", Name::Any),
    ];
    vec![
        Use {
            file: "cluster/mod.rs",
            code: ".patch(name, params, &Patch::Apply(body))",
            needs: ALL_KINDS_APPLY,
            why: "server-side apply of any kind, its dry run, and a Server's weights and rollout state (as field manager vimana-reconciler-rollout); one that creates is authorized as create too",
        },
        Use {
            file: "sync/prune.rs",
            code: r#"retry::retry("delete", || api.delete(&key.name, &params))"#,
            needs: &[
                (VIMANA, "vimanas", "delete", Name::Any),
                (VIMANA, "domains", "delete", Name::Any),
                (VIMANA, "servers", "delete", Name::Any),
                (VIMANA, "components", "delete", Name::Any),
            ],
            why: "prune",
        },
        Use {
            file: "sync/apply.rs",
            code: r#"retry::retry("read a namespace", || api.get_opt(&ns))"#,
            needs: &[],
            why: "only with --create-namespace, which `reconciler run` never sets (checked below)",
        },
        Use {
            file: "sync/apply.rs",
            code: r#"retry::retry("create a namespace", || api.patch(&ns, &params, &patch))"#,
            needs: &[],
            why: "only with --create-namespace, which `reconciler run` never sets (checked below)",
        },
        Use {
            file: "cluster/live.rs",
            code: r#"retry::retry("read the inventory", || api.get_opt(&name))"#,
            needs: &[("", "configmaps", "get", Name::Inventory)],
            why: "read the inventory",
        },
        Use {
            file: "cluster/live.rs",
            code: r#"retry::retry("write the inventory", || api.patch(&name, &params, &patch))"#,
            needs: &[
                ("", "configmaps", "patch", Name::Inventory),
                ("", "configmaps", "create", Name::Any),
            ],
            why: "write the inventory with server-side apply (the first one creates it)",
        },
        Use {
            file: "cluster/mod.rs",
            code: "let req = request.list(&params)",
            needs: &[
                (VIMANA, "vimanas", "list", Name::Any),
                (VIMANA, "domains", "list", Name::Any),
                (VIMANA, "servers", "list", Name::Any),
                (VIMANA, "components", "list", Name::Any),
            ],
            why: "the live state: one LIST per kind; the Components a pass created, again when their watch expired",
        },
        Use {
            file: "cluster/fresh.rs",
            code: "                .request\n                .watch(&params, &version)",
            needs: &[(VIMANA, "components", "watch", Name::Any)],
            why: "a rollout step waits for the Components the pass created to be Available",
        },
        Use {
            file: "rollout/drive.rs",
            code: "api.patch_status(&key.name, &params, &patch)",
            needs: &[(VIMANA, "servers/status", "patch", Name::Any)],
            why: "the Rollout condition of a Server",
        },
        Use {
            file: "cluster/event.rs",
            code: r#"retry::retry("record an Event", || events.create(&params, &event))"#,
            needs: &[("", "events", "create", Name::Any)],
            why: "Events of rollouts and of drift",
        },
        Use {
            file: "cluster/watch.rs",
            code: "                .request\n                .watch(&params, &version)",
            needs: &[
                (VIMANA, "vimanas", "watch", Name::Any),
                (VIMANA, "domains", "watch", Name::Any),
                (VIMANA, "servers", "watch", Name::Any),
                (VIMANA, "components", "watch", Name::Any),
            ],
            why: "drift: the managed objects of each kind and namespace as they change (their re-list is list_each's)",
        },
        Use {
            file: "daemon/lease.rs",
            code: "let current = match self.api.get_opt(&s.name).await",
            needs: &[("coordination.k8s.io", "leases", "get", Name::Lease)],
            why: "read the Lease to acquire or renew it",
        },
        Use {
            file: "daemon/lease.rs",
            code: "self.api.create(&PostParams::default(), &lease)",
            needs: &[("coordination.k8s.io", "leases", "create", Name::Any)],
            why: "the first replica creates the Lease",
        },
        Use {
            file: "daemon/lease.rs",
            code: "            .replace(&s.name, &PostParams::default(), &lease)\n            .await\n        {\n            Ok(written)",
            needs: &[("coordination.k8s.io", "leases", "update", Name::Lease)],
            why: "acquire or renew: a PUT with the resourceVersion read",
        },
        Use {
            file: "daemon/lease.rs",
            code: "                    .get_opt(&s.name)\n                    .await\n                    .map_err(|e| fail(describe(&e)))?",
            needs: &[("coordination.k8s.io", "leases", "get", Name::Lease)],
            why: "release: read the Lease",
        },
        Use {
            file: "daemon/lease.rs",
            code: "                    .replace(&s.name, &PostParams::default(), &lease)\n                    .await\n                {\n                    Ok(_)",
            needs: &[("coordination.k8s.io", "leases", "update", Name::Lease)],
            why: "release: empty the holder",
        },
    ]
}

type Grant = (String, String, String, Name);

#[test]
fn the_role_grants_exactly_what_the_code_uses() {
    let src = root().join("reconciler/src");
    let table = uses();
    // Every quoted call is in the code, and every API call of those files is in the table.
    for file in DAEMON_FILES {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let calls: usize = API_CALLS.iter().map(|c| text.matches(c).count()).sum();
        let quoted: Vec<&Use> = table.iter().filter(|u| u.file == file).collect();
        for u in &quoted {
            assert_eq!(
                text.matches(u.code).count(),
                1,
                "{file}: the call quoted for \"{}\" is not in the code (once); update the table and deploy/rbac.yaml\n{}",
                u.why,
                u.code
            );
        }
        assert_eq!(
            calls,
            quoted.len(),
            "{file} has {calls} Kubernetes API calls but the table quotes {}: a call was added or removed; update the table and deploy/rbac.yaml",
            quoted.len()
        );
    }
    let run = std::fs::read_to_string(src.join("commands/run.rs")).unwrap();
    assert!(
        run.contains("create_namespace: false"),
        "`reconciler run` creates no namespace, so the Role has none"
    );
    let needed: BTreeSet<Grant> = table
        .iter()
        .flat_map(|u| u.needs.iter())
        .map(|(g, r, v, n)| ((*g).to_owned(), (*r).to_owned(), (*v).to_owned(), *n))
        .collect();
    // The four kinds are all in the table.
    for kind in KINDS {
        assert!(
            needed.iter().any(|(g, r, _, _)| g == VIMANA && r == kind),
            "{kind}"
        );
    }

    let (config, _, _scratch) = config();
    let inventory = inventory_name(&config.instance);
    let lease = lease_name(&config.instance);
    let role = one("Role");
    let mut granted: BTreeSet<Grant> = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let list = |k: &str| -> Vec<String> {
            rule[k]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let names = list("resourceNames");
        let name = match names.as_slice() {
            [] => Name::Any,
            [n] if *n == inventory => Name::Inventory,
            [n] if *n == lease => Name::Lease,
            other => panic!("resourceNames {other:?} are neither {inventory} nor {lease}"),
        };
        for g in list("apiGroups") {
            for r in list("resources") {
                for v in list("verbs") {
                    assert!(
                        !g.contains('*') && !r.contains('*') && !v.contains('*'),
                        "no wildcards"
                    );
                    granted.insert((g.clone(), r.clone(), v, name));
                }
            }
        }
    }
    // Limited to a name where the table allows it; `create` never is (RBAC cannot limit it).
    let missing: Vec<&Grant> = needed.difference(&granted).collect();
    let extra: Vec<&Grant> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "deploy/rbac.yaml differs from what the code uses:\n  missing: {missing:?}\n  extra: {extra:?}"
    );

    let binding = one("RoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": one("ServiceAccount")["metadata"]["name"], "namespace": config.cluster.namespace}])
    );
}

/// The `FROM` lines of the Dockerfile after `ARG` defaults are substituted.
fn dockerfile() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut froms = Vec::new();
    for line in text.lines() {
        if let Some(a) = line.strip_prefix("ARG ") {
            if let Some((k, v)) = a.split_once('=') {
                args.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        } else if let Some(f) = line.strip_prefix("FROM ") {
            let mut f = f.to_owned();
            for (k, v) in &args {
                f = f.replace(&format!("${{{k}}}"), v);
            }
            froms.push(f);
        }
    }
    (text, froms)
}

fn version(s: &str) -> (u32, u32) {
    let mut parts = s.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap_or(0))
}

#[test]
fn the_image_builds_with_the_projects_toolchain_and_runs_as_non_root() {
    let (text, froms) = dockerfile();
    assert_eq!(froms.len(), 2, "a builder and a final stage: {froms:?}");
    let builder = froms[0]
        .strip_prefix("rust:")
        .expect("the official Rust image");
    let (tag, stage) = builder.split_once(" AS ").unwrap();
    assert_eq!(stage, "builder");
    let rust = tag.split('-').next().unwrap();
    let manifest: toml_lite::Manifest = toml_lite::read(&root().join("Cargo.toml"));
    assert!(
        version(rust) >= version(&manifest.rust_version),
        "the builder's Rust {rust} is older than the workspace's rust-version {}",
        manifest.rust_version
    );
    let release = tag.rsplit('-').next().unwrap();
    assert_eq!(
        froms[1],
        format!("debian:{release}-slim"),
        "the final image is Debian slim of the builder's release"
    );
    assert!(text.contains("cargo build --release --locked -p reconciler"));
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert_ne!(uid, 0);
    assert_eq!(
        i64::from(uid),
        one("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
            .as_i64()
            .unwrap(),
        "the Deployment runs as the image's user"
    );
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    let (config, _, _scratch) = config();
    assert_eq!(port.trim(), config.webhook.listen.port().to_string());
}

#[test]
fn the_final_image_has_every_library_the_binary_links() {
    let (text, _) = dockerfile();
    let final_stage = &text[text.rfind("\nFROM ").unwrap()..];
    let installed: BTreeSet<&str> = final_stage
        .split_whitespace()
        .skip_while(|w| *w != "--no-install-recommends")
        .skip(1)
        .take_while(|w| *w != "\\" && *w != "&&")
        .collect();
    assert!(installed.contains("ca-certificates"), "{installed:?}");
    let Ok(out) = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_reconciler"))
        .output()
    else {
        eprintln!("skipped: ldd is not installed");
        return;
    };
    assert!(out.status.success());
    // Which Debian package holds each library; glibc and libgcc are in every Debian image.
    let packages: BTreeMap<&str, Option<&str>> = [
        ("linux-vdso.so.1", None),
        ("libc.so.6", None),
        ("libm.so.6", None),
        ("libgcc_s.so.1", None),
        ("ld-linux-x86-64.so.2", None),
        ("ld-linux-aarch64.so.1", None),
        ("libssl.so.3", Some("libssl3")),
        ("libcrypto.so.3", Some("libssl3")),
        ("libz.so.1", Some("zlib1g")),
    ]
    .into();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let lib = line.split_whitespace().next().unwrap();
        let lib = lib.rsplit('/').next().unwrap();
        match packages.get(lib) {
            Some(None) => {}
            Some(Some(package)) => assert!(
                installed.contains(package),
                "the binary links {lib}; the final image needs {package}"
            ),
            None => panic!(
                "the binary links {lib}: add its package to the Dockerfile's final stage and to this table"
            ),
        }
    }
}

/// Whether `.dockerignore` (`*`, then `!path` exceptions and `**/name` exclusions, last match
/// wins, as Docker reads it) sends `path` to the build.
fn sent_to_docker(patterns: &[&str], path: &str) -> bool {
    let mut sent = true;
    for p in patterns {
        let (negated, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, *p),
        };
        let matches = if p == "*" {
            true
        } else if let Some(name) = p.strip_prefix("**/") {
            path.split('/').any(|segment| segment == name)
        } else {
            path == p || path.starts_with(&format!("{p}/"))
        };
        if matches {
            sent = negated;
        }
    }
    sent
}

#[test]
fn the_docker_context_holds_what_the_build_reads_and_nothing_else() {
    let text = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut needed = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
    // Every member of the workspace (cargo reads them all), and every file its sources embed.
    let members = toml_lite::read(&root().join("Cargo.toml")).members;
    assert!(members.iter().any(|m| m == "reconciler"), "{members:?}");
    for member in &members {
        let dir = root().join(member);
        needed.push(format!("{member}/Cargo.toml"));
        let mut stack = vec![dir.join("src")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                needed.push(relative(&p));
                let code = std::fs::read_to_string(&p).unwrap_or_default();
                for part in code.split("include_str!(\"").skip(1) {
                    let rel = part.split('"').next().unwrap();
                    let target = p.parent().unwrap().join(rel);
                    needed.push(relative(&normalize(&target)));
                }
            }
        }
    }
    assert!(
        needed.iter().any(|n| n.starts_with("deploy/crds/")),
        "{needed:?}"
    );
    for path in &needed {
        assert!(
            sent_to_docker(&patterns, path),
            "{path} is needed by the build but .dockerignore leaves it out"
        );
    }
    for path in [
        "target/debug/reconciler",
        "reconciler/target/x",
        ".git/HEAD",
        "docs/daemon.md",
        "deploy/deployment.yaml",
        "Dockerfile",
    ] {
        assert!(!sent_to_docker(&patterns, path), "{path} is sent to Docker");
    }
}

/// A path under the repository root, as `.dockerignore` patterns see it.
fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().to_str().unwrap().to_owned()
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The one value of the workspace manifest this test needs, read without a TOML crate.
mod toml_lite {
    use std::path::Path;

    pub struct Manifest {
        pub rust_version: String,
        /// `workspace.members`, written on one line.
        pub members: Vec<String>,
    }

    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let rust_version = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("rust-version = "))
            .expect("rust-version in the workspace manifest")
            .trim_matches('"')
            .to_owned();
        let members = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("members = "))
            .expect("workspace members on one line in the workspace manifest")
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|m| m.trim().trim_matches('"').to_owned())
            .filter(|m| !m.is_empty())
            .collect();
        Manifest {
            rust_version,
            members,
        }
    }
}
