//! The change set lifecycle: create, wait, describe (all pages), delete.

use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, Parameter, Tag};

use super::clients::Clients;
use super::error::StackError;
use super::events::PollError;
use super::lookup::sdk_error;
use super::poll::PollPolicy;
use super::request::{DeployRequest, Operation};
use super::table::ResourceChange;

/// CloudFormation reports "nothing to change" only as a reason text, on a FAILED change set or
/// on a rejected CreateChangeSet: "The submitted information didn't contain changes. Submit
/// different information to create a change set." or "No updates are to be performed.".
pub fn is_empty_change_set_reason(reason: &str) -> bool {
    reason.contains("didn't contain changes")
        || reason.contains("did not contain changes")
        || reason.contains("No updates are to be performed")
}

/// A change set that exists.
#[derive(Debug, Clone)]
pub struct ChangeSetRef {
    pub id: String,
    pub stack_id: String,
}

/// What CreateChangeSet gave.
#[derive(Debug)]
pub enum Created {
    Made(ChangeSetRef),
    /// Rejected up front because nothing would change.
    NoChanges,
}

pub async fn create(
    clients: &Clients,
    req: &DeployRequest,
    op: Operation,
    parameters: Vec<Parameter>,
) -> Result<Created> {
    let kind = match op {
        Operation::Create => ChangeSetType::Create,
        Operation::Update => ChangeSetType::Update,
    };
    let tags = req
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Vec<_>>();
    let sent = clients
        .cfn
        .create_change_set()
        .stack_name(&req.stack_name)
        .change_set_name(&req.change_set_name)
        .change_set_type(kind)
        .template_body(&req.template_body)
        .set_parameters(Some(parameters))
        .set_capabilities(Some(req.capabilities.clone()))
        .set_tags(Some(tags))
        .set_role_arn(clients.service_role().map(String::from))
        .description("ecs-poc-action deploy")
        .send()
        .await;
    match sent {
        Ok(out) => Ok(Created::Made(ChangeSetRef {
            id: out.id().unwrap_or(&req.change_set_name).to_string(),
            stack_id: out.stack_id().unwrap_or(&req.stack_name).to_string(),
        })),
        Err(err) if err.message().is_some_and(is_empty_change_set_reason) => Ok(Created::NoChanges),
        Err(err) => Err(sdk_error(err)).with_context(|| {
            format!(
                "creating change set {} for stack {}",
                req.change_set_name, req.stack_name
            )
        }),
    }
}

/// How the change set ended up.
#[derive(Debug)]
pub enum Ready {
    /// CREATE_COMPLETE; the first page of its description.
    Complete(Box<DescribeChangeSetOutput>),
    /// FAILED because nothing would change.
    NoChanges,
    /// FAILED for another reason.
    Failed(String),
}

/// Polls until the change set leaves CREATE_PENDING/CREATE_IN_PROGRESS; the first look is
/// immediate, so an instant answer costs no sleep.
pub async fn wait(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    cs: &ChangeSetRef,
    deadline: Instant,
    poll: PollPolicy,
) -> Result<Ready> {
    let started = Instant::now();
    let mut backoff = poll.backoff();
    let mut last = String::from("CREATE_PENDING");
    loop {
        match cfn
            .describe_change_set()
            .change_set_name(&cs.id)
            .stack_name(&cs.stack_id)
            .send()
            .await
        {
            Ok(out) => {
                let status = out
                    .status()
                    .cloned()
                    .unwrap_or(ChangeSetStatus::CreatePending);
                last = status.as_str().to_string();
                let reason = out.status_reason().unwrap_or_default().to_string();
                match status {
                    ChangeSetStatus::CreateComplete => return Ok(Ready::Complete(Box::new(out))),
                    ChangeSetStatus::Failed if is_empty_change_set_reason(&reason) => {
                        return Ok(Ready::NoChanges);
                    }
                    ChangeSetStatus::Failed => return Ok(Ready::Failed(reason)),
                    ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress => {}
                    // Deleted under us (another run, or an operator): nothing to wait for.
                    other => {
                        return Ok(Ready::Failed(format!(
                            "change set is {}: {reason}",
                            other.as_str()
                        )));
                    }
                }
            }
            Err(err) => match PollError::from_sdk(err) {
                PollError::Throttled => {}
                PollError::Other(e) => {
                    return Err(e.context(format!("describing change set {}", cs.id)));
                }
            },
        }
        if !backoff.sleep(deadline).await {
            return Err(StackError::Timeout {
                stack: stack.to_string(),
                status: format!("change set {last}"),
                doing: "waiting for the change set".into(),
                waited: started.elapsed(),
            }
            .into());
        }
    }
}

/// Every resource change, following `NextToken` from the first page.
pub async fn all_changes(
    cfn: &aws_sdk_cloudformation::Client,
    cs: &ChangeSetRef,
    first: &DescribeChangeSetOutput,
) -> Result<Vec<ResourceChange>> {
    let mut changes: Vec<ResourceChange> = first
        .changes()
        .iter()
        .filter_map(ResourceChange::from_sdk)
        .collect();
    let mut token = first
        .next_token()
        .filter(|t| !t.is_empty())
        .map(String::from);
    while let Some(t) = token.take() {
        let page = cfn
            .describe_change_set()
            .change_set_name(&cs.id)
            .stack_name(&cs.stack_id)
            .next_token(t)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("describing change set {}", cs.id))?;
        changes.extend(page.changes().iter().filter_map(ResourceChange::from_sdk));
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(String::from);
    }
    Ok(changes)
}

pub async fn delete(cfn: &aws_sdk_cloudformation::Client, cs: &ChangeSetRef) -> Result<()> {
    cfn.delete_change_set()
        .change_set_name(&cs.id)
        .stack_name(&cs.stack_id)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("deleting change set {}", cs.id))?;
    Ok(())
}

pub async fn execute(
    cfn: &aws_sdk_cloudformation::Client,
    cs: &ChangeSetRef,
    token: &str,
) -> Result<()> {
    cfn.execute_change_set()
        .change_set_name(&cs.id)
        .stack_name(&cs.stack_id)
        // Tags every event of this operation; also makes a retried execute idempotent.
        .client_request_token(token)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("executing change set {}", cs.id))?;
    Ok(())
}

/// Deletes a change set this run created unless it has been executed (then it belongs to
/// CloudFormation, which finishes or rolls back on its own). `Ok(true)`: deleted; `Ok(false)`:
/// already executed, left alone.
pub async fn discard_unexecuted(
    clients: &super::Clients,
    stack_name: &str,
    change_set: &str,
) -> Result<bool> {
    use aws_sdk_cloudformation::types::ExecutionStatus;
    let described = clients
        .cfn
        .describe_change_set()
        .stack_name(stack_name)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("describing change set {change_set}"))?;
    if matches!(
        described.execution_status(),
        Some(
            ExecutionStatus::ExecuteInProgress
                | ExecutionStatus::ExecuteComplete
                | ExecutionStatus::ExecuteFailed
        )
    ) {
        return Ok(false);
    }
    delete(
        &clients.cfn,
        &ChangeSetRef {
            id: change_set.to_string(),
            stack_id: stack_name.to_string(),
        },
    )
    .await?;
    Ok(true)
}

/// A change set name unique per run and attempt, as CloudFormation accepts it
/// (`[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters).
pub fn change_set_name(prefix: &str, run_id: Option<&str>, attempt: Option<&str>) -> String {
    let mut name: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "cs-");
    }
    match run_id.filter(|r| !r.is_empty()) {
        Some(run) => {
            name.push_str(&format!(
                "-{run}-{}",
                attempt.filter(|a| !a.is_empty()).unwrap_or("1")
            ));
        }
        // Outside Actions: the time keeps reruns apart.
        None => name.push_str(&format!(
            "-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        )),
    }
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_empty_change_set_reasons() {
        assert!(is_empty_change_set_reason(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_empty_change_set_reason(
            "No updates are to be performed."
        ));
        assert!(!is_empty_change_set_reason(
            "Template format error: Unresolved resource dependencies [X]"
        ));
        assert!(!is_empty_change_set_reason(""));
    }

    #[test]
    fn change_set_names_are_valid_and_unique_per_run() {
        assert_eq!(
            change_set_name("ecs-poc", Some("123"), Some("2")),
            "ecs-poc-123-2"
        );
        assert_eq!(
            change_set_name("my_stack.v2", Some("9"), None),
            "my-stack-v2-9-1"
        );
        assert!(change_set_name("1abc", Some("9"), None).starts_with("cs-1abc"));
        assert!(change_set_name("x", None, None).len() > 2);
        assert!(change_set_name(&"a".repeat(200), Some("1"), None).len() <= 128);
    }
}
