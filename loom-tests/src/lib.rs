//! loom models of corepool live in `tests/`; this crate has no code of its own.
