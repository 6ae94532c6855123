//! Credentials go only where they belong: not to an upload `Location` on another origin, and
//! registry tokens are masked the moment they are obtained. Network data cannot panic the run
//! (a token server's `expires_in` of u64::MAX), and a hostile archive is refused before any
//! registry request. A wiremock registry plays the hostile peer; everything is loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use std::path::Path;
use std::process::{Command, Output};

use ecs_poc_action::registry::{
    Credentials, FileBlob, Registry, RegistryAddress, digest::sha256_of,
};
use ecs_poc_action::secret::Secret;
use oci_spec::image::{Descriptor, MediaType};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PASSWORD: &str = "hub-token-Sup3rS3cret";
const TOKEN: &str = "registry-bearer-7c41d2e9aa";

fn authorization(r: &Request) -> Option<String> {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// A registry whose upload `Location` points at `elsewhere` (another origin), with `challenge`.
async fn hostile_registry(challenge: &str, elsewhere: &MockServer) -> MockServer {
    let reg = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", challenge.replace("{self}", &reg.uri())),
        )
        .mount(&reg)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "token": TOKEN, "expires_in": 300 })),
        )
        .mount(&reg)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/octo/app/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header(
            "Location",
            format!("{}/upload/session-1?sig=abc", elsewhere.uri()),
        ))
        .mount(&reg)
        .await;
    reg
}

fn client(reg: &MockServer) -> Registry {
    ecs_poc_action::install_crypto_provider();
    let addr = RegistryAddress::parse(reg.address().to_string().as_str()).unwrap();
    let creds = Credentials {
        username: "octo".into(),
        password: Secret::new(PASSWORD),
    };
    Registry::new(addr, Some(creds)).unwrap()
}

/// Blob storage on another origin accepts the upload; it must see no Authorization at all.
#[tokio::test]
async fn an_upload_location_on_another_origin_gets_no_credentials() {
    for challenge in [
        r#"Basic realm="registry""#,
        r#"Bearer realm="{self}/token",service="registry.test""#,
    ] {
        let storage = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path("/upload/session-1"))
            .respond_with(ResponseTemplate::new(201))
            .mount(&storage)
            .await;
        let reg = hostile_registry(challenge, &storage).await;
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("blob");
        std::fs::write(&blob, b"layer bytes").unwrap();
        let desc = Descriptor::new(MediaType::ImageLayerGzip, 11, sha256_of(b"layer bytes"));
        client(&reg)
            .upload_blob("octo/app", &desc, &FileBlob::new(&blob))
            .await
            .unwrap();

        let stored = storage.received_requests().await.unwrap();
        assert_eq!(stored.len(), 1, "{challenge}: the PUT reached storage");
        assert_eq!(
            authorization(&stored[0]),
            None,
            "{challenge}: credentials were sent to another origin"
        );
        // The registry itself did get them: the test would prove nothing otherwise.
        let posts: Vec<_> = reg
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .collect();
        assert!(
            posts.iter().all(|r| authorization(r).is_some()),
            "{challenge}: the registry's own POST carried no Authorization"
        );
    }
}

/// Runs the binary the way the runner does, in mode push to `registry`.
fn run_push(registry: &str, source: (&str, &Path), extra: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("SOURCE_DATE_EPOCH", "0")
        .env("INPUT_MODE", "push")
        .env("INPUT_REGISTRY", registry)
        .env("INPUT_IMAGE", "octo/app")
        .env("INPUT_TAGS", "v1")
        .env("INPUT_DOCKER-HUB-USERNAME", "octo")
        .env("INPUT_DOCKER-HUB-TOKEN", PASSWORD)
        .env(format!("INPUT_{}", source.0.to_uppercase()), source.1);
    for (k, v) in extra {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A token server answering with `expires_in`, behind a registry that then fails the push.
async fn token_registry(expires_in: u64) -> MockServer {
    let reg = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!(
                r#"Bearer realm="{}/token",service="registry.test""#,
                reg.uri()
            ),
        ))
        .mount(&reg)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"token":"{TOKEN}","expires_in":{expires_in}}}"#
        )))
        .mount(&reg)
        .await;
    Mock::given(path_regex("^/v2/octo/app/"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&reg)
        .await;
    reg
}

/// The token is masked before anything could print it; the directory build says what it packed.
#[tokio::test]
async fn registry_tokens_are_masked_when_obtained() {
    let reg = token_registry(300).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::write(dir.path().join("bin/server"), b"#!/bin/sh\n").unwrap();
    std::fs::write(dir.path().join("index.html"), vec![b'x'; 2048]).unwrap();
    let out = run_push(
        &reg.address().to_string(),
        ("image-from", dir.path()),
        &[("image-cmd", "/bin/server"), ("push-concurrency", "1")],
    );
    let (stdout, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let token_requests = reg
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count();
    assert!(token_requests > 0, "no token was fetched:\n{stdout}");
    assert!(
        stdout.lines().any(|l| l == format!("::add-mask::{TOKEN}")),
        "the registry token was not masked:\n{stdout}"
    );
    assert!(
        stdout.contains("packed 2 files, 2058 bytes from")
            && stdout.contains("largest: index.html 2048 bytes, bin/server 10 bytes"),
        "no packing summary:\n{stdout}"
    );
}

/// `expires_in: u64::MAX` overflowed `Instant` (a panic; with `panic = "abort"` a silent death).
#[tokio::test]
async fn a_huge_token_lifetime_does_not_panic() {
    let reg = token_registry(u64::MAX).await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("server");
    std::fs::write(&bin, b"\x7fELF").unwrap();
    let out = run_push(&reg.address().to_string(), ("image-from", &bin), &[]);
    let (stdout, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("::error")),
        "no error line:\n{stdout}"
    );
    assert!(
        stdout.contains("logged in to"),
        "the login (where the token is read) did not finish:\n{stdout}"
    );
}

/// A `docker save` tar with a 256 MiB GNU long name: refused while indexing, before any
/// registry request, and without buffering the name.
#[tokio::test]
async fn a_hostile_archive_is_refused_before_any_registry_request() {
    let reg = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("hostile.tar");
    write_long_name_bomb(&archive, 256 << 20);
    let out = run_push(&reg.address().to_string(), ("image-archive", &archive), &[]);
    let (stdout, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("GNU long name of 268435456 bytes"),
        "{stdout}"
    );
    assert!(
        reg.received_requests().await.unwrap().is_empty(),
        "the registry was contacted"
    );
}

/// One GNU long-name header claiming `size` bytes, the file sparse so the test writes 1 KiB.
fn write_long_name_bomb(path: &Path, size: u64) {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(size);
    h.set_cksum();
    let f = std::fs::File::create(path).unwrap();
    std::io::Write::write_all(&mut &f, h.as_bytes()).unwrap();
    f.set_len(512 + size + 1024).unwrap();
}
