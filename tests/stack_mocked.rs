//! What moto cannot show, pinned with the SDK's own response mocking. Responses are shaped like
//! the CloudFormation and ECS API references document them; in `Sequential` mode each rule must
//! match the next call, so every test also pins the exact order of API calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::{
    CreateChangeSetError, CreateChangeSetOutput,
};
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
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::types::{
    Capability, Change, ChangeAction, ChangeSetStatus, ChangeSetType, ChangeType, ExecutionStatus,
    Output, Parameter, Replacement, RequiresRecreation, ResourceAttribute, ResourceChange,
    ResourceChangeDetail, ResourceStatus, ResourceTargetDefinition, Stack, StackEvent,
    StackResourceSummary, StackStatus,
};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, DesiredStatus, Task};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use ecs_poc_action::stack::{
    self, Clients, DeployPlan, DeployRequest, Operation, PollPolicy, Scaling, StackError,
    changes_table_markdown, changes_table_text,
};

const NAME: &str = "web";
const OLD_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/web/11111111-aaaa-bbbb-cccc-000000000001";
const ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/web/22222222-aaaa-bbbb-cccc-000000000002";
const CS_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ecs-poc-deploy-42-1/33333333-aaaa-bbbb-cccc-000000000003";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/web/web-Service-AbC123";
const IMAGE: &str =
    "docker.io/acme/web@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const URL: &str = "http://web-LoadB-1ABCDEFG-123456789.us-east-1.elb.amazonaws.com";
const EMPTY_REASON: &str = "The submitted information didn't contain changes. Submit different information to create a change set.";

const TEMPLATE: &str = r#"
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

// ---------------------------------------------------------------- shapes of AWS responses

/// 2024-05-01T12:00:00Z plus `secs`.
fn at(secs: i64) -> DateTime {
    DateTime::from_secs(1_714_564_800 + secs)
}

fn stack_with(id: &str, status: StackStatus) -> Stack {
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

fn stacks(id: &'static str, status: StackStatus) -> Rule {
    mock!(Cfn::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(stack_with(id, status.clone()))
            .build()
    })
}

fn stack_missing() -> Rule {
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

fn throttled() -> ErrorMetadata {
    ErrorMetadata::builder()
        .code("Throttling")
        .message("Rate exceeded")
        .build()
}

/// One stack event. `logical == NAME` makes it the stack's own event.
fn ev(id: &str, secs: i64, logical: &str, status: ResourceStatus, reason: &str) -> StackEvent {
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
fn events(page: Vec<StackEvent>, next: Option<&'static str>) -> Rule {
    mock!(Cfn::describe_stack_events).then_output(move || {
        let mut newest_first = page.clone();
        newest_first.sort_by_key(|e| std::cmp::Reverse(e.timestamp().map(|t| t.secs())));
        DescribeStackEventsOutput::builder()
            .set_stack_events(Some(newest_first))
            .set_next_token(next.map(String::from))
            .build()
    })
}

fn create_change_set(kind: ChangeSetType, stack_id: &'static str) -> Rule {
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

fn change(
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

fn change_set(
    status: ChangeSetStatus,
    reason: Option<&'static str>,
    changes: Vec<Change>,
    next: Option<&'static str>,
) -> Rule {
    mock!(Cfn::describe_change_set).then_output(move || {
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
            .status(status.clone())
            .set_status_reason(reason.map(String::from))
            .execution_status(exec)
            .set_changes(Some(changes.clone()))
            .set_next_token(next.map(String::from))
            .build()
    })
}

fn delete_change_set() -> Rule {
    mock!(Cfn::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some(CS_ID))
        .then_output(|| DeleteChangeSetOutput::builder().build())
}

fn execute() -> Rule {
    mock!(Cfn::execute_change_set)
        .match_requests(|r| {
            r.change_set_name() == Some(CS_ID)
                && r.client_request_token() == Some("ecs-poc-deploy-42-1")
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build())
}

fn clients(mode: RuleMode, cfn: &[Rule], ecs: &[Rule]) -> Clients {
    let cfn_rules: Vec<&Rule> = cfn.iter().collect();
    let ecs_rules: Vec<&Rule> = ecs.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, mode, &cfn_rules, |c| c
        .retry_config(RetryConfig::disabled()));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, &ecs_rules, |c| c
        .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()));
    Clients::from_clients(cfn, ecs)
}

fn request(image: Option<&str>, desired: Option<u32>) -> DeployRequest {
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

fn lines(events: &[stack::StackEventLine]) -> Vec<String> {
    events.iter().map(ToString::to_string).collect()
}

fn stack_error(err: &anyhow::Error) -> &StackError {
    err.downcast_ref::<StackError>()
        .unwrap_or_else(|| panic!("not a StackError: {err:#}"))
}

// ---------------------------------------------------------------- tests

/// A rerun with nothing to change: unset parameters keep their previous values, the live desired
/// count (7, clamped to max 5) is passed, the FAILED change set is recognised as "no changes",
/// deleted, and the stack's outputs still reported — in five CloudFormation calls, no sleep.
#[tokio::test]
async fn empty_change_set_is_a_success_with_outputs() {
    let create = mock!(Cfn::create_change_set)
        .match_requests(|r| {
            let p: Vec<String> = r
                .parameters()
                .iter()
                .map(|p| match p.use_previous_value() {
                    Some(true) => format!("{}=<previous>", p.parameter_key().unwrap_or_default()),
                    _ => format!(
                        "{}={}",
                        p.parameter_key().unwrap_or_default(),
                        p.parameter_value().unwrap_or_default()
                    ),
                })
                .collect();
            r.change_set_type() == Some(&ChangeSetType::Update)
                && p == [
                    "MinCapacity=2",
                    "MaxCapacity=5",
                    "ImageUri=<previous>",
                    "DesiredCount=5",
                    "Cpu=<previous>",
                ]
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id(CS_ID)
                .stack_id(ID)
                .build()
        });
    let resources = mock!(Cfn::list_stack_resources)
        .match_requests(|r| r.stack_name() == Some(NAME))
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
        });
    let live = mock!(Ecs::describe_services)
        .match_requests(|r| r.cluster() == Some("web") && r.services() == ["web-Service-AbC123"])
        .then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    aws_sdk_ecs::types::Service::builder()
                        .service_name("web-Service-AbC123")
                        .status("ACTIVE")
                        .desired_count(7)
                        .build(),
                )
                .build()
        });
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            resources,
            create,
            change_set(ChangeSetStatus::Failed, Some(EMPTY_REASON), vec![], None),
            delete_change_set(),
        ],
        &[live],
    );
    let mut req = request(None, None);
    req.plan.poll = PollPolicy::default(); // the production policy: first re-poll after ~1 s
    let started = Instant::now();
    let out = stack::deploy(&c, &req)
        .await
        .expect("no changes is a success");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "a no-op never sleeps"
    );
    assert_eq!(out.operation, Operation::Update);
    assert_eq!(
        out.previous_image.as_deref(),
        Some("docker.io/acme/web@sha256:aaaa")
    );
    assert!(!out.has_changes && !out.executed);
    assert_eq!(out.output("ServiceUrl"), Some(URL));
    assert_eq!(out.cfn_calls, 5);
    assert_eq!(out.status, Some(StackStatus::UpdateComplete));
}

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
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateInProgress),
            stacks(ID, StackStatus::UpdateInProgress),
            stacks(ID, StackStatus::UpdateCompleteCleanupInProgress),
            stacks(ID, StackStatus::UpdateComplete),
            refused,
        ],
        &[],
    );
    let out = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect("settles, then no changes");
    assert!(!out.has_changes);
    assert_eq!(out.output("ServiceUrl"), Some(URL));
    assert_eq!(out.cfn_calls, 5);
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
    let c = clients(RuleMode::MatchAny, &[busy], &[]);
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
    let c = clients(
        RuleMode::MatchAny,
        &[
            before,
            during,
            no_events,
            create_change_set(ChangeSetType::Update, ID),
            change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
            execute(),
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
}

/// A failed first create leaves ROLLBACK_COMPLETE: delete it (following its events), then create.
#[tokio::test]
async fn recovers_from_rollback_complete() {
    let old = |id: &str, secs, logical: &str, status, reason: &str| {
        let mut e = ev(id, secs, logical, status, reason);
        e.stack_id = Some(OLD_ID.into());
        e
    };
    let history = vec![
        old(
            "o1",
            -100,
            NAME,
            ResourceStatus::CreateInProgress,
            "User Initiated",
        ),
        old(
            "o2",
            -90,
            "Bucket",
            ResourceStatus::CreateFailed,
            "already exists",
        ),
        old("o3", -80, NAME, ResourceStatus::RollbackComplete, ""),
    ];
    let mut deleting = history.clone();
    deleting.push(old(
        "d1",
        1,
        NAME,
        ResourceStatus::DeleteInProgress,
        "User Initiated",
    ));
    let mut deleted = deleting.clone();
    deleted.push(old("d2", 2, NAME, ResourceStatus::DeleteComplete, ""));
    let review = vec![ev(
        "r1",
        3,
        NAME,
        ResourceStatus::from("REVIEW_IN_PROGRESS"),
        "User Initiated",
    )];
    let mut created = review.clone();
    created.push(ev(
        "n1",
        4,
        NAME,
        ResourceStatus::CreateInProgress,
        "User Initiated",
    ));
    created.push(ev("n2", 5, "Cluster", ResourceStatus::CreateComplete, ""));
    created.push(ev("n3", 6, NAME, ResourceStatus::CreateComplete, ""));
    let delete = mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(OLD_ID))
        .then_output(|| DeleteStackOutput::builder().build());
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(OLD_ID, StackStatus::RollbackComplete),
            events(history, None),
            delete,
            stacks(OLD_ID, StackStatus::DeleteInProgress),
            events(deleting, None),
            stacks(OLD_ID, StackStatus::DeleteComplete),
            events(deleted, None),
            create_change_set(ChangeSetType::Create, ID),
            change_set(
                ChangeSetStatus::CreateComplete,
                None,
                vec![change(
                    ChangeAction::Add,
                    "Cluster",
                    "AWS::ECS::Cluster",
                    None,
                    &[],
                )],
                None,
            ),
            events(review, None),
            execute(),
            stacks(ID, StackStatus::CreateComplete),
            events(created, None),
        ],
        &[],
    );
    let out = stack::deploy(&c, &request(Some(IMAGE), None))
        .await
        .expect("recreated");
    assert_eq!(out.operation, Operation::Create);
    assert!(out.executed);
    assert_eq!(out.stack_id, ID);
    assert_eq!(
        lines(&out.events),
        [
            "2024-05-01T12:00:04Z CREATE_IN_PROGRESS web (AWS::CloudFormation::Stack): User Initiated",
            "2024-05-01T12:00:05Z CREATE_COMPLETE Cluster (AWS::ECS::Cluster)",
            "2024-05-01T12:00:06Z CREATE_COMPLETE web (AWS::CloudFormation::Stack)",
        ]
    );
}

/// One resource fails, the others are cancelled, the stack rolls back: the root cause reported is
/// the failed resource, not a cancellation and not the stack's summary.
#[tokio::test]
async fn create_failure_reports_the_first_real_failure() {
    let review = vec![ev(
        "r1",
        0,
        NAME,
        ResourceStatus::from("REVIEW_IN_PROGRESS"),
        "User Initiated",
    )];
    let mut e = review.clone();
    e.push(ev(
        "e1",
        1,
        NAME,
        ResourceStatus::CreateInProgress,
        "User Initiated",
    ));
    e.push(ev("e2", 2, "Bucket", ResourceStatus::CreateInProgress, ""));
    e.push(ev("e3", 2, "Queue", ResourceStatus::CreateInProgress, ""));
    let first = e.clone();
    e.push(ev("e4", 3, "Bucket", ResourceStatus::CreateFailed, "web-assets already exists in stack arn:aws:cloudformation:us-east-1:123456789012:stack/other/1"));
    e.push(ev(
        "e5",
        4,
        "Queue",
        ResourceStatus::CreateFailed,
        "Resource creation cancelled",
    ));
    e.push(ev(
        "e6",
        5,
        NAME,
        ResourceStatus::RollbackInProgress,
        "The following resource(s) failed to create: [Queue, Bucket]. Rollback requested by user.",
    ));
    let second = e.clone();
    e.push(ev("e7", 6, "Queue", ResourceStatus::DeleteComplete, ""));
    e.push(ev("e8", 7, "Bucket", ResourceStatus::DeleteComplete, ""));
    e.push(ev("e9", 8, NAME, ResourceStatus::RollbackComplete, ""));
    let c = clients(
        RuleMode::Sequential,
        &[
            stack_missing(),
            create_change_set(ChangeSetType::Create, ID),
            change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
            events(review, None),
            execute(),
            stacks(ID, StackStatus::CreateInProgress),
            events(first, None),
            stacks(ID, StackStatus::RollbackInProgress),
            events(second, None),
            stacks(ID, StackStatus::RollbackComplete),
            events(e, None),
        ],
        &[],
    );
    let err = stack::deploy(&c, &request(Some(IMAGE), None))
        .await
        .expect_err("create fails");
    match stack_error(&err) {
        StackError::StackFailed {
            status, root_cause, ..
        } => {
            assert_eq!(status, "ROLLBACK_COMPLETE");
            assert_eq!(
                root_cause,
                "Bucket CREATE_FAILED (AWS::S3::Bucket): web-assets already exists in stack arn:aws:cloudformation:us-east-1:123456789012:stack/other/1"
            );
        }
        other => panic!("{other}"),
    }
}

/// The circuit breaker rolls the service back; the stack event says little, the stopped tasks
/// say why. Also pins the change set tables for an update.
#[tokio::test]
async fn circuit_breaker_failure_reports_stopped_task_reasons() {
    let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
    let mut e = old.clone();
    e.push(ev(
        "e1",
        1,
        NAME,
        ResourceStatus::UpdateInProgress,
        "User Initiated",
    ));
    e.push(ev(
        "e2",
        2,
        "TaskDefinition",
        ResourceStatus::UpdateComplete,
        "",
    ));
    e.push(ev("e3", 3, "Service", ResourceStatus::UpdateInProgress, ""));
    e.push(ev("e4", 600, "Service", ResourceStatus::UpdateFailed, "Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.\" (RequestToken: 9f1c, HandlerErrorCode: GeneralServiceException)"));
    e.push(ev(
        "e5",
        601,
        NAME,
        ResourceStatus::UpdateRollbackInProgress,
        "The following resource(s) failed to update: [Service].",
    ));
    e.push(ev(
        "e6",
        700,
        NAME,
        ResourceStatus::UpdateRollbackComplete,
        "",
    ));
    let changes = vec![
        change(
            ChangeAction::Modify,
            "TaskDefinition",
            "AWS::ECS::TaskDefinition",
            Some(Replacement::True),
            &["ContainerDefinitions"],
        ),
        change(
            ChangeAction::Modify,
            "Service",
            "AWS::ECS::Service",
            Some(Replacement::False),
            &["TaskDefinition"],
        ),
    ];
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|r| {
            r.cluster() == Some("web")
                && r.service_name() == Some("web-Service-AbC123")
                && r.desired_status() == Some(&DesiredStatus::Stopped)
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns("t1")
                .task_arns("t2")
                .task_arns("t3")
                .build()
        });
    let described = mock!(Ecs::describe_tasks).match_requests(|r| r.tasks() == ["t1", "t2", "t3"]).then_output(|| {
        let pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/acme/web@sha256:cccc: not found";
        let task = |arn: &str, secs: i64, reason: &str, container: Container| {
            Task::builder().task_arn(arn).stopped_at(at(secs)).stopped_reason(reason).containers(container).build()
        };
        DescribeTasksOutput::builder()
            .tasks(task("t1", 100, pull, Container::builder().name("web").build()))
            .tasks(task("t2", 300, "Essential container in task exited", Container::builder().name("web").exit_code(1).build()))
            .tasks(task("t3", 200, pull, Container::builder().name("web").build()))
            .build()
    });
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            create_change_set(ChangeSetType::Update, ID),
            change_set(ChangeSetStatus::CreateComplete, None, changes, None),
            events(old, None),
            execute(),
            stacks(ID, StackStatus::UpdateRollbackComplete),
            events(e, None),
        ],
        &[stopped, described],
    );
    let err = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect_err("rolled back");
    match stack_error(&err) {
        StackError::StackFailed {
            status, root_cause, ..
        } => {
            assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
            assert_eq!(
                root_cause,
                "Service UPDATE_FAILED (AWS::ECS::Service): Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.\" (RequestToken: 9f1c, HandlerErrorCode: GeneralServiceException). \
                 Stopped tasks: Essential container in task exited; web: exit code 1 | \
                 CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/acme/web@sha256:cccc: not found (2 tasks)"
            );
        }
        other => panic!("{other}"),
    }
}

/// A preview describes every page of the change set, prints it, and deletes it. The tables are
/// the exact text the log and the job summary show.
#[tokio::test]
async fn preview_describes_all_pages_and_deletes_the_change_set() {
    let page1 = vec![change(
        ChangeAction::Modify,
        "TaskDefinition",
        "AWS::ECS::TaskDefinition",
        Some(Replacement::True),
        &["ContainerDefinitions", "Cpu"],
    )];
    let page2 = vec![
        change(
            ChangeAction::Modify,
            "Service",
            "AWS::ECS::Service",
            Some(Replacement::Conditional),
            &["TaskDefinition"],
        ),
        change(ChangeAction::Remove, "OldRole", "AWS::IAM::Role", None, &[]),
    ];
    let second_page = mock!(Cfn::describe_change_set)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_id(CS_ID)
                .status(ChangeSetStatus::CreateComplete)
                .set_changes(Some(page2.clone()))
                .build()
        });
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            create_change_set(ChangeSetType::Update, ID),
            change_set(ChangeSetStatus::CreateInProgress, None, vec![], None),
            change_set(ChangeSetStatus::CreateComplete, None, page1, Some("page-2")),
            second_page,
            delete_change_set(),
        ],
        &[],
    );
    let mut req = request(Some(IMAGE), Some(2));
    req.plan.execute = false;
    let out = stack::deploy(&c, &req).await.expect("preview");
    assert!(out.has_changes && !out.executed && !out.change_set_kept);
    assert_eq!(out.change_set_id.as_deref(), Some(CS_ID));
    assert_eq!(
        changes_table_text(&out.changes),
        "Action  Logical ID      Type                      Replacement  Changed properties\n\
         Modify  TaskDefinition  AWS::ECS::TaskDefinition  True         ContainerDefinitions, Cpu\n\
         Modify  Service         AWS::ECS::Service         Conditional  TaskDefinition\n\
         Remove  OldRole         AWS::IAM::Role\n"
    );
    assert_eq!(
        changes_table_markdown(&out.changes),
        "| Action | Logical ID | Type | Replacement | Changed properties |\n\
         |---|---|---|---|---|\n\
         | Modify | `TaskDefinition` | AWS::ECS::TaskDefinition | True | ContainerDefinitions, Cpu |\n\
         | Modify | `Service` | AWS::ECS::Service | Conditional | TaskDefinition |\n\
         | Remove | `OldRole` | AWS::IAM::Role |  |  |\n"
    );
}

/// Events arrive over several polls, one poll spanning two pages; each is reported once, in order.
/// Termination protection is then applied as asked.
#[tokio::test]
async fn events_across_polls_and_pages_are_reported_once() {
    let review = vec![ev(
        "r1",
        0,
        NAME,
        ResourceStatus::from("REVIEW_IN_PROGRESS"),
        "User Initiated",
    )];
    let mut e = review.clone();
    e.push(ev(
        "e1",
        1,
        NAME,
        ResourceStatus::CreateInProgress,
        "User Initiated",
    ));
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
    let c = clients(
        RuleMode::Sequential,
        &[
            stack_missing(),
            create,
            change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
            events(review, None),
            execute(),
            stacks(ID, StackStatus::CreateInProgress),
            events(poll1, None),
            stacks(ID, StackStatus::CreateInProgress),
            events(page1, Some("older")),
            events(page2, None),
            stacks(ID, StackStatus::CreateComplete),
            events(e, None),
            protect,
        ],
        &[],
    );
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
    let throttled_cs =
        mock!(Cfn::describe_change_set).then_error(|| DescribeChangeSetError::generic(throttled()));
    let throttled_stack =
        mock!(Cfn::describe_stacks).then_error(|| DescribeStacksError::generic(throttled()));
    let throttled_events = || {
        mock!(Cfn::describe_stack_events)
            .then_error(|| DescribeStackEventsError::generic(throttled()))
    };
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            create_change_set(ChangeSetType::Update, ID),
            throttled_cs,
            change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
            events(old, None),
            execute(),
            throttled_stack,
            stacks(ID, StackStatus::UpdateInProgress),
            throttled_events(),
            stacks(ID, StackStatus::UpdateComplete),
            throttled_events(),
            events(e, None),
        ],
        &[],
    );
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
}

#[tokio::test]
async fn update_rollback_failed_stops_with_the_repair_command() {
    let c = clients(
        RuleMode::Sequential,
        &[stacks(ID, StackStatus::UpdateRollbackFailed)],
        &[],
    );
    let err = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect_err("needs repair");
    match stack_error(&err) {
        StackError::NeedsRepair { command, .. } => {
            assert_eq!(
                command,
                "aws cloudformation continue-update-rollback --stack-name web"
            )
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_failed_change_set_is_deleted_and_its_reason_reported() {
    let reason = "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template";
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            create_change_set(ChangeSetType::Update, ID),
            change_set(ChangeSetStatus::Failed, Some(reason), vec![], None),
            delete_change_set(),
        ],
        &[],
    );
    let err = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect_err("change set failed");
    match stack_error(&err) {
        StackError::ChangeSetFailed { reason: r, .. } => assert_eq!(r, reason),
        other => panic!("{other}"),
    }
}

fn resources() -> Rule {
    mock!(Cfn::list_stack_resources)
        .match_requests(|r| r.stack_name() == Some(ID))
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

fn delete_stack() -> Rule {
    mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(|| DeleteStackOutput::builder().build())
}

/// Destroy waits for a running update, then deletes and follows the stack to DELETE_COMPLETE.
#[tokio::test]
async fn destroy_waits_for_a_running_update_then_deletes() {
    let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
    let mut e = old.clone();
    e.push(ev(
        "d1",
        1,
        NAME,
        ResourceStatus::DeleteInProgress,
        "User Initiated",
    ));
    e.push(ev("d2", 2, "Service", ResourceStatus::DeleteComplete, ""));
    e.push(ev("d3", 3, "Cluster", ResourceStatus::DeleteComplete, ""));
    e.push(ev("d4", 4, NAME, ResourceStatus::DeleteComplete, ""));
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateInProgress),
            stacks(ID, StackStatus::UpdateComplete),
            resources(),
            events(old, None),
            delete_stack(),
            stacks(ID, StackStatus::DeleteComplete),
            events(e, None),
        ],
        &[],
    );
    let out = stack::destroy(
        &c,
        NAME,
        Instant::now() + Duration::from_secs(30),
        PollPolicy::immediate(),
    )
    .await
    .expect("deleted");
    assert!(out.existed);
    assert_eq!(
        out.removed,
        [
            ("Cluster".to_string(), "AWS::ECS::Cluster".to_string()),
            ("Service".into(), "AWS::ECS::Service".into())
        ]
    );
    assert_eq!(
        lines(&out.events),
        [
            "2024-05-01T12:00:01Z DELETE_IN_PROGRESS web (AWS::CloudFormation::Stack): User Initiated",
            "2024-05-01T12:00:02Z DELETE_COMPLETE Service (AWS::ECS::Service)",
            "2024-05-01T12:00:03Z DELETE_COMPLETE Cluster (AWS::ECS::Cluster)",
            "2024-05-01T12:00:04Z DELETE_COMPLETE web (AWS::CloudFormation::Stack)",
        ]
    );
    assert_eq!(out.cfn_calls, 7);
}

#[tokio::test]
async fn destroy_failure_reports_the_resource_that_would_not_go() {
    let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
    let mut e = old.clone();
    e.push(ev(
        "d1",
        1,
        NAME,
        ResourceStatus::DeleteInProgress,
        "User Initiated",
    ));
    e.push(ev("d2", 2, "Cluster", ResourceStatus::DeleteFailed, "The Cluster cannot be deleted while Services are active. (Service: AmazonECS; Status Code: 400; Error Code: ClusterContainsServicesException)"));
    e.push(ev(
        "d3",
        3,
        NAME,
        ResourceStatus::DeleteFailed,
        "The following resource(s) failed to delete: [Cluster]. ",
    ));
    let c = clients(
        RuleMode::Sequential,
        &[
            stacks(ID, StackStatus::UpdateComplete),
            resources(),
            events(old, None),
            delete_stack(),
            stacks(ID, StackStatus::DeleteFailed),
            events(e, None),
        ],
        &[],
    );
    let err = stack::destroy(
        &c,
        NAME,
        Instant::now() + Duration::from_secs(30),
        PollPolicy::immediate(),
    )
    .await
    .expect_err("delete failed");
    match stack_error(&err) {
        StackError::StackFailed {
            status, root_cause, ..
        } => {
            assert_eq!(status, "DELETE_FAILED");
            assert!(
                root_cause.starts_with(
                    "Cluster DELETE_FAILED (AWS::ECS::Cluster): The Cluster cannot be deleted"
                ),
                "{root_cause}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn destroy_of_an_absent_stack_is_a_success() {
    let c = clients(RuleMode::Sequential, &[stack_missing()], &[]);
    let out = stack::destroy(
        &c,
        NAME,
        Instant::now() + Duration::from_secs(30),
        PollPolicy::immediate(),
    )
    .await
    .expect("absent is fine");
    assert!(!out.existed);
    assert_eq!(out.cfn_calls, 1);
}

/// A preview is read-only: it does not delete a failed first create to show what a create would do.
#[tokio::test]
async fn preview_never_deletes_a_rolled_back_stack() {
    let c = clients(
        RuleMode::Sequential,
        &[stacks(ID, StackStatus::RollbackComplete)],
        &[],
    );
    let mut req = request(Some(IMAGE), None);
    req.plan.execute = false;
    let err = stack::deploy(&c, &req)
        .await
        .expect_err("nothing to preview");
    assert!(err.to_string().contains("ROLLBACK_COMPLETE"), "{err:#}");
    assert_eq!(c.cfn_calls(), 1);
}

const SERVICE_ROLE: &str = "arn:aws:iam::123456789012:role/web-cloudformation";

/// `cloudformation-role-arn` reaches CloudFormation as `RoleARN` on the change set (preview and
/// deploy alike) and on the delete, and is absent when not given: CloudFormation then acts with
/// the caller's own permissions, as before.
#[tokio::test]
async fn the_service_role_is_sent_on_change_sets_and_deletes() {
    for role in [Some(SERVICE_ROLE), None] {
        let create = mock!(Cfn::create_change_set)
            .match_requests(move |r| r.role_arn() == role)
            .then_output(|| {
                CreateChangeSetOutput::builder()
                    .id(CS_ID)
                    .stack_id(ID)
                    .build()
            });
        let c = clients(
            RuleMode::Sequential,
            &[
                stacks(ID, StackStatus::UpdateComplete),
                create,
                change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
                delete_change_set(),
            ],
            &[],
        )
        .with_service_role(role.map(String::from));
        let mut req = request(Some(IMAGE), Some(2));
        req.plan.execute = false;
        stack::deploy(&c, &req)
            .await
            .unwrap_or_else(|e| panic!("preview with role {role:?}: {e:#}"));

        let delete = mock!(Cfn::delete_stack)
            .match_requests(move |r| r.stack_name() == Some(ID) && r.role_arn() == role)
            .then_output(|| DeleteStackOutput::builder().build());
        let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
        let c = clients(
            RuleMode::Sequential,
            &[
                stacks(ID, StackStatus::UpdateComplete),
                resources(),
                events(old.clone(), None),
                delete,
                stacks(ID, StackStatus::DeleteComplete),
                events(old, None),
            ],
            &[],
        )
        .with_service_role(role.map(String::from));
        stack::destroy(
            &c,
            NAME,
            Instant::now() + Duration::from_secs(30),
            PollPolicy::immediate(),
        )
        .await
        .unwrap_or_else(|e| panic!("destroy with role {role:?}: {e:#}"));
    }
}
