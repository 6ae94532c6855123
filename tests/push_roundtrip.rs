//! Pushes images of every source kind to the harness's token-auth registry, then copies them
//! back with skopeo and checks every digest against what the push reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
mod image_fixtures;

use ecs_poc_action::image::{Compression, LayerOutcome, PushOptions, load_archive, push};
use image_fixtures::*;

/// An OCI layout (umoci, gzip layers, one of 100 MB): pushed, pulled back identical; a second
/// push uploads nothing; a push to another repository mounts every layer instead of uploading.
#[tokio::test]
async fn oci_layout_dir_round_trips_then_warm_push_uploads_nothing_and_second_repo_mounts() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = umoci_layout(
        tmp.path(),
        "v1",
        &[
            ("bin/app", random_bytes(100 << 20)),
            ("etc/app.conf", text_bytes(300_000, 1)),
            ("srv/static.txt", text_bytes(2_000_000, 2)),
        ],
        "amd64",
    );
    let image = load_archive(&layout).unwrap();
    assert_eq!(image.images[0].layers.len(), 3);
    let registry = registry();
    let repo = unique_repo("layout");
    let report = push_v1(&registry, &repo, &image, &opts()).await.unwrap();
    assert_eq!(
        Some(&report.digest),
        image.digest(),
        "stored manifest pushed byte for byte"
    );
    assert_all(&report, LayerOutcome::Pushed);
    assert!(report.bytes_uploaded >= 100 << 20);
    assert_eq!(
        report.reference,
        format!(
            "{}/{repo}@{}",
            common::stand_in("ECS_TEST_REGISTRY"),
            report.digest
        )
    );
    pull_and_verify(&report, &repo, &tmp.path().join("back"));

    let before = registry.stats();
    let warm = push_v1(&registry, &repo, &image, &opts()).await.unwrap();
    let used = registry.stats().since(&before);
    assert_eq!(warm.digest, report.digest);
    assert_all(&warm, LayerOutcome::Skipped);
    assert_eq!(
        (used.blob_bytes_uploaded, used.post, used.patch),
        (0, 0, 0),
        "{used:?}"
    );

    let other = unique_repo("mounted");
    let options = PushOptions {
        mount_from: Some(repo.parse().unwrap()),
        ..opts()
    };
    let before = registry.stats();
    let mounted = push_v1(&registry, &other, &image, &options).await.unwrap();
    let used = registry.stats().since(&before);
    assert_eq!(mounted.digest, report.digest);
    assert_all(&mounted, LayerOutcome::Mounted);
    assert_eq!(used.blob_bytes_uploaded, 0, "{used:?}");
    pull_and_verify(&mounted, &other, &tmp.path().join("back-mounted"));
}

/// An OCI archive written by skopeo from a umoci layout.
#[tokio::test]
async fn oci_archive_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = umoci_layout(
        tmp.path(),
        "v1",
        &[("a", text_bytes(500_000, 3)), ("b", random_bytes(1 << 20))],
        "amd64",
    );
    let archive = tmp.path().join("image.tar");
    skopeo_copy(
        &format!("oci:{}:v1", layout.display()),
        &format!("oci-archive:{}", archive.display()),
        &[],
    );
    let image = load_archive(&archive).unwrap();
    let repo = unique_repo("ociarchive");
    let report = push(
        &registry(),
        &repo.parse().unwrap(),
        &image,
        &["v1".parse().unwrap(), "latest".parse().unwrap()],
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!(Some(&report.digest), image.digest());
    pull_and_verify(&report, &repo, &tmp.path().join("back"));
}

/// A legacy `docker save` archive (skopeo's docker-archive: manifest.json + uncompressed layer
/// tars): layers gzip-compressed on the way, a Docker schema 2 manifest written; the pushed
/// layers decompress to the config's diff_ids. A second push compresses and uploads nothing.
#[tokio::test]
async fn legacy_docker_save_round_trips_and_warm_push_compresses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = umoci_layout(
        tmp.path(),
        "v1",
        &[
            ("a", text_bytes(700_000, 4)),
            ("b", random_bytes(1 << 20)),
            ("c", text_bytes(50_000, 5)),
        ],
        "amd64",
    );
    let archive = tmp.path().join("saved.tar");
    skopeo_copy(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker-archive:{}:app:v1", archive.display()),
        &[],
    );
    let image = load_archive(&archive).unwrap();
    assert!(
        image.images[0].manifest.is_none(),
        "legacy archives carry no registry manifest"
    );
    assert!(image.digest().is_none());

    let registry = registry();
    let repo = unique_repo("dockersave");
    let report = push_v1(&registry, &repo, &image, &opts()).await.unwrap();
    assert_eq!(
        report.media_type.to_string(),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_all(&report, LayerOutcome::Pushed);
    let uncompressed: u64 = image.images[0]
        .layers
        .iter()
        .map(|l| l.descriptor.size())
        .sum();
    assert!(
        report.bytes_uploaded < uncompressed,
        "compressed on the way: {} vs {uncompressed}",
        report.bytes_uploaded
    );

    let back = tmp.path().join("back");
    let manifests = pull_and_verify(&report, &repo, &back);
    let config_hex = manifests[0]["config"]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(back.join(&config_hex)).unwrap()).unwrap();
    for (layer, diff_id) in manifests[0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
    {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        let hex = layer["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(back.join(hex)).unwrap()),
            &mut raw,
        )
        .unwrap();
        assert_eq!(
            format!("sha256:{}", sha256_hex(&raw)),
            diff_id.as_str().unwrap()
        );
    }

    let before = registry.stats();
    let warm = push_v1(&registry, &repo, &image, &opts()).await.unwrap();
    let used = registry.stats().since(&before);
    assert_eq!(warm.digest, report.digest, "same manifest again");
    assert_all(&warm, LayerOutcome::Skipped);
    assert_eq!(
        (used.blob_bytes_uploaded, used.post, used.patch),
        (0, 0, 0),
        "{used:?}"
    );
}

/// Docker 25+ `docker save` (an OCI layout with uncompressed layers inside the tar), pushed with
/// zstd: the OCI manifest is rewritten with `tar+zstd` layers, the config is unchanged.
#[tokio::test]
async fn docker25_save_with_zstd_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = vec![
        layer_tar("app", &random_bytes(600_000)),
        layer_tar("etc/conf", &text_bytes(400_000, 6)),
    ];
    let saved = docker25_save(&layers);
    let archive = tmp.path().join("docker25.tar");
    write_tar(&archive, &saved.entries);
    let image = load_archive(&archive).unwrap();
    assert!(image.images[0].manifest.is_some());

    let repo = unique_repo("docker25");
    let options = PushOptions {
        compression: Compression::Zstd,
        ..opts()
    };
    let report = push_v1(&registry(), &repo, &image, &options).await.unwrap();
    assert_ne!(
        report.digest.to_string(),
        saved.manifest_digest,
        "layers rewritten, so a new manifest"
    );
    let manifests = pull_and_verify(&report, &repo, &tmp.path().join("back"));
    assert_eq!(
        manifests[0]["config"]["digest"],
        saved.config_digest.as_str()
    );
    for (layer, diff_id) in manifests[0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&saved.diff_ids)
    {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let hex = layer["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap();
        let raw = zstd::decode_all(std::fs::File::open(tmp.path().join("back").join(hex)).unwrap())
            .unwrap();
        assert_eq!(&format!("sha256:{}", sha256_hex(&raw)), diff_id);
    }
}

/// An OCI index of two platforms: each child manifest pushed, then the index; skopeo copies all
/// of it back with the same digests.
#[tokio::test]
async fn two_platform_index_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = umoci_layout(
        tmp.path(),
        "amd64",
        &[
            ("bin/app", random_bytes(700_000)),
            ("etc/x", text_bytes(9_000, 7)),
        ],
        "amd64",
    );
    umoci_layout(
        tmp.path(),
        "arm64",
        &[("bin/app", random_bytes(650_000))],
        "arm64",
    );
    let index_digest = make_index(&layout, "amd64", "arm64");
    let image = load_archive(&layout).unwrap();
    assert!(image.index.is_some());
    assert_eq!(image.images.len(), 2);

    let repo = unique_repo("index");
    let report = push_v1(&registry(), &repo, &image, &opts()).await.unwrap();
    assert_eq!(report.digest.to_string(), index_digest);
    assert_eq!(
        report.media_type.to_string(),
        "application/vnd.oci.image.index.v1+json"
    );
    let manifests = pull_and_verify(&report, &repo, &tmp.path().join("back"));
    assert_eq!(manifests.len(), 2);
}

/// A legacy `docker save` pushed with zstd: Docker schema 2 has no zstd layer type, so an OCI
/// manifest is written (OCI config media type, same config bytes) with `tar+zstd` layers.
#[tokio::test]
async fn legacy_docker_save_with_zstd_gets_an_oci_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = umoci_layout(tmp.path(), "v1", &[("a", text_bytes(300_000, 8))], "amd64");
    let archive = tmp.path().join("saved.tar");
    skopeo_copy(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker-archive:{}:app:v1", archive.display()),
        &[],
    );
    let image = load_archive(&archive).unwrap();
    let repo = unique_repo("savezstd");
    let options = PushOptions {
        compression: Compression::Zstd,
        ..opts()
    };
    let report = push_v1(&registry(), &repo, &image, &options).await.unwrap();
    assert_eq!(
        report.media_type.to_string(),
        "application/vnd.oci.image.manifest.v1+json"
    );
    let manifests = pull_and_verify(&report, &repo, &tmp.path().join("back"));
    assert_eq!(
        manifests[0]["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(
        manifests[0]["config"]["digest"],
        image.images[0].config.descriptor.digest().to_string()
    );
    assert_eq!(
        manifests[0]["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
}
