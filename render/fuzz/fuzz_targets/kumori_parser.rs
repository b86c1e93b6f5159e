//! The Kumori parser on any text: it must return a tree and diagnostics, never panic, and
//! every diagnostic span must lie inside the text on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use render::kumori::{ast::FileId, parser};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parse = parser::parse("fuzz.kumori", FileId(0), &text);
    for d in &parse.diagnostics {
        if let Some(label) = &d.primary {
            assert!(label.span.start <= label.span.end && label.span.end <= text.len());
            assert!(
                text.is_char_boundary(label.span.start) && text.is_char_boundary(label.span.end)
            );
        }
    }
});
