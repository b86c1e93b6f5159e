//! The type checker: evaluated values against the types of the built-in library, with a clear
//! message of its own for each rule of the component model (sizes and units, env and fs shapes,
//! formats, modes, probes, resources), and the generic structural checks (unknown and missing
//! fields, mismatched types) for everything else.

mod shapes;

use crate::diagnostic::{Diagnostic, closest, did_you_mean};

use super::ast::{DeclKind, Span};
use super::eval::{V, Value, number_text};
use super::lexer::Unit;
use super::module::Program;
use super::types::{DeclId, Known, StructTy, Ty, TypeEnv};

/// Checks values against types and collects diagnostics.
pub struct Checker<'a> {
    prog: &'a Program,
    env: &'a TypeEnv,
    known: &'a Known,
    /// The diagnostics found.
    pub diags: Vec<Diagnostic>,
    /// Nesting of values and declarations being checked, bounded so that the recursion stays
    /// within a small stack (values nest at most `depth`, chains of declarations are at most
    /// `references` long).
    depth: usize,
    /// Whether the bound of `depth` was reported.
    too_deep: bool,
}

/// Where in a value the checker is: the path for messages, the innermost alias and field.
#[derive(Clone, Debug)]
struct Cx {
    path: String,
    alias: Option<DeclId>,
    field: Option<String>,
}

impl Cx {
    fn child(&self, name: &str) -> Cx {
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let segment = if plain {
            name.to_owned()
        } else {
            format!("{name:?}")
        };
        Cx {
            path: if self.path.is_empty() {
                segment
            } else {
                format!("{}.{segment}", self.path)
            },
            alias: self.alias,
            field: Some(name.to_owned()),
        }
    }

    fn index(&self, i: usize) -> Cx {
        Cx {
            path: format!("{}[{i}]", self.path),
            alias: self.alias,
            field: self.field.clone(),
        }
    }

    fn what(&self) -> String {
        if self.path.is_empty() {
            "the value".into()
        } else if self.path.contains(' ') {
            self.path.clone()
        } else {
            format!("`{}`", self.path)
        }
    }
}

/// The kind of value, for messages.
pub fn describe_value(v: &Value, env: &TypeEnv) -> String {
    match &v.kind {
        V::Bool(b) => format!("the bool `{b}`"),
        V::Num(n) => match n.unit {
            Some(u) => format!(
                "the size `{}{}`",
                number_text(n.value / u.factor()),
                u.suffix()
            ),
            None => format!("the number `{}`", number_text(n.value)),
        },
        V::Str(s) if s.chars().count() > 40 => "a string".into(),
        V::Str(s) => format!("the string {s:?}"),
        V::List(_) => "a list".into(),
        V::Struct(_) => "a struct".into(),
        V::Named(id, _) => format!("a value of type {}", env.decls[*id].qname),
        V::Unknown(t) => format!("a value of type {}", env.describe(t)),
        V::Error => "an invalid value".into(),
    }
}

impl<'a> Checker<'a> {
    /// A checker without diagnostics yet.
    pub fn new(prog: &'a Program, env: &'a TypeEnv, known: &'a Known) -> Self {
        Checker {
            prog,
            env,
            known,
            diags: Vec::new(),
            depth: 0,
            too_deep: false,
        }
    }

    fn file(&self, span: Span) -> &str {
        self.prog.map.path(span.file)
    }

    /// The first line of a span: a block value is shown by its opening line, not in full.
    fn head(&self, span: Span) -> std::ops::Range<usize> {
        let text = self.prog.map.text(span.file);
        let r = span.range();
        match text.get(r.clone()).and_then(|t| t.find('\n')) {
            Some(nl) => r.start..r.start + nl,
            None => r,
        }
    }

    fn push(&mut self, code: &'static str, span: Span, msg: String, label: String, help: String) {
        let d = Diagnostic::error(code, msg)
            .at(self.file(span), self.head(span), label)
            .help(help);
        self.diags.push(d);
    }

    /// Checks `v` against `ty`; `what` names the value in messages (`config.Port`, or words
    /// such as `the argument of kumori.Port`).
    pub fn check(&mut self, v: &Value, ty: &Ty, what: &str) -> bool {
        let cx = Cx {
            path: what.to_owned(),
            alias: None,
            field: what.rsplit('.').next().map(str::to_owned),
        };
        let before = self.diags.len();
        self.check_at(v, ty, &cx, None);
        self.diags.len() == before
    }

    /// Checks a whole component value against `kumori.component`.
    pub fn check_component(&mut self, v: &Value) -> bool {
        let before = self.diags.len();
        let cx = Cx {
            path: String::new(),
            alias: Some(self.known.component),
            field: None,
        };
        self.check_at(v, &Ty::Decl(self.known.component), &cx, None);
        self.diags.len() == before
    }

    /// Whether `v` checks against `ty`, without reporting.
    fn accepts(&self, v: &Value, ty: &Ty, cx: &Cx) -> bool {
        let mut trial = Checker::new(self.prog, self.env, self.known);
        trial.depth = self.depth;
        trial.check_at(v, ty, cx, None);
        trial.diags.is_empty()
    }

    fn mismatch(&mut self, v: &Value, ty: &Ty, cx: &Cx, top: Option<&str>) {
        // The body of the alias being checked is named by the alias (`kumori.Volume`).
        let expected = match cx.alias {
            Some(a) if self.env.decls[a].ty == *ty => self.env.decls[a].qname.clone(),
            _ => self.env.describe(ty),
        };
        let found = describe_value(v, self.env);
        let subject = top.map_or_else(|| cx.what(), str::to_owned);
        let mut help = format!("give a value of type {expected}");
        if let (V::Str(s), Ty::Decl(id)) = (&v.kind, self.env.expand(ty))
            && self.env.decls[*id].kind == DeclKind::Type
        {
            help = format!(
                "`{}` is a distinct type: build it with its constructor, `{}({s:?})`",
                self.env.decls[*id].qname, self.env.decls[*id].qname
            );
        }
        let code = if cx.alias == Some(self.known.grace) && cx.field.as_deref() == Some("unit") {
            help = "the unit of a startup grace window is \"ms\" or \"attempt\"".into();
            "kumori-grace-unit"
        } else {
            "kumori-type-mismatch"
        };
        self.push(
            code,
            v.span,
            format!("{subject} must be {expected}, found {found}"),
            format!("expected {expected}"),
            help,
        );
    }

    fn check_at(&mut self, v: &Value, ty: &Ty, cx: &Cx, top: Option<&str>) {
        if matches!(v.kind, V::Error) {
            return;
        }
        let limits = self.prog.limits;
        let max = limits.depth.saturating_add(limits.references);
        if self.depth >= max {
            if !self.too_deep {
                self.too_deep = true;
                self.push(
                    "kumori-too-deep",
                    v.span,
                    format!("checking {} nests deeper than {max} levels", cx.what()),
                    "too deep".into(),
                    format!(
                        "values and the declarations of their types may nest at most {max} levels \
                         together (the limits `depth` and `references`)"
                    ),
                );
            }
            return;
        }
        self.depth += 1;
        self.check_at_inner(v, ty, cx, top);
        self.depth -= 1;
    }

    fn check_at_inner(&mut self, v: &Value, ty: &Ty, cx: &Cx, top: Option<&str>) {
        if let V::Unknown(from) = &v.kind {
            if !self.env.assignable(from, ty, self.known) {
                let subject = top.map_or_else(|| cx.what(), str::to_owned);
                let (e, f) = (self.env.describe(ty), self.env.describe(from));
                self.push(
                    "kumori-type-mismatch",
                    v.span,
                    format!("{subject} must be {e}, but this is declared as {f}"),
                    format!("declared as {f}"),
                    "change the declared type or the reference".into(),
                );
            }
            return;
        }
        match ty {
            Ty::Any | Ty::Error => {}
            Ty::Decl(id) => self.check_decl(v, *id, cx, top),
            Ty::Bool => {
                if !matches!(v.kind, V::Bool(_)) {
                    self.mismatch(v, ty, cx, top);
                }
            }
            Ty::String => {
                if !matches!(v.kind, V::Str(_)) {
                    self.mismatch(v, ty, cx, top);
                }
            }
            Ty::Number => {
                match &v.kind {
                    V::Num(n) if n.unit.is_some() => {
                        let u = n.unit.map_or("", Unit::suffix);
                        self.push(
                        "kumori-wrong-unit",
                        v.span,
                        format!("{} is a plain number, it takes no unit `{u}`", top.map_or_else(|| cx.what(), str::to_owned)),
                        "unexpected unit".into(),
                        "units are for sizes (memory, cpu, bandwidth, storage); remove the suffix".into(),
                    );
                    }
                    V::Num(_) => {}
                    _ => self.mismatch(v, ty, cx, top),
                }
            }
            Ty::Lit(s) => {
                if v.as_str() != Some(s) {
                    self.mismatch(v, ty, cx, top);
                }
            }
            Ty::List(elem) => match &v.kind {
                V::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_at(item, elem, &cx.index(i), None);
                    }
                }
                _ => self.mismatch(v, ty, cx, top),
            },
            Ty::Struct(st) => match &v.kind {
                V::Struct(_) => self.check_struct(v, st, cx),
                _ => self.mismatch(v, ty, cx, top),
            },
            Ty::Union(alts) => self.check_union(v, ty, alts, cx, top),
        }
    }

    fn check_union(&mut self, v: &Value, ty: &Ty, alts: &[Ty], cx: &Cx, top: Option<&str>) {
        if alts.iter().any(|a| self.accepts(v, a, cx)) {
            return;
        }
        // Report against the alternative the value was most likely meant to be.
        let flat: Vec<Ty> = self.env.alternatives(ty).into_iter().cloned().collect();
        let best = match &v.kind {
            V::Struct(fields) => flat
                .iter()
                .filter_map(|a| match self.env.expand(a) {
                    Ty::Struct(st) => {
                        let score = fields
                            .iter()
                            .filter(|(k, _)| st.field(&k.text).is_some())
                            .count();
                        Some((score, a))
                    }
                    _ => None,
                })
                .filter(|(score, _)| *score > 0)
                .max_by_key(|(score, _)| *score)
                .map(|(_, a)| a.clone()),
            // A string in a union with channels (`kumori.Server`) was meant as a protocol.
            V::Str(_) => alts
                .iter()
                .find(|a| matches!(a, Ty::Decl(id) if *id == self.known.channel))
                .cloned(),
            _ => None,
        };
        match best {
            Some(a) => self.check_at(v, &a, cx, top),
            None => self.mismatch(v, ty, cx, top),
        }
    }

    fn check_struct(&mut self, v: &Value, st: &StructTy, cx: &Cx) {
        for (k, fv) in v.fields() {
            match st.field(&k.text) {
                _ if self.named_init(&k.text, fv, cx) => {}
                Some(f) => self.check_at(fv, &f.ty, &cx.child(&k.text), None),
                None => match &st.open {
                    Some(t) => self.check_at(fv, t, &cx.child(&k.text), None),
                    None => {
                        let names: Vec<&str> = st.fields.iter().map(|f| f.name.as_str()).collect();
                        let help = did_you_mean(closest(&k.text, names.iter().copied()), || {
                            format!("the fields here are: {}", names.join(", "))
                        });
                        let at = if cx.path.is_empty() {
                            "in the component".to_owned()
                        } else {
                            format!("in {}", cx.what())
                        };
                        self.push(
                            "kumori-unknown-field",
                            k.span,
                            format!("unknown field `{}` {at}", k.text),
                            "unknown field".into(),
                            help,
                        );
                    }
                },
            }
        }
        for f in &st.fields {
            if f.optional || v.get(&f.name).is_some() {
                continue;
            }
            let container_size = cx.alias == Some(self.known.container_size);
            let (code, help) = if container_size {
                (
                    "kumori-size-missing",
                    format!(
                        "every container declares `size {{ memory ... cpu ... }}`; add `{} ...`",
                        f.name
                    ),
                )
            } else {
                ("kumori-missing-field", format!("add `{} ...`", f.name))
            };
            let within = if cx.path.is_empty() {
                String::new()
            } else {
                format!(" in {}", cx.what())
            };
            let what = if container_size {
                format!("container size has no `{}`{within}", f.name)
            } else {
                format!("missing field `{}`{within}", f.name)
            };
            self.push(
                code,
                v.span,
                what,
                format!("`{}` is required here", f.name),
                help,
            );
        }
    }

    fn check_decl(&mut self, v: &Value, id: DeclId, cx: &Cx, top: Option<&str>) {
        let k = self.known;
        let decl = &self.env.decls[id];
        if decl.kind == DeclKind::Type {
            if [k.ram, k.cpu, k.bandwidth, k.storage].contains(&id) {
                return self.check_size(v, id, cx, top);
            }
            let ok = matches!(&v.kind, V::Named(got, _) if *got == id || (*got == k.ephemeral && id == k.volatile));
            if !ok {
                self.mismatch(v, &Ty::Decl(id), cx, top);
            }
            return;
        }
        if self.channel_shape(v, id, cx) {
            return;
        }
        let inner = Cx {
            alias: Some(id),
            ..cx.clone()
        };
        if id == k.env {
            return self.check_env(v, cx);
        }
        if id == k.file {
            return self.check_file(v, cx);
        }
        if id == k.allowed_format {
            if !self.accepts(v, &decl.ty, &inner) {
                self.push(
                    "kumori-invalid-format",
                    v.span,
                    format!(
                        "{} must be one of \"text\", \"json\", \"yaml\", \"flatdict\", found {}",
                        cx.what(),
                        describe_value(v, self.env)
                    ),
                    "unknown format".into(),
                    "leave `format` out for \"text\"".into(),
                );
            }
            return;
        }
        if id == k.http_only
            && let V::Struct(fields) = &v.kind
            && let Some((name, _)) = fields.iter().find(|(n, _)| n.text != "http")
        {
            self.push(
                "kumori-pmetrics-not-http",
                name.span,
                format!("`pmetrics` probes are HTTP only, found `{}`", name.text),
                "not HTTP".into(),
                "Prometheus metrics are scraped over HTTP: use `protocol { http { port ... path \"/metrics\" } }`".into(),
            );
            return;
        }
        let ty = decl.ty.clone();
        self.check_at(v, &ty, &inner, top);
    }

    fn check_size(&mut self, v: &Value, id: DeclId, cx: &Cx, top: Option<&str>) {
        let k = self.known;
        let n = match &v.kind {
            V::Num(n) => n,
            V::Named(got, _) if *got == id => return,
            _ => return self.mismatch(v, &Ty::Decl(id), cx, top),
        };
        let Some(unit) = n.unit else { return };
        use Unit::*;
        let (ok, kind, units) = if id == k.cpu {
            (
                unit == Milli,
                "a CPU size",
                "`m` (millicores) or a plain number of cores",
            )
        } else if id == k.bandwidth {
            (
                matches!(unit, K | M | G | T),
                "a bandwidth",
                "K, M, G, T (bits per second, powers of 1000)",
            )
        } else {
            (
                !matches!(unit, Milli),
                if id == k.ram {
                    "a memory size"
                } else {
                    "a storage size"
                },
                "K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024)",
            )
        };
        if !ok {
            let extra = match unit {
                Milli => " (`m` is milli; mega is `M`)",
                M if id == k.cpu => " (`M` is mega; millicores are `m`)",
                _ => "",
            };
            self.push(
                "kumori-wrong-unit",
                v.span,
                format!(
                    "{} is {kind}, which does not take the unit `{}`{extra}",
                    top.map_or_else(|| cx.what(), str::to_owned),
                    unit.suffix()
                ),
                "wrong unit".into(),
                format!("{kind} takes {units}"),
            );
        }
    }

    fn check_env(&mut self, v: &Value, cx: &Cx) {
        let ok = match &v.kind {
            V::Str(_) | V::Bool(_) => true,
            V::Num(n) => n.unit.is_none(),
            V::Struct(fields) => {
                fields.len() == 1
                    && fields[0].0.text == "secret"
                    && matches!(fields[0].1.kind, V::Str(_) | V::Unknown(_) | V::Error)
            }
            _ => false,
        };
        if !ok {
            let name = cx.field.clone().unwrap_or_default();
            self.push(
                "kumori-invalid-env",
                v.span,
                format!(
                    "environment variable `{name}` must be a string, bool, number or {{ secret: NAME }}, found {}",
                    describe_value(v, self.env)
                ),
                "not an environment value".into(),
                "give text, a bool, a number, or `{ secret \"NAME\" }` naming a secret declared in `resource`".into(),
            );
        }
    }

    fn check_file(&mut self, v: &Value, cx: &Cx) {
        let path = cx.field.clone().unwrap_or_default();
        match &v.kind {
            V::Str(_) => {}
            V::Struct(fields) => {
                const SOURCES: &[&str] = &["data", "secret", "port", "domain", "certificate", "ca"];
                let sources: Vec<&str> = fields.iter().map(|(k, _)| k.text.as_str()).filter(|k| SOURCES.contains(k)).collect();
                let volume = v.get("volume").is_some();
                if volume {
                    if fields.len() != 1 {
                        let extra = fields.iter().find(|(k, _)| k.text != "volume").map(|(k, _)| k).expect("more than one field");
                        self.push(
                            "kumori-invalid-fs",
                            extra.span,
                            format!("file mount `{path}` mounts a volume and also has `{}`", extra.text),
                            "not allowed with `volume`".into(),
                            "a volume mount is exactly `{ volume \"NAME\" }`".into(),
                        );
                        return;
                    }
                    let ty = Ty::String;
                    let field = &fields[0].1;
                    self.check_at(field, &ty, &cx.child("volume"), None);
                    return;
                }
                if sources.len() != 1 {
                    let msg = if sources.is_empty() {
                        format!("file mount `{path}` says nothing about its content")
                    } else {
                        format!("file mount `{path}` has several contents: {}", sources.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
                    };
                    self.push(
                        "kumori-invalid-fs",
                        v.span,
                        msg,
                        "exactly one content is needed".into(),
                        "give exactly one of `data`, `secret`, `port`, `domain`, `certificate`, `ca` (with optional `mode` and `format`), or `volume`".into(),
                    );
                    return;
                }
                let alias = match sources[0] {
                    "data" => "FSData",
                    "secret" => "FSSecret",
                    "port" => "FSPort",
                    "domain" => "FSDomain",
                    "certificate" => "FSCertificate",
                    _ => "FSCa",
                };
                let id = self.env.lookup(None, alias).expect("the built-in library declares the FS types");
                self.check_decl(v, id, cx, None);
            }
            _ => self.push(
                "kumori-invalid-fs",
                v.span,
                format!("file mount `{path}` must be text, a volume or a struct with one content, found {}", describe_value(v, self.env)),
                "not a file mount".into(),
                "write `\"/path\" \"content\"`, `\"/path\" { data ... }` or `\"/path\" { volume \"NAME\" }`".into(),
            ),
        }
    }
}

/// The rules that look at more than one value: sizes against each other, resources named in
/// containers, probes naming containers, file modes.
pub struct Rules<'a> {
    /// The checker (for its program and types).
    pub checker: Checker<'a>,
    /// Declared resources: name, type, where.
    pub resources: Vec<(String, Ty, Span)>,
}

impl Rules<'_> {
    /// Applies every rule to an evaluated component.
    pub fn run(&mut self, component: &Value) {
        if let Some(size) = component.get("size") {
            self.not_above(
                size,
                "minbandwidth",
                "bandwidth",
                "kumori-minbandwidth-exceeds-bandwidth",
                "the component's",
            );
        }
        let mut containers: Vec<(String, &Value)> = Vec::new();
        if let Some(code) = component.get("code") {
            for (name, c) in code.fields() {
                containers.push((format!("container `{}`", name.text), c));
            }
        }
        if let Some(init) = component.get("init")
            && let V::List(items) = &init.kind
        {
            for (i, c) in items.iter().enumerate() {
                containers.push((format!("init container {}", i + 1), c));
            }
        }
        for (name, c) in &containers {
            if let Some(size) = c.get("size") {
                self.not_above(size, "mincpu", "cpu", "kumori-mincpu-exceeds-cpu", name);
            }
            if let Some(hub) = c.get("image").and_then(|i| i.get("hub"))
                && let Some(secret) = hub.get("secret")
            {
                self.resource_use(secret, "secret", name);
            }
            if let Some(env) = c.get("env") {
                for (_, e) in env.fields() {
                    if let Some(secret) = e.get("secret") {
                        self.resource_use(secret, "secret", name);
                    }
                }
            }
            if let Some(fs) = c.get("fs") {
                for (_, f) in fs.fields() {
                    for kind in ["secret", "port", "domain", "certificate", "ca", "volume"] {
                        if let Some(r) = f.get(kind) {
                            self.resource_use(r, kind, name);
                        }
                    }
                    if let Some(mode) = f.get("mode") {
                        self.mode(mode);
                    }
                }
            }
        }
        if let Some(probe) = component.get("probe") {
            let names: Vec<&str> = component
                .get("code")
                .map(|c| c.fields().iter().map(|(k, _)| k.text.as_str()).collect())
                .unwrap_or_default();
            for (k, _) in probe.fields() {
                if !names.contains(&k.text.as_str()) {
                    let help = did_you_mean(closest(&k.text, names.iter().copied()), || {
                        if names.is_empty() {
                            "the component has no `code` containers".into()
                        } else {
                            format!("containers: {}", names.join(", "))
                        }
                    });
                    let c = &mut self.checker;
                    c.push(
                        "kumori-probe-unknown-container",
                        k.span,
                        format!(
                            "probes for `{}`, which is not a container of `code`",
                            k.text
                        ),
                        "no such container".into(),
                        help,
                    );
                }
            }
        }
    }

    fn not_above(&mut self, size: &Value, min: &str, max: &str, code: &'static str, whose: &str) {
        let (Some(lo), Some(hi)) = (size.get(min), size.get(max)) else {
            return;
        };
        let (Some(a), Some(b)) = (lo.as_num(), hi.as_num()) else {
            return;
        };
        if a > b {
            let file = self.checker.file(hi.span).to_owned();
            let d = Diagnostic::error(
                code,
                format!(
                    "{whose} `{min}` ({}) is above its `{max}` ({})",
                    show(lo),
                    show(hi)
                ),
            )
            .at(
                self.checker.file(lo.span),
                lo.span.range(),
                format!("{min} is larger"),
            )
            .also(file, hi.span.range(), format!("{max} is here"))
            .help(format!(
                "`{min}` is a lower bound of `{max}`: lower it or raise `{max}`"
            ));
            self.checker.diags.push(d);
        }
    }

    fn resource_use(&mut self, name_value: &Value, kind: &str, container: &str) {
        let Some(name) = name_value.as_str() else {
            return;
        };
        let k = self.checker.known;
        let (allowed, type_name): (Vec<DeclId>, &str) = match kind {
            "secret" => (vec![k.secret], "kumori.Secret"),
            "port" => (vec![k.port], "kumori.Port"),
            "domain" => (vec![k.domain], "kumori.Domain"),
            "certificate" => (vec![k.certificate], "kumori.Certificate"),
            "ca" => (vec![k.ca], "kumori.CA"),
            _ => (
                vec![k.registered, k.non_replicated, k.persisted, k.volatile],
                "kumori.Volume",
            ),
        };
        let found = self.resources.iter().find(|(n, _, _)| n == name).cloned();
        let c = &mut self.checker;
        match found {
            None => {
                let help = match closest(name, self.resources.iter().map(|(n, _, _)| n.as_str())) {
                    Some(s) => format!(
                        "did you mean `{s}`? Otherwise declare it: `resource {{ {name}: {type_name} }}`"
                    ),
                    None => {
                        format!("declare it in the interface: `resource {{ {name}: {type_name} }}`")
                    }
                };
                c.push(
                    "kumori-undeclared-resource",
                    name_value.span,
                    format!(
                        "{container} uses the {kind} `{name}`, which is not declared in `resource`"
                    ),
                    "not a declared resource".into(),
                    help,
                );
            }
            Some((_, ty, decl_span)) => {
                if !c.env.only_named(&ty, &allowed) {
                    let declared = c.env.describe(&ty);
                    let d = Diagnostic::error(
                        "kumori-resource-type-mismatch",
                        format!("{container} uses `{name}` as a {kind}, but it is declared as {declared}"),
                    )
                    .at(c.file(name_value.span), name_value.span.range(), format!("used as a {kind}"))
                    .also(c.file(decl_span), decl_span.range(), format!("declared as {declared}"))
                    .help(format!("declare it as {type_name}, or use the key that matches its type"));
                    c.diags.push(d);
                }
            }
        }
    }

    fn mode(&mut self, mode: &Value) {
        let V::Num(n) = &mode.kind else { return };
        let c = &mut self.checker;
        if n.literal_octal == Some(false) {
            let help = if n.value.fract() == 0.0 && (0.0..=777.0).contains(&n.value) {
                format!("write it in octal: `0o{}`", number_text(n.value))
            } else {
                "write it in octal, such as `0o644`".into()
            };
            c.push(
                "kumori-invalid-mode",
                mode.span,
                format!(
                    "file mode `{}` is not written in octal",
                    number_text(n.value)
                ),
                "decimal number".into(),
                help,
            );
            return;
        }
        if n.value.fract() != 0.0 || !(0.0..=511.0).contains(&n.value) {
            c.push(
                "kumori-invalid-mode",
                mode.span,
                format!(
                    "file mode {} is not a permission between 0o000 and 0o777",
                    if n.value.fract() == 0.0 && n.value >= 0.0 {
                        format!("0o{:o}", n.value as u64)
                    } else {
                        number_text(n.value)
                    }
                ),
                "invalid mode".into(),
                "use a mode such as `0o644` or `0o755`".into(),
            );
        }
    }
}

fn show(v: &Value) -> String {
    match &v.kind {
        V::Num(n) => match n.unit {
            Some(u) => format!("{}{}", number_text(n.value / u.factor()), u.suffix()),
            None => number_text(n.value),
        },
        _ => "?".into(),
    }
}
