//! Vimana sources: find the YAML files under the source path (honouring `.reconcilerignore`),
//! parse them with positions, convert each document into the model ([`convert`]), check the
//! rules between objects ([`check`]), render Kumori bindings, then default the namespace, set
//! the labels and sort.
//!
//! Every file is read through a [`Metered`] tree, so that what one render reads stays within
//! [`Limits`] whoever reads it (this module, or the Kumori front end for modules and
//! `io.Open`); each rendered object is checked against Kubernetes' budgets. At most
//! [`MAX_PER_FILE`] diagnostics are reported per file, then one that counts the rest.

mod check;
mod convert;
mod read;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use model::{FieldAt, Kind, Manifest, Object, SourceInfo, keys, names};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::ignorefile::IgnoreRules;
use crate::kumori::{self, Binding};
use crate::limits::bytes_text;
use crate::source::{Log, Metered, Recorder};
use crate::yaml::{self, Parsed, ProblemKind, StopKind};
use crate::{Limits, Options, Output, SourceTree};
use read::Cx;

/// How many diagnostics one file reports; the rest are counted in one more. A file of
/// 100,000 foreign documents says what is wrong in its first few.
pub const MAX_PER_FILE: usize = 100;

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

/// What the checks between objects need of a rendered object besides the object itself and
/// where its fields are ([`SourceInfo`]): a few bytes, not a second map of fields.
#[derive(Clone, Debug)]
pub struct Check {
    /// Span of its document.
    pub doc_span: Range<usize>,
    /// The span of each field of the manifest's [`SourceInfo::fields`], in their order.
    pub spans: Vec<Range<usize>>,
    /// Whether `metadata.name` was derived (Components only).
    pub name_derived: bool,
    /// Whether converting it reported an error.
    pub broken: bool,
}

/// A rendered object with its file, as the checks between objects see it.
#[derive(Clone, Copy)]
pub struct Item<'o> {
    /// Repository-relative path of its file.
    pub file: &'o str,
    /// The object as rendered.
    pub object: &'o Object,
    /// Where its fields are, by dotted path.
    source: &'o SourceInfo,
    /// Its spans.
    check: &'o Check,
    /// Whether `metadata.name` was derived (Components only).
    pub name_derived: bool,
    /// Whether converting it reported an error: references to a broken object are not
    /// reported again as dangling.
    pub broken: bool,
}

impl Item<'_> {
    /// How messages name the object: `Server adder`, or `this Server` when it has no name.
    pub fn describe(&self) -> String {
        describe(self.object)
    }

    /// The span of a field, else the start of the document.
    pub fn span(&self, path: &str) -> Range<usize> {
        let start = self.check.doc_span.start;
        self.source
            .position(path)
            .and_then(|i| self.check.spans.get(i).cloned())
            .unwrap_or(start..start)
    }
}

/// One YAML file rendered on its own: its objects, the diagnostics found in it (with the texts
/// they point into), and, when recorded, what it asked of the tree ([`Log`]): the unit that
/// [`crate::Incremental`] reuses while the answers hold.
#[derive(Clone, Debug, Default)]
pub struct FileRender {
    /// Its objects in order, when kept with the file (in [`crate::Incremental`]'s cache); a
    /// full render puts them straight into the output, at `range`.
    pub manifests: Vec<Manifest>,
    /// Where its objects are in the output of a full render.
    pub range: Range<usize>,
    /// What the checks need of each object, in the same order.
    pub checks: Vec<Check>,
    /// What parsing, converting, labelling and rendering its objects reported.
    pub diagnostics: Diagnostics,
    /// What it read, modules and `io.Open` files of its bindings included.
    pub log: Log,
    /// Whether it was read as text (its text is what diagnostics show of it).
    pub text: bool,
}

/// How messages name an object: `Server adder`, or `this Server` when it has no name.
fn describe(object: &Object) -> String {
    let kind = object.kind();
    match object.meta().name.as_str() {
        "" => format!("this {kind}"),
        name => format!("{kind} `{name}`"),
    }
}

impl SourceObject<'_> {
    /// How messages name the object: `Server adder`, or `this Server` when it has no name.
    pub fn describe(&self) -> String {
        describe(&self.object)
    }
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// What [`crate::Incremental`] keeps between renders: the files of the last render.
#[derive(Default)]
pub struct Cache {
    /// Each YAML file of the last render, by path.
    pub files: HashMap<String, FileRender>,
    /// How many files the last render rendered afresh.
    pub rerendered: usize,
    /// While the objects of the last render are out with its output (the files keep none):
    /// where each output position's object sits among the files' objects, one file after the
    /// other. [`Cache::give_back`] puts them back; a render without them renders afresh.
    lent: Option<Vec<usize>>,
}

impl Cache {
    /// Takes back the objects of the last render's output, so that the next render moves the
    /// objects of unchanged files rather than copying them. Anything but that output, unchanged
    /// and in its order (a length or a source file that does not match), empties the cache.
    pub fn give_back(&mut self, mut manifests: Vec<Manifest>) {
        let Some(order) = self.lent.take() else {
            return;
        };
        if manifests.len() != order.len() {
            self.files.clear();
            return;
        }
        let mut inverse = vec![0; order.len()];
        for (i, &p) in order.iter().enumerate() {
            inverse[p] = i;
        }
        permute(&mut manifests, inverse);
        let mut files: Vec<(&String, &mut FileRender)> = self.files.iter_mut().collect();
        files.sort_unstable_by_key(|(_, r)| std::cmp::Reverse(r.range.start));
        let mut fits = true;
        for (file, r) in files {
            fits &= r.range.end == manifests.len()
                && manifests[r.range.clone()]
                    .iter()
                    .all(|m| m.source.as_ref().is_some_and(|s| s.document.file == *file));
            if !fits {
                break;
            }
            r.manifests = manifests.split_off(r.range.start);
        }
        if !fits {
            self.files.clear();
        }
    }
}

/// Renders the Vimana sources of `tree` under `options.path`.
pub fn render(tree: &dyn SourceTree, options: &Options) -> Output {
    run(tree, options, None)
}

/// Renders the Vimana sources of `tree` under `options.path`, reusing the files of `cache`
/// whose reads are answered as before, and leaving this render's files in it. Each file is
/// parsed, converted, labelled and its bindings rendered on its own, its YAML tree dropped
/// before the next: only the objects of every file are held together, for the checks between
/// them.
pub fn run(tree: &dyn SourceTree, options: &Options, mut cache: Option<&mut Cache>) -> Output {
    let metered = Metered::new(tree, &options.limits);
    let mtree: &dyn SourceTree = &metered;
    let limits = &options.limits;
    let mut diags = Diagnostics::default();
    let path = options.path.trim_matches('/');
    let files = match mtree.files(path) {
        Ok(files) => files,
        Err(e) => {
            if let Some(c) = cache {
                *c = Cache::default();
            }
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
    let rules = IgnoreRules::load(mtree, path, &files, limits, &mut diags);
    if let Some(c) = cache.as_deref_mut()
        && c.lent.take().is_some()
    {
        // The objects of the last render were not given back: its files cannot be reused.
        c.files.clear();
    }

    let record = cache.is_some();
    let mut old = cache
        .as_deref_mut()
        .map(|c| std::mem::take(&mut c.files))
        .unwrap_or_default();
    let mut memo = HashMap::new();
    let mut modules = if record {
        kumori::ModuleCache::recording(*limits)
    } else {
        kumori::ModuleCache::new(*limits)
    };
    let mut rendered: Vec<(String, FileRender)> = Vec::new();
    let mut fresh = 0;
    // A full render puts the objects of every file straight into the output; a cache keeps
    // them with their file.
    let mut manifests = Vec::new();
    for file in files.iter().filter(|f| is_yaml(f) && !rules.is_ignored(f)) {
        let reused = old.remove(file).filter(|r| r.log.holds(tree, &mut memo));
        let r = reused.unwrap_or_else(|| {
            fresh += 1;
            let mut own = Vec::new();
            let out = if record { &mut own } else { &mut manifests };
            let mut r = render_file(mtree, file, options, &mut modules, record, out);
            r.manifests = own;
            r
        });
        rendered.push((file.clone(), r));
    }
    drop(old);
    if record && over_budget(&metered, &rendered, limits) {
        // Which file a full render refuses depends on the order of its reads: render in full.
        if let Some(c) = cache {
            *c = Cache::default();
        }
        return run(tree, options, None);
    }

    let texts: HashSet<String> = rendered
        .iter()
        .filter(|(_, r)| r.text)
        .map(|(f, _)| f.clone())
        .collect();
    let items: Vec<Item<'_>> = rendered
        .iter()
        .flat_map(|(file, r)| {
            let objects = if record {
                &r.manifests[..]
            } else {
                &manifests[r.range.clone()]
            };
            objects.iter().zip(&r.checks).map(|(m, check)| Item {
                file,
                object: &m.object,
                source: m.source.as_ref().expect("rendered manifests have a source"),
                check,
                name_derived: check.name_derived,
                broken: check.broken,
            })
        })
        .collect();
    let mut between = Diagnostics::default();
    check::all(&items, &mut between);
    drop(items);

    match cache {
        Some(c) => {
            // The objects move to the output; the cache keeps where each came from, for
            // `give_back`.
            manifests.reserve_exact(rendered.iter().map(|(_, r)| r.manifests.len()).sum());
            for (_, r) in &mut rendered {
                r.range = manifests.len()..manifests.len() + r.manifests.len();
                manifests.append(&mut r.manifests);
                r.manifests = Vec::new();
                diags.extend_from(&r.diagnostics);
            }
            let order = in_order(&manifests.iter().collect::<Vec<_>>());
            c.lent = Some(order.clone());
            permute(&mut manifests, order);
            c.files = rendered.into_iter().collect();
            c.rerendered = fresh;
        }
        None => {
            for (_, r) in rendered {
                diags.append(r.diagnostics);
            }
        }
    }
    diags.append(between);
    add_texts(mtree, &texts, &mut diags);
    if !record {
        let order = in_order(&manifests.iter().collect::<Vec<_>>());
        permute(&mut manifests, order);
    }

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
    cap_per_file(&mut diags, MAX_PER_FILE);
    Output {
        manifests,
        diagnostics: diags,
    }
}

/// Adds the texts of the YAML files that diagnostics point into and whose texts were not kept
/// (the checks between objects point into files of objects without diagnostics of their own),
/// and forgets the others.
fn add_texts(tree: &dyn SourceTree, texts: &HashSet<String>, diags: &mut Diagnostics) {
    let missing: BTreeSet<String> = diags
        .referenced_files()
        .filter(|f| diags.files.text(f).is_none() && texts.contains(*f))
        .map(str::to_owned)
        .collect();
    for file in missing {
        if let Ok(bytes) = tree.read(&file)
            && let Ok(text) = String::from_utf8(bytes)
        {
            diags.files.add(&file, &text);
        }
    }
    diags.keep_referenced_files();
}

/// The positions of `manifests` in the order of their `ObjectKey` (kind, namespace, name),
/// equal keys in their order: sorted as indices, compared without making keys.
fn in_order(manifests: &[&Manifest]) -> Vec<usize> {
    // The keys are read once into one vector: the sort then compares them without going
    // through each object again (about 16 times per object at 40k).
    let mut keyed: Vec<((Kind, &str, &str), usize)> = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let meta = m.object.meta();
            let namespace = meta.namespace.as_deref().unwrap_or("");
            ((m.object.kind(), namespace, meta.name.as_str()), i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Puts the element at `order[i]` at position `i`, one swap per element out of place (a
/// manifest is a few hundred bytes: sorting them in place moved each about log n times).
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != at {
            let from = order[at];
            order[at] = at;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// Whether a full render would have read more than [`Limits::render_bytes`]: what this render
/// read, and what the files it reused read before.
fn over_budget(metered: &Metered<'_>, rendered: &[(String, FileRender)], limits: &Limits) -> bool {
    let mut total = metered.total();
    let mut seen = HashSet::new();
    for (_, r) in rendered {
        for (path, bytes) in &r.log.reads {
            if !metered.counted(path) && seen.insert(path.as_str()) {
                total = total.saturating_add(*bytes);
            }
        }
    }
    metered.refused() || total > limits.render_bytes
}

/// Reads, parses and converts one file, labels its objects and renders their bindings; with
/// `record`, keeps what it asked of the tree.
fn render_file(
    tree: &dyn SourceTree,
    file: &str,
    options: &Options,
    modules: &mut kumori::ModuleCache,
    record: bool,
    out: &mut Vec<Manifest>,
) -> FileRender {
    let first = out.len();
    let mut checks = Vec::new();
    let recorder = Recorder::new(tree);
    let reader: &dyn SourceTree = if record { &recorder } else { tree };
    let limits = &options.limits;
    let mut diags = Diagnostics::default();
    let parsed = parse_file(reader, file, limits, &mut diags);
    let text = parsed.is_some();
    if let Some(parsed) = parsed {
        for doc in &parsed.documents {
            let mut cx = Cx {
                file,
                diags: &mut diags,
            };
            // Only what this document added is looked at: counting every error again per
            // document made a file of many documents quadratic.
            let before = cx.diags.items.len();
            if let Some(mut obj) = convert::document(&mut cx, file, &doc.root) {
                obj.broken = cx.diags.items[before..].iter().any(Diagnostic::is_error);
                label(&mut obj, options);
                let (manifest, check) = finish(reader, obj, limits, modules, &mut diags);
                out.push(manifest);
                checks.push(check);
            }
        }
    }
    // The locations are taken: the text is kept only if a diagnostic points into it (a check
    // between objects that points into it later reads it again).
    diags.keep_referenced_files();
    let mut log = recorder.into_log();
    if record {
        log.extend(&modules.take_log());
    }
    FileRender {
        manifests: Vec::new(),
        range: first..out.len(),
        checks,
        diagnostics: diags,
        log,
        text,
    }
}

/// Reads and parses one YAML file, reporting what stands in the way; `None` when it cannot be
/// read as text.
fn parse_file(
    tree: &dyn SourceTree,
    file: &str,
    limits: &Limits,
    diags: &mut Diagnostics,
) -> Option<Parsed> {
    let bytes = match tree.read_at_most(file, limits.file_bytes, "fileBytes") {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::unreadable(file, &e));
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
    let p = yaml::parse_with(&text, limits);
    diags.files.add(file, &text);
    if let Some(e) = &p.error {
        let span = e.span.clone();
        let d = match e.kind {
            StopKind::Syntax => Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", e.message))
                .at(file, span, "the parser stopped here")
                .help("fix the YAML syntax; documents after this point were not read"),
            StopKind::TooDeep { limit } => Diagnostic::error("yaml-too-deep", e.message.clone())
                .at(file, span, format!("level {} starts here", limit + 1))
                .help("Vimana sources nest a few levels: flatten the document; the limit is `depth` (`--limit depth=N`, `render.limits.depth` in the daemon); documents after this point were not read"),
            StopKind::TooFarAhead { .. } => Diagnostic::error("yaml-too-far-ahead", e.message.clone())
                .at(file, span, "the parser stopped here")
                .help("write long lists and maps in block style (one `- item` or `key: value` per line), or start them after a key; no value may be longer than `objectBytes` (`--limit objectBytes=N`)"),
            StopKind::TooManyNodes { .. } => Diagnostic::error("yaml-too-many-nodes", e.message.clone())
                .at(file, span, "the limit is passed here")
                .help("use fewer aliases of large anchors, or split the document; the limit is `documentNodes` (`--limit documentNodes=N`, `render.limits.documentNodes` in the daemon); documents after this point were not read"),
        };
        diags.push(d);
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
    for problem in &p.problems {
        let span = problem.span.clone();
        diags.push(match &problem.kind {
            ProblemKind::Tag(tag) => Diagnostic::error(
                "yaml-tag",
                format!("the YAML tag `{}` is not accepted", tag.escape_debug()),
            )
            .at(file, span, "tagged here")
            .help("remove the tag: sources are read with the core schema, whose tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map` and `!!seq` are accepted on values of their type"),
            ProblemKind::ForeignAnchor(name) => Diagnostic::error(
                "yaml-foreign-anchor",
                format!("anchor &{name} is defined in another document"),
            )
            .at(file, span, "alias used here")
            .help("anchors do not cross `---`: define the anchor in this document, or repeat the value"),
        });
    }
    Some(p)
}

/// Keeps the first `max` diagnostics of each file (diagnostics sorted by file) and counts the
/// rest in one diagnostic, an error if any of them is one.
fn cap_per_file(diags: &mut Diagnostics, max: usize) {
    let file_of = |d: &Diagnostic| d.primary.as_ref().map(|l| l.file.clone());
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(diags.items.len().min(4096));
    let mut items = std::mem::take(&mut diags.items).into_iter().peekable();
    while let Some(first) = items.next() {
        let file = file_of(&first);
        let mut group = vec![first];
        while let Some(d) = items.next_if(|d| file_of(d) == file) {
            group.push(d);
        }
        let (Some(file), true) = (file, group.len() > max) else {
            kept.append(&mut group);
            continue;
        };
        let rest = group.split_off(max);
        let errors = rest.iter().filter(|d| d.is_error()).count();
        let at = rest[0].primary.as_ref().map_or(0..0, |l| l.span.clone());
        let more = if errors > 0 {
            Diagnostic::error("more-diagnostics", "")
        } else {
            Diagnostic::warning("more-diagnostics", "")
        };
        let mut more = more
            .at(&file, at, "and from here on")
            .help("fix the ones above and render again; a file reports its first 100 diagnostics");
        more.message = format!(
            "{} more diagnostic{} in {file} ({errors} error{}) not shown",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" },
        );
        if errors == 0 {
            more.severity = Severity::Warning;
        }
        kept.append(&mut group);
        kept.push(more);
    }
    diags.items = kept;
}

/// A converted object rendered: its Kumori binding rendered into it (the image checked as
/// `spec.image` is), checked against Kubernetes' budgets, and the locations of its fields.
fn finish(
    tree: &dyn SourceTree,
    mut obj: SourceObject<'_>,
    limits: &Limits,
    modules: &mut kumori::ModuleCache,
    diags: &mut Diagnostics,
) -> (Manifest, Check) {
    if let (Some(binding), Object::Component(c)) = (&obj.kumori, &mut obj.object)
        && let Some(r) = kumori::render_binding_cached(tree, binding, modules, diags)
    {
        // Not shared yet: no copy.
        let c = std::sync::Arc::make_mut(c);
        match names::image_reference(&r.image) {
            Ok(()) => c.spec.image = r.image,
            Err(e) => diags.push(convert::invalid_image(
                binding.file,
                binding.span.clone(),
                &r.image,
                &e,
                "the image this binding renders",
            )),
        }
        let a = &mut c.metadata.annotations;
        a.reserve(3);
        a.insert(keys::KUMORI_RENDERED.into(), r.rendered);
        a.insert(keys::KUMORI_DIGEST.into(), r.digest);
        a.insert(keys::KUMORI_SOURCE.into(), r.source);
    }
    check_budgets(&obj, limits, diags);
    let document = diags.files.location(obj.file, obj.doc_span.start);
    // `obj.spans` is sorted by path, as `SourceInfo` keeps its fields: `Check::spans` follows.
    let mut spans = Vec::with_capacity(obj.spans.len());
    let fields: Vec<FieldAt> = obj
        .spans
        .into_iter()
        .map(|(path, span)| {
            let at = diags.files.location(obj.file, span.start);
            spans.push(span);
            FieldAt {
                path: path.into_boxed_str(),
                line: at.line,
                column: at.column,
            }
        })
        .collect();
    let source = SourceInfo::new(document, fields);
    let check = Check {
        doc_span: obj.doc_span,
        spans,
        name_derived: obj.name_derived,
        broken: obj.broken,
    };
    let manifest = Manifest {
        object: obj.object,
        source: Some(source),
    };
    (manifest, check)
}

/// Counts bytes written, keeping none.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reports an object whose annotations or whole JSON exceed what the cluster accepts
/// ([`Limits::annotation_bytes`], [`Limits::object_bytes`]): better at file:line here than as a
/// refused apply.
fn check_budgets(obj: &SourceObject<'_>, limits: &Limits, diags: &mut Diagnostics) {
    let span = obj
        .spans
        .get("spec.kumori")
        .cloned()
        .unwrap_or(obj.doc_span.start..obj.doc_span.start);
    let annotations: usize = obj
        .object
        .meta()
        .annotations
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if annotations > limits.annotation_bytes {
        diags.push(
            Diagnostic::error(
                "annotations-too-large",
                format!(
                    "the annotations of {} take {}, over the {} an object may have (annotationBytes)",
                    obj.describe(),
                    bytes_text(annotations as u64),
                    bytes_text(limits.annotation_bytes as u64)
                ),
            )
            .at(obj.file, span.clone(), "this object")
            .help("Kubernetes refuses objects with more annotations (keys and values together): shorten them, or make what a Kumori component reads with `io.Open` smaller"),
        );
    }
    let mut count = Count(0);
    if serde_json::to_writer(&mut count, &obj.object.to_value()).is_ok()
        && count.0 > limits.object_bytes
    {
        diags.push(
            Diagnostic::error(
                "object-too-large",
                format!(
                    "{} takes {} as JSON, over the limit of {} (objectBytes)",
                    obj.describe(),
                    bytes_text(count.0 as u64),
                    bytes_text(limits.object_bytes as u64)
                ),
            )
            .at(obj.file, span, "this object")
            .help("the API server refuses requests this large: make the object smaller; the limit is `objectBytes` (`--limit objectBytes=SIZE`)"),
        );
    }
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
    // Room for exactly what is added: the labels of every object are held for the whole pass.
    labels.reserve(5);
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
