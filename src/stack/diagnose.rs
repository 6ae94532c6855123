//! Why a stack operation failed, in one line, annotated on the run.

use aws_sdk_cloudformation::types::Stack;

use super::clients::Clients;
use super::events::{StackEventLine, root_cause};
use super::service::{ServiceRef, find_service, stopped_task_reasons};
use crate::runner;

/// The root cause of a failed operation: the first failed resource event of this operation (not
/// the cascade of cancellations); for an ECS service, the reasons its tasks stopped. Returned for
/// the error value, which `main` prints once as the run's error annotation.
pub async fn explain_failure(
    clients: &Clients,
    stack_name: &str,
    stack: &Stack,
    events: &[StackEventLine],
) -> String {
    let status = stack
        .stack_status()
        .map(|s| s.as_str())
        .unwrap_or("UNKNOWN");
    let mut cause = match root_cause(events) {
        Some(e) => format!(
            "{} {} ({}): {}",
            e.logical_id,
            e.status.as_str(),
            e.resource_type,
            e.reason
        ),
        None => format!(
            "stack ended in {status}: {}",
            stack
                .stack_status_reason()
                .unwrap_or("no failed resource event was found")
        ),
    };
    if let Some(e) = root_cause(events).filter(|e| e.resource_type == "AWS::ECS::Service") {
        let svc = match ServiceRef::from_arn(&e.physical_id) {
            Some(s) => Ok(Some(s)),
            None => find_service(&clients.cfn, stack_name, Some(&e.logical_id)).await,
        };
        let reasons = match svc {
            Ok(Some(svc)) => stopped_task_reasons(&clients.ecs, &svc).await,
            Ok(None) => Ok(Vec::new()),
            Err(err) => Err(err),
        };
        match reasons {
            Ok(r) if !r.is_empty() => cause = format!("{cause}. Stopped tasks: {}", r.join(" | ")),
            Ok(_) => {}
            Err(err) => runner::warning(&format!(
                "could not read the service's stopped tasks: {err:#}"
            )),
        }
    }
    cause
}
