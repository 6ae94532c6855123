//! Shared fixtures of the mocked deploy-engine tests (tests/stack_mocked_*.rs): what moto cannot
//! show, pinned with the SDK's own response mocking. Responses are shaped like the CloudFormation
//! and ECS API references document them.
//!
//! Tests use `RuleMode::MatchAny` with one rule per operation, its answers in turn (`*_in_turn`),
//! and assert each rule's `num_calls()`: what was called and how often, not the interleaving of
//! different operations, which the engine may change freely. `Sequential` stays where the
//! interleaving is the subject (the no-op call budget, delete-before-recreate).
//!
//! Included with `#[path]` by those binaries only, so the other test binaries do not compile it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::{
    DescribeChangeSetError, DescribeChangeSetOutput,
};
use aws_sdk_cloudformation::operation::describe_stack_events::{
    DescribeStackEventsError, DescribeStackEventsOutput,
};
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ChangeSetType, ChangeType, ExecutionStatus, Output,
    Parameter, Replacement, RequiresRecreation, ResourceAttribute, ResourceChange,
    ResourceChangeDetail, ResourceStatus, ResourceTargetDefinition, Stack, StackEvent,
    StackResourceSummary, StackStatus,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use ecs_poc_action::stack::{
    self, Clients, DeployPlan, DeployRequest, PollPolicy, Scaling, StackError,
};

pub const NAME: &str = "web";
pub const OLD_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/web/11111111-aaaa-bbbb-cccc-000000000001";
pub const ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/web/22222222-aaaa-bbbb-cccc-000000000002";
pub const CS_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ecs-poc-deploy-42-1/33333333-aaaa-bbbb-cccc-000000000003";
pub const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/web/web-Service-AbC123";
pub const IMAGE: &str =
    "docker.io/acme/web@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
pub const URL: &str = "http://web-LoadB-1ABCDEFG-123456789.us-east-1.elb.amazonaws.com";
pub const EMPTY_REASON: &str = "The submitted information didn't contain changes. Submit different information to create a change set.";

pub const TEMPLATE: &str = r#"
Parameters:
  ImageUri: {Type: String}
  DesiredCount: {Type: Number, Default: 2}
  MinCapacity: {Type: Number, Default: 2}
  MaxCapacity: {Type: Number, Default: 10}
  Cpu: {Type: String, Default: "256"}
Resources:
  Cluster: {Type: AWS::ECS::Cluster, Properties: {ClusterName: !Ref AWS::StackName}}
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref Cluster
      DesiredCount: !Ref DesiredCount
      TaskDefinition: !Ref TaskDefinition
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Cpu: !Ref Cpu
      ContainerDefinitions: [{Name: web, Image: !Ref ImageUri}]
Outputs:
  ServiceUrl: {Value: !Sub "http://${AWS::StackName}"}
"#;

/// 2024-05-01T12:00:00Z plus `secs`.
pub fn at(secs: i64) -> DateTime {
    DateTime::from_secs(1_714_564_800 + secs)
}

pub fn stack_with(id: &str, status: StackStatus) -> Stack {
    let param = |k: &str, v: &str| {
        Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    Stack::builder()
        .stack_id(id)
        .stack_name(NAME)
        .creation_time(at(-3600))
        .stack_status(status)
        .parameters(param("ImageUri", "docker.io/acme/web@sha256:aaaa"))
        .parameters(param("DesiredCount", "2"))
        .parameters(param("MinCapacity", "2"))
        .parameters(param("MaxCapacity", "10"))
        .parameters(param("Cpu", "256"))
        .outputs(
            Output::builder()
                .output_key("ServiceUrl")
                .output_value(URL)
                .build(),
        )
        .enable_termination_protection(false)
        .build()
}

pub fn stacks(id: &'static str, status: StackStatus) -> Rule {
    mock!(Cfn::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(stack_with(id, status.clone()))
            .build()
    })
}

pub fn stack_missing() -> Rule {
    mock!(Cfn::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(NAME))
        .then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id web does not exist")
                    .build(),
            )
        })
}

pub fn throttled() -> ErrorMetadata {
    ErrorMetadata::builder()
        .code("Throttling")
        .message("Rate exceeded")
        .build()
}

/// One stack event. `logical == NAME` makes it the stack's own event.
pub fn ev(id: &str, secs: i64, logical: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    let (ty, physical) = match logical {
        NAME => ("AWS::CloudFormation::Stack", ID),
        "Service" => ("AWS::ECS::Service", SERVICE_ARN),
        "TaskDefinition" => ("AWS::ECS::TaskDefinition", ""),
        "Cluster" => ("AWS::ECS::Cluster", "web"),
        "Bucket" => ("AWS::S3::Bucket", ""),
        "Queue" => ("AWS::SQS::Queue", ""),
        _ => ("AWS::IAM::Role", ""),
    };
    let b = StackEvent::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .event_id(id)
        .timestamp(at(secs))
        .logical_resource_id(logical)
        .physical_resource_id(physical)
        .resource_type(ty)
        .resource_status(status);
    if reason.is_empty() {
        b.build()
    } else {
        b.resource_status_reason(reason).build()
    }
}

/// A page of DescribeStackEvents: newest first, as CloudFormation returns them.
pub fn events(page: Vec<StackEvent>, next: Option<&'static str>) -> Rule {
    mock!(Cfn::describe_stack_events).then_output(move || events_page(&page, next))
}

fn events_page(page: &[StackEvent], next: Option<&'static str>) -> DescribeStackEventsOutput {
    let mut newest_first = page.to_vec();
    newest_first.sort_by_key(|e| std::cmp::Reverse(e.timestamp().map(|t| t.secs())));
    DescribeStackEventsOutput::builder()
        .set_stack_events(Some(newest_first))
        .set_next_token(next.map(String::from))
        .build()
}

pub fn create_change_set(kind: ChangeSetType, stack_id: &'static str) -> Rule {
    mock!(Cfn::create_change_set)
        .match_requests(move |r| {
            r.change_set_type() == Some(&kind) && r.change_set_name() == Some("ecs-poc-deploy-42-1")
        })
        .then_output(move || {
            CreateChangeSetOutput::builder()
                .id(CS_ID)
                .stack_id(stack_id)
                .build()
        })
}

pub fn change(
    action: ChangeAction,
    logical: &str,
    ty: &str,
    replacement: Option<Replacement>,
    props: &[&str],
) -> Change {
    let mut rc = ResourceChange::builder()
        .action(action)
        .logical_resource_id(logical)
        .resource_type(ty);
    if let Some(r) = replacement {
        rc = rc.replacement(r);
    }
    for p in props {
        let target = ResourceTargetDefinition::builder()
            .attribute(ResourceAttribute::Properties)
            .name(*p)
            .requires_recreation(RequiresRecreation::Never)
            .build();
        rc = rc.details(ResourceChangeDetail::builder().target(target).build());
    }
    Change::builder()
        .r#type(ChangeType::Resource)
        .resource_change(rc.build())
        .build()
}

pub fn change_set(
    status: ChangeSetStatus,
    reason: Option<&'static str>,
    changes: Vec<Change>,
    next: Option<&'static str>,
) -> Rule {
    mock!(Cfn::describe_change_set)
        .then_output(move || change_set_output(status.clone(), reason, changes.clone(), next))
}

pub fn change_set_output(
    status: ChangeSetStatus,
    reason: Option<&'static str>,
    changes: Vec<Change>,
    next: Option<&'static str>,
) -> DescribeChangeSetOutput {
    let exec = if status == ChangeSetStatus::CreateComplete {
        ExecutionStatus::Available
    } else {
        ExecutionStatus::Unavailable
    };
    DescribeChangeSetOutput::builder()
        .change_set_id(CS_ID)
        .change_set_name("ecs-poc-deploy-42-1")
        .stack_id(ID)
        .stack_name(NAME)
        .status(status)
        .set_status_reason(reason.map(String::from))
        .execution_status(exec)
        .set_changes(Some(changes))
        .set_next_token(next.map(String::from))
        .build()
}

pub fn delete_change_set() -> Rule {
    mock!(Cfn::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some(CS_ID))
        .then_output(|| DeleteChangeSetOutput::builder().build())
}

pub fn execute() -> Rule {
    mock!(Cfn::execute_change_set)
        .match_requests(|r| {
            r.change_set_name() == Some(CS_ID)
                && r.client_request_token() == Some("ecs-poc-deploy-42-1")
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build())
}

pub fn clients(mode: RuleMode, cfn: &[Rule], ecs: &[Rule]) -> Clients {
    let cfn_rules: Vec<&Rule> = cfn.iter().collect();
    let ecs_rules: Vec<&Rule> = ecs.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, mode, &cfn_rules, |c| c
        .retry_config(RetryConfig::disabled()));
    let ecs = mock_client!(aws_sdk_ecs, mode, &ecs_rules, |c| c
        .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()));
    Clients::from_clients(cfn, ecs)
}

pub fn request(image: Option<&str>, desired: Option<u32>) -> DeployRequest {
    DeployRequest {
        stack_name: NAME.into(),
        template_body: TEMPLATE.into(),
        image_uri: image.map(String::from),
        scaling: Scaling {
            min: 2,
            max: 5,
            desired,
            ..Scaling::default()
        },
        overrides: vec![],
        capabilities: vec![],
        tags: vec![],
        termination_protection: false,
        change_set_name: "ecs-poc-deploy-42-1".into(),
        plan: DeployPlan {
            execute: true,
            keep_change_set: false,
            deadline: Instant::now() + Duration::from_secs(30),
            poll: PollPolicy::immediate(),
        },
    }
}

pub fn lines(events: &[stack::StackEventLine]) -> Vec<String> {
    events.iter().map(ToString::to_string).collect()
}

/// A create's first events: the review stack (`r1`, at 0 s), then the stack's own
/// CREATE_IN_PROGRESS (`e1`, at 1 s). Returns (review only, both).
pub fn create_started() -> (Vec<StackEvent>, Vec<StackEvent>) {
    let review = vec![ev(
        "r1",
        0,
        NAME,
        ResourceStatus::from("REVIEW_IN_PROGRESS"),
        "User Initiated",
    )];
    let mut started = review.clone();
    started.push(ev(
        "e1",
        1,
        NAME,
        ResourceStatus::CreateInProgress,
        "User Initiated",
    ));
    (review, started)
}

/// `stack::destroy` of the mocked stack, polling without waiting, 30 s deadline.
#[allow(dead_code)] // not every mocked test file destroys
pub async fn destroy_now(c: &Clients) -> anyhow::Result<ecs_poc_action::stack::DestroyOutcome> {
    ecs_poc_action::stack::destroy(
        c,
        NAME,
        std::time::Instant::now() + std::time::Duration::from_secs(30),
        ecs_poc_action::stack::PollPolicy::immediate(),
    )
    .await
}

pub fn stack_error(err: &anyhow::Error) -> &StackError {
    err.downcast_ref::<StackError>()
        .unwrap_or_else(|| panic!("not a StackError: {err:#}"))
}

pub fn resources() -> Rule {
    resources_of(ID)
}

/// The stack's cluster and service, listed for `stack` (its name or its id).
pub fn resources_of(stack: &'static str) -> Rule {
    mock!(Cfn::list_stack_resources)
        .match_requests(move |r| r.stack_name() == Some(stack))
        .then_output(|| {
            let res = |id: &str, ty: &str, physical: &str| {
                StackResourceSummary::builder()
                    .logical_resource_id(id)
                    .resource_type(ty)
                    .physical_resource_id(physical)
                    .last_updated_timestamp(at(-60))
                    .resource_status(ResourceStatus::UpdateComplete)
                    .build()
            };
            ListStackResourcesOutput::builder()
                .stack_resource_summaries(res("Cluster", "AWS::ECS::Cluster", "web"))
                .stack_resource_summaries(res("Service", "AWS::ECS::Service", SERVICE_ARN))
                .build()
        })
}

pub fn delete_stack() -> Rule {
    mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(|| DeleteStackOutput::builder().build())
}

pub const SERVICE_ROLE: &str = "arn:aws:iam::123456789012:role/web-cloudformation";

/// One answer to a polled call: a document, or CloudFormation throttling the caller.
pub enum Poll<T> {
    Answer(T),
    Throttled,
}

/// DescribeStacks answering `(stack id, status)` in turn, once each; a call beyond the last
/// finds no rule and fails the test.
pub fn stacks_in_turn(answers: Vec<Poll<(&'static str, StackStatus)>>) -> Rule {
    answers
        .into_iter()
        .fold(
            mock!(Cfn::describe_stacks).sequence(),
            |seq, answer| match answer {
                Poll::Answer((id, status)) => seq.output(move || {
                    DescribeStacksOutput::builder()
                        .stacks(stack_with(id, status.clone()))
                        .build()
                }),
                Poll::Throttled => seq.error(|| DescribeStacksError::generic(throttled())),
            },
        )
        .build()
}

/// `stacks_in_turn` without throttling.
pub fn statuses_in_turn(answers: &[(&'static str, StackStatus)]) -> Rule {
    stacks_in_turn(answers.iter().cloned().map(Poll::Answer).collect())
}

/// DescribeStackEvents answering each page in turn (newest first, as CloudFormation does).
pub fn events_in_turn(pages: Vec<Poll<(Vec<StackEvent>, Option<&'static str>)>>) -> Rule {
    pages
        .into_iter()
        .fold(
            mock!(Cfn::describe_stack_events).sequence(),
            |seq, page| match page {
                Poll::Answer((events, next)) => seq.output(move || events_page(&events, next)),
                Poll::Throttled => seq.error(|| DescribeStackEventsError::generic(throttled())),
            },
        )
        .build()
}

/// `events_in_turn` of whole (single-page) answers without throttling.
pub fn pages_in_turn(pages: Vec<Vec<StackEvent>>) -> Rule {
    events_in_turn(pages.into_iter().map(|p| Poll::Answer((p, None))).collect())
}

/// DescribeChangeSet answering each status in turn, with no changes.
pub fn change_set_in_turn(answers: Vec<Poll<ChangeSetStatus>>) -> Rule {
    answers
        .into_iter()
        .fold(
            mock!(Cfn::describe_change_set).sequence(),
            |seq, answer| match answer {
                Poll::Answer(status) => {
                    seq.output(move || change_set_output(status.clone(), None, vec![], None))
                }
                Poll::Throttled => seq.error(|| DescribeChangeSetError::generic(throttled())),
            },
        )
        .build()
}

/// Asserts how often each rule was called, naming the rule that differs.
pub fn assert_calls(expected: &[(&str, &Rule, usize)]) {
    let got: Vec<(&str, usize)> = expected
        .iter()
        .map(|(n, r, _)| (*n, r.num_calls()))
        .collect();
    let want: Vec<(&str, usize)> = expected.iter().map(|(n, _, c)| (*n, *c)).collect();
    assert_eq!(got, want, "calls per rule");
}
