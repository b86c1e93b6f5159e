//! `render`: the limits of every render (`render.limits`), each named as `render::Limits`
//! names it and checked as `--limit` is.

use super::problems::Problems;
use crate::daemon::config::raw::RawRender;
use crate::daemon::config::typed::RenderConfig;

pub(super) fn check_render(raw: RawRender, p: &mut Problems) -> RenderConfig {
    let mut limits = render::Limits::default();
    for (key, value) in raw.limits.unwrap_or_default() {
        let path = format!("render.limits.{key}");
        let text = match &value {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s.clone(),
            _ => {
                p.add(
                    &path,
                    "write a whole number, or a size such as 16MiB".to_owned(),
                );
                continue;
            }
        };
        if let Err(e) = limits.set(&key, &text) {
            // The message names the key already; the problem does too.
            let e = e
                .strip_prefix(&format!("{key}: "))
                .map_or(e.clone(), str::to_owned);
            p.add(&path, e);
        }
    }
    RenderConfig { limits }
}

#[cfg(test)]
mod tests {
    use crate::daemon::config::Config;
    use crate::daemon::error::Error;

    const URL: &str = "source:\n  url: https://git.example.org/config.git\n";

    #[test]
    fn render_limits_are_read_over_the_defaults() {
        let c = Config::parse(
            &format!("{URL}render:\n  limits:\n    fileBytes: 16MiB\n    depth: 64\n"),
            None,
        )
        .unwrap();
        assert_eq!(c.render.limits.file_bytes, 16 << 20);
        assert_eq!(c.render.limits.depth, 64);
        assert_eq!(
            c.render.limits.render_bytes,
            render::Limits::default().render_bytes
        );
        let c = Config::parse(URL, None).unwrap();
        assert_eq!(c.render.limits, render::Limits::default());
    }

    #[test]
    fn render_limit_mistakes_are_named_by_key() {
        let text = format!(
            "{URL}render:\n  limits:\n    fileByte: 1\n    depth: 0\n    objectBytes: [1]\n"
        );
        let Err(Error::Config(e)) = Config::parse(&text, None) else {
            panic!("expected mistakes");
        };
        let lines: Vec<String> = e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[0].starts_with("render.limits.depth: \"0\" is not a positive"),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with("render.limits.fileByte: unknown limit"),
            "{lines:#?}"
        );
        assert!(lines[1].contains("fileBytes"), "{lines:#?}");
        assert!(
            lines[2].starts_with("render.limits.objectBytes: write a whole number"),
            "{lines:#?}"
        );
    }
}
