//! Renders a repository of Vimana and Kumori sources into Kubernetes manifests, or into every
//! diagnostic that stands in the way. Pure: files come in through a [`SourceTree`], manifests and
//! [`Diagnostics`] go out; nothing here touches a cluster, the network or the file system.
//!
//! The pipeline: find the Vimana sources under the configured path (honouring
//! `.reconcilerignore`), parse them as YAML with positions ([`yaml`]), convert the raw documents
//! into the typed model of the `model` crate while checking every rule of DESIGN sections 2-4,
//! render Kumori bindings ([`kumori`]), then label, name and sort the result.

pub mod diagnostic;
mod ignorefile;
mod incremental;
pub mod kumori;
pub mod limits;
pub mod source;
mod vimana;
pub mod yaml;

use model::Manifest;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use incremental::Incremental;
pub use limits::Limits;
pub use source::{Fingerprint, MemTree, SourceError, SourceTree};

/// Name of the ignore file honoured in every folder (gitignore syntax).
pub const IGNORE_FILE: &str = ".reconcilerignore";

/// What to render and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Repository-relative folder holding the Vimana sources (`""`: the whole repository).
    pub path: String,
    /// Value of the `reconciler.vimana.host/instance` label.
    pub instance: String,
    /// Namespace of objects whose source names none.
    pub namespace: String,
    /// What the render may read and produce.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path: String::new(),
            instance: "default".into(),
            namespace: "vimana".into(),
            limits: Limits::default(),
        }
    }
}

/// The result of a render: manifests in canonical order, and diagnostics. When
/// `diagnostics.has_errors()`, the manifests are incomplete and must not be applied.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Rendered objects, sorted by kind (dependency order), namespace and name.
    pub manifests: Vec<Manifest>,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Diagnostics,
}

impl Output {
    /// The manifests as a multi-document YAML stream, byte-identical for identical input.
    pub fn to_yaml(&self) -> String {
        let mut out = Vec::new();
        self.write_yaml(&mut out)
            .expect("writing to memory does not fail");
        String::from_utf8(out).expect("YAML is text")
    }

    /// [`Output::to_yaml`] written one manifest at a time, without the whole stream in memory.
    pub fn write_yaml(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for m in &self.manifests {
            out.write_all(b"---\n")?;
            serde_yaml::to_writer(&mut *out, &m.object.to_value())
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// The manifests as one pretty-printed JSON array, byte-identical for identical input.
    pub fn to_json(&self) -> String {
        let values: Vec<serde_json::Value> =
            self.manifests.iter().map(|m| m.object.to_value()).collect();
        let mut s = serde_json::to_string_pretty(&values).expect("JSON values always serialize");
        s.push('\n');
        s
    }
}

/// Renders the Vimana sources under `options.path` of `tree`.
pub fn render(tree: &dyn SourceTree, options: &Options) -> Output {
    vimana::render(tree, options)
}
