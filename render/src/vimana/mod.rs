//! Vimana sources: find the YAML files under the source path (honouring `.reconcilerignore`),
//! parse them with positions, convert each document into the model ([`convert`]), check the
//! rules between objects ([`check`]), render Kumori bindings, then default the namespace, set
//! the labels and sort.

mod check;
mod convert;
mod read;

use std::collections::BTreeMap;
use std::ops::Range;

use model::{Manifest, Object, SourceInfo, keys};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ignorefile::IgnoreRules;
use crate::kumori::{self, Binding};
use crate::yaml::{self, Parsed};
use crate::{Options, Output, SourceTree};
use read::Cx;

/// An object read from a source document, before labels and defaults.
pub struct SourceObject<'a> {
    /// Repository-relative path of its file.
    pub file: &'a str,
    /// Span of its document.
    pub doc_span: Range<usize>,
    /// The object as converted so far.
    pub object: Object,
    /// Whether `metadata.name` was derived (Components only).
    pub name_derived: bool,
    /// Spans of fields by dotted path (`spec.domain`, `spec.versionWeights.1.0.0`).
    pub spans: BTreeMap<String, Range<usize>>,
    /// The Kumori binding of a Component, if it has one.
    pub kumori: Option<Binding<'a>>,
    /// Whether converting it reported an error: references to a broken object are not
    /// reported again as dangling.
    pub broken: bool,
}

impl SourceObject<'_> {
    /// How messages name the object: `Server adder`, or `this Server` when it has no name.
    pub fn describe(&self) -> String {
        let kind = self.object.kind();
        match self.object.meta().name.as_str() {
            "" => format!("this {kind}"),
            name => format!("{kind} `{name}`"),
        }
    }

    /// The span of a field, else the start of the document.
    pub fn span(&self, path: &str) -> Range<usize> {
        self.spans
            .get(path)
            .cloned()
            .unwrap_or(self.doc_span.start..self.doc_span.start)
    }
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// Renders the Vimana sources of `tree` under `options.path`.
pub fn render(tree: &dyn SourceTree, options: &Options) -> Output {
    let mut diags = Diagnostics::default();
    let path = options.path.trim_matches('/');
    let files = match tree.files(path) {
        Ok(files) => files,
        Err(e) => {
            diags.push(
                Diagnostic::error("source-path", format!("cannot read the source path: {e}"))
                    .help("give the folder that holds the Vimana sources"),
            );
            return Output {
                manifests: Vec::new(),
                diagnostics: diags,
            };
        }
    };
    let rules = IgnoreRules::load(tree, path, &files, &mut diags);

    let parsed: Vec<(String, Parsed)> = files
        .iter()
        .filter(|f| is_yaml(f) && !rules.is_ignored(f))
        .filter_map(|file| Some((file.clone(), parse_file(tree, file, &mut diags)?)))
        .collect();
    let mut objects = convert_documents(&parsed, &mut diags);
    for obj in &mut objects {
        label(obj, options);
    }
    check::all(&objects, &mut diags);
    let mut manifests = manifests(tree, objects, &mut diags);
    manifests.sort_by_cached_key(|m| m.object.key());

    if manifests.is_empty() && !diags.has_errors() {
        diags.push(
            Diagnostic::warning(
                "empty-render",
                format!(
                    "no Vimana sources under `{}`",
                    if path.is_empty() { "." } else { path }
                ),
            )
            .help(format!(
                "add YAML files with `apiVersion: {}`, or check the path and {}",
                model::API_VERSION,
                crate::IGNORE_FILE
            )),
        );
    }
    diags.sort();
    Output {
        manifests,
        diagnostics: diags,
    }
}

/// Reads and parses one YAML file, reporting what stands in the way; `None` when it cannot be
/// read as text.
fn parse_file(tree: &dyn SourceTree, file: &str, diags: &mut Diagnostics) -> Option<Parsed> {
    let bytes = match tree.read(file) {
        Ok(b) => b,
        Err(e) => {
            diags.push(
                Diagnostic::error("unreadable-file", format!("cannot read {file}: {e}")).help(
                    format!("fix the file, or exclude it in {}", crate::IGNORE_FILE),
                ),
            );
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "not-utf8",
                    format!(
                        "{file} is not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                )
                .help(format!(
                    "save the file as UTF-8, or exclude it in {}",
                    crate::IGNORE_FILE
                )),
            );
            return None;
        }
    };
    let p = yaml::parse(&text);
    diags.files.add(file, &text);
    if let Some(e) = &p.error {
        diags.push(
            Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", e.message))
                .at(file, e.span.clone(), "the parser stopped here")
                .help("fix the YAML syntax; documents after this point were not read"),
        );
    }
    for d in &p.duplicates {
        diags.push(
            Diagnostic::error(
                "duplicate-key",
                format!("the key `{}` appears twice in one mapping", d.key),
            )
            .at(file, d.second.clone(), "repeated here")
            .also(file, d.first.clone(), "first here")
            .help("keep one of the two; YAML mappings may not repeat a key"),
        );
    }
    Some(p)
}

/// Converts every document of the parsed files into a source object; an object whose
/// conversion reported an error is marked broken.
fn convert_documents<'a>(
    parsed: &'a [(String, Parsed)],
    diags: &mut Diagnostics,
) -> Vec<SourceObject<'a>> {
    let mut objects: Vec<SourceObject<'a>> = Vec::new();
    for (file, p) in parsed {
        for doc in &p.documents {
            let mut cx = Cx { file, diags };
            let before = cx.diags.error_count();
            if let Some(mut obj) = convert::document(&mut cx, file, &doc.root) {
                obj.broken = cx.diags.error_count() > before;
                objects.push(obj);
            }
        }
    }
    objects
}

/// The manifests of the objects: Kumori bindings rendered into their Components, and the
/// locations of every field.
fn manifests(
    tree: &dyn SourceTree,
    objects: Vec<SourceObject<'_>>,
    diags: &mut Diagnostics,
) -> Vec<Manifest> {
    let mut manifests = Vec::with_capacity(objects.len());
    let mut modules = kumori::ModuleCache::new();
    for mut obj in objects {
        if let (Some(binding), Object::Component(c)) = (&obj.kumori, &mut obj.object)
            && let Some(r) = kumori::render_binding_cached(tree, binding, &mut modules, diags)
        {
            c.spec.image = r.image;
            let a = &mut c.metadata.annotations;
            a.insert(keys::KUMORI_RENDERED.into(), r.rendered);
            a.insert(keys::KUMORI_DIGEST.into(), r.digest);
            a.insert(keys::KUMORI_SOURCE.into(), r.source);
        }
        let mut info = SourceInfo {
            document: diags.files.location(obj.file, obj.doc_span.start),
            fields: BTreeMap::new(),
        };
        for (field, span) in &obj.spans {
            info.fields
                .insert(field.clone(), diags.files.location(obj.file, span.start));
        }
        manifests.push(Manifest {
            object: obj.object,
            source: Some(info),
        });
    }
    manifests
}

/// Defaults the namespace and sets the labels the reconciler owns.
fn label(obj: &mut SourceObject<'_>, options: &Options) {
    let (domain, server, version) = match &obj.object {
        Object::Vimana(_) => (None, None, None),
        Object::Domain(d) => (Some(d.spec.id.clone()), None, None),
        Object::Server(s) => (Some(s.spec.domain.clone()), Some(s.spec.id.clone()), None),
        Object::Component(c) => (
            Some(c.spec.domain.clone()),
            Some(c.spec.server.clone()),
            Some(c.spec.version.clone()),
        ),
    };
    let meta = obj.object.meta_mut();
    if meta.namespace.is_none() {
        meta.namespace = Some(options.namespace.clone());
    }
    let labels = &mut meta.labels;
    labels.insert(keys::MANAGED_BY.into(), keys::MANAGED_BY_VALUE.into());
    labels.insert(keys::INSTANCE.into(), options.instance.clone());
    for (key, value) in [
        (keys::DOMAIN, domain),
        (keys::SERVER, server),
        (keys::VERSION, version),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            labels.insert(key.into(), v);
        }
    }
}
