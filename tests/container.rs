//! The release binary run the way the runner runs the action: chrooted into a root laid out like
//! the image's `FROM scratch` stage, paths relative to `/github/workspace`, outputs read back from
//! `/github/file_commands`, against the stand-ins on loopback (see tests/chroot). Every pushed
//! image is copied back with skopeo and its digest compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod chroot;
mod common;
mod image_fixtures;

use std::path::Path;
use std::process::Command;

use aws_sdk_cloudformation::Client as Cfn;
use chroot::{Rootfs, Run, app_binary, registry_creds};
use common::moto::{cfn, live_stack, unexecuted_change_sets};
use common::{stand_in, unique};
use image_fixtures::{run, sha256_hex, skopeo_copy, umoci_layout};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deployer";
const RUNNER_BEARER: &str = "runner-bearer-Container-7f2";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9jdG8vd2ViYXBwIn0.sig-c0n";
/// The push event's commit time: the image's `created` must come from here (no git inside).
const COMMIT_TIME: &str = "2024-05-06T07:08:09+02:00";
const COMMIT_TIME_UTC: &str = "2024-05-06T05:08:09Z";

fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The registry stand-in and its login, as a workflow would give them.
fn registry_inputs(repo: &str) -> Vec<(String, String)> {
    inputs(&[
        ("registry", &stand_in("ECS_TEST_REGISTRY")),
        (
            "docker-hub-username",
            &stand_in("ECS_TEST_REGISTRY_USERNAME"),
        ),
        ("docker-hub-token", &stand_in("ECS_TEST_REGISTRY_PASSWORD")),
        ("image", repo),
    ])
}

fn push_event() -> Value {
    json!({
        "ref": "refs/heads/main",
        "head_commit": {"id": "0123456789abcdef0123456789abcdef01234567", "timestamp": COMMIT_TIME},
        "repository": {"full_name": "octo/webapp", "pushed_at": 1715000000}
    })
}

fn assert_ok(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run.context());
    if let Some(t) = run.first_line {
        eprintln!(
            "first log line after {:.1} ms; whole run {:.2} s",
            t.as_secs_f64() * 1000.0,
            run.elapsed.as_secs_f64()
        );
    }
}

/// Nothing the run wrote outside the mounts: the image's own files only (the binary, the CA
/// bundle, an empty /tmp).
fn assert_no_scratch_left(rootfs: &Rootfs) {
    let tmp = rootfs.root().join("tmp");
    // An unreadable directory fails the test: it must not read as "nothing left".
    let entries = |dir: &Path| -> Vec<_> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").file_name())
            .collect()
    };
    let left = entries(&tmp);
    assert!(left.is_empty(), "left in /tmp: {left:?}");
    let home = entries(&rootfs.root().join("github/home"));
    assert!(home.is_empty(), "left in /github/home: {home:?}");
}

/// The stack's status and ImageUri parameter, read from moto; `None` once it is gone. A failed
/// read fails the test: it must not pass for "stack gone".
async fn stack_state(cfn: &Cfn, stack: &str) -> anyhow::Result<Option<(String, Option<String>)>> {
    Ok(live_stack(cfn, stack).await?.map(|s| {
        let image = s
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some("ImageUri"))
            .and_then(|p| p.parameter_value().map(String::from));
        let status = s
            .stack_status()
            .map_or_else(String::new, |st| st.as_str().to_string());
        (status, image)
    }))
}

/// Copies `image_ref` (`host/repo@sha256:…`) back with skopeo and checks the manifest's and every
/// blob's digest; returns the image config.
fn pull_back(image_ref: &str, out: &Path) -> Value {
    let digest = image_ref.split_once('@').expect("a digest reference").1;
    skopeo_copy(
        &format!("docker://{image_ref}"),
        &format!("dir:{}", out.display()),
        &["--src-tls-verify=false", "--src-creds", &registry_creds()],
    );
    let manifest_bytes = std::fs::read(out.join("manifest.json")).unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&manifest_bytes)), digest);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let blob = |d: &str| {
        let hex = d.strip_prefix("sha256:").expect("sha256 digest");
        let bytes = std::fs::read(out.join(hex)).unwrap();
        assert_eq!(sha256_hex(&bytes), hex, "blob {d}");
        bytes
    };
    for layer in manifest["layers"].as_array().expect("layers") {
        let bytes = blob(layer["digest"].as_str().unwrap());
        assert_eq!(Some(bytes.len() as u64), layer["size"].as_u64());
    }
    serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap()
}

fn assert_pushed(run: &Run, repo: &str, out: &Path) -> Value {
    assert_ok(run);
    let digest = &run.outputs["image-digest"];
    let image_ref = &run.outputs["image-ref"];
    assert_eq!(
        image_ref,
        &format!("{}/{repo}@{digest}", stand_in("ECS_TEST_REGISTRY"))
    );
    pull_back(image_ref, out)
}

#[test]
fn push_image_from_a_relative_binary() {
    let rootfs = Rootfs::new();
    app_binary(&rootfs.workspace().join("dist/webapp"));
    rootfs.write_event(&push_event());
    let repo = unique("octo/container-bin");
    let mut given = registry_inputs(&repo);
    given.extend(inputs(&[
        ("mode", "push"),
        ("image-from", "dist/webapp"),
        ("tags", "v1"),
    ]));
    let run = rootfs.run(&given, &[]);
    let out = tempfile::tempdir().unwrap();
    let config = assert_pushed(&run, &repo, out.path());
    assert_eq!(config["config"]["Entrypoint"], json!(["/app/webapp"]));
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(
        config["created"], COMMIT_TIME_UTC,
        "created from the event's head_commit.timestamp"
    );
    assert!(
        run.stdout.contains("head_commit.timestamp"),
        "the provenance source is stated:\n{}",
        run.stdout
    );
    assert_no_scratch_left(&rootfs);
}

#[test]
fn push_image_from_a_relative_directory() {
    let rootfs = Rootfs::new();
    let dist = rootfs.workspace().join("dist");
    app_binary(&dist.join("bin/webapp"));
    std::fs::create_dir_all(dist.join("static")).unwrap();
    std::fs::write(dist.join("static/index.html"), "<h1>hello</h1>\n").unwrap();
    rootfs.write_event(&push_event());
    let repo = unique("octo/container-dir");
    let mut given = registry_inputs(&repo);
    given.extend(inputs(&[
        ("mode", "push"),
        ("image-from", "dist"),
        ("image-cmd", "/bin/webapp"),
    ]));
    let run = rootfs.run(&given, &[]);
    let out = tempfile::tempdir().unwrap();
    let config = assert_pushed(&run, &repo, out.path());
    assert_eq!(config["config"]["Entrypoint"], json!(["/bin/webapp"]));
    assert_no_scratch_left(&rootfs);

    // The same inputs again: the same digest (reproducible without git), nothing uploaded.
    let again = rootfs.run(&given, &[]);
    assert_ok(&again);
    assert_eq!(again.outputs["image-digest"], run.outputs["image-digest"]);
}

#[test]
fn push_a_relative_image_archive() {
    let rootfs = Rootfs::new();
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(
        work.path(),
        "v1",
        &[("bin/app", b"#!/bin/sh\necho archived\n".to_vec())],
        "amd64",
    );
    let archive = rootfs.workspace().join("image.tar");
    skopeo_copy(
        &format!("oci:{}:v1", layout.display()),
        &format!("oci-archive:{}", archive.display()),
        &[],
    );
    let raw = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:{}", archive.display())));
    let expected = format!("sha256:{}", sha256_hex(raw.as_bytes()));
    let repo = unique("octo/container-archive");
    let mut given = registry_inputs(&repo);
    given.extend(inputs(&[("mode", "push"), ("image-archive", "image.tar")]));
    let run = rootfs.run(&given, &[]);
    let out = tempfile::tempdir().unwrap();
    assert_pushed(&run, &repo, out.path());
    assert_eq!(run.outputs["image-digest"], expected);
    assert_no_scratch_left(&rootfs);
}

/// The runner's OIDC token endpoint: answers only the right bearer and audience.
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

fn oidc_env(server: &wiremock::MockServer) -> Vec<(String, String)> {
    vec![
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            format!("{}/idtoken?api-version=2.0", server.uri()),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            RUNNER_BEARER.into(),
        ),
    ]
}

/// AWS through the OIDC role against moto, for the deploy-side modes.
fn aws_inputs(stack: &str) -> Vec<(String, String)> {
    inputs(&[
        ("aws-region", "us-east-1"),
        ("role-to-assume", ROLE),
        ("aws-endpoint-url", &stand_in("ECS_TEST_MOTO_URL")),
        ("stack-name", stack),
        ("smoke-check", "false"),
        // moto loses the log group on an update when LogRetentionDays was left to its default.
        ("parameter-overrides", "LogRetentionDays=7"),
    ])
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_preview_destroy_with_oidc_and_the_bundled_template() {
    let oidc = oidc_endpoint().await;
    let env = oidc_env(&oidc);
    let rootfs = std::sync::Arc::new(Rootfs::new());
    app_binary(&rootfs.workspace().join("dist/webapp"));
    rootfs.write_event(&push_event());
    let (stack, repo) = (unique("container"), unique("octo/container-deploy"));
    let mut deploy = registry_inputs(&repo);
    deploy.extend(aws_inputs(&stack));
    deploy.extend(inputs(&[("mode", "deploy"), ("image-from", "dist/webapp")]));
    let deployed = blocking({
        let (rootfs, deploy, env) = (rootfs.clone(), deploy.clone(), env.clone());
        move || rootfs.run(&deploy, &env)
    })
    .await;
    assert_ok(&deployed);
    assert!(
        deployed.stdout.contains(ROLE) || deployed.stdout.contains("assumed"),
        "{}",
        deployed.stdout
    );
    let cfn = cfn().await;
    let image_ref = deployed.outputs["image-ref"].clone();
    assert_eq!(deployed.outputs["stack-status"], "CREATE_COMPLETE");
    assert_eq!(deployed.outputs["has-changes"], "true");
    assert!(deployed.outputs["change-set-id"].contains(":changeSet/"));
    assert!(deployed.outputs["url"].starts_with("http://"));
    assert_eq!(
        stack_state(&cfn, &stack).await.unwrap(),
        Some(("CREATE_COMPLETE".into(), Some(image_ref.clone())))
    );
    assert!(
        unexecuted_change_sets(&cfn, &stack)
            .await
            .unwrap()
            .is_empty()
    );
    let out = tempfile::tempdir().unwrap();
    pull_back(&image_ref, out.path());

    // Preview of another tag: a change set shown, not executed, not left behind.
    let mut push = registry_inputs(&repo);
    push.extend(inputs(&[
        ("mode", "push"),
        ("image-from", "dist"),
        ("image-cmd", "/webapp"),
        ("tags", "next"),
    ]));
    let pushed = blocking({
        let rootfs = rootfs.clone();
        move || rootfs.run(&push, &[])
    })
    .await;
    assert_ok(&pushed);
    let mut preview = registry_inputs(&format!("{repo}:next"));
    preview.extend(aws_inputs(&stack));
    preview.extend(inputs(&[("mode", "preview")]));
    let previewed = blocking({
        let (rootfs, env) = (rootfs.clone(), env.clone());
        move || rootfs.run(&preview, &env)
    })
    .await;
    assert_ok(&previewed);
    assert_eq!(previewed.outputs["has-changes"], "true");
    assert!(previewed.outputs["change-set-id"].contains(":changeSet/"));
    assert!(previewed.summary.contains("Planned, not executed"));
    assert_eq!(
        stack_state(&cfn, &stack).await.unwrap(),
        Some(("CREATE_COMPLETE".into(), Some(image_ref.clone()))),
        "preview executed nothing"
    );
    assert!(
        unexecuted_change_sets(&cfn, &stack)
            .await
            .unwrap()
            .is_empty()
    );

    // Destroy.
    let mut destroy = aws_inputs(&stack);
    destroy.extend(inputs(&[("mode", "destroy")]));
    let destroyed = blocking({
        let (rootfs, env) = (rootfs.clone(), env.clone());
        move || rootfs.run(&destroy, &env)
    })
    .await;
    assert_ok(&destroyed);
    assert_eq!(destroyed.outputs["stack-status"], "DELETE_COMPLETE");
    assert_eq!(stack_state(&cfn, &stack).await.unwrap(), None);
    assert_no_scratch_left(&rootfs);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_leaves_no_unexecuted_change_set() {
    let oidc = oidc_endpoint().await;
    let env = oidc_env(&oidc);
    let rootfs = std::sync::Arc::new(Rootfs::new());
    app_binary(&rootfs.workspace().join("dist/webapp"));
    rootfs.write_event(&push_event());
    let (stack, repo) = (unique("container-term"), unique("octo/container-term"));
    let mut deploy = registry_inputs(&repo);
    deploy.extend(aws_inputs(&stack));
    deploy.extend(inputs(&[("mode", "deploy"), ("image-from", "dist/webapp")]));
    let run = blocking({
        let rootfs = rootfs.clone();
        move || {
            let mut signalled = false;
            rootfs.run_with(&deploy, &env, |line, child| {
                // The change set exists and is being described or executed: cancel now, as the
                // runner does (SIGTERM to the container's process).
                if !signalled && line.starts_with("::group::Stack ") && line.contains("change set")
                {
                    let _ = Command::new("kill")
                        .args(["-TERM", &child.id().to_string()])
                        .status();
                    signalled = true;
                }
            })
        }
    })
    .await;
    assert_ne!(run.code, Some(0), "{}", run.context());
    assert!(
        run.stdout.contains("cancelled by SIGTERM"),
        "{}",
        run.context()
    );
    assert!(run.raw_outputs.is_empty(), "no half-written outputs");
    let cfn = cfn().await;
    let left = unexecuted_change_sets(&cfn, &stack).await.unwrap();
    assert!(left.is_empty(), "{left:?} left behind:\n{}", run.stdout);
    let _ = cfn.delete_stack().stack_name(&stack).send().await;
}
