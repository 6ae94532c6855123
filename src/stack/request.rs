//! What the pipeline asks of the engine, and what it gets back.

use std::time::Instant;

use aws_sdk_cloudformation::types::{Capability, StackStatus};

use super::events::StackEventLine;
use super::poll::PollPolicy;
use super::table::ResourceChange;

/// One deploy of one stack.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub stack_name: String,
    pub template_body: String,
    /// The pushed image as a digest reference → `ImageUri`. `None` keeps the stack's image on an
    /// update (and is an error on a create).
    pub image_uri: Option<String>,
    pub scaling: Scaling,
    /// `parameter-overrides`, already parsed (see [`super::parse_overrides`]); they win over the
    /// image and the scaling values.
    pub overrides: Vec<(String, String)>,
    pub capabilities: Vec<Capability>,
    pub tags: Vec<(String, String)>,
    pub termination_protection: bool,
    /// Unique per run (see [`change_set_name`](super::change_set_name)).
    pub change_set_name: String,
    pub plan: DeployPlan,
}

/// Capacity and service shape, each passed only when the template declares its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaling {
    /// → `MinCapacity`
    pub min: u32,
    /// → `MaxCapacity`
    pub max: u32,
    /// → `DesiredCount`. `None` on an update: the service's live count, clamped to min..max.
    pub desired: Option<u32>,
    /// → `TargetCpuUtilization`
    pub target_cpu: u32,
    /// → `ContainerPort`
    pub container_port: u16,
    /// → `HealthCheckPath`
    pub health_check_path: String,
}

impl Default for Scaling {
    /// The shipped template's defaults.
    fn default() -> Self {
        Self {
            min: 2,
            max: 10,
            desired: None,
            target_cpu: 70,
            container_port: 8080,
            health_check_path: "/health".into(),
        }
    }
}

/// How far to go and how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct DeployPlan {
    /// false: preview — create and describe the change set, never execute it.
    pub execute: bool,
    /// Keep an unexecuted (preview) change set instead of deleting it.
    pub keep_change_set: bool,
    /// The action's own time budget (`timeout-minutes`); CloudFormation is not stopped by it.
    pub deadline: Instant,
    pub poll: PollPolicy,
}

/// Whether the change set creates the stack or updates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// The result of a deploy or a preview.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub stack_name: String,
    pub stack_id: String,
    pub operation: Operation,
    /// The stack's `ImageUri` before this deploy (`None` on a create): what a rollback redeploys.
    /// Read from the same `DescribeStacks` the deploy starts with, so it costs no extra call.
    pub previous_image: Option<String>,
    /// The stack's status at the end (for a preview of a new stack: `REVIEW_IN_PROGRESS` while
    /// the kept change set exists, or absent → `None`).
    pub status: Option<StackStatus>,
    pub change_set_id: Option<String>,
    /// false: the change set was empty ("no changes"); nothing was executed.
    pub has_changes: bool,
    /// true when the change set was executed and the stack settled successfully.
    pub executed: bool,
    /// The change set was kept (preview with keep) rather than deleted.
    pub change_set_kept: bool,
    pub changes: Vec<ResourceChange>,
    /// Parameters this deploy sets to another value than the stack has (all of them on a
    /// create), for a reviewer: the change set lists resources, not parameters.
    pub parameter_changes: Vec<ParameterChange>,
    /// Stack outputs (`DescribeStacks`), in the order CloudFormation lists them.
    pub outputs: Vec<(String, String)>,
    /// Events of this operation, oldest first.
    pub events: Vec<StackEventLine>,
    /// CloudFormation API operations this deploy made.
    pub cfn_calls: u32,
}

/// One parameter's value now and as proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterChange {
    pub name: String,
    /// `None` on a create or for a parameter the stack did not have.
    pub old: Option<String>,
    pub new: String,
}

impl DeployOutcome {
    /// The output named `name` (e.g. `ServiceUrl`).
    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The result of a destroy.
#[derive(Debug, Clone)]
pub struct DestroyOutcome {
    pub stack_name: String,
    /// false: there was no stack to delete (a success, said so).
    pub existed: bool,
    /// The stack's resources when the delete started (logical id, type).
    pub removed: Vec<(String, String)>,
    pub events: Vec<StackEventLine>,
    pub cfn_calls: u32,
}
