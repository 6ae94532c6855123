//! The repository's workflows as GitHub runs them: `deploy.yml` and `preview.yml` parsed by
//! GitHub's workflow parser, every `with:` value evaluated by GitHub's expression evaluator for
//! given `secrets`/`vars`/`inputs`/`github` contexts (tests/support/workflow_inputs.mjs), then the
//! release-shaped binary run chrooted (tests/chroot) with exactly those inputs.
//!
//! Only what points at the real world is replaced, as extra inputs on top of the evaluated ones:
//! `registry` (Docker Hub → the stand-in registry), `aws-endpoint-url` (AWS → moto) and
//! `smoke-check: false` (the smoke check would GET moto's made-up load balancer name, which is
//! not a loopback address).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod chroot;
mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use aws_sdk_cloudformation::Client as Cfn;
use chroot::{Rootfs, Run, app_binary};
use common::moto::{sdk_config, stack_status};
use common::{stand_in, unique};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deployer";
const RUNNER_BEARER: &str = "runner-bearer-Workflows-3c1";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9jdG8vd2ViYXBwIn0.sig-wf";
const AWS_SECRET: &str = "SeedAwsSecretCanary-61f0";
const GITHUB_TOKEN: &str = "ghs_WorkflowTokenCanary0123456789";
/// The seed's region: deploy.yml's default when `vars.AWS_REGION` is unset.
const SEED_REGION: &str = "ap-southeast-2";

/// What a workflow run is started with.
struct Contexts {
    event_name: &'static str,
    event: Value,
    inputs: Value,
    vars: Value,
    secrets: Value,
}

/// Evaluates the `with:` of the step that `uses: ./` in `job` of `workflow`.
fn evaluate(workflow: &str, job: &str, ctx: &Contexts, repo_name: &str) -> Vec<(String, String)> {
    let request = json!({
        "workflow": format!("{}/.github/workflows/{workflow}", env!("CARGO_MANIFEST_DIR")),
        "job": job,
        "uses": "./",
        "contexts": {
            "github": {
                "event_name": ctx.event_name,
                "event": ctx.event,
                "repository": format!("octo/{repo_name}"),
                "ref": "refs/heads/main",
                "token": GITHUB_TOKEN,
            },
            "inputs": ctx.inputs,
            "vars": ctx.vars,
            "secrets": ctx.secrets,
        },
    });
    let mut child = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/workflow_inputs.mjs"
        ))
        .env("ECS_TOOLS_DIR", stand_in("ECS_TOOLS_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (Node.js is part of this machine kind)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "evaluating {workflow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evaluated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut inputs: Vec<(String, String)> = evaluated["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    inputs.sort();
    inputs
}

fn get<'a>(inputs: &'a [(String, String)], name: &str) -> &'a str {
    inputs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The stand-ins in place of Docker Hub and AWS (see the top of this file).
fn stand_in_overrides(mut inputs: Vec<(String, String)>) -> Vec<(String, String)> {
    for (k, v) in [
        ("registry", stand_in("ECS_TEST_REGISTRY")),
        ("aws-endpoint-url", stand_in("ECS_TEST_MOTO_URL")),
        ("smoke-check", "false".to_string()),
    ] {
        inputs.retain(|(name, _)| name != k);
        inputs.push((k.to_string(), v));
    }
    inputs
}

fn push_event(repo_name: &str) -> Value {
    json!({
        "ref": "refs/heads/main",
        "head_commit": {"id": "0123456789abcdef0123456789abcdef01234567",
                        "timestamp": "2024-05-06T07:08:09+02:00"},
        "repository": {"name": repo_name, "full_name": format!("octo/{repo_name}"), "pushed_at": 1715000000}
    })
}

fn dispatch(repo_name: &str, mode: &str) -> Contexts {
    Contexts {
        event_name: "workflow_dispatch",
        event: json!({
            "inputs": {"mode": mode},
            "repository": {"name": repo_name, "full_name": format!("octo/{repo_name}"),
                           "pushed_at": "2024-05-06T12:53:20Z"}
        }),
        inputs: json!({"mode": mode, "min-capacity": "2", "max-capacity": "10", "target-cpu": "70"}),
        vars: json!({}),
        secrets: json!({}),
    }
}

fn seed_secrets() -> Value {
    json!({
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "DOCKER_HUB_USERNAME": stand_in("ECS_TEST_REGISTRY_USERNAME"),
        "DOCKER_HUB_PAT": stand_in("ECS_TEST_REGISTRY_PASSWORD"),
    })
}

/// The runner's environment for this event (and the OIDC request variables when given).
fn runner_env(ctx: &Contexts, repo_name: &str, oidc: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("GITHUB_EVENT_NAME".to_string(), ctx.event_name.to_string()),
        ("GITHUB_REPOSITORY".into(), format!("octo/{repo_name}")),
    ];
    if let Some(uri) = oidc {
        env.push((
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            format!("{uri}/idtoken?api-version=2.0"),
        ));
        env.push((
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            RUNNER_BEARER.into(),
        ));
    }
    env
}

/// Evaluates `workflow` for `ctx`, then runs the action chrooted with those inputs.
fn run_workflow(
    rootfs: &Rootfs,
    (workflow, job): (&str, &str),
    ctx: &Contexts,
    repo_name: &str,
    oidc: Option<&str>,
) -> (Vec<(String, String)>, Run) {
    let evaluated = evaluate(workflow, job, ctx, repo_name);
    rootfs.write_event(&ctx.event);
    let run = rootfs.run(
        &stand_in_overrides(evaluated.clone()),
        &runner_env(ctx, repo_name, oidc),
    );
    assert_no_leak(&run);
    (evaluated, run)
}

/// No secret in stderr, outputs or summary; in stdout only after its `::add-mask::` line.
fn assert_no_leak(run: &Run) {
    for secret in [
        AWS_SECRET.to_string(),
        GITHUB_TOKEN.to_string(),
        stand_in("ECS_TEST_REGISTRY_PASSWORD"),
    ] {
        let mask = format!("::add-mask::{secret}");
        let mut masked = false;
        for line in run.stdout.lines() {
            if line == mask {
                masked = true;
            } else if line.contains(secret.as_str()) {
                assert!(masked, "secret printed before its mask: {line}");
            }
        }
        for (what, text) in [
            ("stderr", &run.stderr),
            ("GITHUB_OUTPUT", &run.raw_outputs),
            ("summary", &run.summary),
        ] {
            assert!(!text.contains(secret.as_str()), "secret in {what}");
        }
    }
}

async fn cfn(region: &str) -> Cfn {
    Cfn::new(&sdk_config(region).await)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

fn outputs(run: &Run) -> &HashMap<String, String> {
    assert_eq!(run.code, Some(0), "{}", run.context());
    &run.outputs
}

/// The seed's setup: four repository secrets, nothing else. A push to main deploys to
/// ap-southeast-2 with the static keys; a pull request previews; workflow_dispatch previews and
/// destroys.
#[tokio::test(flavor = "multi_thread")]
async fn seed_four_secrets_deploy_preview_and_destroy() {
    let repo_name = unique("webapp");
    let stack = format!("ecs-poc-{repo_name}");
    let rootfs = std::sync::Arc::new(Rootfs::new());
    app_binary(&rootfs.workspace().join("dist/webapp"));

    let push = Contexts {
        event_name: "push",
        event: push_event(&repo_name),
        inputs: json!({}),
        vars: json!({}),
        secrets: seed_secrets(),
    };
    let (evaluated, deployed) = blocking({
        let (rootfs, repo_name) = (rootfs.clone(), repo_name.clone());
        move || run_workflow(&rootfs, ("deploy.yml", "deploy"), &push, &repo_name, None)
    })
    .await;
    assert_eq!(get(&evaluated, "mode"), "deploy");
    assert_eq!(get(&evaluated, "role-to-assume"), "");
    assert_eq!(get(&evaluated, "aws-access-key-id"), "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(get(&evaluated, "aws-secret-access-key"), AWS_SECRET);
    assert_eq!(get(&evaluated, "aws-region"), SEED_REGION);
    assert_eq!(
        get(&evaluated, "docker-hub-username"),
        stand_in("ECS_TEST_REGISTRY_USERNAME")
    );
    assert_eq!(get(&evaluated, "image-from"), "dist/webapp");
    let out = outputs(&deployed);
    assert_eq!(out["stack-status"], "CREATE_COMPLETE");
    let image_ref = out["image-ref"].clone();
    let user = stand_in("ECS_TEST_REGISTRY_USERNAME");
    assert!(
        image_ref.starts_with(&format!(
            "{}/{user}/{repo_name}@sha256:",
            stand_in("ECS_TEST_REGISTRY")
        )),
        "{image_ref}"
    );
    let cfn = cfn(SEED_REGION).await;
    assert_eq!(
        stack_status(&cfn, &stack).await.unwrap().as_deref(),
        Some("CREATE_COMPLETE")
    );

    // preview.yml on a pull request: the image deploy.yml pushed, planned and not executed.
    let pr = Contexts {
        event_name: "pull_request",
        event: json!({"number": 7, "pull_request": {"number": 7},
                      "repository": {"name": repo_name, "pushed_at": "2024-05-06T12:53:20Z"}}),
        inputs: json!({}),
        vars: json!({}),
        secrets: seed_secrets(),
    };
    let (evaluated, previewed) = blocking({
        let (rootfs, repo_name) = (rootfs.clone(), repo_name.clone());
        move || run_workflow(&rootfs, ("preview.yml", "plan"), &pr, &repo_name, None)
    })
    .await;
    assert_eq!(
        get(&evaluated, "image"),
        format!("{user}/{repo_name}:latest")
    );
    let out = outputs(&previewed);
    assert!(out.contains_key("has-changes"), "{out:?}");
    assert_eq!(
        out["image-ref"], image_ref,
        "preview resolved deploy.yml's image"
    );

    // workflow_dispatch with each mode.
    for mode in ["preview", "destroy"] {
        let mut ctx = dispatch(&repo_name, mode);
        ctx.secrets = seed_secrets();
        let (evaluated, run) = blocking({
            let (rootfs, repo_name) = (rootfs.clone(), repo_name.clone());
            move || run_workflow(&rootfs, ("deploy.yml", "deploy"), &ctx, &repo_name, None)
        })
        .await;
        assert_eq!(get(&evaluated, "mode"), mode);
        let out = outputs(&run);
        if mode == "destroy" {
            assert_eq!(out["stack-status"], "DELETE_COMPLETE");
        } else {
            assert!(out.contains_key("has-changes"), "{out:?}");
        }
    }
    assert_eq!(stack_status(&cfn, &stack).await.unwrap(), None);
}

async fn oidc_endpoint() -> wiremock::MockServer {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .and(query_param("audience", "sts.amazonaws.com"))
        .and(header(
            "authorization",
            format!("Bearer {RUNNER_BEARER}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": JWT})))
        .mount(&server)
        .await;
    server
}

/// The recommended setup: the role variable (OIDC) and the older Docker Hub names.
#[tokio::test(flavor = "multi_thread")]
async fn oidc_role_variable_deploys_and_destroys() {
    let oidc = oidc_endpoint().await;
    let repo_name = unique("webapp");
    let stack = format!("ecs-poc-{repo_name}");
    let rootfs = std::sync::Arc::new(Rootfs::new());
    app_binary(&rootfs.workspace().join("dist/webapp"));
    let vars = json!({
        "AWS_DEPLOY_ROLE_ARN": ROLE,
        "AWS_REGION": "us-east-1",
        "DOCKERHUB_USERNAME": stand_in("ECS_TEST_REGISTRY_USERNAME"),
    });
    let secrets = json!({"DOCKERHUB_TOKEN": stand_in("ECS_TEST_REGISTRY_PASSWORD")});
    let push = Contexts {
        event_name: "push",
        event: push_event(&repo_name),
        inputs: json!({}),
        vars: vars.clone(),
        secrets: secrets.clone(),
    };
    let uri = oidc.uri();
    let (evaluated, deployed) = blocking({
        let (rootfs, repo_name, uri) = (rootfs.clone(), repo_name.clone(), uri.clone());
        move || {
            run_workflow(
                &rootfs,
                ("deploy.yml", "deploy"),
                &push,
                &repo_name,
                Some(&uri),
            )
        }
    })
    .await;
    assert_eq!(get(&evaluated, "role-to-assume"), ROLE);
    assert_eq!(get(&evaluated, "aws-access-key-id"), "");
    assert_eq!(get(&evaluated, "aws-secret-access-key"), "");
    assert_eq!(
        get(&evaluated, "docker-hub-token"),
        stand_in("ECS_TEST_REGISTRY_PASSWORD")
    );
    assert_eq!(outputs(&deployed)["stack-status"], "CREATE_COMPLETE");
    let token_requests = oidc
        .received_requests()
        .await
        .expect("wiremock records requests")
        .len();
    assert!(token_requests >= 1, "the OIDC token was never requested");
    let cfn = cfn("us-east-1").await;
    assert_eq!(
        stack_status(&cfn, &stack).await.unwrap().as_deref(),
        Some("CREATE_COMPLETE")
    );

    let mut ctx = dispatch(&repo_name, "destroy");
    (ctx.vars, ctx.secrets) = (vars, secrets);
    let (_, destroyed) = blocking({
        let (rootfs, repo_name) = (rootfs.clone(), repo_name.clone());
        move || {
            run_workflow(
                &rootfs,
                ("deploy.yml", "deploy"),
                &ctx,
                &repo_name,
                Some(&uri),
            )
        }
    })
    .await;
    assert_eq!(outputs(&destroyed)["stack-status"], "DELETE_COMPLETE");
    assert_eq!(stack_status(&cfn, &stack).await.unwrap(), None);
}

/// Both set: the role wins, the keys are not even passed to the action.
#[tokio::test(flavor = "multi_thread")]
async fn with_both_the_role_wins_and_the_keys_are_not_passed() {
    let oidc = oidc_endpoint().await;
    let repo_name = unique("webapp");
    let rootfs = std::sync::Arc::new(Rootfs::new());
    // deploy.yml builds the app before the action in every mode.
    app_binary(&rootfs.workspace().join("dist/webapp"));
    let mut ctx = dispatch(&repo_name, "destroy");
    ctx.vars = json!({"AWS_DEPLOY_ROLE_ARN": ROLE});
    ctx.secrets = seed_secrets();
    let uri = oidc.uri();
    let (evaluated, run) = blocking({
        let (rootfs, repo_name) = (rootfs.clone(), repo_name.clone());
        move || {
            run_workflow(
                &rootfs,
                ("deploy.yml", "deploy"),
                &ctx,
                &repo_name,
                Some(&uri),
            )
        }
    })
    .await;
    assert_eq!(get(&evaluated, "role-to-assume"), ROLE);
    assert_eq!(get(&evaluated, "aws-access-key-id"), "");
    assert_eq!(get(&evaluated, "aws-secret-access-key"), "");
    // Destroying a stack that does not exist: success, through the OIDC role.
    outputs(&run);
    assert!(
        !oidc
            .received_requests()
            .await
            .expect("wiremock records requests")
            .is_empty(),
        "the role was not assumed with the OIDC token:\n{}",
        run.stdout
    );
}

/// Neither set: a clear error that names both ways to configure, before anything is changed.
#[test]
fn with_neither_the_error_names_both_setups() {
    let repo_name = unique("webapp");
    let rootfs = Rootfs::new();
    app_binary(&rootfs.workspace().join("dist/webapp"));
    let push = Contexts {
        event_name: "push",
        event: push_event(&repo_name),
        inputs: json!({}),
        vars: json!({}),
        secrets: json!({}),
    };
    let (_, run) = run_workflow(&rootfs, ("deploy.yml", "deploy"), &push, &repo_name, None);
    assert_eq!(run.code, Some(2), "{}", run.context());
    let error = run.error_line();
    for named in [
        "role-to-assume",
        "AWS_DEPLOY_ROLE_ARN",
        "aws-access-key-id",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(error.contains(named), "{named} not named in:\n{error}");
    }
    assert!(!run.stdout.contains("::group::"), "nothing was started");
}
