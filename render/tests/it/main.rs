//! Integration tests of the render crate: one binary, one module per area.

mod kumori;
mod vimana;
