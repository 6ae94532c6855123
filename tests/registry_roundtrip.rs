//! The registry client against the harness's token-auth CNCF registry: uploads with known and
//! unknown digests, manifests put/get/resolve, existence checks, mounts — and skopeo (a client
//! nobody here wrote) agreeing on the digests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use bytes::Bytes;
use common::stand_in;
use ecs_poc_action::registry::{
    BlobBody, Credentials, FileBlob, Registry, RegistryAddress, RegistryError, digest::sha256_of,
};
use ecs_poc_action::secret::Secret;
use oci_spec::image::{Descriptor, Digest, MediaType};
use rand::RngCore;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn registry() -> Registry {
    ecs_poc_action::install_crypto_provider();
    let addr = RegistryAddress::parse(&stand_in("ECS_TEST_REGISTRY")).unwrap();
    let creds = Credentials {
        username: stand_in("ECS_TEST_REGISTRY_USERNAME"),
        password: Secret::new(stand_in("ECS_TEST_REGISTRY_PASSWORD")),
    };
    Registry::new(addr, Some(creds)).unwrap()
}

fn unique(name: &str) -> String {
    common::unique(&format!("registry-tests/{name}"))
}

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    v
}

fn layer_desc(data: &[u8]) -> Descriptor {
    Descriptor::new(
        MediaType::ImageLayerGzip,
        data.len() as u64,
        sha256_of(data),
    )
}

/// A minimal image manifest of `media_type` over a config and layers, as exact bytes.
fn manifest_bytes(media_type: &str, config: &Descriptor, layers: &[Descriptor]) -> Bytes {
    let config_type = if media_type == DOCKER_MANIFEST {
        "application/vnd.docker.container.image.v1+json"
    } else {
        "application/vnd.oci.image.config.v1+json"
    };
    let layer_type = if media_type == DOCKER_MANIFEST {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    };
    let v = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": config.size(), "digest": config.digest()},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": layer_type, "size": l.size(), "digest": l.digest()
        })).collect::<Vec<_>>(),
    });
    Bytes::from(serde_json::to_vec(&v).unwrap())
}

/// `skopeo inspect --raw` of `repo@reference` through the registry's own token flow; returns
/// the sha256 digest of the bytes skopeo received.
fn skopeo_digest(repo: &str, reference: &str) -> Digest {
    let sep = if reference.contains(':') { "@" } else { ":" };
    let target = format!(
        "docker://{}/{repo}{sep}{reference}",
        stand_in("ECS_TEST_REGISTRY")
    );
    let creds = format!(
        "{}:{}",
        stand_in("ECS_TEST_REGISTRY_USERNAME"),
        stand_in("ECS_TEST_REGISTRY_PASSWORD")
    );
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &target,
        ])
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sha256_of(&out.stdout)
}

#[tokio::test]
async fn known_and_streamed_uploads_then_manifest_round_trip_agree_with_skopeo() {
    let reg = registry();
    let repo = unique("roundtrip");
    reg.check_login(&repo).await.unwrap();

    // A 5 MiB layer from a file, digest known up front: POST + one streamed PUT.
    let tmp = tempfile::tempdir().unwrap();
    let layer = random(5 << 20);
    let path = tmp.path().join("layer");
    std::fs::write(&path, &layer).unwrap();
    let known = layer_desc(&layer);
    assert_eq!(reg.blob_exists(&repo, known.digest()).await.unwrap(), None);
    let before = reg.stats();
    reg.upload_blob(&repo, &known, &FileBlob::new(&path))
        .await
        .unwrap();
    let used = reg.stats().since(&before);
    assert_eq!((used.post, used.put, used.patch), (1, 1, 0), "{used:?}");
    assert_eq!(used.blob_bytes_uploaded, layer.len() as u64);

    // A second layer whose digest the client learns while streaming: POST, PATCH, PUT.
    let streamed = random(3 << 20);
    let before = reg.stats();
    let info = reg
        .upload_blob_streamed(&repo, &Bytes::from(streamed.clone()))
        .await
        .unwrap();
    let used = reg.stats().since(&before);
    assert_eq!((used.post, used.patch, used.put), (1, 1, 1), "{used:?}");
    assert_eq!(info.digest, sha256_of(&streamed));
    assert_eq!(info.size, streamed.len() as u64);
    let streamed_desc = layer_desc(&streamed);

    // The config, small and in memory.
    let config = Bytes::from_static(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let config_desc = Descriptor::new(
        MediaType::ImageConfig,
        config.len() as u64,
        sha256_of(&config),
    );
    reg.upload_blob(&repo, &config_desc, &config).await.unwrap();
    for d in [&known, &streamed_desc, &config_desc] {
        assert_eq!(
            reg.blob_exists(&repo, d.digest()).await.unwrap(),
            Some(d.size())
        );
    }

    // OCI manifest: by tag, then read back by tag and by digest.
    let bytes = manifest_bytes(
        MediaType::ImageManifest.as_ref(),
        &config_desc,
        &[known.clone(), streamed_desc],
    );
    let digest = reg
        .put_manifest(&repo, "v1", &MediaType::ImageManifest, bytes.clone())
        .await
        .unwrap();
    assert_eq!(digest, sha256_of(&bytes));
    let got = reg
        .get_manifest(&repo, "v1")
        .await
        .unwrap()
        .expect("manifest present");
    assert_eq!(
        (
            got.bytes.clone(),
            got.digest.clone(),
            got.media_type.clone()
        ),
        (bytes.clone(), digest.clone(), MediaType::ImageManifest)
    );
    let by_digest = reg
        .get_manifest(&repo, digest.as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest, got);
    assert_eq!(reg.resolve(&repo, "v1").await.unwrap(), digest);
    assert_eq!(
        reg.get_blob(&repo, config_desc.digest(), 1 << 20)
            .await
            .unwrap(),
        config
    );

    // A client nobody here wrote sees the same manifest, by digest and by tag.
    assert_eq!(skopeo_digest(&repo, digest.as_ref()), digest);
    assert_eq!(skopeo_digest(&repo, "v1"), digest);

    // Docker schema 2 keeps its media type; pushed by digest, then tagged.
    let docker = manifest_bytes(DOCKER_MANIFEST, &config_desc, &[known]);
    let docker_type = MediaType::from(DOCKER_MANIFEST);
    let d2 = reg
        .put_manifest(
            &repo,
            sha256_of(&docker).as_ref(),
            &docker_type,
            docker.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        reg.put_manifest(&repo, "docker", &docker_type, docker.clone())
            .await
            .unwrap(),
        d2
    );
    let got = reg.get_manifest(&repo, "docker").await.unwrap().unwrap();
    assert_eq!((got.media_type, got.digest), (docker_type, d2.clone()));
    assert_eq!(skopeo_digest(&repo, "docker"), d2);
}

#[tokio::test]
async fn second_upload_is_one_head_and_mount_into_another_repository() {
    let reg = registry();
    let repo = unique("dedup");
    let other = unique("dedup-other");
    let data = random(1 << 20);
    let desc = layer_desc(&data);
    reg.upload_blob(&repo, &desc, &Bytes::from(data.clone()))
        .await
        .unwrap();

    // Present now: one HEAD, no upload, and the cached token serves it.
    let before = reg.stats();
    assert_eq!(
        reg.blob_exists(&repo, desc.digest()).await.unwrap(),
        Some(desc.size())
    );
    let used = reg.stats().since(&before);
    assert_eq!(
        (
            used.requests(),
            used.head,
            used.token_fetches,
            used.blob_bytes_uploaded
        ),
        (1, 1, 0, 0),
        "{used:?}"
    );

    // Mount into a second repository: one POST answered 201, no bytes.
    let before = reg.stats();
    assert!(reg.mount_blob(&other, desc.digest(), &repo).await.unwrap());
    let used = reg.stats().since(&before);
    assert_eq!(
        (used.post, used.put, used.patch, used.blob_bytes_uploaded),
        (1, 0, 0, 0),
        "{used:?}"
    );
    assert_eq!(
        reg.blob_exists(&other, desc.digest()).await.unwrap(),
        Some(desc.size())
    );

    // Mounting a blob the source does not have: 202 and an open session, which the upload of
    // that blob then uses — a failed mount costs no extra round trip.
    let absent = random(100_000);
    let absent_desc = layer_desc(&absent);
    let third = unique("dedup-third");
    let before = reg.stats();
    assert!(
        !reg.mount_blob(&third, absent_desc.digest(), &repo)
            .await
            .unwrap()
    );
    reg.upload_blob(&third, &absent_desc, &Bytes::from(absent))
        .await
        .unwrap();
    let used = reg.stats().since(&before);
    assert_eq!(
        (used.post, used.put, used.delete, used.requests()),
        (1, 1, 0, 2),
        "{used:?}"
    );
    assert_eq!(
        reg.blob_exists(&third, absent_desc.digest()).await.unwrap(),
        Some(absent_desc.size())
    );
}

#[tokio::test]
async fn missing_things_are_none_or_typed_errors() {
    let reg = registry();
    let repo = unique("missing");
    assert_eq!(reg.get_manifest(&repo, "nope").await.unwrap(), None);
    let err = reg.resolve(&repo, "nope").await.unwrap_err();
    let typed = err
        .chain()
        .find_map(|e| e.downcast_ref::<RegistryError>())
        .expect("typed error");
    assert_eq!(
        typed.status(),
        Some(reqwest::StatusCode::NOT_FOUND),
        "{err:#}"
    );
    let err = reg
        .get_blob(&repo, &sha256_of(b"x"), 1024)
        .await
        .unwrap_err();
    let typed = err
        .chain()
        .find_map(|e| e.downcast_ref::<RegistryError>())
        .expect("typed error");
    assert!(typed.has_code("BLOB_UNKNOWN"), "{err:#}");

    // A blob bigger than the caller's limit is refused, not read.
    let data = random(64 * 1024);
    let desc = layer_desc(&data);
    reg.upload_blob(&repo, &desc, &Bytes::from(data))
        .await
        .unwrap();
    let err = reg.get_blob(&repo, desc.digest(), 1000).await.unwrap_err();
    assert!(
        matches!(
            err.chain().find_map(|e| e.downcast_ref::<RegistryError>()),
            Some(RegistryError::TooLarge { .. })
        ),
        "{err:#}"
    );

    // A wrong size is the registry's to refuse (400 SIZE_INVALID / DIGEST_INVALID), never retried.
    let data = random(1000);
    let mut desc = layer_desc(&data);
    desc.set_size(999);
    let before = reg.stats();
    let err = reg
        .upload_blob(&repo, &desc, &Bytes::from(data))
        .await
        .unwrap_err();
    assert_eq!(reg.stats().since(&before).retries, 0, "{err:#}");
    assert!(
        format!("{err:#}").contains("descriptor says 999"),
        "{err:#}"
    );
}

/// Reopening a body gives the same bytes, so a restarted upload sends the blob from the start.
#[tokio::test]
async fn file_blob_reopens_from_the_start() {
    use futures::StreamExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("b");
    let data = random(3 << 20);
    std::fs::write(&path, &data).unwrap();
    let body = FileBlob::new(&path);
    for _ in 0..2 {
        let mut s = body.open().await.unwrap();
        let mut all = Vec::new();
        while let Some(c) = s.next().await {
            all.extend_from_slice(&c.unwrap());
        }
        assert_eq!(all, data);
    }
}

/// Parallel requests on a fresh client share one ping and one token fetch per scope.
#[tokio::test]
async fn parallel_requests_share_one_ping_and_one_token() {
    let reg = registry();
    let repo = unique("parallel");
    let blobs: Vec<Vec<u8>> = (0..8).map(|_| random(200_000)).collect();
    let uploads = blobs.iter().map(|data| {
        let reg = reg.clone();
        let repo = repo.clone();
        let data = data.clone();
        async move {
            reg.upload_blob(&repo, &layer_desc(&data), &Bytes::from(data))
                .await
        }
    });
    for r in futures::future::join_all(uploads).await {
        r.unwrap();
    }
    let s = reg.stats();
    assert_eq!(
        (s.get, s.token_fetches, s.post, s.put),
        (1, 1, 8, 8),
        "{s:?}"
    );
    for data in &blobs {
        let d = layer_desc(data);
        assert_eq!(
            reg.blob_exists(&repo, d.digest()).await.unwrap(),
            Some(d.size())
        );
    }
}
