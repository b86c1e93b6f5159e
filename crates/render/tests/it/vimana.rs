//! Vimana sources through the public API: one failing and one passing case per rule.
