//! Shared helpers for integration tests that run against the real stand-ins started by `scripts/test`.
#![allow(dead_code)]

/// Address or setting of a stand-in exported by `scripts/test`. Missing means the test was run
/// outside the harness: fail loudly rather than skip.
pub fn stand_in(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set: run the tests through scripts/test"),
    }
}
