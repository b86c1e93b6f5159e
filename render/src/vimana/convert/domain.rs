//! A Domain's spec: its id, aliases, regions, failover, and the gRPC settings.

use std::collections::BTreeMap;
use std::ops::Range;

use model::{DomainSpec, GrpcSpec, ReflectionSpec, names};

use super::invalid;
use crate::diagnostic::Diagnostic;
use crate::vimana::read::{Cx, Fields, non_empty};
use crate::yaml::{Node, Value};

pub(super) fn domain_spec(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
    spans: &mut BTreeMap<String, Range<usize>>,
) -> DomainSpec {
    let mut spec = DomainSpec::default();
    if let Some(n) = f.require(
        cx,
        "id",
        "add `id:` with 32 lowercase hexadecimal characters, e.g. from `openssl rand -hex 16`",
    ) && let Some(id) = cx.string(n, "spec.id")
    {
        spans.insert("spec.id".into(), n.span.clone());
        match names::domain_id(&id) {
            Ok(()) => spec.id = id,
            Err(e) => invalid(
                cx,
                "invalid-domain-id",
                n,
                format!("`{id}` is not a valid domain id: {e}"),
                "not 32 lowercase hexadecimal characters",
                "a domain id is 32 lowercase hexadecimal characters, such as `0123456789abcdef0123456789abcdef` (`openssl rand -hex 16` makes one)".into(),
            ),
        }
    }
    if let Some(n) = f.get("vimana")
        && let Some(v) = cx.string(n, "spec.vimana")
    {
        spans.insert("spec.vimana".into(), n.span.clone());
        spec.vimana = Some(v);
    }
    if let Some(n) = f.get("aliases") {
        spec.aliases = cx.string_list(n, "spec.aliases", "invalid-alias", &|s| {
            names::dns_name(s).map_err(|e| {
                (
                    e,
                    "aliases are fully qualified DNS names such as `api.example.org`".into(),
                )
            })
        });
        if let Value::Seq(items) = &n.value {
            for (i, item) in items.iter().enumerate() {
                spans.insert(format!("spec.aliases[{i}]"), item.span.clone());
            }
        }
    }
    if let Some(n) = f.get("regions") {
        spec.regions = cx.string_list(n, "spec.regions", "invalid-region", &non_empty);
    }
    if let Some(n) = f.get("failover") {
        spec.failover = cx.string_list(n, "spec.failover", "invalid-region", &non_empty);
    }
    if let Some(n) = f.get("grpc") {
        spec.grpc = grpc(cx, n);
    }
    if let Some(n) = f.get("openApi") {
        spec.open_api = cx.boolean(n, "spec.openApi");
    }
    f.finish(
        cx,
        "a Domain spec",
        &[
            "id", "vimana", "aliases", "regions", "failover", "grpc", "openApi",
        ],
    );
    spec
}

fn grpc(cx: &mut Cx<'_>, node: &Node) -> Option<GrpcSpec> {
    let mut f = Fields::open(cx, node, "spec.grpc")?;
    let mut spec = GrpcSpec::default();
    if let Some(r) = f.get("reflection")
        && let Some(mut rf) = Fields::open(cx, r, "spec.grpc.reflection")
    {
        let service = |s: &str| {
            names::grpc_service(s).map_err(|e| {
                (
                    e,
                    "name a gRPC service by its fully qualified name, such as `calc.v1.Adder`"
                        .into(),
                )
            })
        };
        let none_but = rf.get("noneBut").map(|n| {
            (
                n,
                cx.string_list(
                    n,
                    "spec.grpc.reflection.noneBut",
                    "invalid-service",
                    &service,
                ),
            )
        });
        let all_but = rf.get("allBut").map(|n| {
            (
                n,
                cx.string_list(
                    n,
                    "spec.grpc.reflection.allBut",
                    "invalid-service",
                    &service,
                ),
            )
        });
        if let (Some((a, _)), Some((b, _))) = (&none_but, &all_but) {
            cx.push(
                Diagnostic::error(
                    "reflection-lists-exclusive",
                    "`spec.grpc.reflection` may set `noneBut` or `allBut`, not both",
                )
                .at(cx.file, b.span.clone(), "`allBut` given here")
                .also(cx.file, a.span.clone(), "`noneBut` given here")
                .help("keep `noneBut` to reflect only the listed services, or `allBut` to reflect all but them"),
            );
        }
        spec.reflection = Some(ReflectionSpec {
            none_but: none_but.map(|(_, l)| l),
            all_but: all_but.map(|(_, l)| l),
        });
        rf.finish(cx, "`spec.grpc.reflection`", &["noneBut", "allBut"]);
    }
    f.finish(cx, "`spec.grpc`", &["reflection"]);
    Some(spec)
}
