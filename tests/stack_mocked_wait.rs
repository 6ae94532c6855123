//! Waiting with the SDK's response mocking: a busy stack is waited for, both waits are bounded by
//! the deadline, throttling only slows the poll, and events spread over polls and pages are
//! reported once each. Fixtures: tests/common/stack_mocks.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "common/stack_mocks.rs"]
mod stack_mocks;

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::{
    CreateChangeSetError, CreateChangeSetOutput,
};
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, ResourceStatus, StackStatus,
};
use aws_smithy_mocks::{RuleMode, mock};
use ecs_poc_action::stack::{self, PollPolicy, StackError};
use stack_mocks::*;
use std::time::{Duration, Instant};

/// CreateChangeSet itself may refuse an unchanged update ("No updates are to be performed."):
/// also "no changes". The stack was busy first: the deploy waits for it to settle.
#[tokio::test]
async fn waits_for_a_running_update_then_finds_nothing_to_do() {
    let refused = mock!(Cfn::create_change_set).then_error(|| {
        CreateChangeSetError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("No updates are to be performed.")
                .build(),
        )
    });
    let stacks = statuses_in_turn(&[
        (ID, StackStatus::UpdateInProgress),
        (ID, StackStatus::UpdateInProgress),
        (ID, StackStatus::UpdateCompleteCleanupInProgress),
        (ID, StackStatus::UpdateComplete),
    ]);
    let c = clients(RuleMode::MatchAny, &[stacks.clone(), refused.clone()], &[]);
    let out = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect("settles, then no changes");
    assert!(!out.has_changes);
    assert_eq!(out.output("ServiceUrl"), Some(URL));
    assert_eq!(out.cfn_calls, 5);
    assert_calls(&[
        ("DescribeStacks", &stacks, 4),
        ("CreateChangeSet", &refused, 1),
    ]);
}

#[tokio::test]
async fn a_stack_that_never_settles_times_out_clearly() {
    let busy = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack_with(ID, StackStatus::UpdateInProgress))
                .build()
        })
        .repeatedly()
        .build();
    let c = clients(RuleMode::MatchAny, std::slice::from_ref(&busy), &[]);
    let mut req = request(Some(IMAGE), Some(2));
    req.plan.deadline = Instant::now() + Duration::from_millis(150);
    req.plan.poll = PollPolicy {
        first: Duration::from_millis(10),
        max: Duration::from_millis(40),
        factor: 2.0,
        jitter: 0.0,
    };
    let started = Instant::now();
    let err = stack::deploy(&c, &req).await.expect_err("times out");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(stack_error(&err), StackError::Timeout { status, .. } if status == "UPDATE_IN_PROGRESS"),
        "{err:#}"
    );
    // It polled (more than once), and nothing but DescribeStacks was called.
    assert!(busy.num_calls() > 1, "{} polls", busy.num_calls());
    assert_eq!(c.cfn_calls(), busy.num_calls() as u32);
    let msg = err.to_string();
    assert!(msg.contains("CloudFormation keeps going"), "{msg}");
    assert!(
        msg.contains("aws cloudformation describe-stack-events --stack-name web"),
        "{msg}"
    );
}

/// The post-execute wait has the same bound; polls after the deadline are not made.
#[tokio::test]
async fn a_deploy_that_outlives_the_budget_times_out() {
    let before = mock!(Cfn::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(NAME))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack_with(ID, StackStatus::UpdateComplete))
                .build()
        });
    let during = mock!(Cfn::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(ID))
        .sequence()
        .output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack_with(ID, StackStatus::UpdateInProgress))
                .build()
        })
        .repeatedly()
        .build();
    let no_events = mock!(Cfn::describe_stack_events)
        .sequence()
        .output(|| DescribeStackEventsOutput::builder().build())
        .repeatedly()
        .build();
    let (create, described, executed) = (
        create_change_set(ChangeSetType::Update, ID),
        change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
        execute(),
    );
    let c = clients(
        RuleMode::MatchAny,
        &[
            before.clone(),
            during.clone(),
            no_events,
            create.clone(),
            described.clone(),
            executed.clone(),
        ],
        &[],
    );
    let mut req = request(Some(IMAGE), Some(2));
    req.plan.deadline = Instant::now() + Duration::from_millis(150);
    req.plan.poll = PollPolicy {
        first: Duration::from_millis(10),
        max: Duration::from_millis(40),
        factor: 2.0,
        jitter: 0.0,
    };
    let err = stack::deploy(&c, &req).await.expect_err("times out");
    match stack_error(&err) {
        StackError::Timeout { doing, status, .. } => {
            assert_eq!(doing, "deploying");
            assert_eq!(status, "UPDATE_IN_PROGRESS");
        }
        other => panic!("{other}"),
    }
    assert_calls(&[
        ("DescribeStacks before", &before, 1),
        ("CreateChangeSet", &create, 1),
        ("DescribeChangeSet", &described, 1),
        ("ExecuteChangeSet", &executed, 1),
    ]);
    assert!(during.num_calls() >= 1, "the deploy was waited for");
}

/// Throttling while waiting (change set, stack, events) slows the poll down but fails nothing,
/// and the final events are re-read so the report is complete.
#[tokio::test]
async fn throttling_during_polling_is_absorbed() {
    let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
    let mut e = old.clone();
    e.push(ev(
        "e1",
        1,
        NAME,
        ResourceStatus::UpdateInProgress,
        "User Initiated",
    ));
    e.push(ev("e2", 2, NAME, ResourceStatus::UpdateComplete, ""));
    let rules = [
        stacks_in_turn(vec![
            Poll::Answer((ID, StackStatus::UpdateComplete)),
            Poll::Throttled,
            Poll::Answer((ID, StackStatus::UpdateInProgress)),
            Poll::Answer((ID, StackStatus::UpdateComplete)),
        ]),
        create_change_set(ChangeSetType::Update, ID),
        change_set_in_turn(vec![
            Poll::Throttled,
            Poll::Answer(ChangeSetStatus::CreateComplete),
        ]),
        execute(),
        events_in_turn(vec![
            Poll::Answer((old, None)),
            Poll::Throttled,
            Poll::Throttled,
            Poll::Answer((e, None)),
        ]),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
    let out = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect("throttling is not fatal");
    assert!(out.executed);
    assert_eq!(
        lines(&out.events),
        [
            "2024-05-01T12:00:01Z UPDATE_IN_PROGRESS web (AWS::CloudFormation::Stack): User Initiated",
            "2024-05-01T12:00:02Z UPDATE_COMPLETE web (AWS::CloudFormation::Stack)",
        ]
    );
    // Every throttled answer was retried: each scripted answer was used, none beyond.
    let [stacks, create, cs, executed, events] = &rules;
    assert_calls(&[
        ("DescribeStacks", stacks, 4),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet", cs, 2),
        ("ExecuteChangeSet", executed, 1),
        ("DescribeStackEvents", events, 4),
    ]);
}

/// Events arrive over several polls, one poll spanning two pages; each is reported once, in order.
/// Termination protection is then applied as asked.
#[tokio::test]
async fn events_across_polls_and_pages_are_reported_once() {
    let (review, mut e) = create_started();
    e.push(ev("e2", 2, "Cluster", ResourceStatus::CreateInProgress, ""));
    let poll1 = e.clone();
    e.push(ev(
        "e3",
        3,
        "Cluster",
        ResourceStatus::CreateInProgress,
        "Resource creation Initiated",
    ));
    e.push(ev("e4", 4, "Cluster", ResourceStatus::CreateComplete, ""));
    e.push(ev(
        "e5",
        5,
        "TaskDefinition",
        ResourceStatus::CreateComplete,
        "",
    ));
    // Poll 2: the newest two on page 1, the rest (some already seen) on page 2.
    let page1 = e[4..].to_vec();
    let page2 = e[..4].to_vec();
    e.push(ev("e6", 6, NAME, ResourceStatus::CreateComplete, ""));
    let protect = mock!(Cfn::update_termination_protection)
        .match_requests(|r| {
            r.enable_termination_protection() == Some(true) && r.stack_name() == Some(NAME)
        })
        .then_output(|| {
            UpdateTerminationProtectionOutput::builder()
                .stack_id(ID)
                .build()
        });
    let create = mock!(Cfn::create_change_set)
        .match_requests(|r| {
            r.change_set_type() == Some(&ChangeSetType::Create)
                && r.capabilities() == [Capability::CapabilityIam]
                && r.tags()
                    .iter()
                    .map(|t| (t.key(), t.value()))
                    .eq([(Some("app"), Some("web")), (Some("team"), Some("platform"))])
                && r.template_body() == Some(TEMPLATE)
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id(CS_ID)
                .stack_id(ID)
                .build()
        });
    let rules = [
        stack_missing(),
        create,
        change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
        execute(),
        statuses_in_turn(&[
            (ID, StackStatus::CreateInProgress),
            (ID, StackStatus::CreateInProgress),
            (ID, StackStatus::CreateComplete),
        ]),
        events_in_turn(vec![
            Poll::Answer((review, None)),
            Poll::Answer((poll1, None)),
            Poll::Answer((page1, Some("older"))),
            Poll::Answer((page2, None)),
            Poll::Answer((e, None)),
        ]),
        protect,
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
    let mut req = request(Some(IMAGE), None);
    req.termination_protection = true;
    req.capabilities = vec![Capability::CapabilityIam];
    req.tags = vec![
        ("app".into(), "web".into()),
        ("team".into(), "platform".into()),
    ];
    let out = stack::deploy(&c, &req).await.expect("created");
    assert_eq!(
        lines(&out.events),
        [
            "2024-05-01T12:00:01Z CREATE_IN_PROGRESS web (AWS::CloudFormation::Stack): User Initiated",
            "2024-05-01T12:00:02Z CREATE_IN_PROGRESS Cluster (AWS::ECS::Cluster)",
            "2024-05-01T12:00:03Z CREATE_IN_PROGRESS Cluster (AWS::ECS::Cluster): Resource creation Initiated",
            "2024-05-01T12:00:04Z CREATE_COMPLETE Cluster (AWS::ECS::Cluster)",
            "2024-05-01T12:00:05Z CREATE_COMPLETE TaskDefinition (AWS::ECS::TaskDefinition)",
            "2024-05-01T12:00:06Z CREATE_COMPLETE web (AWS::CloudFormation::Stack)",
        ]
    );
    assert_eq!(out.outputs, [("ServiceUrl".to_string(), URL.to_string())]);
    assert_eq!(out.cfn_calls, 13);
    let [missing, create, cs, executed, polled, events, protect] = &rules;
    assert_calls(&[
        ("DescribeStacks (missing)", missing, 1),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet", cs, 1),
        ("ExecuteChangeSet", executed, 1),
        ("DescribeStacks (polls)", polled, 3),
        ("DescribeStackEvents", events, 5),
        ("UpdateTerminationProtection", protect, 1),
    ]);
}
