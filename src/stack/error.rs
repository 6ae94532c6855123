//! Errors a caller must branch on. Everything else is `anyhow` with context.

use std::time::Duration;

/// A deploy or destroy that reached CloudFormation and ended badly, in a way the pipeline reacts
/// to (exit code, annotation, rollback of the image) rather than just printing.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// An override or the request names a parameter the template does not declare, or leaves a
    /// required one without a value. Raised before any AWS call that changes anything.
    #[error("invalid parameters for stack {stack}: {problems}")]
    InvalidParameters { stack: String, problems: String },

    /// CloudFormation could not make the change set (other than "no changes").
    #[error("change set {change_set} for stack {stack} failed: {reason}")]
    ChangeSetFailed {
        stack: String,
        change_set: String,
        reason: String,
    },

    /// The operation ran and the stack ended in a failed or rolled-back state.
    #[error("stack {stack} ended in {status}: {root_cause}")]
    StackFailed {
        stack: String,
        status: String,
        root_cause: String,
    },

    /// A previous update could not roll back; only the operator can repair it.
    #[error(
        "stack {stack} is in UPDATE_ROLLBACK_FAILED and cannot be updated; repair it with: {command}"
    )]
    NeedsRepair { stack: String, command: String },

    /// Termination protection is on: destroy refuses rather than turning it off.
    #[error(
        "stack {stack} has termination protection enabled; turn it off first: aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {stack}"
    )]
    TerminationProtected { stack: String },

    /// The action's own time budget ran out. CloudFormation keeps going without us.
    #[error(
        "gave up waiting for stack {stack} after {:.1} s (last status {status}) while {doing}; CloudFormation keeps going: follow it with `aws cloudformation describe-stack-events --stack-name {stack}`",
        waited.as_secs_f64()
    )]
    Timeout {
        stack: String,
        status: String,
        doing: String,
        waited: Duration,
    },
}
