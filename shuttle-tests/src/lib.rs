//! shuttle scenarios of whole corepool pools live in `tests/`; this crate has no code of its own.
