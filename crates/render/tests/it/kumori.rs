//! Kumori rendering through the public API (issue 3).
