//! Destroy with the SDK's response mocking: it waits for a running update, reports the resource
//! that would not go, and accepts an absent stack. Fixtures: tests/common/stack_mocks.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "common/stack_mocks.rs"]
mod stack_mocks;

use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};
use aws_smithy_mocks::RuleMode;
use ecs_poc_action::stack::StackError;
use stack_mocks::*;

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
    let rules = [
        statuses_in_turn(&[
            (ID, StackStatus::UpdateInProgress),
            (ID, StackStatus::UpdateComplete),
            (ID, StackStatus::DeleteComplete),
        ]),
        resources(),
        pages_in_turn(vec![old, e]),
        delete_stack(),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
    let out = destroy_now(&c).await.expect("deleted");
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
    let [stacks, resources, events, deleted] = &rules;
    assert_calls(&[
        ("DescribeStacks", stacks, 3),
        ("ListStackResources", resources, 1),
        ("DescribeStackEvents", events, 2),
        ("DeleteStack", deleted, 1),
    ]);
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
    let rules = [
        statuses_in_turn(&[
            (ID, StackStatus::UpdateComplete),
            (ID, StackStatus::DeleteFailed),
        ]),
        resources(),
        pages_in_turn(vec![old, e]),
        delete_stack(),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
    let err = destroy_now(&c).await.expect_err("delete failed");
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
    let [stacks, resources, events, deleted] = &rules;
    assert_calls(&[
        ("DescribeStacks", stacks, 2),
        ("ListStackResources", resources, 1),
        ("DescribeStackEvents", events, 2),
        ("DeleteStack", deleted, 1),
    ]);
}

#[tokio::test]
async fn destroy_of_an_absent_stack_is_a_success() {
    let c = clients(RuleMode::MatchAny, &[stack_missing()], &[]);
    let out = destroy_now(&c).await.expect("absent is fine");
    assert!(!out.existed);
    assert_eq!(out.cfn_calls, 1);
}
