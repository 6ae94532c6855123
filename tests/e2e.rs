//! End to end through the real binary, as the runner would start it (hyphenated `INPUT_*`,
//! empty strings for unset inputs, real `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY` files), against the
//! stand-ins: the token-auth registry and moto. Every run is also checked for secret leaks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use common::moto::{cfn, live_stack, stack_parameter, unexecuted_change_sets};
use common::{stand_in, unique};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const AWS_SECRET: &str = "AwsSecretCanary-9d8c7b6a";
const GITHUB_TOKEN: &str = "ghp_GithubTokenCanary0123456789";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    outputs: HashMap<String, String>,
    raw_outputs: String,
    summary: String,
    elapsed: Duration,
}

fn base_inputs(stack: &str, repo: &str) -> Vec<(String, String)> {
    [
        ("aws-region", "us-east-1".to_string()),
        ("aws-access-key-id", "test".to_string()),
        ("aws-secret-access-key", AWS_SECRET.to_string()),
        ("aws-endpoint-url", stand_in("ECS_TEST_MOTO_URL")),
        (
            "docker-hub-username",
            stand_in("ECS_TEST_REGISTRY_USERNAME"),
        ),
        ("docker-hub-token", stand_in("ECS_TEST_REGISTRY_PASSWORD")),
        ("registry", stand_in("ECS_TEST_REGISTRY")),
        ("image", repo.to_string()),
        ("stack-name", stack.to_string()),
        ("smoke-check", "false".to_string()),
        ("github-token", GITHUB_TOKEN.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn with(mut inputs: Vec<(String, String)>, more: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in more {
        inputs.retain(|(name, _)| name != k);
        inputs.push((k.to_string(), v.to_string()));
    }
    inputs
}

fn command(dir: &Path, inputs: &[(String, String)], env: &[(&str, String)]) -> Command {
    let vars = common::input_vars(inputs);
    std::fs::write(dir.join("output"), "").unwrap();
    std::fs::write(dir.join("summary"), "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"));
    cmd.env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/webapp")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_RUN_ID", format!("{}", rand::random::<u32>()))
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_SERVER_URL", "http://127.0.0.1:9")
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .envs(env.iter().map(|(k, v)| (*k, v.clone())));
    cmd
}

fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delim) = line.split_once("<<").expect("heredoc form");
        let mut value = Vec::new();
        for l in lines.by_ref() {
            if l == delim {
                break;
            }
            value.push(l);
        }
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}

fn finish(dir: &Path, out: Output, started: Instant) -> Run {
    let raw_outputs = std::fs::read_to_string(dir.join("output")).unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: parse_outputs(&raw_outputs),
        raw_outputs,
        summary: std::fs::read_to_string(dir.join("summary")).unwrap(),
        elapsed: started.elapsed(),
    };
    assert_no_leak(&run);
    run
}

fn action(dir: &Path, inputs: &[(String, String)], env: &[(&str, String)]) -> Run {
    let started = Instant::now();
    let out = command(dir, inputs, env).output().unwrap();
    finish(dir, out, started)
}

/// No secret in stderr, outputs or summary; in stdout only after its `::add-mask::` line.
fn assert_no_leak(run: &Run) {
    let secrets = [
        AWS_SECRET.to_string(),
        GITHUB_TOKEN.to_string(),
        stand_in("ECS_TEST_REGISTRY_PASSWORD"),
    ];
    for secret in &secrets {
        let mask = format!("::add-mask::{secret}");
        let mut masked = false;
        for line in run.stdout.lines() {
            if line == mask {
                masked = true;
            } else if line.contains(secret.as_str()) {
                assert!(masked, "secret printed before its mask: {line}");
            }
        }
        assert!(
            !run.stderr.contains(secret.as_str()),
            "secret in stderr:\n{}",
            run.stderr
        );
        assert!(
            !run.raw_outputs.contains(secret.as_str()),
            "secret in GITHUB_OUTPUT"
        );
        assert!(
            !run.summary.contains(secret.as_str()),
            "secret in the summary"
        );
    }
}

/// Logical ids of the summary's change table, in order.
fn table_ids(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter(|l| {
            ["| Add |", "| Modify |", "| Remove |"]
                .iter()
                .any(|a| l.starts_with(a))
        })
        .filter_map(|l| l.split('|').nth(2))
        .map(|id| id.trim().trim_matches('`').to_string())
        .collect()
}

/// A small "application" file for the daemonless build; different content → different digest.
fn app_file(dir: &Path, content: &str) -> PathBuf {
    let path = dir.join("app");
    std::fs::write(&path, format!("#!/bin/sh\necho {content}\n")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_rerun_new_image_preview_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e"), unique("octo/app"));
    let app = app_file(dir.path(), "one");
    let inputs = with(
        base_inputs(&stack, &repo),
        &[("image-from", app.to_str().unwrap())],
    );

    // First deploy: pushed and created.
    let first = action(dir.path(), &inputs, &[]);
    assert_eq!(first.code, Some(0), "{}\n{}", first.stdout, first.stderr);
    let image_ref = first.outputs["image-ref"].clone();
    let digest = first.outputs["image-digest"].clone();
    assert_eq!(
        image_ref,
        format!("{}/{repo}@{digest}", stand_in("ECS_TEST_REGISTRY"))
    );
    assert_eq!(first.outputs["stack-status"], "CREATE_COMPLETE");
    assert_eq!(first.outputs["has-changes"], "true");
    assert!(
        first.outputs["url"].starts_with("http://"),
        "{:?}",
        first.outputs
    );
    assert_eq!(first.outputs["url"], first.outputs["ServiceUrl"]);
    for name in [
        "stack-id",
        "change-set-id",
        "ClusterName",
        "ServiceName",
        "LogGroupName",
        "VpcId",
        "LoadBalancerDnsName",
    ] {
        assert!(!first.outputs[name].is_empty(), "{name} missing");
    }
    assert!(
        first.summary.starts_with(&format!(
            "## ✅ ecs-poc-action deploy succeeded\n\n**Stack** `{stack}` · **Region** `us-east-1`"
        )),
        "{}",
        first.summary
    );
    assert!(first.summary.contains(&format!("`{image_ref}`")));
    assert!(
        first.summary.contains("1 pushed, 0 skipped"),
        "{}",
        first.summary
    );
    assert!(
        first.summary.contains("### Change set") && first.summary.contains("AWS::ECS::Service")
    );
    for stage in [
        "Prepare image",
        "AWS credentials",
        "Registry login",
        "Push image",
    ] {
        assert!(
            first.stdout.contains(&format!("::group::{stage}\n")),
            "no group {stage}"
        );
    }
    for stage in [
        "Prepare image",
        "AWS credentials",
        "Registry login",
        "Push image",
        "Deploy stack",
    ] {
        assert!(
            first.summary.contains(&format!("| {stage} |")),
            "no timing for {stage}"
        );
    }
    // Actions does not nest log groups: every group closes before the next opens.
    let mut depth = 0;
    for line in first.stdout.lines() {
        if line.starts_with("::group::") {
            depth += 1;
            assert_eq!(depth, 1, "nested group: {line}");
        } else if line == "::endgroup::" {
            depth -= 1;
        }
    }
    let cfn = cfn().await;
    assert_eq!(
        stack_parameter(&cfn, &stack, "ImageUri")
            .await
            .unwrap()
            .as_deref(),
        Some(image_ref.as_str())
    );
    // With default parameters every resource Condition of the bundled template is false (no
    // certificate, public subnets): the table lists exactly the unconditional resources.
    let unconditional: Vec<String> =
        common::template_resources(ecs_poc_action::stack::DEFAULT_TEMPLATE)
            .into_iter()
            .filter_map(|(id, condition)| condition.is_none().then_some(id))
            .collect();
    assert_eq!(
        table_ids(&first.summary),
        unconditional,
        "{}",
        first.summary
    );

    // Rerun: a no-op end to end (the bundled template, the live count, UsePreviousValue for the
    // rest): CloudFormation's empty change set, nothing executed.
    let rerun = action(dir.path(), &inputs, &[]);
    assert_eq!(rerun.code, Some(0), "{}\n{}", rerun.stdout, rerun.stderr);
    assert_eq!(rerun.outputs["image-digest"], digest);
    assert_eq!(rerun.outputs["has-changes"], "false", "{}", rerun.summary);
    assert_eq!(rerun.outputs["url"], first.outputs["url"]);
    assert!(
        rerun.summary.contains("0 pushed, 1 skipped")
            && rerun.summary.contains("0.0 MB uploaded")
            && rerun.summary.contains("No changes"),
        "{}",
        rerun.summary
    );
    let after = live_stack(&cfn, &stack).await.unwrap().expect("stack");
    assert_eq!(
        after.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE"),
        "nothing executed"
    );
    assert!(
        unexecuted_change_sets(&cfn, &stack)
            .await
            .unwrap()
            .is_empty()
    );

    // A changed target CPU, previewed: exactly the resources of the template that read it.
    let cpu = action(
        dir.path(),
        &with(inputs.clone(), &[("mode", "preview"), ("target-cpu", "45")]),
        &[],
    );
    assert_eq!(cpu.code, Some(0), "{}\n{}", cpu.stdout, cpu.stderr);
    assert_eq!(cpu.outputs["has-changes"], "true");
    let using = common::resources_using(
        ecs_poc_action::stack::DEFAULT_TEMPLATE,
        "TargetCpuUtilization",
    );
    assert!(!using.is_empty());
    assert_eq!(table_ids(&cpu.summary), using, "{}", cpu.summary);
    for id in &using {
        let row = format!("| Modify | `{id}` |");
        assert!(cpu.summary.contains(&row), "{row}:\n{}", cpu.summary);
    }
    eprintln!(
        "no-op rerun took {:.2} s (whole process)",
        rerun.elapsed.as_secs_f64()
    );

    // A new image updates the stack with the new digest.
    let app = app_file(dir.path(), "two");
    let inputs2 = with(inputs.clone(), &[("image-from", app.to_str().unwrap())]);
    let second = action(dir.path(), &inputs2, &[]);
    assert_eq!(second.code, Some(0), "{}\n{}", second.stdout, second.stderr);
    assert_ne!(second.outputs["image-digest"], digest);
    assert_eq!(second.outputs["has-changes"], "true");
    assert_eq!(
        stack_parameter(&cfn, &stack, "ImageUri")
            .await
            .unwrap()
            .as_deref(),
        Some(second.outputs["image-ref"].as_str())
    );

    // Preview of the first image: a change set is shown, nothing executed, nothing left behind.
    // Preview a third image, pushed on its own (mode push needs no AWS at all).
    let app = app_file(dir.path(), "three");
    let pushed = action(
        dir.path(),
        &with(
            base_inputs(&stack, &repo),
            &[
                ("mode", "push"),
                ("image-from", app.to_str().unwrap()),
                ("tags", "three"),
            ],
        ),
        &[],
    );
    assert_eq!(pushed.code, Some(0), "{}\n{}", pushed.stdout, pushed.stderr);
    assert_eq!(
        pushed.outputs.len(),
        2,
        "push writes image-ref and image-digest only"
    );
    let preview_inputs = with(
        base_inputs(&stack, &format!("{repo}:three")),
        &[("mode", "preview")],
    );
    let preview = action(dir.path(), &preview_inputs, &[]);
    assert_eq!(
        preview.code,
        Some(0),
        "{}\n{}",
        preview.stdout,
        preview.stderr
    );
    assert_eq!(preview.outputs["has-changes"], "true");
    assert!(preview.outputs["change-set-id"].contains(":changeSet/"));
    assert!(
        preview.summary.contains("Planned, not executed"),
        "{}",
        preview.summary
    );
    assert_eq!(
        stack_parameter(&cfn, &stack, "ImageUri")
            .await
            .unwrap()
            .as_deref(),
        Some(second.outputs["image-ref"].as_str())
    );
    assert!(
        unexecuted_change_sets(&cfn, &stack)
            .await
            .unwrap()
            .is_empty()
    );

    // Destroy.
    let destroy = action(
        dir.path(),
        &with(base_inputs(&stack, &repo), &[("mode", "destroy")]),
        &[],
    );
    assert_eq!(
        destroy.code,
        Some(0),
        "{}\n{}",
        destroy.stdout,
        destroy.stderr
    );
    assert_eq!(destroy.outputs["stack-status"], "DELETE_COMPLETE");
    assert!(live_stack(&cfn, &stack).await.unwrap().is_none());
    let again = action(
        dir.path(),
        &with(base_inputs(&stack, &repo), &[("mode", "destroy")]),
        &[],
    );
    assert_eq!(again.code, Some(0));
    assert!(
        again.summary.contains("does not exist: nothing to destroy"),
        "{}",
        again.summary
    );
}

#[test]
fn bad_registry_token_fails_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-badhub"), unique("octo/app"));
    let app = app_file(dir.path(), "x");
    let inputs = with(
        base_inputs(&stack, &repo),
        &[
            ("image-from", app.to_str().unwrap()),
            ("docker-hub-token", "WrongHubTokenCanary"),
        ],
    );
    let run = action(dir.path(), &inputs, &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("::add-mask::WrongHubTokenCanary"));
    let error = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_default();
    assert!(
        error.contains("docker-hub-token") || error.contains("docker-hub-username"),
        "{error}"
    );
    assert!(
        !run.stdout.contains("::group::Push image")
            && !run.stdout.contains("::group::Deploy stack")
    );
    assert!(run.raw_outputs.is_empty(), "a failed run writes no outputs");
    assert!(run.summary.starts_with("## ❌"), "{}", run.summary);
    for output in [&run.stdout, &run.stderr, &run.summary] {
        let unmasked = output.replace("::add-mask::WrongHubTokenCanary", "");
        assert!(!unmasked.contains("WrongHubTokenCanary"));
    }
}

#[test]
fn account_outside_allowed_ids_is_refused_before_push() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-acct"), unique("octo/app"));
    let app = app_file(dir.path(), "x");
    let inputs = with(
        base_inputs(&stack, &repo),
        &[
            ("image-from", app.to_str().unwrap()),
            ("allowed-account-ids", "111111111111"),
        ],
    );
    let run = action(dir.path(), &inputs, &[]);
    assert_eq!(run.code, Some(1));
    assert!(!run.stdout.contains("::group::Push image"));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::error") && l.contains("allowed-account-ids")),
        "{}",
        run.stdout
    );
}

/// A template whose ServiceUrl is a parameter, so the smoke check can hit a local server.
const SMOKE_TEMPLATE: &str = r#"
Parameters:
  ImageUri:
    Type: String
  SmokeUrl:
    Type: String
Resources:
  Marker:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  ServiceUrl:
    Value: !Ref SmokeUrl
  Image:
    Value: !Ref ImageUri
"#;

#[tokio::test(flavor = "multi_thread")]
async fn failed_smoke_check_rolls_back_to_the_previous_image() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("smoke.yml");
    std::fs::write(&template, SMOKE_TEMPLATE).unwrap();
    let (stack, repo) = (unique("e2e-smoke"), unique("octo/app"));
    let app = app_file(dir.path(), "good");
    let overrides = format!("SmokeUrl={}", server.uri());
    let inputs = with(
        base_inputs(&stack, &repo),
        &[
            ("template", template.to_str().unwrap()),
            ("parameter-overrides", &overrides),
            ("image-from", app.to_str().unwrap()),
        ],
    );
    let dirp = dir.path().to_path_buf();
    let first = tokio::task::spawn_blocking({
        let inputs = inputs.clone();
        let dirp = dirp.clone();
        move || action(&dirp, &inputs, &[])
    })
    .await
    .unwrap();
    assert_eq!(first.code, Some(0), "{}\n{}", first.stdout, first.stderr);
    let good = first.outputs["image-ref"].clone();

    let app = app_file(dir.path(), "bad");
    let inputs = with(
        inputs,
        &[
            ("image-from", app.to_str().unwrap()),
            ("smoke-check", "true"),
            ("smoke-check-timeout", "5"),
        ],
    );
    let second = tokio::task::spawn_blocking(move || action(&dirp, &inputs, &[]))
        .await
        .unwrap();
    assert_eq!(second.code, Some(1), "{}\n{}", second.stdout, second.stderr);
    let error = second
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(&format!("GET {}/health did not answer 200", server.uri())),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "rolled back stack {stack} to the previous image {good}"
        )),
        "{error}"
    );
    let cfn = cfn().await;
    assert_eq!(
        stack_parameter(&cfn, &stack, "ImageUri")
            .await
            .unwrap()
            .as_deref(),
        Some(good.as_str()),
        "{}",
        second.stdout
    );
    assert!(second.raw_outputs.is_empty());
    let _ = cfn.delete_stack().stack_name(&stack).send().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_deploy_leaves_no_unexecuted_change_set() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-term"), unique("octo/app"));
    let app = app_file(dir.path(), "term");
    let inputs = with(
        base_inputs(&stack, &repo),
        &[("image-from", app.to_str().unwrap()), ("mode", "deploy")],
    );
    let started = Instant::now();
    let mut child = command(dir.path(), &inputs, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut signalled = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // The change set exists and is being described or executed: cancel now.
        if !signalled && line.starts_with("::group::Stack ") && line.contains("change set") {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            signalled = true;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    let rest = seen;
    let run = Run {
        code: out.status.code(),
        stdout: rest,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: HashMap::new(),
        raw_outputs: std::fs::read_to_string(dir.path().join("output")).unwrap(),
        summary: std::fs::read_to_string(dir.path().join("summary")).unwrap(),
        elapsed: started.elapsed(),
    };
    assert_no_leak(&run);
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    assert!(
        run.stdout.contains("cancelled by SIGTERM"),
        "{}",
        run.stdout
    );
    assert!(run.raw_outputs.is_empty(), "no half-written outputs");
    let cfn = cfn().await;
    let left = unexecuted_change_sets(&cfn, &stack).await.unwrap();
    assert!(left.is_empty(), "{left:?} left behind:\n{}", run.stdout);
    let _ = cfn.delete_stack().stack_name(&stack).send().await;
}

/// A resource moto refuses (a subnet in a VPC that does not exist): the run fails with the cause
/// as an `::error` annotation, non-zero, and writes no outputs.
const FAILING_TEMPLATE: &str = r#"
Parameters:
  ImageUri:
    Type: String
Resources:
  Orphan:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-0doesnotexist0000
      CidrBlock: 10.9.0.0/24
Outputs:
  Image:
    Value: !Ref ImageUri
"#;

#[test]
fn failed_stack_reports_its_cause_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("failing.yml");
    std::fs::write(&template, FAILING_TEMPLATE).unwrap();
    let (stack, repo) = (unique("e2e-fail"), unique("octo/app"));
    let app = app_file(dir.path(), "fail");
    let inputs = with(
        base_inputs(&stack, &repo),
        &[
            ("template", template.to_str().unwrap()),
            ("image-from", app.to_str().unwrap()),
            ("parameter-overrides", ""),
        ],
    );
    let run = action(dir.path(), &inputs, &[]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let error = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_default();
    assert!(
        error.contains(&stack) && error.contains("vpc-0doesnotexist0000"),
        "{error}"
    );
    assert!(run.raw_outputs.is_empty());
    assert!(
        run.summary
            .starts_with("## ❌ ecs-poc-action deploy failed"),
        "{}",
        run.summary
    );
}

/// `cloudformation-role-arn` through the binary: the stack is created and deleted with the
/// service role as RoleARN (moto keeps it on the stack), the boundary passed as the README says.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_and_destroy_with_the_cloudformation_service_role() {
    const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-poc-myapp-cloudformation";
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-role"), unique("octo/app"));
    let app = app_file(dir.path(), "role");
    let with_role = with(
        base_inputs(&stack, &repo),
        &[
            ("cloudformation-role-arn", ROLE),
            (
                "parameter-overrides",
                "PermissionsBoundaryArn=arn:aws:iam::123456789012:policy/ecs-poc-myapp-workload-boundary",
            ),
        ],
    );
    let inputs = with(with_role.clone(), &[("image-from", app.to_str().unwrap())]);
    let destroy = with(with_role, &[("mode", "destroy")]);
    let dirp = dir.path().to_path_buf();
    let deployed = tokio::task::spawn_blocking(move || action(&dirp, &inputs, &[]))
        .await
        .unwrap();
    assert_eq!(
        deployed.code,
        Some(0),
        "{}\n{}",
        deployed.stdout,
        deployed.stderr
    );
    assert_no_leak(&deployed);
    let cfn = cfn().await;
    let described = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.stacks().first().and_then(|s| s.role_arn()),
        Some(ROLE)
    );
    let dirp = dir.path().to_path_buf();
    let gone = tokio::task::spawn_blocking(move || action(&dirp, &destroy, &[]))
        .await
        .unwrap();
    assert_eq!(gone.code, Some(0), "{}\n{}", gone.stdout, gone.stderr);
    assert_eq!(
        stack_parameter(&cfn, &stack, "ImageUri").await.unwrap(),
        None,
        "the stack must be gone"
    );
}

/// Deploying an image that is already in a registry (no image source): a digest the registry
/// definitely lacks is refused before any stack change.
#[test]
fn an_existing_digest_the_registry_lacks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-nodigest"), unique("octo/app"));
    let image = format!("{repo}@sha256:{}", "0".repeat(64));
    let inputs = with(
        base_inputs(&stack, &repo),
        &[("mode", "preview"), ("image", image.as_str())],
    );
    let run = action(dir.path(), &inputs, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let error = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_default();
    assert!(error.contains("is not in"), "{error}");
    assert!(!run.stdout.contains("::group::Preview change set"));
}

/// A digest the runner cannot check (no route to the registry) is deployed with a warning; a tag
/// cannot be, and says that a digest would be.
#[test]
fn an_unverifiable_digest_deploys_with_a_warning_but_a_tag_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, repo) = (unique("e2e-unverified"), unique("octo/app"));
    // A loopback port nobody listens on: the registry cannot be asked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let registry = closed.local_addr().unwrap().to_string();
    drop(closed);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let by_digest = format!("{repo}@{digest}");
    let base = with(
        base_inputs(&stack, &repo),
        &[("mode", "preview"), ("registry", registry.as_str())],
    );
    let run = action(
        dir.path(),
        &with(base.clone(), &[("image", by_digest.as_str())]),
        &[],
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::warning") && l.contains("could not verify")),
        "{}",
        run.stdout
    );
    assert_eq!(run.outputs["image-digest"], digest);

    let by_tag = format!("{repo}:v1");
    let run = action(dir.path(), &with(base, &[("image", by_tag.as_str())]), &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let error = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_default();
    assert!(error.contains("a tag needs the registry"), "{error}");
}
