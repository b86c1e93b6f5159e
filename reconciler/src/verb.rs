//! What a pass does to one object: the verb of a plan step, or the dry run that checks it first.
//! Counted in a pass's outcome and named in its failures; shown as one lowercase word.

use std::fmt;

/// One kind of write (or check) of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// A server-side dry run of the object in its final form, before anything is written.
    DryRun,
    /// The object is new.
    Create,
    /// The object changes (a Server's weights excepted).
    Update,
    /// A Server's weights move, through the rollout engine.
    Weights,
    /// A Server about to be deleted has its weights emptied first.
    Drain,
    /// The object is pruned.
    Delete,
}

impl Verb {
    /// The word printed for it: `dry-run`, `create`, `update`, `weights`, `drain`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::DryRun => "dry-run",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Weights => "weights",
            Verb::Drain => "drain",
            Verb::Delete => "delete",
        }
    }
}

impl From<&graph::Action> for Verb {
    fn from(action: &graph::Action) -> Verb {
        match action {
            graph::Action::Create { .. } => Verb::Create,
            graph::Action::Update { .. } => Verb::Update,
            graph::Action::Weights { .. } => Verb::Weights,
            graph::Action::Drain { .. } => Verb::Drain,
            graph::Action::Delete { .. } => Verb::Delete,
        }
    }
}

impl fmt::Display for Verb {
    /// Pads like a `str` does, so that `{verb:>7}` lines up columns.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Verb;

    #[test]
    fn verbs_print_as_the_words_of_the_plan_and_pad_like_text() {
        assert_eq!(Verb::DryRun.to_string(), "dry-run");
        assert_eq!(format!("{:>7}", Verb::Delete), " delete");
    }
}
