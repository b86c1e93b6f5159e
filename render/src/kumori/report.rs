//! Handing the diagnostics of a Kumori render to the caller, with the texts of the files they
//! point into (the caller has only the YAML sources).

use crate::diagnostic::{Diagnostic, Diagnostics};

use super::module::Program;

/// Moves the diagnostics out, with the texts of the files they point into.
pub(super) fn finish(prog: &Program, mut diags: Vec<Diagnostic>, out: &mut Diagnostics) {
    let mut all = prog.diagnostics.clone();
    all.append(&mut diags);
    // A label over several lines (a block, a binding) is shown by its first line.
    for d in &mut all {
        for label in d.primary.iter_mut().chain(d.secondary.iter_mut()) {
            if let Some(id) = prog.map.find(&label.file)
                && let Some(nl) = prog
                    .map
                    .text(id)
                    .get(label.span.clone())
                    .and_then(|t| t.find('\n'))
            {
                let line = &prog.map.text(id)[label.span.start..label.span.start + nl];
                label.span.end = label.span.start + line.trim_end().len();
            }
        }
    }
    for d in &all {
        for label in d.primary.iter().chain(d.secondary.iter()) {
            if let Some(id) = prog.map.find(&label.file) {
                out.files.add(&label.file, prog.map.text(id));
            }
        }
    }
    for d in all {
        out.push(d);
    }
}
