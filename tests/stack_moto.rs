//! The deploy engine against moto (`ECS_TEST_MOTO_URL`): create, update, no-op rerun, preview,
//! destroy, parameter validation and the live desired count. Each test uses its own stack, so
//! they run in parallel without resetting moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use std::time::{Duration, Instant};

use common::moto::unexecuted_change_sets;
use common::unique;
use ecs_poc_action::stack::{
    self, Clients, DEFAULT_TEMPLATE, DeployPlan, DeployRequest, Operation, PollPolicy, Scaling,
    StackError,
};

/// The engine's clients, plus the test's own SDK clients for reading back (the engine keeps its
/// clients to itself). Derefs to the engine's, so `stack::deploy(&c, …)` reads as before.
struct Moto {
    engine: Clients,
    cfn: aws_sdk_cloudformation::Client,
    ecs: aws_sdk_ecs::Client,
}

impl std::ops::Deref for Moto {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.engine
    }
}

async fn clients() -> Moto {
    let config = common::moto::sdk_config("us-east-1").await;
    Moto {
        engine: Clients::new(&config),
        cfn: aws_sdk_cloudformation::Client::new(&config),
        ecs: aws_sdk_ecs::Client::new(&config),
    }
}

const IMAGE_A: &str =
    "docker.io/acme/web@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const IMAGE_B: &str =
    "docker.io/acme/web@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn request(stack: &str, image: Option<&str>) -> DeployRequest {
    DeployRequest {
        stack_name: stack.to_string(),
        template_body: DEFAULT_TEMPLATE.to_string(),
        image_uri: image.map(String::from),
        scaling: Scaling {
            min: 1,
            max: 6,
            desired: None,
            target_cpu: 60,
            container_port: 8080,
            health_check_path: "/health".into(),
        },
        overrides: Vec::new(),
        capabilities: vec![stack::Capability::CapabilityIam],
        tags: vec![("app".into(), "web".into())],
        termination_protection: false,
        change_set_name: unique("cs"),
        plan: DeployPlan {
            execute: true,
            keep_change_set: false,
            deadline: Instant::now() + Duration::from_secs(60),
            poll: PollPolicy {
                first: Duration::from_millis(50),
                max: Duration::from_millis(200),
                factor: 2.0,
                jitter: 0.1,
            },
        },
    }
}

/// A fresh request for the same stack, as a new run would make it.
fn rerun(req: &DeployRequest, image: Option<&str>) -> DeployRequest {
    DeployRequest {
        image_uri: image.map(String::from),
        change_set_name: unique("cs"),
        ..req.clone()
    }
}

/// A parameter of the stack as moto has it; `None` once the stack is gone (any other error
/// fails the test).
async fn stack_param(c: &Moto, stack: &str, key: &str) -> anyhow::Result<Option<String>> {
    common::moto::stack_parameter(&c.cfn, stack, key).await
}

/// Logical ids of the changes, sorted.
fn changed_ids(changes: &[stack::ResourceChange]) -> Vec<String> {
    let mut ids: Vec<String> = changes.iter().map(|c| c.logical_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn creates_then_updates_with_a_new_image() {
    let c = clients().await;
    let name = unique("create");
    let req = request(&name, Some(IMAGE_A));

    let created = stack::deploy(&c, &req).await.expect("create");
    assert_eq!(created.operation, Operation::Create);
    assert!(created.executed && created.has_changes);
    assert_eq!(created.status, Some(stack::StackStatus::CreateComplete));
    assert!(
        created
            .changes
            .iter()
            .any(|ch| ch.action == "Add" && ch.logical_id == "Service"),
        "{:?}",
        created.changes
    );
    let url = created.output("ServiceUrl").expect("ServiceUrl output");
    assert!(url.starts_with("http://"), "{url}");
    assert_eq!(
        stack_param(&c, &name, "ImageUri").await.unwrap().as_deref(),
        Some(IMAGE_A)
    );

    let updated = stack::deploy(&c, &rerun(&req, Some(IMAGE_B)))
        .await
        .expect("update");
    assert_eq!(updated.operation, Operation::Update);
    assert!(updated.executed && updated.has_changes);
    assert_eq!(updated.status, Some(stack::StackStatus::UpdateComplete));
    // A new image: the task definition is replaced (ContainerDefinitions is create-only), and the
    // service follows the new task definition's ARN; nothing else changes.
    assert_eq!(
        changed_ids(&updated.changes),
        ["Service", "TaskDefinition"],
        "{:?}",
        updated.changes
    );
    let task = updated
        .changes
        .iter()
        .find(|c| c.logical_id == "TaskDefinition")
        .expect("TaskDefinition change");
    assert_eq!(
        (task.action.as_str(), task.replacement.as_str()),
        ("Modify", "True")
    );
    assert_eq!(task.changed, ["ContainerDefinitions"]);
    assert_eq!(
        stack_param(&c, &name, "ImageUri").await.unwrap().as_deref(),
        Some(IMAGE_B)
    );
    assert_eq!(
        stack_param(&c, &name, "MinCapacity")
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
}

/// A changed target CPU lists exactly the resources of the template that read it.
#[tokio::test]
async fn a_parameter_change_lists_exactly_the_resources_using_it() {
    let c = clients().await;
    let name = unique("param");
    let req = request(&name, Some(IMAGE_A));
    stack::deploy(&c, &req).await.expect("create");

    let mut changed = rerun(&req, Some(IMAGE_A));
    changed.scaling.target_cpu = 45;
    changed.plan.execute = false;
    let out = stack::deploy(&c, &changed).await.expect("preview");
    assert!(out.has_changes && !out.executed);
    let expected = common::resources_using(DEFAULT_TEMPLATE, "TargetCpuUtilization");
    assert!(
        !expected.is_empty(),
        "the template reads TargetCpuUtilization"
    );
    assert_eq!(changed_ids(&out.changes), expected, "{:?}", out.changes);
    for change in &out.changes {
        assert_eq!(
            (change.action.as_str(), change.replacement.as_str()),
            ("Modify", "False"),
            "{change:?}"
        );
    }
    assert_eq!(
        stack_param(&c, &name, "TargetCpuUtilization")
            .await
            .unwrap()
            .as_deref(),
        Some("60"),
        "a preview changes nothing"
    );
}

#[tokio::test]
async fn rerun_without_changes_is_a_cheap_success() {
    let c = clients().await;
    let name = unique("noop");
    // The rerun takes the path a real rerun takes: the live desired count, UsePreviousValue for
    // every parameter not given (Number ones included), CloudFormation's FAILED empty change set.
    let req = request(&name, Some(IMAGE_A));
    stack::deploy(&c, &req).await.expect("create");

    let c = clients().await; // fresh counter
    // The production poll policy: a no-op must not wait its first second.
    let mut again = rerun(&req, Some(IMAGE_A));
    again.plan.poll = PollPolicy::default();
    let started = Instant::now();
    let again = stack::deploy(&c, &again).await.expect("no-op rerun");
    let took = started.elapsed();
    eprintln!(
        "no-op rerun against moto: {} CloudFormation calls, {} ms",
        again.cfn_calls,
        took.as_millis()
    );
    assert!(!again.has_changes && !again.executed);
    assert!(again.changes.is_empty());
    assert!(
        again.output("ServiceUrl").is_some(),
        "outputs are still reported: {:?}",
        again.outputs
    );
    // DescribeStacks, ListStackResources (the service, for its live count), CreateChangeSet,
    // DescribeChangeSet (FAILED: no changes), DeleteChangeSet.
    assert!(again.cfn_calls <= 5, "{} calls", again.cfn_calls);
    // Alone this takes ~1.0 s, 0.9 s of it moto's CreateChangeSet parsing the template; with
    // the whole suite sharing moto it varies, so only a gross regression (a sleep) fails here.
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(
        unexecuted_change_sets(&c.cfn, &name)
            .await
            .unwrap()
            .is_empty(),
        "the empty change set is deleted"
    );
    let status = c
        .cfn
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.stacks().first().and_then(|s| s.stack_status()),
        Some(&stack::StackStatus::CreateComplete),
        "nothing executed"
    );
}

#[tokio::test]
async fn preview_executes_nothing() {
    let c = clients().await;
    let name = unique("preview");
    let req = request(&name, Some(IMAGE_A));
    stack::deploy(&c, &req).await.expect("create");

    let mut preview = rerun(&req, Some(IMAGE_B));
    preview.plan.execute = false;
    let out = stack::deploy(&c, &preview).await.expect("preview");
    assert!(out.has_changes && !out.executed && !out.change_set_kept);
    assert!(out.change_set_id.is_some());
    assert_eq!(
        stack_param(&c, &name, "ImageUri").await.unwrap().as_deref(),
        Some(IMAGE_A),
        "stack unchanged"
    );
    assert!(
        unexecuted_change_sets(&c.cfn, &name)
            .await
            .unwrap()
            .is_empty(),
        "preview change set deleted"
    );

    preview.change_set_name = unique("cs");
    preview.plan.keep_change_set = true;
    let kept = stack::deploy(&c, &preview).await.expect("preview, kept");
    assert!(kept.change_set_kept);
    assert_eq!(
        unexecuted_change_sets(&c.cfn, &name).await.unwrap(),
        [preview.change_set_name.clone()]
    );
    assert_eq!(
        stack_param(&c, &name, "ImageUri").await.unwrap().as_deref(),
        Some(IMAGE_A),
        "stack unchanged"
    );
}

#[tokio::test]
async fn preview_of_a_new_stack_leaves_nothing_behind() {
    let c = clients().await;
    let name = unique("preview-new");
    let mut req = request(&name, Some(IMAGE_A));
    req.plan.execute = false;
    let out = stack::deploy(&c, &req).await.expect("preview");
    assert_eq!(out.operation, Operation::Create);
    assert!(out.has_changes && !out.executed);
    // With default parameters every resource Condition of the bundled template is false (no
    // certificate, public subnets): exactly the unconditional resources are added.
    let expected: Vec<String> = common::template_resources(DEFAULT_TEMPLATE)
        .into_iter()
        .filter(|(_, condition)| condition.is_none())
        .map(|(id, _)| id)
        .collect();
    let listed: Vec<String> = out.changes.iter().map(|c| c.logical_id.clone()).collect();
    assert_eq!(listed, expected);
    assert!(
        out.changes.iter().all(|c| c.action == "Add"),
        "{:?}",
        out.changes
    );
    // Neither the change set nor an empty REVIEW_IN_PROGRESS stack is left behind.
    let live: Vec<String> = c
        .cfn
        .list_stacks()
        .send()
        .await
        .unwrap()
        .stack_summaries()
        .iter()
        .filter(|s| s.stack_name() == Some(name.as_str()))
        .filter_map(|s| s.stack_status().map(|st| st.as_str().to_string()))
        .collect();
    assert!(live.iter().all(|st| st == "DELETE_COMPLETE"), "{live:?}");
    assert!(
        unexecuted_change_sets(&c.cfn, &name)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stack_param(&c, &name, "ImageUri").await.unwrap(), None);
}

#[tokio::test]
async fn destroys_a_stack_and_accepts_an_absent_one() {
    let c = clients().await;
    let name = unique("destroy");
    stack::deploy(&c, &request(&name, Some(IMAGE_A)))
        .await
        .expect("create");
    let deadline = Instant::now() + Duration::from_secs(60);
    let poll = PollPolicy::immediate();

    let gone = stack::destroy(&c, &name, deadline, poll)
        .await
        .expect("destroy");
    assert!(gone.existed);
    assert!(
        gone.removed
            .iter()
            .any(|(id, ty)| id == "Service" && ty == "AWS::ECS::Service"),
        "{:?}",
        gone.removed
    );
    assert_eq!(stack_param(&c, &name, "ImageUri").await.unwrap(), None);

    let again = stack::destroy(&c, &name, deadline, poll)
        .await
        .expect("destroy of an absent stack");
    assert!(!again.existed);
}

#[tokio::test]
async fn termination_protection_blocks_destroy() {
    let c = clients().await;
    let name = unique("protect");
    // moto has no UpdateTerminationProtection (what deploy uses; pinned by the mocked tests):
    // make the protected stack with CreateStack.
    c.cfn
        .create_stack()
        .stack_name(&name)
        .template_body("Resources:\n  Handle: {Type: AWS::CloudFormation::WaitConditionHandle}\n")
        .enable_termination_protection(true)
        .send()
        .await
        .unwrap();
    let err = stack::destroy(
        &c,
        &name,
        Instant::now() + Duration::from_secs(30),
        PollPolicy::immediate(),
    )
    .await
    .expect_err("protected");
    assert!(
        matches!(
            err.downcast_ref(),
            Some(StackError::TerminationProtected { .. })
        ),
        "{err:#}"
    );
    let still = c
        .cfn
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.stacks().first().and_then(|s| s.stack_status()),
        Some(&stack::StackStatus::CreateComplete)
    );
}

#[tokio::test]
async fn parameter_errors_stop_before_any_change() {
    let c = clients().await;
    let name = unique("params");
    let mut req = request(&name, Some(IMAGE_A));
    req.overrides = vec![
        ("Cpu".into(), "512".into()),
        ("NoSuchParam".into(), "1".into()),
    ];
    let err = stack::deploy(&c, &req).await.expect_err("unknown override");
    assert!(format!("{err:#}").contains("NoSuchParam"), "{err:#}");
    assert!(matches!(
        err.downcast_ref(),
        Some(StackError::InvalidParameters { .. })
    ));
    assert_eq!(c.cfn_calls(), 0, "rejected before any AWS call");

    // No image on a create: ImageUri is required. Only the read that tells create from update.
    let err = stack::deploy(&c, &request(&name, None))
        .await
        .expect_err("missing ImageUri");
    assert!(
        format!("{err:#}").contains("required parameters have no value: ImageUri"),
        "{err:#}"
    );
    assert_eq!(c.cfn_calls(), 1);
    assert_eq!(
        stack_param(&c, &name, "ImageUri").await.unwrap(),
        None,
        "nothing created"
    );
}

/// A created stack whose service auto scaling (played by the test) has scaled out to 4.
struct ScaledOut {
    c: Moto,
    name: String,
    req: DeployRequest,
    service_arn: String,
}

impl ScaledOut {
    async fn new(prefix: &str) -> Self {
        let c = clients().await;
        let name = unique(prefix);
        let req = request(&name, Some(IMAGE_A));
        stack::deploy(&c, &req).await.expect("create");
        // The template names the cluster after the stack.
        let services = c.ecs.list_services().cluster(&name).send().await.unwrap();
        let service_arn = services
            .service_arns()
            .first()
            .expect("one service")
            .clone();
        let scaled = Self {
            c,
            name,
            req,
            service_arn,
        };
        scaled.set_desired(4).await;
        scaled
    }

    async fn set_desired(&self, count: i32) {
        self.c
            .ecs
            .update_service()
            .cluster(&self.name)
            .service(&self.service_arn)
            .desired_count(count)
            .send()
            .await
            .unwrap();
    }

    /// The service's desired count as ECS has it.
    async fn live_desired(&self) -> Option<i32> {
        let svc = self
            .c
            .ecs
            .describe_services()
            .cluster(&self.name)
            .services(&self.service_arn)
            .send()
            .await
            .unwrap();
        svc.services().first().map(|s| s.desired_count())
    }
}

#[tokio::test]
async fn keeps_the_live_desired_count_across_an_update() {
    let s = ScaledOut::new("live").await;
    let (c, name, req) = (&s.c, &s.name, &s.req);

    stack::deploy(c, &rerun(req, Some(IMAGE_B)))
        .await
        .expect("update");
    assert_eq!(
        stack_param(c, name, "DesiredCount")
            .await
            .unwrap()
            .as_deref(),
        Some("4")
    );
    assert_eq!(s.live_desired().await, Some(4));

    // Scaled beyond the new maximum: clamped to it.
    s.set_desired(9).await;
    let mut smaller = rerun(req, Some(IMAGE_A));
    smaller.scaling.max = 5;
    stack::deploy(c, &smaller)
        .await
        .expect("update with lower max");
    assert_eq!(
        stack_param(c, name, "DesiredCount")
            .await
            .unwrap()
            .as_deref(),
        Some("5")
    );
}

/// A live count that cannot be read (ECS unreachable, or a role without ecs:DescribeServices)
/// must not undo a scale-out either: the update leaves DesiredCount out of the service, so ECS
/// keeps its count (before LeaveDesiredCount, the stack's old value reset it to 2).
#[tokio::test]
async fn an_unreadable_live_count_still_leaves_the_service_alone() {
    let s = ScaledOut::new("blind").await;
    let (c, name, req) = (&s.c, &s.name, &s.req);

    // The same CloudFormation, but ECS on a closed loopback port: the live count is unknown.
    let blind_ecs = aws_sdk_ecs::Client::from_conf(
        c.ecs
            .config()
            .to_builder()
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
            .build(),
    );
    let blind = Clients::from_clients(c.cfn.clone(), blind_ecs);
    stack::deploy(&blind, &rerun(req, Some(IMAGE_B)))
        .await
        .expect("update without the live count");
    assert_eq!(
        stack_param(c, name, "LeaveDesiredCount")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(s.live_desired().await, Some(4));
}

/// With `cloudformation-role-arn` the stack is created, updated and deleted with the service role
/// as `RoleARN`: moto keeps it on the stack, as CloudFormation does, and hands it back.
#[tokio::test]
async fn deploys_and_destroys_with_the_service_role() {
    const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-poc-myapp-cloudformation";
    let moto = clients().await;
    let c = moto.engine.clone().with_service_role(Some(ROLE.into()));
    let name = unique("role");
    let mut req = request(&name, Some(IMAGE_A));
    req.overrides.push((
        "PermissionsBoundaryArn".into(),
        "arn:aws:iam::123456789012:policy/ecs-poc-myapp-workload-boundary".into(),
    ));
    let created = stack::deploy(&c, &req).await.expect("create");
    assert!(created.executed);
    let role_of = |cfn: aws_sdk_cloudformation::Client, name: String| async move {
        let out = cfn
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .expect("describe");
        out.stacks()
            .first()
            .and_then(|s| s.role_arn().map(String::from))
    };
    assert_eq!(
        role_of(moto.cfn.clone(), name.clone()).await.as_deref(),
        Some(ROLE)
    );
    stack::deploy(&c, &rerun(&req, Some(IMAGE_B)))
        .await
        .expect("update");
    assert_eq!(
        role_of(moto.cfn.clone(), name.clone()).await.as_deref(),
        Some(ROLE)
    );
    let gone = stack::destroy(
        &c,
        &name,
        Instant::now() + Duration::from_secs(60),
        PollPolicy::immediate(),
    )
    .await
    .expect("destroy");
    assert!(gone.existed);
}
