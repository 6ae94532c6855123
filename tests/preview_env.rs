//! A pull request's preview environment end to end, as `.github/workflows/preview-env.yml` runs
//! it: the real binary against the stand-ins (token-auth registry, moto) and a loopback wiremock
//! "GitHub". Opened → the stack `<base>-pr-7` is created; synchronize → updated in place, same URL;
//! closed → destroyed with nothing left. On GitHub: one comment, created then edited in place;
//! Deployments in the transient environment `pr-7`, marked inactive on close.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::Stack;
use common::moto::{cfn, live_stack as stack};
use common::stand_in;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "octo/webapp";
const HEAD_SHA: &str = "feedfacefeedfacefeedfacefeedfacefeedface";
const MERGE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMENTS: &str = "/repos/octo/webapp/issues/7/comments";
const COMMENT: &str = "/repos/octo/webapp/issues/comments/555";

struct Run {
    code: Option<i32>,
    log: String,
    outputs: HashMap<String, String>,
}

/// Runs the binary as the runner does for a `pull_request` event of pull request 7.
fn action(dir: &Path, github_api: &str, inputs: &[(&str, &str)]) -> Run {
    let vars = common::input_vars(inputs);
    let event = json!({"action": "synchronize", "number": 7,
        "pull_request": {"number": 7, "head": {"sha": HEAD_SHA, "repo": {"full_name": REPO}}}});
    std::fs::write(dir.join("event.json"), event.to_string()).expect("writing the event");
    std::fs::write(dir.join("output"), "").expect("resetting GITHUB_OUTPUT");
    std::fs::write(dir.join("summary"), "").expect("resetting the summary");
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"))
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SHA", MERGE_SHA)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", dir.join("event.json"))
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_SERVER_URL", "http://127.0.0.1:9")
        .env("GITHUB_API_URL", github_api)
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("running the action");
    let raw = std::fs::read_to_string(dir.join("output")).expect("reading GITHUB_OUTPUT");
    Run {
        code: out.status.code(),
        log: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        outputs: parse_outputs(&raw),
    }
}

/// `name<<DELIM` … `DELIM` blocks, as the action writes them.
fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((name, delim)) = line.split_once("<<") else {
            continue;
        };
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}

/// Every change set of the stack with its execution status (moto lists all stacks' change sets
/// whatever StackName says, so they are filtered here).
async fn change_sets(cfn: &Cfn, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    match cfn.list_change_sets().stack_name(name).send().await {
        Ok(out) => Ok(out
            .summaries()
            .iter()
            .filter(|s| s.stack_name() == Some(name))
            .map(|s| {
                (
                    s.change_set_name().unwrap_or_default().to_string(),
                    s.execution_status().map_or("", |e| e.as_str()).to_string(),
                )
            })
            .collect()),
        Err(e) if is_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(anyhow::anyhow!("ListChangeSets {name}: {e:?}")),
    }
}

/// CloudFormation's only mark of a missing stack: a `ValidationError` saying so.
fn is_missing(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist"))
}

fn parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value().map(String::from))
}

/// The GitHub API the three runs talk to. The comment list answers empty once, then with the
/// comment the first run created.
async fn github(stack: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/webapp/deployments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1001})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/repos/octo/webapp/deployments/[0-9]+/statuses$",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    // Only the token's own comments are edited: the action asks who the token is.
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": 41898282, "login": "github-actions[bot]", "type": "Bot"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 555, "body": ""})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 554, "body": "LGTM", "user": {"id": 7, "login": "reviewer", "type": "User"}},
            {"id": 555, "body": format!("<!-- ecs-poc-action:plan:{stack} -->\nearlier"),
             "user": {"id": 41898282, "login": "github-actions[bot]", "type": "Bot"}},
        ])))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(COMMENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 555, "body": ""})))
        .mount(&server)
        .await;
    // An older deployment of the environment (an earlier push), and this run's.
    Mock::given(method("GET"))
        .and(path("/repos/octo/webapp/deployments"))
        .and(query_param("environment", "pr-7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1001}, {"id": 1000}])))
        .mount(&server)
        .await;
    server
}

/// The requests GitHub received as (method, path, JSON body), in order.
async fn requests(server: &MockServer) -> Vec<(String, String, Value)> {
    server
        .received_requests()
        .await
        .expect("wiremock records requests")
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_request_gets_its_own_stack_updated_in_place_then_destroyed() -> anyhow::Result<()> {
    let base = format!("pv-{:08x}", rand::random::<u32>());
    let name = format!("{base}-pr-7");
    let server = github(&name).await;
    let api = server.uri();
    let dir = tempfile::tempdir()?;
    let repo = format!("octo/app-{:08x}", rand::random::<u32>());
    let registry = stand_in("ECS_TEST_REGISTRY");
    let user = stand_in("ECS_TEST_REGISTRY_USERNAME");
    let password = stand_in("ECS_TEST_REGISTRY_PASSWORD");
    let moto = stand_in("ECS_TEST_MOTO_URL");
    // What preview-env.yml passes, on the stand-ins.
    let common: Vec<(&str, &str)> = vec![
        ("aws-region", "us-east-1"),
        ("aws-access-key-id", "test"),
        ("aws-secret-access-key", "test"),
        ("aws-endpoint-url", &moto),
        ("stack-name", &base),
        ("stack-name-suffix", "pr-7"),
        ("github-token", "ghs_previewEnvToken0123"),
        ("environment", "pr-7"),
    ];
    let deploy = |app: &str| -> anyhow::Result<Run> {
        let file = dir.path().join("app");
        std::fs::write(&file, format!("#!/bin/sh\necho {app}\n"))?;
        let file = file.to_string_lossy().into_owned();
        let mut inputs = common.clone();
        inputs.extend([
            ("docker-hub-username", user.as_str()),
            ("docker-hub-token", password.as_str()),
            ("registry", registry.as_str()),
            ("image", repo.as_str()),
            ("image-from", file.as_str()),
            ("tags", "pr-7"),
            ("min-capacity", "1"),
            ("max-capacity", "2"),
            ("desired-count", "1"),
            // LogRetentionDays: moto loses a log group left to its default on update.
            (
                "parameter-overrides",
                "FargateSpotPercent=100\nLogRetentionDays=3",
            ),
            ("smoke-check", "false"),
            ("transient-environment", "true"),
        ]);
        Ok(action(dir.path(), &api, &inputs))
    };
    let cfn = cfn().await;

    // opened
    let opened = tokio::task::block_in_place(|| deploy("one"))?;
    assert_eq!(opened.code, Some(0), "{}", opened.log);
    let url = opened.outputs.get("url").cloned().unwrap_or_default();
    assert!(url.starts_with("http://"), "{:?}", opened.outputs);
    let created = stack(&cfn, &name)
        .await?
        .expect("the pull request's stack exists");
    assert_eq!(
        created.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        parameter(&created, "FargateSpotPercent").as_deref(),
        Some("100")
    );
    assert_eq!(parameter(&created, "MinCapacity").as_deref(), Some("1"));
    assert_eq!(parameter(&created, "DesiredCount").as_deref(), Some("1"));
    let first_image = parameter(&created, "ImageUri");

    // synchronize: a new push updates the same stack; the URL stays.
    let pushed = tokio::task::block_in_place(|| deploy("two"))?;
    assert_eq!(pushed.code, Some(0), "{}", pushed.log);
    assert_eq!(pushed.outputs.get("url"), Some(&url), "same URL");
    assert_eq!(
        pushed.outputs.get("stack-id"),
        opened.outputs.get("stack-id"),
        "same stack"
    );
    let updated = stack(&cfn, &name).await?.expect("still there");
    assert_ne!(
        parameter(&updated, "ImageUri"),
        first_image,
        "new image deployed"
    );

    // closed
    let mut inputs = common.clone();
    inputs.push(("mode", "destroy"));
    let closed = tokio::task::block_in_place(|| action(dir.path(), &api, &inputs));
    assert_eq!(closed.code, Some(0), "{}", closed.log);
    assert_eq!(
        closed.outputs.get("stack-status").map(String::as_str),
        Some("DELETE_COMPLETE")
    );
    assert!(stack(&cfn, &name).await?.is_none(), "stack gone");
    // AWS deletes a stack's change sets with it; moto keeps the records of executed ones, so
    // "nothing left" here is: no change set that could still be executed.
    let left = change_sets(&cfn, &name).await?;
    assert!(
        left.iter().all(|(_, status)| status == "EXECUTE_COMPLETE"),
        "change sets left: {left:?}"
    );
    assert!(
        stack(&cfn, &base).await?.is_none(),
        "no stack under the bare name"
    );

    // GitHub, in order.
    let calls = requests(&server).await;
    let creates: Vec<&Value> = calls
        .iter()
        .filter(|(m, p, _)| m == "POST" && p == "/repos/octo/webapp/deployments")
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(creates.len(), 2, "one Deployment per push: {calls:#?}");
    for body in &creates {
        assert_eq!(body["environment"], "pr-7");
        assert_eq!(
            body["ref"], HEAD_SHA,
            "the pull request's head, not the merge commit"
        );
        assert_eq!(body["transient_environment"], true);
        assert_eq!(body["production_environment"], false);
    }
    let comment_posts: Vec<&Value> = calls
        .iter()
        .filter(|(m, p, _)| m == "POST" && p == COMMENTS)
        .map(|(_, _, b)| b)
        .collect();
    let comment_edits: Vec<&Value> = calls
        .iter()
        .filter(|(m, p, _)| m == "PATCH" && p == COMMENT)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(comment_posts.len(), 1, "one comment: {calls:#?}");
    assert_eq!(
        comment_edits.len(),
        2,
        "then edited in place by the push and the close"
    );
    let marker = format!("<!-- ecs-poc-action:plan:{name} -->");
    // An autolink of the URL (host names are case-insensitive; the link is in canonical form).
    let link = format!("<{}/>", url.trim_end_matches('/')).to_lowercase();
    for body in [comment_posts[0], comment_edits[0]] {
        let text = body["body"].as_str().unwrap_or_default();
        assert!(text.starts_with(&marker), "{text}");
        assert!(text.to_lowercase().contains(&link), "URL {link} in {text}");
    }
    let last = comment_edits[1]["body"].as_str().unwrap_or_default();
    assert!(
        last.contains("was destroyed") && !last.to_lowercase().contains(&link),
        "{last}"
    );
    let inactive: Vec<&str> = calls
        .iter()
        .filter(|(m, _, b)| m == "POST" && b["state"] == "inactive")
        .map(|(_, p, _)| p.as_str())
        .collect();
    assert_eq!(
        inactive,
        [
            "/repos/octo/webapp/deployments/1001/statuses",
            "/repos/octo/webapp/deployments/1000/statuses"
        ],
        "every Deployment of pr-7 marked inactive"
    );
    let last_state = calls
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/statuses"))
        .map(|(_, _, b)| b["state"].as_str().unwrap_or_default())
        .collect::<Vec<_>>();
    assert_eq!(
        last_state,
        [
            "in_progress",
            "success",
            "in_progress",
            "success",
            "inactive",
            "inactive"
        ]
    );
    Ok(())
}

/// ALB and target group names may be at most 32 characters, far less than a `…-pr-N` stack name:
/// the template must leave them to CloudFormation, which shortens the stack name in the names it
/// generates. Every other name it derives from the stack name allows 255 or more.
#[test]
fn the_template_derives_no_32_character_name_from_the_stack_name() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cloudformation/ecs-webapp.yml"
    ))?;
    let template: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let resources = template["Resources"]
        .as_mapping()
        .ok_or_else(|| anyhow::anyhow!("no Resources"))?;
    let mut checked = 0;
    for (id, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if matches!(
            kind,
            "AWS::ElasticLoadBalancingV2::LoadBalancer"
                | "AWS::ElasticLoadBalancingV2::TargetGroup"
        ) {
            assert!(
                resource["Properties"].get("Name").is_none(),
                "{id:?} sets a Name: a long stack name would break the 32-character limit"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "one load balancer and one target group");
    Ok(())
}
