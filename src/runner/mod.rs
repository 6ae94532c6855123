//! GitHub Actions runner I/O: inputs, workflow commands, outputs and the step summary.
//! Outside Actions (no `GITHUB_ACTIONS`) the same calls print plain, readable text.

pub mod commands;
pub mod inputs;
pub mod markdown;
pub mod outputs;
pub mod summary;
pub mod text;

pub use commands::{Group, add_mask, error, group, in_actions, info, notice, panicked, warning};
pub use outputs::Outputs;
