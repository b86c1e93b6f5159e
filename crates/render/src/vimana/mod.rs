//! Vimana sources: find, parse, convert into the model, validate and label.

use crate::{Options, Output, SourceTree};

/// Renders the Vimana sources of `tree` under `options.path`.
pub fn render(_tree: &dyn SourceTree, _options: &Options) -> Output {
    Output::default()
}
