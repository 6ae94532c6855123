//! The stack deploy engine: CloudFormation change sets, live events, failure diagnosis, preview
//! and destroy (issue 6).
//!
//! ```text
//! deploy(clients, req)
//!   validate_parameters        pure: unknown overrides, incoherent capacity → InvalidParameters
//!   find the stack             absent / REVIEW_IN_PROGRESS → CREATE
//!                              ROLLBACK_COMPLETE → delete, wait, CREATE
//!                              *_IN_PROGRESS → wait (bounded by plan.deadline), look again
//!                              UPDATE_ROLLBACK_FAILED → NeedsRepair { continue-update-rollback … }
//!                              otherwise → UPDATE (unset parameters: UsePreviousValue;
//!                              DesiredCount unset: the service's live count, clamped min..max)
//!   create change set, wait    empty ("didn't contain changes") → success, has_changes = false
//!                              failed → delete it, ChangeSetFailed { reason }
//!   describe (all pages)       table printed in a log group; `changes` for the summary
//!   preview (execute = false)  stop here; delete the change set unless keep_change_set
//!   execute, stream events     backoff 1 s → 15 s jittered; throttling tolerated; past the
//!                              deadline → Timeout (CloudFormation keeps going)
//!   failed                     root cause (first failed resource event of this operation; for an
//!                              ECS service, the stopped tasks' reasons) → ::error, StackFailed
//!   succeeded                  outputs from DescribeStacks
//! ```
//!
//! `deploy` and `destroy` open their own log groups (change set, events), so callers should not
//! wrap them in a group. Every outcome carries the number of CloudFormation calls it made.

mod changeset;
mod clients;
mod deploy;
mod destroy;
mod diagnose;
mod error;
mod events;
mod lookup;
mod overrides;
mod params;
mod poll;
mod request;
mod service;
pub mod status;
mod table;
mod template;
mod wait;

pub use aws_sdk_cloudformation::types::{Capability, StackStatus};
pub use changeset::{change_set_name, discard_unexecuted, is_empty_change_set_reason};
pub use clients::Clients;
pub use deploy::deploy;
pub use destroy::destroy;
pub use error::StackError;
pub use events::{StackEventLine, is_cancellation, root_cause};
pub use overrides::{override_file, parse_overrides};
pub use params::{ParamPlan, validate_parameters};
pub use poll::PollPolicy;
pub use request::{
    DeployOutcome, DeployPlan, DeployRequest, DestroyOutcome, Operation, ParameterChange, Scaling,
};
pub use service::ServiceRef;
pub use table::{
    ResourceChange, changes_markdown, changes_table_markdown, changes_table_text, counts_line,
};
pub use template::{ParamDecl, TemplateInfo};

/// The stack the action deploys unless given another template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../cloudformation/ecs-webapp.yml");
