//! `ui`: the bearer token of the web view, read once here so that a missing or empty file is
//! a mistake at start rather than a page that nobody can open.

use std::path::Path;

use super::problems::{Problems, resolve};
use crate::daemon::config::raw::RawUi;
use crate::daemon::config::secret::SecretRef;
use crate::daemon::config::typed::UiConfig;

pub(super) fn check_ui(raw: RawUi, base: Option<&Path>, p: &mut Problems) -> UiConfig {
    let token = raw.token_file.map(|f| SecretRef::File(resolve(base, f)));
    if let Some(t) = &token
        && let Err(e) = t.read("ui.tokenFile")
    {
        p.add("ui.tokenFile", e.to_string());
    }
    UiConfig { token }
}
