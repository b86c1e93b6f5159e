//! The Vimana source loader on any YAML: it must render or report diagnostics, never panic, and
//! every diagnostic location must lie inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use render::{MemTree, Options};

fuzz_target!(|data: &[u8]| {
    let tree = MemTree::new().with("src/fuzz.yaml", data.to_vec());
    let out = render::render(
        &tree,
        &Options {
            path: "src".into(),
            ..Options::default()
        },
    );
    for d in &out.diagnostics.items {
        if let Some(label) = &d.primary {
            assert!(label.span.start <= label.span.end && label.span.end <= data.len());
        }
    }
    let _ = out.to_yaml();
});
