//! Integration tests of the render crate: one binary, one module per area.

mod corpus;
mod help;
mod hostile;
mod kumori;
mod vimana;
