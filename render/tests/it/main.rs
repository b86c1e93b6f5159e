//! Integration tests of the render crate: one binary, one module per area.

mod corpus;
mod help;
mod hostile;
mod incremental;
mod kumori;
mod vimana;
