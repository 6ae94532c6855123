//! Text from AWS (stack event reasons, change-set entries) and a stack output (the smoke-check
//! URL) crafted to be workflow commands: the stdout the action prints is read back the way the
//! runner reads it (`support/runner_log.rs`), and only the action's own commands may run.
//!
//! The action writes straight to the process's stdout, which the test harness does not capture,
//! so the scenario runs in a child process (this test binary, filtered to `child_scenario`) and
//! the parent reads its stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "support/runner_log.rs"]
mod runner_log;

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ChangeType, ExecutionStatus, ResourceAttribute,
    ResourceChange, ResourceChangeDetail, ResourceStatus, ResourceTargetDefinition, Stack,
    StackEvent, StackStatus,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use ecs_poc_action::pipeline::smoke;
use ecs_poc_action::runner;
use ecs_poc_action::stack::{self, Clients, DeployPlan, DeployRequest, PollPolicy, Scaling};

const CHILD_ENV: &str = "ECS_TEST_UNTRUSTED_TEXT_CHILD";
const NAME: &str = "web";
const ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/web/22222222-aaaa-bbbb-cccc-000000000002";
const CS_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/3";
/// Registered before and after the hostile text: both must stay masked.
const EARLY_SECRET: &str = "early-S3cret-value-1";
const LATE_SECRET: &str = "late-S3cret-value-2";

/// Reasons an attacker who controls a template or a resource's error text could get into
/// stack events.
/// The first is the root cause the error annotation quotes.
const HOSTILE: &[&str] = &[
    "literal %0A::add-mask::y and\r::error::forged",
    "::add-mask::x",
    "::stop-commands::pwned",
    "##[set-output name=a]b",
    "bucket exists\n::stop-commands::pwned2\n::set-output name=url::http://evil",
    "  \u{a0}::warning::indented",
    ":\u{200b}:add-mask::z",
];

const TEMPLATE: &str = "Resources:\n  Bucket: {Type: AWS::S3::Bucket}\n";

fn at(secs: i64) -> DateTime {
    DateTime::from_secs(1_714_564_800 + secs)
}

fn ev(id: &str, secs: i64, logical: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    let ty = if logical == NAME {
        "AWS::CloudFormation::Stack"
    } else {
        "AWS::S3::Bucket"
    };
    StackEvent::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .event_id(id)
        .timestamp(at(secs))
        .logical_resource_id(logical)
        .resource_type(ty)
        .resource_status(status)
        .resource_status_reason(reason)
        .build()
}

fn events(page: Vec<StackEvent>) -> Rule {
    mock!(Cfn::describe_stack_events).then_output(move || {
        let mut newest_first = page.clone();
        newest_first.sort_by_key(|e| std::cmp::Reverse(e.timestamp().map(|t| t.secs())));
        DescribeStackEventsOutput::builder()
            .set_stack_events(Some(newest_first))
            .build()
    })
}

fn stacks(status: StackStatus) -> Rule {
    mock!(Cfn::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_id(ID)
                    .stack_name(NAME)
                    .creation_time(at(0))
                    .stack_status(status.clone())
                    .build(),
            )
            .build()
    })
}

/// A change whose logical id and property names carry command text (a template defines both).
fn hostile_change() -> Change {
    let target = ResourceTargetDefinition::builder()
        .attribute(ResourceAttribute::Properties)
        .name("Tags\n::add-mask::from-a-property")
        .build();
    Change::builder()
        .r#type(ChangeType::Resource)
        .resource_change(
            ResourceChange::builder()
                .action(ChangeAction::Add)
                .logical_resource_id("::stop-commands::fromtable")
                .resource_type("AWS::S3::Bucket ##[set-output name=t]u")
                .details(ResourceChangeDetail::builder().target(target).build())
                .build(),
        )
        .build()
}

fn failing_create() -> Clients {
    let review = vec![ev(
        "r1",
        0,
        NAME,
        ResourceStatus::from("REVIEW_IN_PROGRESS"),
        "User Initiated",
    )];
    let mut all = review.clone();
    for (i, reason) in HOSTILE.iter().enumerate() {
        all.push(ev(
            &format!("h{i}"),
            1 + i as i64,
            "Bucket",
            ResourceStatus::CreateFailed,
            reason,
        ));
    }
    all.push(ev(
        "end",
        50,
        NAME,
        ResourceStatus::RollbackComplete,
        "rolled back",
    ));
    let rules = [
        mock!(Cfn::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id web does not exist")
                    .build(),
            )
        }),
        mock!(Cfn::create_change_set).then_output(|| {
            CreateChangeSetOutput::builder()
                .id(CS_ID)
                .stack_id(ID)
                .build()
        }),
        mock!(Cfn::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_id(CS_ID)
                .stack_id(ID)
                .stack_name(NAME)
                .status(ChangeSetStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .changes(hostile_change())
                .build()
        }),
        events(review),
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
        stacks(StackStatus::RollbackComplete),
        events(all),
    ];
    let rules: Vec<&Rule> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &rules, |c| c
        .retry_config(RetryConfig::disabled()));
    let no_rules: [&Rule; 0] = [];
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, &no_rules);
    Clients::from_clients(cfn, ecs)
}

fn request() -> DeployRequest {
    DeployRequest {
        stack_name: NAME.into(),
        template_body: TEMPLATE.into(),
        image_uri: None,
        scaling: Scaling::default(),
        overrides: vec![],
        capabilities: vec![],
        tags: vec![],
        termination_protection: false,
        change_set_name: "ecs-poc-deploy-1-1".into(),
        plan: DeployPlan {
            execute: true,
            keep_change_set: false,
            deadline: Instant::now() + Duration::from_secs(30),
            poll: PollPolicy::immediate(),
        },
    }
}

/// The scenario, printed as in a run: a mask, a failing deploy full of hostile text, a smoke
/// check of a hostile URL, the final error line as `main` prints it, then a later mask.
#[tokio::test]
async fn child_scenario() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // only meaningful inside `hostile_text_never_becomes_a_command`
    }
    // libtest has written `test child_scenario ... ` without a line break.
    runner::info("");
    runner::add_mask(EARLY_SECRET);
    let err = stack::deploy(&failing_create(), &request())
        .await
        .expect_err("the create fails");
    let policy = smoke::SmokePolicy {
        deadline: Duration::from_millis(300),
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(100),
        request_timeout: Duration::from_millis(200),
    };
    let url = "http://127.0.0.1:9/health\n::add-mask::from-the-url\n##[set-output name=s]t";
    let smoke_err = smoke::check(url, &policy)
        .await
        .expect_err("nothing listens");
    runner::error(
        Some("ecs-poc-action failed"),
        &format!("{:#}", err.context(format!("{smoke_err:#}"))),
    );
    runner::add_mask(LATE_SECRET);
    runner::info(&format!("{EARLY_SECRET} {LATE_SECRET}"));
}

#[test]
fn hostile_text_never_becomes_a_command() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "child_scenario",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = runner_log::interpret(&stdout);
    let rendered = log.rendered();

    // Only the action's own commands ran, and nothing stopped them.
    for c in log.commands() {
        assert!(
            [
                "add-mask", "group", "endgroup", "error", "warning", "notice"
            ]
            .contains(&c.name.as_str()),
            "injected command {c:?} in:\n{stdout}"
        );
    }
    assert_eq!(log.masks, [EARLY_SECRET, LATE_SECRET], "{stdout}");
    assert!(
        !rendered.contains(EARLY_SECRET) && !rendered.contains(LATE_SECRET),
        "{rendered}"
    );
    let errors: Vec<_> = log.commands().filter(|c| c.name == "error").collect();
    assert!(!errors.is_empty(), "{stdout}");

    // The hostile text is still shown, as text: a reader can see what AWS said.
    assert!(rendered.contains("set-output name=a]b"), "{rendered}");
    assert!(rendered.contains("stop-commands::pwned"), "{rendered}");
    assert!(rendered.contains("fromtable"), "{rendered}");
    assert!(rendered.contains("from-the-url"), "{rendered}");
    // A literal `%0A` stays literal in the error annotation (escaped as `%250A`).
    let last = errors.last().map(|c| c.data.as_str()).unwrap_or_default();
    assert!(last.contains("literal %0A::add-mask::y"), "{last}");
}
