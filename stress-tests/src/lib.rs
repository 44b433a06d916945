//! Empty: corepool's stress tests are in `tests/stress.rs`, run by
//! `cargo test --release -p stress-tests -- --nocapture` (`scripts/test-all.sh` does).
