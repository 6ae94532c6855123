//! Failed stacks with the SDK's response mocking (moto has no rollback and no events): recovery
//! from ROLLBACK_COMPLETE, the root cause of a failed create, the stopped tasks behind a circuit
//! breaker, a stack needing repair, and a preview that never deletes.
//! Fixtures: tests/common/stack_mocks.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "common/stack_mocks.rs"]
mod stack_mocks;

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeSetStatus, ChangeSetType, Replacement, ResourceStatus, StackStatus,
};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, DesiredStatus, Task};
use aws_smithy_mocks::{RuleMode, mock};
use ecs_poc_action::stack::{self, Operation, StackError};
use stack_mocks::*;

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
    // Sequential: the order is the subject (the old stack is gone before the new one is made).
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
    let (review, mut e) = create_started();
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
    let rules = [
        stack_missing(),
        create_change_set(ChangeSetType::Create, ID),
        change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
        execute(),
        statuses_in_turn(&[
            (ID, StackStatus::CreateInProgress),
            (ID, StackStatus::RollbackInProgress),
            (ID, StackStatus::RollbackComplete),
        ]),
        pages_in_turn(vec![review, first, second, e]),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
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
    let [missing, create, described, executed, polled, events] = &rules;
    assert_calls(&[
        ("DescribeStacks (missing)", missing, 1),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet", described, 1),
        ("ExecuteChangeSet", executed, 1),
        ("DescribeStacks (polls)", polled, 3),
        ("DescribeStackEvents", events, 4),
    ]);
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
    let rules = [
        statuses_in_turn(&[
            (ID, StackStatus::UpdateComplete),
            (ID, StackStatus::UpdateRollbackComplete),
        ]),
        create_change_set(ChangeSetType::Update, ID),
        change_set(ChangeSetStatus::CreateComplete, None, changes, None),
        execute(),
        pages_in_turn(vec![old, e]),
    ];
    let ecs = [stopped, described];
    let c = clients(RuleMode::MatchAny, &rules, &ecs);
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
    let [stacks, create, cs, executed, events] = &rules;
    let [stopped, described] = &ecs;
    assert_calls(&[
        ("DescribeStacks", stacks, 2),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet", cs, 1),
        ("ExecuteChangeSet", executed, 1),
        ("DescribeStackEvents", events, 2),
        ("ListTasks", stopped, 1),
        ("DescribeTasks", described, 1),
    ]);
}

#[tokio::test]
async fn update_rollback_failed_stops_with_the_repair_command() {
    let c = clients(
        RuleMode::MatchAny,
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
    assert_eq!(c.cfn_calls(), 1, "nothing but the read");
}

/// A preview is read-only: it does not delete a failed first create to show what a create would do.
#[tokio::test]
async fn preview_never_deletes_a_rolled_back_stack() {
    let c = clients(
        RuleMode::MatchAny,
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
