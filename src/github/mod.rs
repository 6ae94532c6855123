//! GitHub integration: a Deployment record for `mode: deploy`, and the change-set plan as one
//! pull-request comment for `mode: preview`. Best effort by design: no token → a notice, a
//! failed API call → a warning; nothing here can fail a deploy.

pub mod client;
pub mod comment;
pub mod deployment;
pub mod settings;

pub use comment::{CommentOutcome, upsert_plan_comment};
pub use deployment::{DeploymentState, DeploymentTracker};
pub use settings::{GithubSettings, Repository};
