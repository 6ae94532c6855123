//! Self-hosted runners behind a proxy: the binary, started as the runner starts a container
//! action with `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` set, must send every request through the
//! proxy — STS and CloudFormation (moto), the registry and its token server, the GitHub OIDC
//! token endpoint and the GitHub API (wiremock) — except to hosts `NO_PROXY` lists.
//!
//! The stand-ins speak plain HTTP: reached as `http://`, clients send the proxy absolute-form
//! requests; behind a TLS front (`https://`, certificate trusted through `SSL_CERT_FILE`), they
//! open `CONNECT` tunnels. The proxy counts both per target, and nothing is exempt by being on
//! loopback: the counts prove the traffic really went through the proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
#[path = "support/forward_proxy.rs"]
mod forward_proxy;
#[path = "support/tls_front.rs"]
mod tls_front;

use common::{stand_in, unique};
use forward_proxy::ForwardProxy;
use std::path::Path;
use std::process::Command;
use tls_front::TlsFront;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GITHUB_TOKEN: &str = "ghs_ProxyTestToken0123456789";

/// `host:port` of a stand-in URL (`http://127.0.0.1:5000/…` → `127.0.0.1:5000`).
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The binary with every declared input set (defaults, then `inputs`), the runner's variables,
/// and `env` on top; nothing inherited but PATH, so no proxy variable leaks in from outside.
fn run(dir: &Path, inputs: &[(&str, String)], env: &[(&str, String)]) -> Run {
    let vars = common::input_vars(inputs);
    std::fs::write(dir.join("output"), "").unwrap();
    std::fs::write(dir.join("summary"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"))
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/webapp")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_RUN_ID", format!("{}", rand::random::<u32>()))
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn app_file(dir: &Path) -> String {
    let path = dir.join("app");
    std::fs::write(&path, format!("#!/bin/sh\necho {}\n", unique("proxied"))).unwrap();
    path.to_string_lossy().into_owned()
}

/// A "GitHub" answering the OIDC token request and the deployment record's POSTs.
async fn github() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"value": "eyJhbGciOi.proxied.jwt"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/repos/octo/webapp/deployments(/7/statuses)?$",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 7})))
        .mount(&server)
        .await;
    server
}

/// Deploy behind the proxy: AWS (moto) and GitHub (the OIDC token and the deployment record)
/// over `https://` through TLS fronts, so as `CONNECT` tunnels, trusted only through
/// `SSL_CERT_FILE`; the registry and its token server over plain `http://`, so as absolute-form
/// requests. Every connection any stand-in accepted came through the proxy.
#[tokio::test(flavor = "multi_thread")]
async fn every_client_goes_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = ForwardProxy::start().await.unwrap();
    let gh = github().await;
    let (cert, key) = tls_front::self_signed(dir.path(), "stand-ins").unwrap();
    let moto_addr = authority(&stand_in("ECS_TEST_MOTO_URL")).parse().unwrap();
    let moto = TlsFront::start(&cert, &key, moto_addr).await.unwrap();
    let github = TlsFront::start(&cert, &key, *gh.address()).await.unwrap();
    let registry = stand_in("ECS_TEST_REGISTRY");
    let inputs = [
        ("mode", "deploy".to_string()),
        ("aws-region", "us-east-1".to_string()),
        (
            "role-to-assume",
            "arn:aws:iam::123456789012:role/proxied".to_string(),
        ),
        ("aws-endpoint-url", moto.url()),
        (
            "docker-hub-username",
            stand_in("ECS_TEST_REGISTRY_USERNAME"),
        ),
        ("docker-hub-token", stand_in("ECS_TEST_REGISTRY_PASSWORD")),
        ("registry", registry.clone()),
        ("image", unique("octo/proxied")),
        ("image-from", app_file(dir.path())),
        ("stack-name", unique("proxied")),
        ("smoke-check", "false".to_string()),
        ("github-token", GITHUB_TOKEN.to_string()),
        ("parameter-overrides", "LogRetentionDays=7".to_string()),
    ];
    let env = [
        ("HTTP_PROXY", proxy.url()),
        ("HTTPS_PROXY", proxy.url()),
        ("no_proxy", String::new()),
        ("SSL_CERT_FILE", cert.to_string_lossy().into_owned()),
        ("GITHUB_API_URL", github.url()),
        ("GITHUB_SERVER_URL", github.url()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/idtoken?api-version=2.0", github.url()),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "runner-bearer-proxied".to_string(),
        ),
    ];
    let run = run(dir.path(), &inputs, &env);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "proxy: https:// via {0}, http:// via {0}; NO_PROXY: (none)",
            proxy.url()
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("::warning::"), "{}", run.stdout);

    let counts = proxy.counts();
    eprintln!(
        "proxy counts: {counts:?}; TLS connections: moto {}, github {}",
        moto.connections(),
        github.connections()
    );
    let tunnels = |front: &TlsFront| {
        counts
            .tunnels
            .get(&front.addr.to_string())
            .copied()
            .unwrap_or(0)
    };
    // STS (AssumeRoleWithWebIdentity, GetCallerIdentity), CloudFormation and ECS.
    assert!(moto.connections() >= 1);
    assert_eq!(
        tunnels(&moto),
        moto.connections(),
        "AWS bypassed the proxy: {counts:?}"
    );
    // The OIDC token, then the deployment record (create + statuses): all answered.
    let github_requests = gh
        .received_requests()
        .await
        .expect("wiremock records requests");
    assert!(github_requests.len() >= 3, "{github_requests:?}");
    assert_eq!(
        tunnels(&github),
        github.connections(),
        "GitHub bypassed the proxy: {counts:?}"
    );
    assert!(
        counts.through(&registry) >= 4,
        "registry calls bypassed the proxy: {counts:?}"
    );
    assert!(
        counts.through(&authority(&stand_in("ECS_TEST_TOKEN_URL"))) >= 1,
        "token server calls bypassed the proxy: {counts:?}"
    );
    assert!(counts.refused.is_empty(), "{counts:?}");
}

/// The same certificate is refused without `SSL_CERT_FILE`: trust really comes from the file.
#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_refused_without_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_front::self_signed(dir.path(), "untrusted").unwrap();
    let moto_addr = authority(&stand_in("ECS_TEST_MOTO_URL")).parse().unwrap();
    let moto = TlsFront::start(&cert, &key, moto_addr).await.unwrap();
    let inputs = [
        ("mode", "destroy".to_string()),
        ("aws-region", "us-east-1".to_string()),
        ("aws-access-key-id", "test".to_string()),
        ("aws-secret-access-key", "test".to_string()),
        ("aws-endpoint-url", moto.url()),
        ("stack-name", unique("never-created")),
    ];
    let trusted = run(
        dir.path(),
        &inputs,
        &[("SSL_CERT_FILE", cert.to_string_lossy().into_owned())],
    );
    assert_eq!(
        trusted.code,
        Some(0),
        "{}\n{}",
        trusted.stdout,
        trusted.stderr
    );
    let untrusted = run(dir.path(), &inputs, &[]);
    assert_ne!(untrusted.code, Some(0), "{}", untrusted.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_proxy_hosts_are_reached_directly() {
    let proxy = ForwardProxy::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The same registry, named `localhost` so that NO_PROXY can single it out; its token server
    // (named by the registry's challenge as 127.0.0.1) is still proxied.
    let port = stand_in("ECS_TEST_REGISTRY")
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap();
    let registry = format!("localhost:{port}");
    let inputs = [
        ("mode", "push".to_string()),
        (
            "docker-hub-username",
            stand_in("ECS_TEST_REGISTRY_USERNAME"),
        ),
        ("docker-hub-token", stand_in("ECS_TEST_REGISTRY_PASSWORD")),
        ("registry", registry.clone()),
        ("image", unique("octo/direct")),
        ("image-from", app_file(dir.path())),
        ("tags", "v1".to_string()),
    ];
    let env = [
        ("http_proxy", proxy.url()),
        ("https_proxy", proxy.url()),
        ("NO_PROXY", "example.internal, localhost".to_string()),
        ("GITHUB_API_URL", "http://127.0.0.1:9".to_string()),
    ];
    let run = run(dir.path(), &inputs, &env);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    let counts = proxy.counts();
    eprintln!("proxy counts: {counts:?}");
    assert_eq!(counts.through(&registry), 0, "NO_PROXY ignored: {counts:?}");
    assert!(
        counts.through(&authority(&stand_in("ECS_TEST_TOKEN_URL"))) >= 1,
        "the token server is not listed in NO_PROXY and must be proxied: {counts:?}"
    );
    assert_eq!(
        counts.total(),
        counts.through(&authority(&stand_in("ECS_TEST_TOKEN_URL")))
    );

    // The AWS client applies NO_PROXY too: moto named `localhost` is reached directly (the run
    // succeeds: STS and CloudFormation answered) and the proxy sees nothing more.
    let moto_port = stand_in("ECS_TEST_MOTO_URL")
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap();
    let inputs = [
        ("mode", "destroy".to_string()),
        ("aws-region", "us-east-1".to_string()),
        ("aws-access-key-id", "test".to_string()),
        ("aws-secret-access-key", "test".to_string()),
        ("aws-endpoint-url", format!("http://localhost:{moto_port}")),
        ("stack-name", unique("never-created")),
    ];
    let run = self::run(dir.path(), &inputs, &env);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("does not exist"), "{}", run.stdout);
    assert_eq!(
        proxy.counts().total(),
        counts.total(),
        "{:?}",
        proxy.counts()
    );
}
