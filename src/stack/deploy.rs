//! `deploy`: find the stack's state, make a change set, show it, execute it, follow it.

use anyhow::{Context, Result};
use aws_sdk_cloudformation::types::{Stack, StackStatus};

use super::changeset::{self, ChangeSetRef, Created, Ready};
use super::clients::Clients;
use super::diagnose::explain_failure;
use super::error::StackError;
use super::events::EventStream;
use super::lookup::{find_stack, image_of, outputs, parameter_names, sdk_error};
use super::params::validate_parameters;
use super::request::{DeployOutcome, DeployRequest, Operation, ParameterChange};
use super::service::{find_service, live_desired_count};
use super::status::{Phase, stack_phase};
use super::table::{ResourceChange, changes_table_text};
use super::wait::{Settled, Wait, wait_settled};
use crate::runner;

/// Deploys (or previews, with `plan.execute == false`) one stack. See the module docs of
/// [`crate::stack`] for the state machine.
pub async fn deploy(clients: &Clients, req: &DeployRequest) -> Result<DeployOutcome> {
    let calls_at_start = clients.cfn_calls();
    let result = deploy_counted(clients, req).await;
    result.map(|mut outcome| {
        outcome.cfn_calls = clients.cfn_calls() - calls_at_start;
        outcome
    })
}

async fn deploy_counted(clients: &Clients, req: &DeployRequest) -> Result<DeployOutcome> {
    let plan = validate_parameters(&req.template_body, req)?;
    let cfn = &clients.cfn;
    let name = req.stack_name.as_str();

    let existing = ready_stack(clients, req).await?;
    let op = match &existing {
        Some(s) if s.stack_status() != Some(&StackStatus::ReviewInProgress) => Operation::Update,
        _ => Operation::Create,
    };
    let previous = match (op, &existing) {
        (Operation::Update, Some(s)) => Some(parameter_names(s)),
        _ => None,
    };
    let live = match op {
        Operation::Update if plan.desired_from_live => {
            read_live_desired(clients, name, plan.ecs_service.as_deref()).await
        }
        _ => None,
    };
    let parameters = plan.parameters(name, previous.as_deref(), live)?;
    let parameter_changes = parameter_changes(existing.as_ref(), &parameters);
    let mut outcome = DeployOutcome {
        stack_name: name.to_string(),
        stack_id: existing
            .as_ref()
            .and_then(|s| s.stack_id())
            .unwrap_or_default()
            .to_string(),
        operation: op,
        previous_image: existing.as_ref().and_then(image_of),
        status: existing.as_ref().and_then(|s| s.stack_status().cloned()),
        change_set_id: None,
        has_changes: false,
        executed: false,
        change_set_kept: false,
        changes: Vec::new(),
        parameter_changes,
        // Also the answer of a no-op run: outputs are reported either way.
        outputs: existing.as_ref().map(outputs).unwrap_or_default(),
        events: Vec::new(),
        cfn_calls: 0,
    };

    let cs = match changeset::create(clients, req, op, parameters).await? {
        Created::Made(cs) => cs,
        Created::NoChanges => return no_changes(clients, req, existing.as_ref(), outcome).await,
    };
    outcome.stack_id = cs.stack_id.clone();
    outcome.change_set_id = Some(cs.id.clone());

    let first_page = match changeset::wait(cfn, name, &cs, req.plan.deadline, req.plan.poll).await?
    {
        Ready::Complete(page) => page,
        Ready::NoChanges => {
            changeset::delete(cfn, &cs).await?;
            return no_changes(clients, req, existing.as_ref(), outcome).await;
        }
        Ready::Failed(reason) => {
            changeset::delete(cfn, &cs).await?;
            discard_review_stack(clients, op, &cs).await;
            let change_set = req.change_set_name.clone();
            return Err(StackError::ChangeSetFailed {
                stack: name.to_string(),
                change_set,
                reason,
            }
            .into());
        }
    };
    outcome.changes = changeset::all_changes(cfn, &cs, &first_page).await?;
    outcome.has_changes = true;
    show_changes(name, op, &req.change_set_name, &outcome.changes);

    if req.plan.execute {
        execute_and_follow(clients, req, &cs, outcome).await
    } else {
        finish_preview(clients, req, &cs, outcome).await
    }
}

/// The parameters given a value that differs from the stack's (kept ones are not given one).
/// A `NoEcho` value reads back masked, so whether it changes cannot be told: it is left out.
fn parameter_changes(
    existing: Option<&aws_sdk_cloudformation::types::Stack>,
    next: &[aws_sdk_cloudformation::types::Parameter],
) -> Vec<ParameterChange> {
    next.iter()
        .filter_map(|p| {
            let (name, new) = (p.parameter_key()?, p.parameter_value()?);
            let old = existing
                .and_then(|s| {
                    s.parameters()
                        .iter()
                        .find(|q| q.parameter_key() == Some(name))
                })
                .and_then(|q| q.parameter_value());
            let masked = old.is_some_and(|o| !o.is_empty() && o.chars().all(|c| c == '*'));
            (old != Some(new) && !masked).then(|| ParameterChange {
                name: name.to_string(),
                old: old.map(String::from),
                new: new.to_string(),
            })
        })
        .collect()
}

/// An empty change set is a success: nothing runs, the stack's outputs are still reported.
async fn no_changes(
    clients: &Clients,
    req: &DeployRequest,
    existing: Option<&Stack>,
    outcome: DeployOutcome,
) -> Result<DeployOutcome> {
    runner::info(&format!("Stack {}: no changes.", req.stack_name));
    apply_termination_protection(clients, req, existing).await?;
    Ok(outcome)
}

/// A preview stops after the description: the change set is kept only when asked.
async fn finish_preview(
    clients: &Clients,
    req: &DeployRequest,
    cs: &ChangeSetRef,
    mut outcome: DeployOutcome,
) -> Result<DeployOutcome> {
    if req.plan.keep_change_set {
        outcome.change_set_kept = true;
        runner::info(&format!(
            "Preview: change set {} kept, not executed.",
            cs.id
        ));
    } else {
        changeset::delete(&clients.cfn, cs).await?;
        discard_review_stack(clients, outcome.operation, cs).await;
        runner::info("Preview: change set deleted, not executed.");
    }
    Ok(outcome)
}

/// Executes the change set and follows the stack's events until it settles; a failure becomes
/// [`StackError::StackFailed`] with its root cause.
async fn execute_and_follow(
    clients: &Clients,
    req: &DeployRequest,
    cs: &ChangeSetRef,
    mut outcome: DeployOutcome,
) -> Result<DeployOutcome> {
    let cfn = &clients.cfn;
    let name = req.stack_name.as_str();
    let mut events = EventStream::after_current(cfn, &cs.stack_id).await?;
    changeset::execute(cfn, cs, &req.change_set_name).await?;
    let settled = {
        let _group = runner::group(&format!(
            "Stack {name}: {} events",
            op_verb(outcome.operation)
        ));
        let wait = Wait {
            name,
            stack: &cs.stack_id,
            doing: "deploying",
            deadline: req.plan.deadline,
            poll: req.plan.poll,
        };
        wait_settled(cfn, wait, Some(&mut events)).await
    };
    outcome.events = events.lines;
    let stack = match settled? {
        Settled::Stack(s) => *s,
        Settled::Gone => {
            let root_cause = "the stack was deleted while deploying".into();
            return Err(StackError::StackFailed {
                stack: name.to_string(),
                status: "DELETE_COMPLETE".into(),
                root_cause,
            }
            .into());
        }
    };
    let status = stack
        .stack_status()
        .cloned()
        .unwrap_or(StackStatus::from("UNKNOWN"));
    outcome.status = Some(status.clone());
    if stack_phase(&status) != Phase::Succeeded || status == StackStatus::DeleteComplete {
        let root_cause = explain_failure(clients, name, &stack, &outcome.events).await;
        return Err(StackError::StackFailed {
            stack: name.to_string(),
            status: status.as_str().into(),
            root_cause,
        }
        .into());
    }
    outcome.executed = true;
    outcome.outputs = outputs(&stack);
    apply_termination_protection(clients, req, Some(&stack)).await?;
    Ok(outcome)
}

fn op_verb(op: Operation) -> &'static str {
    match op {
        Operation::Create => "create",
        Operation::Update => "update",
    }
}

fn show_changes(stack: &str, op: Operation, change_set: &str, changes: &[ResourceChange]) {
    let _group = runner::group(&format!(
        "Stack {stack}: change set {change_set} ({})",
        op_verb(op)
    ));
    runner::info(changes_table_text(changes).trim_end());
}

/// The stack as it can be deployed to: `None` (create), `REVIEW_IN_PROGRESS` (create), or a
/// settled stack (update). Waits out running operations and clears a failed first create.
async fn ready_stack(clients: &Clients, req: &DeployRequest) -> Result<Option<Stack>> {
    let cfn = &clients.cfn;
    let name = req.stack_name.as_str();
    let mut stack = find_stack(cfn, name).await?;
    // Bounded: each round either returns or waits for CloudFormation to finish something.
    for _ in 0..4 {
        let Some(s) = stack.take() else {
            return Ok(None);
        };
        let status = s
            .stack_status()
            .cloned()
            .unwrap_or(StackStatus::from("UNKNOWN"));
        let id = s.stack_id().unwrap_or(name).to_string();
        match status {
            StackStatus::ReviewInProgress => return Ok(Some(s)),
            StackStatus::DeleteComplete => return Ok(None),
            StackStatus::UpdateRollbackFailed => {
                return Err(StackError::NeedsRepair {
                    stack: name.to_string(),
                    command: format!(
                        "aws cloudformation continue-update-rollback --stack-name {name}"
                    ),
                }
                .into());
            }
            StackStatus::RollbackFailed | StackStatus::DeleteFailed => {
                return Err(StackError::NeedsRepair {
                    stack: name.to_string(),
                    command: format!("aws cloudformation delete-stack --stack-name {name}"),
                }
                .into());
            }
            // A preview changes nothing, so it cannot clear the failed stack to show a create.
            StackStatus::RollbackComplete if !req.plan.execute => {
                anyhow::bail!(
                    "stack {name} is ROLLBACK_COMPLETE (its first create failed): a deploy deletes it and creates it again, so there is no change set to preview yet"
                );
            }
            StackStatus::RollbackComplete => {
                runner::warning(&format!(
                    "Stack {name} is ROLLBACK_COMPLETE (its first create failed and holds nothing); deleting it to create it again."
                ));
                delete_and_wait(clients, name, &id, req).await?;
                return Ok(None);
            }
            s if stack_phase(&s) == Phase::InProgress => {
                runner::info(&format!(
                    "Stack {name} is {}; waiting for it to settle first.",
                    s.as_str()
                ));
                let wait = Wait {
                    name,
                    stack: &id,
                    doing: "waiting for a running operation to end",
                    deadline: req.plan.deadline,
                    poll: req.plan.poll,
                };
                stack = match wait_settled(cfn, wait, None).await? {
                    Settled::Stack(s) => Some(*s),
                    Settled::Gone => None,
                };
            }
            _ => return Ok(Some(s)),
        }
    }
    anyhow::bail!("stack {name} kept changing state; try again once it has settled")
}

async fn delete_and_wait(
    clients: &Clients,
    name: &str,
    id: &str,
    req: &DeployRequest,
) -> Result<()> {
    let cfn = &clients.cfn;
    let mut events = EventStream::after_current(cfn, id).await?;
    cfn.delete_stack()
        .stack_name(id)
        .set_role_arn(clients.service_role().map(String::from))
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("deleting stack {name}"))?;
    let _group = runner::group(&format!("Stack {name}: delete events"));
    let wait = Wait {
        name,
        stack: id,
        doing: "deleting the failed stack",
        deadline: req.plan.deadline,
        poll: req.plan.poll,
    };
    match wait_settled(cfn, wait, Some(&mut events)).await? {
        Settled::Gone => Ok(()),
        Settled::Stack(s) if s.stack_status() == Some(&StackStatus::DeleteComplete) => Ok(()),
        Settled::Stack(s) => {
            let status = s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let root_cause = explain_failure(clients, name, &s, &events.lines).await;
            Err(StackError::StackFailed {
                stack: name.to_string(),
                status,
                root_cause,
            }
            .into())
        }
    }
}

/// A new stack whose change set is gone holds nothing: delete it so a preview or a failed
/// change set leaves no empty REVIEW_IN_PROGRESS stack behind. Best effort.
async fn discard_review_stack(clients: &Clients, op: Operation, cs: &ChangeSetRef) {
    if op != Operation::Create {
        return;
    }
    if let Err(err) = clients
        .cfn
        .delete_stack()
        .stack_name(&cs.stack_id)
        .set_role_arn(clients.service_role().map(String::from))
        .send()
        .await
    {
        runner::warning(&format!(
            "could not remove the empty stack {}: {}",
            cs.stack_id,
            super::lookup::sdk_error(err)
        ));
    }
}

/// The live desired count, or `None` (with a warning) when it cannot be read: then the stack's
/// previous value is kept, which never resets a scaled-out service either.
async fn read_live_desired(clients: &Clients, stack: &str, logical: Option<&str>) -> Option<u32> {
    let found = async {
        let Some(svc) = find_service(&clients.cfn, stack, logical).await? else {
            return Ok(None);
        };
        live_desired_count(&clients.ecs, &svc).await
    };
    match found.await {
        Ok(Some(n)) => {
            runner::info(&format!(
                "Stack {stack}: the service runs with desired count {n}; keeping it."
            ));
            Some(n)
        }
        Ok(None) => None,
        Err(e) => {
            runner::warning(&format!(
                "could not read the live desired count, keeping the stack's previous value: {e:#}"
            ));
            None
        }
    }
}

/// Termination protection as asked, changed only when it differs (no call on a steady rerun).
async fn apply_termination_protection(
    clients: &Clients,
    req: &DeployRequest,
    stack: Option<&Stack>,
) -> Result<()> {
    let current = stack
        .and_then(|s| s.enable_termination_protection())
        .unwrap_or(false);
    if stack.is_none() || current == req.termination_protection {
        return Ok(());
    }
    clients
        .cfn
        .update_termination_protection()
        .stack_name(&req.stack_name)
        .enable_termination_protection(req.termination_protection)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("setting termination protection of stack {}", req.stack_name))?;
    Ok(())
}
