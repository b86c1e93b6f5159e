//! How far the YAML parser may read ahead of the values it gives: a meter over the text that
//! bounds the tokens saphyr-parser can queue before an event.

use std::cell::Cell;
use std::rc::Rc;

/// The text as the parser reads it, a character at a time, at most `gap` bytes past where the
/// last event was given. saphyr-parser tokenizes a flow collection that starts where a block key
/// may start (`[0, 0, ...]` at the top of a document) whole before it gives an event, and keeps
/// every token: 8 MB of such a list would take 1.4 GB. No value of an object may be longer than
/// [`Limits::object_bytes`], so reading further ahead than that without a value is refused.
pub(super) struct ReadAhead {
    read: Rc<Cell<usize>>,
    until: Rc<Cell<usize>>,
    starved: Rc<Cell<bool>>,
    gap: usize,
}

impl ReadAhead {
    /// A meter that lets the parser read `gap` bytes before its first event.
    pub(super) fn new(gap: usize) -> Self {
        ReadAhead {
            read: Rc::new(Cell::new(0)),
            until: Rc::new(Cell::new(gap)),
            starved: Rc::new(Cell::new(false)),
            gap,
        }
    }

    /// The characters of `text`, ending early once the parser reads too far ahead.
    pub(super) fn reader<'t>(&self, text: &'t str) -> impl Iterator<Item = char> + 't {
        let (read, until, starved) = (self.read.clone(), self.until.clone(), self.starved.clone());
        let mut chars = text.chars();
        std::iter::from_fn(move || {
            if read.get() >= until.get() {
                starved.set(true);
                return None;
            }
            let c = chars.next()?;
            read.set(read.get() + c.len_utf8());
            Some(c)
        })
    }

    /// An event was given: the parser may read `gap` further.
    pub(super) fn advance(&self) {
        self.until.set(self.read.get().saturating_add(self.gap));
    }

    /// Whether the parser was refused text: what it gave since then is not to be trusted.
    pub(super) fn starved(&self) -> bool {
        self.starved.get()
    }

    /// The byte offset where reading stopped.
    pub(super) fn stopped_at(&self) -> usize {
        self.read.get()
    }
}
