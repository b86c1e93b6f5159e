//! Incremental rendering: a render that reuses the files of the previous one whose reads are
//! answered as before, so that a commit changing one file re-renders that file (and the
//! Kumori bindings in it) only, while the checks between objects, the labels' defaults and the
//! sorting still run over everything: the output is the one a full render gives.

use crate::vimana::{self, Cache};
use model::Manifest;

use crate::{Options, Output, SourceTree};

/// A cache of the last render, by file. Each YAML file is kept with what it asked of the tree
/// (its own content, and the module files and `io.Open` files its Kumori bindings read), as
/// fingerprints ([`SourceTree::fingerprint`]: a Git blob id, or a hash of the content); the
/// next render reuses it while every answer is the same. Only the files of the last render
/// are kept, and a change of options empties it. The objects go out with the output; the
/// next render reuses files only once they are given back ([`Incremental::give_back`]).
#[derive(Default)]
pub struct Incremental {
    options: Option<Options>,
    cache: Cache,
}

impl Incremental {
    /// An empty cache: its first render is a full one.
    pub fn new() -> Self {
        Incremental::default()
    }

    /// Renders as [`crate::render`] does, reusing what the last render of this cache made of the
    /// files that did not change.
    pub fn render(&mut self, tree: &dyn SourceTree, options: &Options) -> Output {
        if self.options.as_ref() != Some(options) {
            self.cache = Cache::default();
            self.options = Some(options.clone());
        }
        vimana::run(tree, options, Some(&mut self.cache))
    }

    /// Takes back the objects of the last render's output (unchanged, in their order; a graph
    /// gives them back with `into_manifests`), so that the next render moves the objects of
    /// the files that did not change instead of copying them. Without them, the next render
    /// renders every file afresh; anything else empties the cache.
    pub fn give_back(&mut self, manifests: Vec<Manifest>) {
        self.cache.give_back(manifests);
    }

    /// How many files the last render read and rendered afresh (the others were reused).
    pub fn rerendered(&self) -> usize {
        self.cache.rerendered
    }

    /// How many files the cache holds.
    pub fn files(&self) -> usize {
        self.cache.files.len()
    }
}
