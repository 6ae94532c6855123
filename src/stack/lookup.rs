//! Reading a stack's current state.

use anyhow::{Context, Result};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Stack, StackResourceSummary};

/// The stack by name or id, or `None` when it does not exist.
pub async fn find_stack(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(err) if is_stack_missing(&err) => Ok(None),
        Err(err) => Err(sdk_error(err)).with_context(|| format!("describing stack {stack}")),
    }
}

/// Every resource of the stack, all pages.
pub async fn stack_resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<StackResourceSummary>> {
    let mut out = Vec::new();
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(sdk_error)
            .with_context(|| format!("listing the resources of stack {stack}"))?;
        out.extend(page.stack_resource_summaries().iter().cloned());
    }
    Ok(out)
}

/// An SDK error as one readable line. An `SdkError`'s own `Display` says only "service error",
/// and its debug chain dumps the raw HTTP response; the service's code and message say what went
/// wrong. Errors without them (timeouts, connection failures) keep their source chain.
pub fn sdk_error<E: std::error::Error + ProvideErrorMetadata>(err: E) -> anyhow::Error {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => anyhow::anyhow!("{code}: {message}"),
        (Some(code), None) => anyhow::anyhow!("{code}"),
        _ => anyhow::anyhow!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        ),
    }
}

/// CloudFormation answers a missing stack with a generic `ValidationError` whose only
/// distinguishing mark is its text ("Stack with id NAME does not exist").
pub fn is_stack_missing<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ValidationError")
        && err.message().is_some_and(|m| m.contains("does not exist"))
}

/// The names of the stack's current parameters: the ones `UsePreviousValue` may name.
pub fn parameter_names(stack: &Stack) -> Vec<String> {
    stack
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key().map(String::from))
        .collect()
}

/// The stack's `ImageUri` parameter (CloudFormation's resolved value when it has one).
pub fn image_of(stack: &Stack) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(super::params::IMAGE_URI))
        .and_then(|p| p.resolved_value().or(p.parameter_value()))
        .map(String::from)
}

/// The stack's outputs as (key, value), in CloudFormation's order.
pub fn outputs(stack: &Stack) -> Vec<(String, String)> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_string(),
                o.output_value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::error::ErrorMetadata;

    #[test]
    fn sdk_errors_read_as_code_and_message() {
        let err = ErrorMetadata::builder()
            .code("ValidationError")
            .message("Template format error")
            .build();
        assert_eq!(
            sdk_error(err).to_string(),
            "ValidationError: Template format error"
        );
    }

    #[test]
    fn recognises_the_missing_stack_error() {
        let missing = ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id x does not exist")
            .build();
        let other = ErrorMetadata::builder()
            .code("ValidationError")
            .message("Template format error")
            .build();
        assert!(is_stack_missing(&missing));
        assert!(!is_stack_missing(&other));
    }
}
