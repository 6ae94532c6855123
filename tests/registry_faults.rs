//! The registry client under faults: a fault-injecting proxy in front of the harness's registry
//! (500, 429 with Retry-After, a connection dropped mid-upload, a 401 for a dead token), tokens
//! that expire mid-push, wrong passwords and pull-only accounts. Every test proves its fault
//! fired and that what was stored still has the right digest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::stand_in;
use ecs_poc_action::registry::{
    Credentials, FileBlob, Registry, RegistryAddress, RegistryError, RetryPolicy, digest::sha256_of,
};
use ecs_poc_action::secret::Secret;
use fault_proxy::{Fault, FaultProxy};
use oci_spec::image::{Descriptor, MediaType};
use rand::RngCore;

fn client(address: &str, user: &str, password: &str) -> Registry {
    ecs_poc_action::install_crypto_provider();
    let creds = Credentials {
        username: user.into(),
        password: Secret::new(password),
    };
    // Short backoffs keep the suite fast; the policy's shape is what is under test.
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    Registry::with_retry_policy(
        RegistryAddress::parse(address).unwrap(),
        Some(creds),
        policy,
    )
    .unwrap()
}

fn direct(user: &str) -> Registry {
    client(
        &stand_in("ECS_TEST_REGISTRY"),
        user,
        &stand_in("ECS_TEST_REGISTRY_PASSWORD"),
    )
}

async fn proxied(user: &str) -> (FaultProxy, Registry) {
    let upstream: SocketAddr = stand_in("ECS_TEST_REGISTRY").parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let reg = client(
        &proxy.address(),
        user,
        &stand_in("ECS_TEST_REGISTRY_PASSWORD"),
    );
    (proxy, reg)
}

fn unique(name: &str) -> String {
    common::unique(&format!("registry-faults/{name}"))
}

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    v
}

fn desc(data: &[u8]) -> Descriptor {
    Descriptor::new(
        MediaType::ImageLayerGzip,
        data.len() as u64,
        sha256_of(data),
    )
}

/// Asserts the registry (asked directly, not through the proxy) holds the blob with this size:
/// distribution only stores a blob under a digest after verifying its content.
async fn assert_stored(repo: &str, d: &Descriptor) {
    let size = direct(&stand_in("ECS_TEST_REGISTRY_USERNAME"))
        .blob_exists(repo, d.digest())
        .await
        .unwrap();
    assert_eq!(size, Some(d.size()), "blob {} in {repo}", d.digest());
}

fn typed(err: &anyhow::Error) -> &RegistryError {
    err.chain()
        .find_map(|e| e.downcast_ref::<RegistryError>())
        .unwrap_or_else(|| panic!("untyped: {err:#}"))
}

#[tokio::test]
async fn server_error_on_the_blob_put_restarts_the_upload() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("500");
    let data = random(2 << 20);
    let d = desc(&data);
    proxy.inject("PUT", "/blobs/uploads/", Fault::Status(500), 1);
    reg.upload_blob(&repo, &d, &Bytes::from(data))
        .await
        .unwrap();
    assert_eq!(proxy.fired(), 1);
    let s = reg.stats();
    assert_eq!(
        (s.retries, s.post, s.put),
        (1, 2, 2),
        "a new session per attempt: {s:?}"
    );
    assert_stored(&repo, &d).await;
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("429");
    let data = random(100_000);
    let d = desc(&data);
    proxy.inject(
        "POST",
        "/blobs/uploads/",
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
        1,
    );
    let started = Instant::now();
    reg.upload_blob(&repo, &d, &Bytes::from(data))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(proxy.fired(), 1);
    assert_eq!(reg.stats().retries, 1);
    assert_stored(&repo, &d).await;
    // And a 5xx on a manifest read is retried too.
    proxy.inject("HEAD", "/blobs/", Fault::Status(503), 1);
    assert_eq!(
        reg.blob_exists(&repo, d.digest()).await.unwrap(),
        Some(d.size())
    );
    assert_eq!(proxy.fired(), 2);
}

#[tokio::test]
async fn dropped_connection_mid_upload_restarts_from_the_first_byte() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("drop");
    let tmp = tempfile::tempdir().unwrap();
    let data = random(8 << 20);
    let path = tmp.path().join("layer");
    std::fs::write(&path, &data).unwrap();
    let d = desc(&data);

    // Known digest: the monolithic PUT is cut after 1 MiB.
    proxy.inject("PUT", "/blobs/uploads/", Fault::DropAfter(1 << 20), 1);
    reg.upload_blob(&repo, &d, &FileBlob::new(&path))
        .await
        .unwrap();
    assert_eq!(proxy.fired(), 1);
    let s = reg.stats();
    assert_eq!(s.retries, 1, "{s:?}");
    assert!(
        s.blob_bytes_uploaded > d.size(),
        "the body was sent again from the start: {s:?}"
    );
    assert_stored(&repo, &d).await;

    // Unknown digest: the streamed PATCH is cut after 3 MiB; the digest is still right.
    let repo2 = unique("drop-streamed");
    proxy.inject("PATCH", "/blobs/uploads/", Fault::DropAfter(3 << 20), 1);
    let info = reg
        .upload_blob_streamed(&repo2, &FileBlob::new(&path))
        .await
        .unwrap();
    assert_eq!(proxy.fired(), 2);
    assert_eq!(
        (info.digest.clone(), info.size),
        (d.digest().clone(), d.size())
    );
    assert_stored(&repo2, &d).await;
}

#[tokio::test]
async fn persistent_failures_give_up_within_the_budget() {
    let (proxy, _) = proxied("testuser").await;
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    ecs_poc_action::install_crypto_provider();
    let creds = Credentials {
        username: stand_in("ECS_TEST_REGISTRY_USERNAME"),
        password: Secret::new(stand_in("ECS_TEST_REGISTRY_PASSWORD")),
    };
    let reg = Registry::with_retry_policy(
        RegistryAddress::parse(&proxy.address()).unwrap(),
        Some(creds),
        policy,
    )
    .unwrap();
    proxy.inject("HEAD", "/blobs/", Fault::Status(502), 100);
    let err = reg
        .blob_exists(&unique("giveup"), &sha256_of(b"x"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("gave up after 3 attempts"),
        "{err:#}"
    );
    assert_eq!(typed(&err).status(), Some(reqwest::StatusCode::BAD_GATEWAY));
    assert_eq!(proxy.fired(), 3);
    // A permanent error is not retried at all.
    proxy.inject("GET", "/manifests/", Fault::Status(400), 100);
    assert!(reg.get_manifest(&unique("giveup"), "x").await.is_err());
    assert_eq!(proxy.fired(), 4);
}

#[tokio::test]
async fn a_401_mid_push_fetches_a_new_token_and_carries_on() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("401");
    let challenge = format!(
        r#"Bearer realm="{}",service="registry.local",scope="repository:{repo}:pull,push",error="invalid_token""#,
        stand_in("ECS_TEST_TOKEN_URL")
    );
    reg.check_login(&repo).await.unwrap();
    let tokens = reg.stats().token_fetches;

    // On a replayable request (HEAD): answered in place with a new token.
    proxy.inject(
        "HEAD",
        "/blobs/",
        Fault::Unauthorized {
            challenge: challenge.clone(),
        },
        1,
    );
    assert_eq!(
        reg.blob_exists(&repo, &sha256_of(b"nope")).await.unwrap(),
        None
    );
    let s = reg.stats();
    assert_eq!(
        (s.reauths, s.token_fetches - tokens, s.retries),
        (1, 1, 0),
        "{s:?}"
    );

    // On a streamed upload: the whole attempt is retried with the new token.
    let data = random(1 << 20);
    let d = desc(&data);
    proxy.inject(
        "PUT",
        "/blobs/uploads/",
        Fault::Unauthorized { challenge },
        1,
    );
    reg.upload_blob(&repo, &d, &Bytes::from(data))
        .await
        .unwrap();
    let s = reg.stats();
    assert_eq!((s.token_fetches - tokens, s.retries), (2, 1), "{s:?}");
    assert_eq!(proxy.fired(), 2);
    assert_stored(&repo, &d).await;
}

/// `shortlived` tokens live 2 s: a slow push must renew them and still succeed.
#[tokio::test]
async fn expiring_tokens_are_renewed_during_a_slow_push() {
    let reg = direct("shortlived");
    let repo = unique("shortlived");
    let mut layers = Vec::new();
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let data = random(500_000);
        let d = desc(&data);
        reg.upload_blob(&repo, &d, &Bytes::from(data))
            .await
            .unwrap();
        layers.push(d);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let config = Bytes::from_static(b"{}");
    let cd = Descriptor::new(MediaType::ImageConfig, 2, sha256_of(&config));
    reg.upload_blob(&repo, &cd, &config).await.unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": cd.digest()},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": l.size(), "digest": l.digest()
        })).collect::<Vec<_>>(),
    });
    let bytes = Bytes::from(serde_json::to_vec(&manifest).unwrap());
    let digest = reg
        .put_manifest(&repo, "slow", &MediaType::ImageManifest, bytes.clone())
        .await
        .unwrap();
    assert_eq!(digest, sha256_of(&bytes));
    let s = reg.stats();
    assert!(
        s.token_fetches >= 4,
        "one token per 3-second gap at least: {s:?}"
    );
    for l in &layers {
        assert_stored(&repo, l).await;
    }
}

#[tokio::test]
async fn wrong_password_is_one_clear_error_and_writes_nothing() {
    let password = "definitely-wrong-Pa55";
    let reg = client(&stand_in("ECS_TEST_REGISTRY"), "testuser", password);
    let repo = unique("badpass");
    let err = reg.check_login(&repo).await.unwrap_err();
    assert!(
        matches!(typed(&err), RegistryError::BadCredentials { .. }),
        "{err:#}"
    );
    let msg = format!("{err:#}");
    // The protocol client names the registry and the user, not the action's inputs (the
    // pipeline adds that hint; tests/e2e.rs checks it end to end).
    assert!(msg.contains("rejected the credentials of user"), "{msg}");
    assert!(!msg.contains(password), "the password leaked: {msg}");
    assert_eq!(reg.stats().retries, 0, "bad credentials are not retried");

    // An upload attempted anyway fails the same way before any byte leaves.
    let data = random(10_000);
    let d = desc(&data);
    let err = reg
        .upload_blob(&repo, &d, &Bytes::from(data))
        .await
        .unwrap_err();
    assert!(
        matches!(typed(&err), RegistryError::BadCredentials { .. }),
        "{err:#}"
    );
    let s = reg.stats();
    assert_eq!(
        (s.post, s.put, s.patch, s.blob_bytes_uploaded),
        (0, 0, 0, 0),
        "{s:?}"
    );
    let good = direct(&stand_in("ECS_TEST_REGISTRY_USERNAME"));
    assert_eq!(good.blob_exists(&repo, d.digest()).await.unwrap(), None);
    let repo_dir = std::path::Path::new(&stand_in("ECS_TEST_REGISTRY_STORAGE"))
        .join("docker/registry/v2/repositories")
        .join(&repo);
    assert!(!repo_dir.exists(), "{} was created", repo_dir.display());
}

#[tokio::test]
async fn pull_only_account_gets_insufficient_scope_before_uploading() {
    let reg = direct("pullonly");
    let repo = unique("pullonly");
    let err = reg.check_login(&repo).await.unwrap_err();
    assert!(
        matches!(typed(&err), RegistryError::InsufficientScope { .. }),
        "{err:#}"
    );
    assert!(format!("{err:#}").contains("insufficient_scope"), "{err:#}");
    let data = random(10_000);
    let d = desc(&data);
    let err = reg
        .upload_blob(&repo, &d, &Bytes::from(data))
        .await
        .unwrap_err();
    assert!(
        matches!(typed(&err), RegistryError::InsufficientScope { .. }),
        "{err:#}"
    );
    assert_eq!(reg.stats().blob_bytes_uploaded, 0);
    assert_eq!(
        direct("testuser")
            .blob_exists(&repo, d.digest())
            .await
            .unwrap(),
        None
    );
}

/// The registry's own 401 insufficient_scope (a token that lacks push, with no JWT claims to
/// inspect up front) is mapped to the same typed error.
#[tokio::test]
async fn registry_insufficient_scope_answer_is_typed() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("scope");
    let challenge = format!(
        r#"Bearer realm="{}",service="registry.local",scope="repository:{repo}:pull,push",error="insufficient_scope""#,
        stand_in("ECS_TEST_TOKEN_URL")
    );
    proxy.inject(
        "POST",
        "/blobs/uploads/",
        Fault::Unauthorized { challenge },
        2,
    );
    let data = random(1000);
    let err = reg
        .upload_blob(&repo, &desc(&data), &Bytes::from(data))
        .await
        .unwrap_err();
    assert!(
        matches!(typed(&err), RegistryError::InsufficientScope { .. }),
        "{err:#}"
    );
    assert_eq!(proxy.fired(), 2, "one re-authentication, then the error");
}

/// Registries send `Location` as absolute URLs (distribution) or paths (others), and may omit
/// `Docker-Content-Digest` on a HEAD: uploads follow both forms, `resolve` falls back to GET.
#[tokio::test]
async fn relative_locations_and_a_missing_digest_header_are_handled() {
    let (proxy, reg) = proxied("testuser").await;
    let repo = unique("location");
    proxy.inject("POST", "/blobs/uploads/", Fault::RelativeLocation, 2);
    proxy.inject("PATCH", "/blobs/uploads/", Fault::RelativeLocation, 1);
    let data = random(300_000);
    let d = desc(&data);
    reg.upload_blob(&repo, &d, &Bytes::from(data.clone()))
        .await
        .unwrap();
    let info = reg
        .upload_blob_streamed(&unique("location-s"), &Bytes::from(data))
        .await
        .unwrap();
    assert_eq!(info.digest, *d.digest());
    assert_eq!(proxy.fired(), 3);
    let relative = proxy
        .seen()
        .iter()
        .filter(|s| s.fault.as_deref() == Some("RelativeLocation"))
        .count();
    assert_eq!(relative, 3);
    assert_stored(&repo, &d).await;

    let config = Bytes::from_static(b"{}");
    let cd = Descriptor::new(MediaType::ImageConfig, 2, sha256_of(&config));
    reg.upload_blob(&repo, &cd, &config).await.unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": cd.digest()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": d.size(), "digest": d.digest()}],
    });
    let bytes = Bytes::from(serde_json::to_vec(&manifest).unwrap());
    let digest = reg
        .put_manifest(&repo, "v1", &MediaType::ImageManifest, bytes)
        .await
        .unwrap();
    proxy.inject(
        "HEAD",
        "/manifests/v1",
        Fault::StripResponseHeader("Docker-Content-Digest".into()),
        1,
    );
    let before = reg.stats();
    assert_eq!(reg.resolve(&repo, "v1").await.unwrap(), digest);
    let used = reg.stats().since(&before);
    assert_eq!(
        (used.head, used.get),
        (1, 1),
        "HEAD without a digest, then GET: {used:?}"
    );
    assert_eq!(proxy.fired(), 4);
}
