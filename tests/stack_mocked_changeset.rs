//! Change sets with the SDK's response mocking: an unchanged rerun is a cheap success (the no-op
//! call budget), a preview reads every page and deletes its change set, a FAILED change set is
//! deleted with its reason, and the service role rides on every change set and delete.
//! Fixtures: tests/common/stack_mocks.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "common/stack_mocks.rs"]
mod stack_mocks;

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeSetStatus, ChangeSetType, Replacement, ResourceStatus, StackStatus,
};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_smithy_mocks::{RuleMode, mock};
use ecs_poc_action::stack::{
    self, Operation, PollPolicy, StackError, changes_table_markdown, changes_table_text,
};
use stack_mocks::*;
use std::time::{Duration, Instant};

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
    let resources = resources_of(NAME);
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
    // Sequential: the call budget and its order are the subject here.
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
    let first_page = mock!(Cfn::describe_change_set)
        .match_requests(|r| r.next_token().is_none())
        .sequence()
        .output(|| change_set_output(ChangeSetStatus::CreateInProgress, None, vec![], None))
        .output(move || {
            change_set_output(
                ChangeSetStatus::CreateComplete,
                None,
                page1.clone(),
                Some("page-2"),
            )
        })
        .build();
    let rules = [
        stacks(ID, StackStatus::UpdateComplete),
        create_change_set(ChangeSetType::Update, ID),
        first_page,
        second_page,
        delete_change_set(),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
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
    let [stacks, create, first_page, second_page, deleted] = &rules;
    assert_calls(&[
        ("DescribeStacks", stacks, 1),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet (first page, polled)", first_page, 2),
        ("DescribeChangeSet (page 2)", second_page, 1),
        ("DeleteChangeSet", deleted, 1),
    ]);
}

#[tokio::test]
async fn a_failed_change_set_is_deleted_and_its_reason_reported() {
    let reason = "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template";
    let rules = [
        stacks(ID, StackStatus::UpdateComplete),
        create_change_set(ChangeSetType::Update, ID),
        change_set(ChangeSetStatus::Failed, Some(reason), vec![], None),
        delete_change_set(),
    ];
    let c = clients(RuleMode::MatchAny, &rules, &[]);
    let err = stack::deploy(&c, &request(Some(IMAGE), Some(2)))
        .await
        .expect_err("change set failed");
    match stack_error(&err) {
        StackError::ChangeSetFailed { reason: r, .. } => assert_eq!(r, reason),
        other => panic!("{other}"),
    }
    let [stacks, create, cs, deleted] = &rules;
    assert_calls(&[
        ("DescribeStacks", stacks, 1),
        ("CreateChangeSet", create, 1),
        ("DescribeChangeSet", cs, 1),
        ("DeleteChangeSet", deleted, 1),
    ]);
}

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
        let previewed = [
            stacks(ID, StackStatus::UpdateComplete),
            create,
            change_set(ChangeSetStatus::CreateComplete, None, vec![], None),
            delete_change_set(),
        ];
        let c =
            clients(RuleMode::MatchAny, &previewed, &[]).with_service_role(role.map(String::from));
        let mut req = request(Some(IMAGE), Some(2));
        req.plan.execute = false;
        stack::deploy(&c, &req)
            .await
            .unwrap_or_else(|e| panic!("preview with role {role:?}: {e:#}"));
        assert_eq!(
            previewed[1].num_calls(),
            1,
            "CreateChangeSet with role {role:?}"
        );

        let delete = mock!(Cfn::delete_stack)
            .match_requests(move |r| r.stack_name() == Some(ID) && r.role_arn() == role)
            .then_output(|| DeleteStackOutput::builder().build());
        let old = vec![ev("o1", -50, NAME, ResourceStatus::UpdateComplete, "")];
        let destroyed = [
            statuses_in_turn(&[
                (ID, StackStatus::UpdateComplete),
                (ID, StackStatus::DeleteComplete),
            ]),
            resources(),
            pages_in_turn(vec![old.clone(), old]),
            delete,
        ];
        let c =
            clients(RuleMode::MatchAny, &destroyed, &[]).with_service_role(role.map(String::from));
        destroy_now(&c)
            .await
            .unwrap_or_else(|e| panic!("destroy with role {role:?}: {e:#}"));
        assert_eq!(
            destroyed[3].num_calls(),
            1,
            "DeleteStack with role {role:?}"
        );
    }
}
