//! `destroy`: delete the stack and follow it to DELETE_COMPLETE.

use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_cloudformation::types::StackStatus;

use super::clients::Clients;
use super::diagnose::explain_failure;
use super::error::StackError;
use super::events::EventStream;
use super::lookup::{find_stack, sdk_error, stack_resources};
use super::poll::PollPolicy;
use super::request::DestroyOutcome;
use super::status::{Phase, stack_phase};
use super::wait::{Settled, Wait, wait_settled};
use crate::runner;

/// Deletes the stack. An absent stack is a success (said so); termination protection is a refusal,
/// not something to turn off behind the user's back.
pub async fn destroy(
    clients: &Clients,
    stack_name: &str,
    deadline: Instant,
    poll: PollPolicy,
) -> Result<DestroyOutcome> {
    let calls_at_start = clients.cfn_calls();
    let cfn = &clients.cfn;
    let mut outcome = DestroyOutcome {
        stack_name: stack_name.to_string(),
        existed: false,
        removed: Vec::new(),
        events: Vec::new(),
        cfn_calls: 0,
    };
    let Some(mut stack) = find_stack(cfn, stack_name).await? else {
        runner::info(&format!(
            "Stack {stack_name} does not exist; nothing to delete."
        ));
        outcome.cfn_calls = clients.cfn_calls() - calls_at_start;
        return Ok(outcome);
    };
    if stack.enable_termination_protection() == Some(true) {
        return Err(StackError::TerminationProtected {
            stack: stack_name.to_string(),
        }
        .into());
    }
    let id = stack.stack_id().unwrap_or(stack_name).to_string();
    let status = stack
        .stack_status()
        .cloned()
        .unwrap_or(StackStatus::from("UNKNOWN"));
    if stack_phase(&status) == Phase::InProgress && status != StackStatus::ReviewInProgress {
        runner::info(&format!(
            "Stack {stack_name} is {}; waiting for it to settle before deleting.",
            status.as_str()
        ));
        let wait = Wait {
            name: stack_name,
            stack: &id,
            doing: "waiting for a running operation to end",
            deadline,
            poll,
        };
        match wait_settled(cfn, wait, None).await? {
            Settled::Stack(s) => stack = *s,
            Settled::Gone => return Ok(outcome),
        }
    }
    outcome.existed = stack.stack_status() != Some(&StackStatus::DeleteComplete);
    if !outcome.existed {
        runner::info(&format!("Stack {stack_name} is already deleted."));
        return Ok(outcome);
    }

    // What is about to go, for the report: events name only what CloudFormation got to.
    outcome.removed = list_resources(cfn, &id).await?;
    let mut events = EventStream::after_current(cfn, &id).await?;
    cfn.delete_stack()
        .stack_name(&id)
        .set_role_arn(clients.service_role().map(String::from))
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("deleting stack {stack_name}"))?;
    let settled = {
        let _group = runner::group(&format!("Stack {stack_name}: delete events"));
        let wait = Wait {
            name: stack_name,
            stack: &id,
            doing: "deleting",
            deadline,
            poll,
        };
        wait_settled(cfn, wait, Some(&mut events)).await
    };
    outcome.events = events.lines;
    match settled? {
        Settled::Gone => {}
        Settled::Stack(s) if s.stack_status() == Some(&StackStatus::DeleteComplete) => {}
        Settled::Stack(s) => {
            let status = s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let root_cause = explain_failure(clients, stack_name, &s, &outcome.events).await;
            return Err(StackError::StackFailed {
                stack: stack_name.to_string(),
                status,
                root_cause,
            }
            .into());
        }
    }
    runner::info(&format!(
        "Stack {stack_name} deleted ({} resources removed).",
        outcome.removed.len()
    ));
    outcome.cfn_calls = clients.cfn_calls() - calls_at_start;
    Ok(outcome)
}

/// The stack's resources as (logical id, type).
async fn list_resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<(String, String)>> {
    Ok(stack_resources(cfn, stack)
        .await?
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or_default().to_string(),
                r.resource_type().unwrap_or_default().to_string(),
            )
        })
        .collect())
}
