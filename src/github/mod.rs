//! GitHub integration: a Deployment record for `mode: deploy` (marked inactive by `mode:
//! destroy`), and one pull-request comment: the change-set plan for `mode: preview`, the preview
//! environment's URL for `mode: deploy`. Best effort by design: no token → a notice, a failed API
//! call → a warning; nothing here can fail a deploy.

pub mod client;
pub mod comment;
pub mod deployment;
pub mod settings;

pub use comment::{CommentOutcome, upsert_plan_comment};
pub use deployment::{DeploymentState, DeploymentTracker, EnvironmentKind, deactivate_environment};
pub use settings::{GithubSettings, Repository};
