//! `source`: the remote, the ref and the folder, the cache and the fetch timeout; `source.auth`
//! is checked by [`super::auth`].

use std::path::{Path, PathBuf};

use super::auth::check_auth;
use super::problems::{Problems, parse_duration, resolve};
use crate::daemon::config::defaults::{DEFAULT_FETCH_TIMEOUT, default_cache_dir};
use crate::daemon::config::raw::RawSource;
use crate::daemon::config::typed::SourceConfig;
use crate::daemon::config::urls::{UrlKind, unreadable_url, url_kind};

pub(super) fn check_source(raw: RawSource, base: Option<&Path>, p: &mut Problems) -> SourceConfig {
    let kind = url_kind(&raw.url);
    let url = if raw.url.trim().is_empty() {
        p.add(
            "source.url",
            "it is empty; give the URL or path of the Git repository",
        );
        raw.url
    } else if let Some(why) = unreadable_url(&raw.url) {
        p.add("source.url", format!("it cannot be read as a URL: {why}"));
        raw.url
    } else if kind == UrlKind::Path {
        resolve(base, PathBuf::from(&raw.url))
            .to_string_lossy()
            .into_owned()
    } else {
        raw.url
    };
    let reference = raw.reference.unwrap_or_else(|| "main".into());
    if reference.trim().is_empty()
        || reference.contains(['~', '^', ':', ' ', '\\', '?', '*', '['])
        || reference.contains("..")
    {
        p.add(
            "source.ref",
            format!("{reference:?} is not a branch, tag or commit id; write a name such as main or v1.2.0, or a 40-character commit id"),
        );
    }
    let path = raw.path.unwrap_or_default();
    let path = path.trim_matches('/').to_owned();
    if path.split('/').any(|c| c == ".." || c == ".") || path.contains('\\') {
        p.add(
            "source.path",
            format!("{path:?} must be a folder inside the repository, without `.` or `..`"),
        );
    }
    let raw_auth = raw.auth.unwrap_or_default();
    let auth = check_auth(raw_auth, kind, &url, base, p);
    let timeout = parse_duration("source.timeout", raw.timeout, DEFAULT_FETCH_TIMEOUT, p);
    if timeout.is_zero() {
        p.add("source.timeout", "it must be longer than zero");
    }
    SourceConfig {
        url,
        reference,
        path,
        auth,
        cache_dir: raw
            .cache_dir
            .map(|d| resolve(base, d))
            .unwrap_or_else(default_cache_dir),
        timeout,
    }
}
