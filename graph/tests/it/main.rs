//! The integration tests of the graph crate, in one binary (STYLE 6).

mod errors;
mod fixtures;
mod graphs;
mod plans;
mod properties;
mod views;
