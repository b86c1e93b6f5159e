//! The timed runs of the benchmark: child processes under GNU time (wall time and peak RSS),
//! stopped at a time limit, with the API requests the simulated cluster served meanwhile.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Run;

/// `reconciler render DIR --namespace bench-kubectl`, with a Namespace first, into `out`.
pub fn render_to(bin: &Path, dir: &Path, out: &Path, timeout: Duration) -> anyhow::Result<Run> {
    let rendered = out.with_extension("render");
    let run = timed_command(
        &[
            &bin.to_string_lossy(),
            "render",
            &dir.to_string_lossy(),
            "--namespace",
            "bench-kubectl",
        ],
        timeout,
        &rendered,
    )?;
    if run.exit != Some(0) {
        bail!("reconciler render {} failed", dir.display());
    }
    let mut text =
        String::from("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-kubectl\n---\n");
    text.push_str(&std::fs::read_to_string(&rendered)?);
    std::fs::write(out, text)?;
    Ok(run)
}

/// Runs `argv` timed, counting the requests the cluster served meanwhile.
pub fn timed(
    cluster: &simcluster::Handle,
    argv: &[&str],
    timeout: Duration,
    stdout: &Path,
) -> anyhow::Result<Run> {
    let before = requests(cluster);
    let mut run = timed_command(argv, timeout, stdout)?;
    let after = requests(cluster);
    run.requests =
        after.iter().map(|(_, n)| n).sum::<u64>() - before.iter().map(|(_, n)| n).sum::<u64>();
    let mut by_verb: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (verb, n) in &after {
        *by_verb.entry(verb).or_default() += n;
    }
    for (verb, n) in &before {
        *by_verb.entry(verb).or_default() -= n;
    }
    run.by_verb = by_verb
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| format!("{v}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(run)
}

/// `(verb, count)` of every `simcluster_requests_total` series.
fn requests(cluster: &simcluster::Handle) -> Vec<(String, u64)> {
    cluster
        .metrics_text()
        .lines()
        .filter_map(|l| l.strip_prefix("simcluster_requests_total{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once("} ")?;
            let verb = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("verb="))?
                .trim_matches('"');
            Some((verb.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Runs `argv` under `/usr/bin/time` (peak RSS), stdout to a file, stopped after `timeout`.
pub fn timed_command(argv: &[&str], timeout: Duration, stdout: &Path) -> anyhow::Result<Run> {
    use std::os::unix::process::CommandExt;
    let stats = stdout.with_extension("time");
    let start = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&stats)
        .args(argv)
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(stdout.with_extension("err"))?)
        .stdin(Stdio::null())
        // Its own process group, so that a capped run is stopped with everything it started.
        .process_group(0)
        .spawn()
        .context("cannot run /usr/bin/time (GNU time)")?;
    // The wait is exact (a poll would round every time up to its period); a watchdog stops
    // the process group at the time limit.
    let (done, ended) = std::sync::mpsc::channel::<()>();
    let group = format!("-{}", child.id());
    let watchdog = std::thread::spawn(move || {
        let late = ended.recv_timeout(timeout).is_err();
        if late {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
        late
    });
    let waited = child.wait();
    let seconds = start.elapsed().as_secs_f64();
    let _ = done.send(());
    let capped = watchdog.join().unwrap_or(false);
    let status = if capped { None } else { Some(waited?) };
    // GNU time writes "Command exited with non-zero status N" before the figure.
    let rss_kib: f64 = std::fs::read_to_string(&stats)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0.0);
    Ok(Run {
        seconds,
        rss_mib: rss_kib / 1024.0,
        capped,
        exit: status.and_then(|s| s.code()),
        ..Run::default()
    })
}
