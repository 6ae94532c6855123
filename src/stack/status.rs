//! The one place CloudFormation statuses are classified. The waiter, the event stream and the
//! failure diagnosis all ask these functions, so the status lists live nowhere else.

use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};

/// Where a stack (or a resource) stands with respect to the operation running on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// An operation is running; wait.
    InProgress,
    /// Settled, and the last operation did what it was asked.
    Succeeded,
    /// Settled (or settling) after a failure or a rollback.
    Failed,
}

/// Classifies a stack status. Exhaustive over the statuses the SDK knows; a status added to the
/// service later is judged by its name's suffix, so a new `*_IN_PROGRESS` is still waited for.
pub fn stack_phase(status: &StackStatus) -> Phase {
    use StackStatus as S;
    match status {
        S::CreateInProgress
        | S::DeleteInProgress
        | S::ImportInProgress
        | S::ImportRollbackInProgress
        | S::RollbackInProgress
        | S::UpdateInProgress
        | S::UpdateRollbackInProgress
        // The update itself succeeded, but the stack cannot take another update until the old
        // resources are gone, so it is not settled yet.
        | S::UpdateCompleteCleanupInProgress
        | S::UpdateRollbackCompleteCleanupInProgress
        // A change set was created on a stack that does not exist yet: an execute moves it to
        // CREATE_IN_PROGRESS, so right after an execute this is still "in progress".
        | S::ReviewInProgress => Phase::InProgress,
        S::CreateComplete | S::UpdateComplete | S::ImportComplete | S::DeleteComplete => {
            Phase::Succeeded
        }
        S::CreateFailed
        | S::DeleteFailed
        | S::RollbackComplete
        | S::RollbackFailed
        | S::UpdateFailed
        | S::UpdateRollbackComplete
        | S::UpdateRollbackFailed
        | S::ImportRollbackComplete
        | S::ImportRollbackFailed => Phase::Failed,
        other => by_suffix(other.as_str()),
    }
}

/// Classifies a resource's status in a stack event.
pub fn resource_phase(status: &ResourceStatus) -> Phase {
    use ResourceStatus as R;
    match status {
        R::CreateInProgress
        | R::DeleteInProgress
        | R::ImportInProgress
        | R::ImportRollbackInProgress
        | R::RollbackInProgress
        | R::UpdateInProgress
        | R::UpdateRollbackInProgress
        | R::ExportInProgress
        | R::ExportRollbackInProgress => Phase::InProgress,
        R::CreateComplete
        | R::DeleteComplete
        | R::DeleteSkipped
        | R::ImportComplete
        | R::UpdateComplete
        | R::ExportComplete
        | R::RollbackComplete
        | R::UpdateRollbackComplete
        | R::ImportRollbackComplete => Phase::Succeeded,
        R::CreateFailed
        | R::DeleteFailed
        | R::ImportFailed
        | R::UpdateFailed
        | R::RollbackFailed
        | R::UpdateRollbackFailed
        | R::ImportRollbackFailed
        | R::ExportFailed
        | R::ExportRollbackComplete
        | R::ExportRollbackFailed => Phase::Failed,
        other => by_suffix(other.as_str()),
    }
}

/// Fallback for statuses newer than this SDK: CloudFormation's status names end in their phase.
fn by_suffix(status: &str) -> Phase {
    if status.ends_with("_IN_PROGRESS") {
        Phase::InProgress
    } else if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") {
        Phase::Succeeded
    } else {
        Phase::Failed
    }
}

/// The stack status that opens a rollback; its event's reason names the failed resources.
pub fn is_rollback_start(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::RollbackInProgress
            | StackStatus::UpdateRollbackInProgress
            | StackStatus::ImportRollbackInProgress
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_known_stack_status() {
        for s in StackStatus::values() {
            let status = StackStatus::from(*s);
            let phase = stack_phase(&status);
            let expected = if s.ends_with("_IN_PROGRESS") {
                Phase::InProgress
            } else if s.contains("FAILED") || s.contains("ROLLBACK") {
                Phase::Failed
            } else {
                Phase::Succeeded
            };
            assert_eq!(phase, expected, "{s}");
        }
    }

    #[test]
    fn unknown_statuses_fall_back_to_their_suffix() {
        assert_eq!(
            stack_phase(&StackStatus::from("MOVE_IN_PROGRESS")),
            Phase::InProgress
        );
        assert_eq!(
            stack_phase(&StackStatus::from("MOVE_COMPLETE")),
            Phase::Succeeded
        );
        assert_eq!(
            stack_phase(&StackStatus::from("MOVE_ROLLBACK_COMPLETE")),
            Phase::Failed
        );
        assert_eq!(
            resource_phase(&ResourceStatus::from("MOVE_FAILED")),
            Phase::Failed
        );
    }
}
