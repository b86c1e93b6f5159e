//! The benchmark's figures as a markdown table and as an SVG plot of time against object count.

use std::fmt::Write as _;

use super::{Figures, Run};

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.2}")
    } else if s < 10.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.0}")
    }
}

fn cell(run: Option<&Run>) -> String {
    match run {
        None => "-".into(),
        Some(r) if r.capped => format!("> {}", secs(r.seconds)),
        Some(r) => secs(r.seconds),
    }
}

fn ratio(theirs: Option<&Run>, ours: &Run) -> String {
    match theirs {
        None => "-".into(),
        Some(t) => {
            let x = t.seconds / ours.seconds.max(1e-3);
            if t.capped {
                format!("> {x:.0}x")
            } else if x < 10.0 {
                format!("{x:.1}x")
            } else {
                format!("{x:.0}x")
            }
        }
    }
}

fn mib(run: Option<&Run>) -> String {
    run.map_or("-".into(), |r| format!("{:.0}", r.rss_mib))
}

/// The figures as two markdown tables: times, then API calls and memory.
pub fn table(all: &[Figures]) -> String {
    let mut t = String::new();
    t.push_str("| objects (Kumori) | runs | render | plan (first / no-op) | initial `sync` | `kubectl apply --server-side` | speed-up | no-op `sync` | `diff` (changed objects) | `kubectl diff --server-side` | speed-up |\n");
    t.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in all {
        let _ = writeln!(
            t,
            "| {} ({}) | {} | {} | {} / {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
            f.objects,
            f.kumori,
            f.runs,
            secs(f.render),
            secs(f.plan_first),
            secs(f.plan_noop),
            cell(Some(&f.sync)),
            cell(f.kubectl_apply.as_ref()),
            ratio(f.kubectl_apply.as_ref(), &f.sync),
            cell(Some(&f.noop_sync)),
            cell(Some(&f.diff)),
            f.changed,
            cell(f.kubectl_diff.as_ref()),
            ratio(f.kubectl_diff.as_ref(), &f.diff),
        );
    }
    t.push_str("\nAPI calls and peak RSS (MiB):\n\n");
    t.push_str("| objects | initial `sync` calls | `kubectl apply` calls | no-op `sync` calls | `diff` calls | `kubectl diff` calls | RSS `render` | RSS initial `sync` | RSS no-op `sync` | RSS `diff` | RSS `kubectl apply` | RSS `kubectl diff` |\n");
    t.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in all {
        let calls = |r: Option<&Run>| r.map_or("-".into(), |r| r.requests.to_string());
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.objects,
            f.sync.requests,
            calls(f.kubectl_apply.as_ref()),
            f.noop_sync.requests,
            f.noop_sync.by_verb,
            f.diff.requests,
            calls(f.kubectl_diff.as_ref()),
            mib(Some(&f.render_command)),
            mib(Some(&f.sync)),
            mib(Some(&f.noop_sync)),
            mib(Some(&f.diff)),
            mib(f.kubectl_apply.as_ref()),
            mib(f.kubectl_diff.as_ref()),
        );
    }
    if all.iter().any(|f| f.latency.is_some()) {
        t.push_str("\nEvery request delayed (the latency mode: a second cluster per size):\n\n");
        t.push_str("| objects | delay (writes) | initial `sync` | `kubectl apply --server-side --validate=false` | speed-up | initial `sync` calls | `kubectl apply` calls | RSS initial `sync` |\n");
        t.push_str("|---|---|---|---|---|---|---|---|\n");
        for f in all {
            let Some(l) = &f.latency else { continue };
            let _ = writeln!(
                t,
                "| {} | {} ms ({} ms) | {} | {} | {} | {} | {} | {} |",
                f.objects,
                l.delay_ms,
                l.write_delay_ms,
                cell(Some(&l.sync)),
                cell(l.kubectl_apply.as_ref()),
                ratio(l.kubectl_apply.as_ref(), &l.sync),
                l.sync.requests,
                l.kubectl_apply
                    .as_ref()
                    .map_or("-".into(), |r| r.requests.to_string()),
                mib(Some(&l.sync)),
            );
        }
    }
    t
}

/// A named line of a panel: its color, whether dashed (kubectl), and its points (objects,
/// value, capped).
type Series<'a> = (&'a str, &'a str, bool, Vec<(f64, f64, bool)>);

/// Three log-log panels against objects, one above the other: seconds, API requests and peak
/// RSS. Our commands solid, kubectl dashed, a capped kubectl run drawn as a hollow point at
/// its cap (the real time is longer).
pub fn svg(all: &[Figures]) -> String {
    let time = time_series(all);
    fn runs(f: &Figures) -> [Option<&Run>; 6] {
        [
            Some(&f.sync),
            Some(&f.noop_sync),
            Some(&f.diff),
            f.kubectl_apply.as_ref(),
            f.kubectl_diff.as_ref(),
            f.latency.as_ref().map(|l| &l.sync),
        ]
    }
    let names = [
        ("reconciler sync (initial)", "#1f78b4", false),
        ("reconciler sync (no-op)", "#33a02c", false),
        ("reconciler diff", "#e31a1c", false),
        ("kubectl apply --server-side", "#1f78b4", true),
        ("kubectl diff --server-side", "#e31a1c", true),
        ("reconciler sync (initial, delayed)", "#ff7f00", false),
    ];
    let per_run = |value: &dyn Fn(&Run) -> f64| -> Vec<Series<'static>> {
        names
            .iter()
            .enumerate()
            .map(|(i, &(name, color, dashed))| {
                let pts = all
                    .iter()
                    .filter_map(|f| runs(f)[i].map(|r| (f.objects as f64, value(r), r.capped)))
                    .collect();
                (name, color, dashed, pts)
            })
            .filter(|s: &Series<'_>| !s.3.is_empty())
            .collect()
    };
    // The delayed sync makes the same requests as the loopback one: left out of that panel.
    let requests: Vec<Series<'_>> = per_run(&|r| r.requests as f64)
        .into_iter()
        .filter(|s| !s.0.ends_with("delayed)"))
        .collect();
    let mut memory = vec![(
        "reconciler render",
        "#6a3d9a",
        false,
        all.iter()
            .map(|f| (f.objects as f64, f.render_command.rss_mib, false))
            .collect(),
    )];
    memory.extend(per_run(&|r| r.rss_mib));
    let (w, h) = (760.0, 460.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" viewBox="0 0 {w} {}" font-family="sans-serif" font-size="12">"#,
        3.0 * h,
        3.0 * h
    );
    let panels = [
        (
            "Time against repository size (log-log; lower is better)",
            " s",
            time,
        ),
        (
            "API requests against repository size (log-log)",
            "",
            requests,
        ),
        (
            "Peak RSS against repository size (log-log, MiB)",
            " MiB",
            memory,
        ),
    ];
    for (i, (title, unit, series)) in panels.iter().enumerate() {
        let _ = writeln!(s, r#"<g transform="translate(0,{})">"#, i as f64 * h);
        panel(&mut s, title, unit, series);
        s.push_str("</g>\n");
    }
    s.push_str("</svg>\n");
    s
}

/// The series of the time panel.
fn time_series(all: &[Figures]) -> Vec<Series<'_>> {
    let point = |f: &Figures, r: &Run| (f.objects as f64, r.seconds, r.capped);
    let mut series: Vec<Series<'_>> = vec![
        (
            "render + plan (in process)",
            "#6a3d9a",
            false,
            all.iter()
                .map(|f| (f.objects as f64, f.render + f.plan_first, false))
                .collect(),
        ),
        (
            "reconciler sync (initial)",
            "#1f78b4",
            false,
            all.iter().map(|f| point(f, &f.sync)).collect(),
        ),
        (
            "reconciler sync (no-op)",
            "#33a02c",
            false,
            all.iter().map(|f| point(f, &f.noop_sync)).collect(),
        ),
        (
            "reconciler diff",
            "#e31a1c",
            false,
            all.iter().map(|f| point(f, &f.diff)).collect(),
        ),
    ];
    let kubectl: Vec<Series<'_>> = vec![
        (
            "kubectl apply --server-side",
            "#1f78b4",
            true,
            all.iter()
                .filter_map(|f| f.kubectl_apply.as_ref().map(|r| point(f, r)))
                .collect(),
        ),
        (
            "kubectl diff --server-side",
            "#e31a1c",
            true,
            all.iter()
                .filter_map(|f| f.kubectl_diff.as_ref().map(|r| point(f, r)))
                .collect(),
        ),
    ];
    series.extend(kubectl.into_iter().filter(|s| !s.3.is_empty()));
    let latency: Vec<Series<'_>> = vec![
        (
            "reconciler sync (initial, delayed)",
            "#ff7f00",
            false,
            all.iter()
                .filter_map(|f| f.latency.as_ref().map(|l| point(f, &l.sync)))
                .collect(),
        ),
        (
            "kubectl apply (delayed)",
            "#ff7f00",
            true,
            all.iter()
                .filter_map(|f| {
                    let l = f.latency.as_ref()?;
                    l.kubectl_apply.as_ref().map(|r| point(f, r))
                })
                .collect(),
        ),
    ];
    series.extend(latency.into_iter().filter(|s| !s.3.is_empty()));
    series
}

/// One panel, 760 by 460, at the origin: decades of objects across, of `unit` up.
fn panel(s: &mut String, title: &str, unit: &str, series: &[Series<'_>]) {
    let (w, h) = (760.0, 460.0);
    let (left, right, top, bottom) = (70.0, 250.0, 30.0, 50.0);
    let points = series.iter().flat_map(|s| s.3.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y, _) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y.max(1e-3));
        y1 = y1.max(y);
    }
    // Whole decades around the data.
    let (x0, x1) = (
        (x0.log10()).floor(),
        (x1.log10()).ceil().max(x0.log10().floor() + 1.0),
    );
    let (y0, y1) = (
        (y0.log10()).floor(),
        (y1.log10()).ceil().max(y0.log10().floor() + 1.0),
    );
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y.max(1e-3).log10() - y0) / (y1 - y0) * (h - top - bottom);
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">{title}</text>"#,
        (left + w - right) / 2.0
    );
    // Grid and axes: a line per decade, minor ticks at 2 and 5.
    for d in (x0 as i32)..=(x1 as i32) {
        for m in [1.0, 2.0, 5.0] {
            let x = m * 10f64.powi(d);
            if x.log10() > x1 + 1e-9 {
                continue;
            }
            let gx = px(x);
            let stroke = if m == 1.0 { "#ccc" } else { "#eee" };
            let _ = writeln!(
                s,
                r#"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{:.1}" stroke="{stroke}"/>"#,
                h - bottom
            );
            let _ = writeln!(
                s,
                r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle" fill="{}">{}</text>"#,
                h - bottom + 16.0,
                if m == 1.0 { "black" } else { "#888" },
                thousands(x)
            );
        }
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = 10f64.powi(d);
        let gy = py(y);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ccc"/>"##,
            w - right,
        );
        let label = if y < 1.0 {
            format!("{y}")
        } else {
            thousands(y)
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}{unit}</text>"#,
            left - 6.0,
            gy + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{left}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
        w - left - right,
        h - top - bottom
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">objects in the repository</text>"#,
        (left + w - right) / 2.0,
        h - 12.0
    );
    for (i, (name, color, dashed, pts)) in series.iter().enumerate() {
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y, _)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for &(x, y, capped) in pts {
            let fill = if capped || *dashed { "white" } else { color };
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{fill}" stroke="{color}" stroke-width="2"/>"#,
                px(x),
                py(y)
            );
            if capped {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" fill="{color}">capped</text>"#,
                    px(x) + 6.0,
                    py(y) - 6.0
                );
            }
        }
        let ly = top + 10.0 + 22.0 * i as f64;
        let lx = w - right + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>"#,
            lx + 26.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{name}</text>"#,
            lx + 32.0,
            ly + 4.0
        );
    }
}

fn thousands(x: f64) -> String {
    if x >= 1000.0 {
        format!("{}k", x / 1000.0)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::median;

    fn run(seconds: f64, capped: bool) -> Run {
        Run {
            seconds,
            rss_mib: 100.0,
            requests: 6,
            by_verb: "list=4 get=1 discovery=1".into(),
            capped,
            exit: (!capped).then_some(0),
        }
    }

    fn figures() -> Vec<Figures> {
        [(1516, 1.0, 4.0), (40098, 20.0, 900.0)]
            .into_iter()
            .map(|(objects, ours, theirs)| Figures {
                objects,
                kumori: objects / 3,
                render: 0.5,
                plan_first: 0.1,
                plan_noop: 0.1,
                render_command: run(0.6, false),
                kubectl_apply: Some(run(theirs, theirs >= 900.0)),
                kubectl_diff: None,
                sync: run(ours, false),
                noop_sync: run(0.3, false),
                diff: run(0.4, false),
                changed: 10,
                runs: if objects < 5_000 { 3 } else { 1 },
                latency: None,
                incremental: None,
            })
            .collect()
    }

    #[test]
    fn the_table_shows_speed_ups_and_capped_runs_as_lower_bounds() {
        let t = table(&figures());
        assert!(
            t.contains("| 1516 (505) | 3 | 0.50 | 0.10 / 0.10 | 1.0 | 4.0 | 4.0x |"),
            "{t}"
        );
        assert!(t.contains("| > 900 | > 45x |"), "{t}");
        assert!(t.contains("| 6 (list=4 get=1 discovery=1) |"), "{t}");
        assert!(t.contains("| - | - |"), "no kubectl diff: {t}");
    }

    #[test]
    fn the_plot_has_a_line_per_series_and_marks_capped_points() {
        let s = svg(&figures());
        assert!(s.starts_with("<svg ") && s.trim_end().ends_with("</svg>"));
        // Time: four series of ours and kubectl apply; requests: three and kubectl apply;
        // memory: four and kubectl apply. No kubectl diff was measured.
        assert_eq!(s.matches("<polyline").count(), 5 + 4 + 5, "{s}");
        // The capped kubectl apply, in each panel.
        assert_eq!(s.matches(">capped<").count(), 3, "{s}");
        for title in ["Time against", "API requests against", "Peak RSS against"] {
            assert_eq!(s.matches(title).count(), 1, "{title}: {s}");
        }
        assert!(s.contains("kubectl apply --server-side"));
        assert!(!s.contains("kubectl diff --server-side"));
    }

    #[test]
    fn medians_and_seconds_read_well() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(secs(0.123), "0.12");
        assert_eq!(secs(1.23), "1.2");
        assert_eq!(secs(123.4), "123");
        assert_eq!(thousands(40000.0), "40k");
    }
}
