//! What a change does, as a report: the objects created, updated and deleted (with unified
//! diffs), the rollouts that Server weight changes start, and safety findings; printed as text
//! (colour on a terminal), markdown for a pull-request comment, or JSON. Both `diff --base` and
//! the live `diff` build a [`Report`]; building and printing are pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use model::{Kind, Manifest, Object, ObjectKey, keys, rollout};
use serde::Serialize;
use similar::TextDiff;

/// What happens to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It does not exist yet.
    Create,
    /// It exists and changes.
    Update,
    /// It exists and goes away.
    Delete,
}

impl Action {
    fn sigil(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// One object that changes.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// Create, update or delete.
    pub action: Action,
    /// Kind, namespace and name.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Platform identity (`<domain>:<server>@<version>`).
    pub identity: String,
    /// Unified diff of the object's YAML (before → after), Kumori renders expanded.
    pub diff: String,
    /// For a live object changed by others: each differing field and the field manager that
    /// changed it last (`kubectl-edit`...), the reconciler's own managers left out.
    #[serde(rename = "changedBy", skip_serializing_if = "Vec::is_empty")]
    pub changed_by: Vec<ChangedBy>,
}

/// A field of a live object and the field manager that changed it last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangedBy {
    /// The field (`.spec.services`).
    pub field: String,
    /// The field manager.
    pub manager: String,
}

/// The rollout a change of a Server's weights starts.
#[derive(Clone, Debug, Serialize)]
pub struct Rollout {
    /// The Server.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// `<domain>:<server>`.
    pub identity: String,
    /// Weights before.
    pub baseline: BTreeMap<String, i32>,
    /// Weights after.
    pub target: BTreeMap<String, i32>,
    /// Percent of the transition and weights of each step.
    pub steps: Vec<Step>,
    /// Bake time after each step.
    #[serde(serialize_with = "as_duration")]
    pub interval: Duration,
    /// Analysis run while baking, if any.
    pub analysis: Option<String>,
    /// Failed checks tolerated.
    pub max_failures: u32,
    /// Expected time from the first step to the end, if every check passes.
    #[serde(serialize_with = "as_duration")]
    pub expected_duration: Duration,
}

/// One step of a rollout.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Percent of the transition.
    pub percent: u32,
    /// Weights applied at this step.
    pub weights: BTreeMap<String, i32>,
}

fn as_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&model::duration::format(*d))
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The change cannot be applied as it is.
    Error,
    /// The change can be applied but deserves a look.
    Warning,
}

/// A safety finding about the change.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub level: Level,
    /// Stable kebab-case code.
    pub code: String,
    /// What was found.
    pub message: String,
}

/// Everything a change does.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// What is compared with what, one line.
    pub title: String,
    /// Object changes in plan order: creates and updates by dependency, deletes reversed.
    pub changes: Vec<Change>,
    /// Rollouts started by weight changes.
    pub rollouts: Vec<Rollout>,
    /// Safety findings.
    pub findings: Vec<Finding>,
}

/// Counts of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects created.
    pub create: usize,
    /// Objects updated.
    pub update: usize,
    /// Objects deleted.
    pub delete: usize,
    /// Rollouts started.
    pub rollouts: usize,
    /// Findings that deserve a look.
    pub warnings: usize,
    /// Findings that keep the change from being applied.
    pub errors: usize,
}

impl Report {
    /// How many changes of each kind, rollouts and findings of each level.
    pub fn summary(&self) -> Summary {
        let count = |a| self.changes.iter().filter(|c| c.action == a).count();
        let level = |l| self.findings.iter().filter(|f| f.level == l).count();
        Summary {
            create: count(Action::Create),
            update: count(Action::Update),
            delete: count(Action::Delete),
            rollouts: self.rollouts.len(),
            warnings: level(Level::Warning),
            errors: level(Level::Error),
        }
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether a finding keeps the change from being applied.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }
}

/// Replaces the Kumori render annotation of an object (as JSON) with its parsed structure, so
/// that a diff shows a change of image, env, fs or probes as such.
pub fn expand_kumori(value: &mut serde_json::Value) {
    let pointer = format!(
        "/metadata/annotations/{}",
        keys::KUMORI_RENDERED.replace('/', "~1")
    );
    if let Some(rendered) = value.pointer_mut(&pointer)
        && let Some(parsed) = rendered.as_str().and_then(|s| serde_json::from_str(s).ok())
    {
        *rendered = parsed;
    }
}

/// The YAML shown for a JSON object in a diff: canonical, Kumori render expanded.
pub fn value_yaml(value: &serde_json::Value) -> String {
    let mut value = value.clone();
    expand_kumori(&mut value);
    serde_yaml::to_string(&value).expect("JSON values always serialize")
}

/// The YAML shown for an object in a diff.
pub fn display_yaml(object: &Object) -> String {
    value_yaml(&object.to_value())
}

/// Unified diff of two texts with three lines of context, headers naming the sides.
pub fn unified(before: &str, after: &str, from: &str, to: &str) -> String {
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// Compares two sets of objects by key. Changes come in plan order: creates and updates by
/// kind in dependency order, then deletes in reverse dependency order.
pub fn compare(before: &[Manifest], after: &[Manifest], sides: (&str, &str)) -> Vec<Change> {
    let old: BTreeMap<ObjectKey, &Object> =
        before.iter().map(|m| (m.object.key(), &m.object)).collect();
    let new: BTreeMap<ObjectKey, &Object> =
        after.iter().map(|m| (m.object.key(), &m.object)).collect();
    let mut changes = Vec::new();
    for (key, obj) in &new {
        let (action, before_text) = match old.get(key) {
            None => (Action::Create, String::new()),
            Some(o) if *o == *obj => continue,
            Some(o) => (Action::Update, display_yaml(o)),
        };
        changes.push(Change {
            action,
            key: key.clone(),
            identity: obj.identity(),
            diff: unified(&before_text, &display_yaml(obj), sides.0, sides.1),
            changed_by: Vec::new(),
        });
    }
    for (key, obj) in &old {
        if !new.contains_key(key) {
            changes.push(Change {
                action: Action::Delete,
                key: key.clone(),
                identity: obj.identity(),
                diff: unified(&display_yaml(obj), "", sides.0, sides.1),
                changed_by: Vec::new(),
            });
        }
    }
    changes.sort_by(|a, b| order(a).cmp(&order(b)));
    changes
}

fn order(c: &Change) -> (bool, i32, &ObjectKey) {
    let rank = Kind::ALL.iter().position(|k| *k == c.key.kind).unwrap_or(0) as i32;
    let deleting = c.action == Action::Delete;
    (deleting, if deleting { -rank } else { rank }, &c.key)
}

/// The rollout that moves `server` from weights `baseline` to `target` under `policy`.
pub fn rollout_of(
    server: &Object,
    baseline: &BTreeMap<String, i32>,
    target: &BTreeMap<String, i32>,
    policy: &rollout::Policy,
) -> Rollout {
    let steps: Vec<Step> = rollout::transition(baseline, target, &policy.steps)
        .into_iter()
        .map(|(percent, weights)| Step { percent, weights })
        .collect();
    let expected_duration = policy.interval * u32::try_from(steps.len()).unwrap_or(u32::MAX);
    Rollout {
        key: server.key(),
        identity: server.identity(),
        baseline: baseline.clone(),
        target: target.clone(),
        steps,
        interval: policy.interval,
        analysis: policy.analysis.clone(),
        max_failures: policy.max_failures,
        expected_duration,
    }
}

/// The rollout each Server whose weights change between `before` and `after` would go through,
/// with its policy from the `after` Server's annotations over `defaults`.
pub fn rollouts(
    before: &[Manifest],
    after: &[Manifest],
    defaults: &rollout::Policy,
) -> Vec<Rollout> {
    let old: BTreeMap<ObjectKey, &Object> =
        before.iter().map(|m| (m.object.key(), &m.object)).collect();
    let mut out = Vec::new();
    for m in after {
        let Object::Server(new) = &m.object else {
            continue;
        };
        let Some(Object::Server(old)) = old.get(&m.object.key()) else {
            continue;
        };
        let (b, t) = (&old.spec.version_weights, &new.spec.version_weights);
        if rollout::same_shares(b, t) {
            continue;
        }
        let policy = rollout::Policy::from_annotations(&new.metadata.annotations, defaults)
            .unwrap_or_else(|_| defaults.clone());
        out.push(rollout_of(&m.object, b, t, &policy));
    }
    out
}

/// Weights as `1.0.0 90 (90%), 1.1.0 10 (10%)`.
pub fn weights_text(w: &BTreeMap<String, i32>) -> String {
    if w.is_empty() {
        return "(none)".into();
    }
    let total: i64 = w.values().map(|&x| i64::from(x)).sum();
    w.iter()
        .map(|(v, &x)| {
            let pct = if total > 0 {
                f64::from(x) * 100.0 / total as f64
            } else {
                0.0
            };
            format!("{v} {x} ({pct:.0}%)")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary_line(s: Summary) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} to create, {} to update, {} to delete; {}; {}, {}",
        s.create,
        s.update,
        s.delete,
        plural(s.rollouts, "rollout", "rollouts"),
        plural(s.warnings, "warning", "warnings"),
        plural(s.errors, "error", "errors"),
    )
}

/// ANSI colours, or none.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// The report as text for a terminal.
pub fn to_text(report: &Report, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", p.wrap("1", &report.title));
    for c in &report.changes {
        let head = format!(
            "{} {} {}/{} ({})",
            c.action.sigil(),
            c.key.kind,
            c.key.namespace,
            c.key.name,
            c.identity
        );
        let code = match c.action {
            Action::Create => "32;1",
            Action::Update => "33;1",
            Action::Delete => "31;1",
        };
        let _ = writeln!(out, "{}", p.wrap(code, &head));
        for b in &c.changed_by {
            let _ = writeln!(out, "    {}: last changed by {}", b.field, b.manager);
        }
        for line in c.diff.lines() {
            let colored = match line.chars().next() {
                Some('+') if !line.starts_with("+++") => p.wrap("32", line),
                Some('-') if !line.starts_with("---") => p.wrap("31", line),
                Some('@') => p.wrap("36", line),
                _ => line.to_owned(),
            };
            let _ = writeln!(out, "    {colored}");
        }
        out.push('\n');
    }
    if !report.rollouts.is_empty() {
        let _ = writeln!(out, "{}", p.wrap("1", "Rollouts"));
        for r in &report.rollouts {
            let _ = writeln!(
                out,
                "  Server {}/{} ({})",
                r.key.namespace, r.key.name, r.identity
            );
            let _ = writeln!(out, "    from {}", weights_text(&r.baseline));
            let _ = writeln!(out, "    to   {}", weights_text(&r.target));
            let _ = writeln!(
                out,
                "    {} step{}, {} bake each{}, expected {}",
                r.steps.len(),
                if r.steps.len() == 1 { "" } else { "s" },
                model::duration::format(r.interval),
                r.analysis.as_ref().map_or_else(String::new, |a| format!(
                    ", analysis {a} (abort after {} failed checks)",
                    r.max_failures
                )),
                model::duration::format(r.expected_duration),
            );
            for (i, s) in r.steps.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "      step {} ({:>3}%): {}",
                    i + 1,
                    s.percent,
                    weights_text(&s.weights)
                );
            }
        }
        out.push('\n');
    }
    for f in &report.findings {
        let (label, code) = match f.level {
            Level::Error => ("error", "31;1"),
            Level::Warning => ("warning", "33;1"),
        };
        let _ = writeln!(
            out,
            "{}: {}",
            p.wrap(code, &format!("{label}[{}]", f.code)),
            f.message
        );
    }
    if !report.findings.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "Summary: {}", summary_line(report.summary()));
    out
}

/// The report as GitHub-flavoured markdown for a pull-request comment: a summary, one
/// collapsed diff per object, the rollout steps and the findings.
pub fn to_markdown(report: &Report) -> String {
    let mut out = String::new();
    let s = report.summary();
    let _ = writeln!(out, "### vimana-reconciler diff\n\n{}\n", report.title);
    let _ = writeln!(out, "**{}**\n", summary_line(s));
    if !report.findings.is_empty() {
        let _ = writeln!(out, "#### Findings\n");
        for f in &report.findings {
            let icon = match f.level {
                Level::Error => "❌ error",
                Level::Warning => "⚠️ warning",
            };
            let _ = writeln!(out, "- {icon} `{}`: {}", f.code, f.message);
        }
        out.push('\n');
    }
    if !report.changes.is_empty() {
        let _ = writeln!(out, "#### Objects\n");
        for c in &report.changes {
            let verb = match c.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            };
            let by: String = c
                .changed_by
                .iter()
                .map(|b| format!("`{}` last changed by `{}`\n", b.field, b.manager))
                .collect();
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code> {verb} <b>{}</b> <code>{}/{}</code> ({})</summary>\n\n{by}```diff\n{}```\n</details>\n",
                c.action.sigil(),
                c.key.kind,
                c.key.namespace,
                c.key.name,
                c.identity,
                c.diff
            );
        }
    }
    if !report.rollouts.is_empty() {
        let _ = writeln!(out, "#### Rollouts\n");
        for r in &report.rollouts {
            let _ = writeln!(
                out,
                "**Server `{}`** (`{}`): {} step{}, {} bake each{}, expected **{}**\n",
                r.key.name,
                r.identity,
                r.steps.len(),
                if r.steps.len() == 1 { "" } else { "s" },
                model::duration::format(r.interval),
                r.analysis
                    .as_ref()
                    .map_or_else(String::new, |a| format!(", analysis `{a}`")),
                model::duration::format(r.expected_duration),
            );
            let versions: Vec<&String> = {
                let mut v: Vec<&String> = r.baseline.keys().chain(r.target.keys()).collect();
                v.sort();
                v.dedup();
                v
            };
            let _ = writeln!(
                out,
                "| step | % | {} |",
                versions
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(out, "|---|---|{}", "---|".repeat(versions.len()));
            let row = |label: &str, pct: &str, w: &BTreeMap<String, i32>| {
                format!(
                    "| {label} | {pct} | {} |",
                    versions
                        .iter()
                        .map(|v| w.get(*v).copied().unwrap_or(0).to_string())
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            };
            let _ = writeln!(out, "{}", row("now", "", &r.baseline));
            for (i, st) in r.steps.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}",
                    row(&(i + 1).to_string(), &st.percent.to_string(), &st.weights)
                );
            }
            out.push('\n');
        }
    }
    if !report.has_changes() && report.findings.is_empty() {
        let _ = writeln!(out, "No changes.");
    }
    out
}

/// The report as JSON for tools.
pub fn to_json(report: &Report) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        report: &'a Report,
        summary: Summary,
    }
    let mut s = serde_json::to_string_pretty(&Out {
        report,
        summary: report.summary(),
    })
    .expect("reports serialize");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{ComponentSpec, Resource, ServerSpec};

    fn server(weights: &[(&str, i32)]) -> Manifest {
        let mut s = Resource::new(
            "adder",
            ServerSpec {
                id: "adder".into(),
                domain: "d".into(),
                version_weights: weights.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect(),
                ..ServerSpec::default()
            },
        );
        s.metadata.namespace = Some("vimana".into());
        Manifest {
            object: Object::from(s),
            source: None,
        }
    }

    fn component(version: &str) -> Manifest {
        let mut c = Resource::new(
            format!("adder-{}", version.replace('.', "-")),
            ComponentSpec {
                version: version.into(),
                server: "adder".into(),
                domain: "d".into(),
                image: format!("img:{version}"),
            },
        );
        c.metadata.namespace = Some("vimana".into());
        Manifest {
            object: Object::from(c),
            source: None,
        }
    }

    #[test]
    fn changes_come_in_plan_order_with_diffs() {
        let before = vec![server(&[("1.0.0", 100)]), component("1.0.0")];
        let after = vec![server(&[("1.1.0", 100)]), component("1.1.0")];
        let changes = compare(&before, &after, ("base", "head"));
        let got: Vec<(Action, &str)> = changes
            .iter()
            .map(|c| (c.action, c.key.name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Action::Update, "adder"),
                (Action::Create, "adder-1-1-0"),
                (Action::Delete, "adder-1-0-0")
            ]
        );
        assert!(
            changes[0]
                .diff
                .contains("-    1.0.0: 100\n+    1.1.0: 100\n"),
            "{}",
            changes[0].diff
        );
        assert!(compare(&after, &after, ("a", "b")).is_empty());
    }

    #[test]
    fn weight_changes_become_rollouts() {
        let r = rollouts(
            &[server(&[("1.0.0", 100)])],
            &[server(&[("1.1.0", 100)])],
            &rollout::Policy::default(),
        );
        assert_eq!(r.len(), 1);
        let pct: Vec<u32> = r[0].steps.iter().map(|s| s.percent).collect();
        assert_eq!(pct, [10, 25, 50, 100]);
        assert_eq!(r[0].steps[0].weights["1.0.0"], 90);
        assert_eq!(r[0].expected_duration, Duration::from_secs(480));
        assert!(
            rollouts(
                &[server(&[("1.0.0", 1)])],
                &[server(&[("1.0.0", 100)])],
                &rollout::Policy::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn formats_carry_the_same_facts() {
        let before = vec![server(&[("1.0.0", 100)])];
        let after = vec![server(&[("1.0.0", 50), ("1.1.0", 50)]), component("1.1.0")];
        let report = Report {
            title: "base → head".into(),
            changes: compare(&before, &after, ("base", "head")),
            rollouts: rollouts(&before, &after, &rollout::Policy::default()),
            findings: vec![Finding {
                level: Level::Warning,
                code: "x".into(),
                message: "look".into(),
            }],
        };
        let text = to_text(&report, false);
        assert!(text.contains("~ Server vimana/adder (d:adder)"), "{text}");
        assert!(
            text.contains("step 4 (100%): 1.0.0 50 (50%), 1.1.0 50 (50%)"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "Summary: 1 to create, 1 to update, 0 to delete; 1 rollout; 1 warning, 0 errors\n"
            ),
            "{text}"
        );
        let md = to_markdown(&report);
        assert!(
            md.contains("<details><summary><code>+</code> create <b>Component</b>"),
            "{md}"
        );
        assert!(md.contains("| 1 | 10 | 95 | 5 |"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(json["summary"]["create"], 1);
        assert_eq!(json["rollouts"][0]["interval"], "2m");
        assert_eq!(json["changes"][0]["kind"], "Server");
        assert!(
            json["changes"][0].get("changedBy").is_none(),
            "only when known"
        );
    }

    #[test]
    fn the_manager_that_changed_a_field_is_in_every_format() {
        let mut changes = compare(
            &[server(&[("1.0.0", 100)])],
            &[server(&[("1.0.0", 90)])],
            ("live", "desired"),
        );
        changes[0].changed_by = vec![ChangedBy {
            field: ".spec.versionWeights".into(),
            manager: "kubectl-edit".into(),
        }];
        let report = Report {
            title: "live".into(),
            changes,
            ..Report::default()
        };
        let text = to_text(&report, false);
        assert!(
            text.contains("    .spec.versionWeights: last changed by kubectl-edit\n"),
            "{text}"
        );
        let md = to_markdown(&report);
        assert!(
            md.contains("`.spec.versionWeights` last changed by `kubectl-edit`"),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(
            json["changes"][0]["changedBy"],
            serde_json::json!([{"field": ".spec.versionWeights", "manager": "kubectl-edit"}])
        );
    }
}
