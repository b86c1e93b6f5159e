//! From the raw file to the typed [`Config`]: each section checked by its own function, every
//! default filled in, and every mistake collected with its key ([`problems`]) so that all are
//! reported at once.

mod auth;
mod cluster;
mod log;
mod problems;
mod render;
mod rollout;
mod schedule;
mod source;
mod ui;
mod webhook;

use std::path::Path;

use super::defaults::DEFAULT_INSTANCE;
use super::raw::{RawApply, RawConfig, RawNotify};
use super::typed::{ApplyConfig, Config, NotifyConfig};
use crate::daemon::error::ConfigProblem;
use crate::drift::Mode;
use problems::{Problems, http_url};

/// Checks `raw`, resolving relative paths against `base` when given: the config, or every
/// mistake found.
pub(super) fn check(raw: RawConfig, base: Option<&Path>) -> Result<Config, Vec<ConfigProblem>> {
    let mut p = Problems::default();
    let config = Config {
        instance: check_instance(raw.instance, &mut p),
        source: source::check_source(raw.source, base, &mut p),
        schedule: schedule::check_schedule(raw.schedule, &mut p),
        webhook: webhook::check_webhook(raw.webhook.unwrap_or_default(), base, &mut p),
        cluster: cluster::check_cluster(raw.cluster.unwrap_or_default(), base, &mut p),
        apply: check_apply(raw.apply.unwrap_or_default(), &mut p),
        rollout: rollout::check_rollout(raw.rollout.unwrap_or_default(), &mut p),
        notify: check_notify(raw.notify.unwrap_or_default(), &mut p),
        log: log::check_log(raw.log.unwrap_or_default(), &mut p),
        render: render::check_render(raw.render.unwrap_or_default(), &mut p),
        ui: ui::check_ui(raw.ui.unwrap_or_default(), base, &mut p),
    };
    p.into_result(config)
}

fn check_instance(raw: Option<String>, p: &mut Problems) -> String {
    let instance = raw.unwrap_or_else(|| DEFAULT_INSTANCE.into());
    if let Err(e) = model::names::label_value(&instance).and_then(|()| {
        if instance.is_empty() {
            Err("it is empty".into())
        } else {
            Ok(())
        }
    }) {
        p.add(
            "instance",
            format!("{instance:?} cannot be a label value: {e}"),
        );
    }
    instance
}

fn check_apply(raw: RawApply, p: &mut Problems) -> ApplyConfig {
    let d = ApplyConfig::default();
    let concurrency = raw.concurrency.unwrap_or(d.concurrency);
    if !(1..=256).contains(&concurrency) {
        p.add(
            "apply.concurrency",
            format!("{concurrency} is not between 1 and 256"),
        );
    }
    ApplyConfig {
        prune: raw.prune.unwrap_or(d.prune),
        allow_empty: raw.allow_empty.unwrap_or(d.allow_empty),
        concurrency,
        drift: check_drift(raw.drift, d.drift, p),
    }
}

/// `apply.drift`: `correct` or `detect`; `ignore` is for single objects, by annotation.
fn check_drift(raw: Option<String>, default: Mode, p: &mut Problems) -> Mode {
    let Some(text) = raw else {
        return default;
    };
    match Mode::parse(&text) {
        Some(m @ (Mode::Correct | Mode::Detect)) => m,
        Some(Mode::Ignore) => {
            p.add(
                "apply.drift",
                format!(
                    "\"ignore\" is for single objects: set the annotation `{}: ignore` on them; here use correct or detect",
                    model::keys::DRIFT
                ),
            );
            default
        }
        None => {
            p.add("apply.drift", format!("{text:?} is not correct or detect"));
            default
        }
    }
}

fn check_notify(raw: Vec<RawNotify>, p: &mut Problems) -> Vec<NotifyConfig> {
    raw.into_iter()
        .enumerate()
        .map(|(i, n)| {
            http_url(&format!("notify[{i}].url"), &n.url, p);
            NotifyConfig { url: n.url }
        })
        .collect()
}
