//! The moto stand-in seen through the AWS SDK, and the reads tests make of it. Every read returns
//! `Result`: a failed call must fail the test, never read as "no stack" or "nothing left behind".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use anyhow::{Context, Result};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ExecutionStatus, Stack};

use super::stand_in;

/// SDK configuration for moto in `region`, with its static `test/test` credentials.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    ecs_poc_action::install_crypto_provider();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(stand_in("ECS_TEST_MOTO_URL"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// CloudFormation on moto, us-east-1.
pub async fn cfn() -> Cfn {
    Cfn::new(&sdk_config("us-east-1").await)
}

/// The live stack named `stack`; `None` once it is gone (deleted, or never made). Any other
/// error is returned: it must not read as "no stack".
pub async fn live_stack(cfn: &Cfn, stack: &str) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .filter(|s| s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE"))
            .cloned()),
        // CloudFormation's (and moto's) only signal for a missing stack is this message.
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("DescribeStacks {stack}: {e:?}")),
    }
}

/// The live stack's status; `None` once it is gone.
pub async fn stack_status(cfn: &Cfn, stack: &str) -> Result<Option<String>> {
    Ok(live_stack(cfn, stack)
        .await?
        .and_then(|s| s.stack_status().map(|st| st.as_str().to_string())))
}

/// Parameter `name` of the live stack; `None` when the stack is gone or lacks the parameter.
pub async fn stack_parameter(cfn: &Cfn, stack: &str, name: &str) -> Result<Option<String>> {
    Ok(live_stack(cfn, stack).await?.and_then(|s| {
        s.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(name))
            .and_then(|p| p.parameter_value().map(String::from))
    }))
}

/// Change sets of `stack` never executed (waiting, or FAILED and left behind). moto lists every
/// stack's change sets whatever StackName says, and keeps executed ones: both are filtered here.
pub async fn unexecuted_change_sets(cfn: &Cfn, stack: &str) -> Result<Vec<String>> {
    let out = cfn
        .list_change_sets()
        .stack_name(stack)
        .send()
        .await
        .with_context(|| format!("ListChangeSets {stack}"))?;
    Ok(out
        .summaries()
        .iter()
        .filter(|s| s.stack_name() == Some(stack))
        .filter(|s| s.execution_status() != Some(&ExecutionStatus::ExecuteComplete))
        .filter_map(|s| s.change_set_name().map(String::from))
        .collect())
}
