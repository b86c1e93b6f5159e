//! A Server's spec: its id, Domain, services, auth and features, and `versionWeights`.

use std::collections::BTreeMap;
use std::ops::Range;

use model::{AuthSpec, ServerSpec, names};

use super::{domain_ref, invalid};
use crate::vimana::read::{Cx, Fields};
use crate::yaml::{Node, Value};

pub(super) fn server_spec(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> ServerSpec {
    let mut spec = ServerSpec::default();
    if let Some(n) = f.require(
        cx,
        "id",
        "add `id:`, the server's name within its domain, such as `adder`",
    ) && let Some(id) = cx.string(n, "spec.id")
    {
        spans.insert("spec.id".into(), n.span.clone());
        match names::server_id(&id) {
            Ok(()) => spec.id = id,
            Err(e) => invalid(
                cx,
                "invalid-server-id",
                n,
                format!("`{id}` is not a valid server id: {e}"),
                "invalid server id",
                "server ids are lowercase letters, digits and '-', at most 63 characters (they become a label value)".into(),
            ),
        }
    }
    domain_ref(cx, f, &mut spec.domain, spans);
    if let Some(n) = f.get("services") {
        spec.services = cx.string_list(n, "spec.services", "invalid-service", &|s| {
            names::grpc_service(s).map_err(|e| {
                (
                    e,
                    "list fully qualified gRPC service names, such as `calc.v1.Adder`".into(),
                )
            })
        });
    }
    if let Some(n) = f.get("auth")
        && let Some(mut af) = Fields::open(cx, n, "spec.auth")
    {
        let mut auth = AuthSpec::default();
        if let Some(j) = af.get("jwks") {
            auth.jwks = cx.string_list(j, "spec.auth.jwks", "invalid-url", &|s| {
                url(s).map_err(|e| {
                    (
                        e,
                        "give the URL of a JSON Web Key Set, such as `https://auth.example.org/.well-known/jwks.json`".into(),
                    )
                })
            });
        }
        af.finish(cx, "`spec.auth`", &["jwks"]);
        spec.auth = Some(auth);
    }
    if let Some(n) = f.get("features") {
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let name = k.key_text();
                    if matches!(v.value, Value::Map(_)) {
                        spec.features.insert(name, v.to_json());
                    } else {
                        cx.wrong_type(v, &format!("spec.features.{name}"), "an object (a mapping)");
                    }
                }
            }
            _ => cx.wrong_type(n, "spec.features", "a mapping of feature names to objects"),
        }
    }
    if let Some(n) = f.get("versionWeights") {
        spec.version_weights = weights(cx, n, spans);
    }
    f.finish(
        cx,
        "a Server spec",
        &[
            "id",
            "domain",
            "services",
            "auth",
            "features",
            "versionWeights",
        ],
    );
    spec
}

fn url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| "it is not an http:// or https:// URL".to_owned())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(char::is_whitespace) {
        return Err("it has no host or contains white space".into());
    }
    Ok(())
}

fn weights(
    cx: &mut Cx<'_>,
    node: &Node,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> BTreeMap<String, i32> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        cx.wrong_type(
            node,
            "spec.versionWeights",
            "a mapping of versions to weights",
        );
        return out;
    };
    spans.insert("spec.versionWeights".into(), node.span.clone());
    let mut sum: i64 = 0;
    for (k, v) in entries {
        let version = k.key_text();
        let path = format!("spec.versionWeights.{version}");
        if let Err(e) = names::version(&version) {
            cx.error(
                "invalid-version",
                k.span.clone(),
                format!("`{version}` in `spec.versionWeights` is not a valid version: {e}"),
                "not a version",
                "weights are keyed by the semantic versions of Components, such as `1.2.0`",
            );
            continue;
        }
        let (weight, written) = match v.value {
            Value::Int(w) => (w, w.to_string()),
            // A whole number past i64 reads as a float (2^63): out of range, not "not whole".
            Value::Float(f)
                if f.is_finite() && f.fract() == 0.0 && f.abs() > f64::from(i32::MAX) =>
            {
                (if f < 0.0 { i64::MIN } else { i64::MAX }, format!("{f}"))
            }
            _ => {
                cx.wrong_type(v, &path, "a whole number");
                continue;
            }
        };
        if weight < 0 {
            cx.error(
                "negative-weight",
                v.span.clone(),
                format!("the weight of version {version} is negative ({written})"),
                "negative weight",
                "weights are 0 or more; 0 keeps a version deployed without traffic",
            );
            continue;
        }
        let Ok(w) = i32::try_from(weight) else {
            cx.error(
                "weight-out-of-range",
                v.span.clone(),
                format!("the weight of version {version} does not fit in 32 bits ({written})"),
                "too large",
                "use smaller weights; only their ratios matter (e.g. 90 and 10)",
            );
            continue;
        };
        sum += i64::from(w);
        spans.insert(path, k.span.clone());
        out.insert(version, w);
    }
    if !out.is_empty() && sum == 0 {
        cx.error(
            "zero-weight-sum",
            node.span.clone(),
            "the weights of `spec.versionWeights` add up to 0, so no version can receive traffic",
            "all weights are 0",
            "give at least one version a positive weight, or remove `versionWeights` while the server takes no traffic",
        );
    }
    out
}
