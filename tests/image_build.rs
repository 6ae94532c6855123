//! Daemonless build: reproducible digests, the config it writes, and — pushed and copied back by
//! skopeo, then unpacked by umoci — a root file system with the right files and modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
mod image_fixtures;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use ecs_poc_action::image::{BuildSpec, Compression, LayerOutcome, Provenance, build};
use image_fixtures::*;

fn spec(from: &Path) -> BuildSpec {
    BuildSpec {
        from: from.to_path_buf(),
        cmd: vec!["/srv/bin/server".into(), "--port=8080".into()],
        port: Some(8080),
        env: vec![
            ("MODE".into(), "production".into()),
            ("GREETING".into(), "hi=there".into()),
        ],
        architecture: "amd64".into(),
        compression: Compression::Gzip,
        provenance: Provenance {
            source_url: Some("https://github.com/owner/app".into()),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
            created: 1_700_000_000,
        },
        scratch_dirs: vec![std::env::temp_dir()],
    }
}

fn site(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("static/css")).unwrap();
    std::fs::write(dir.join("bin/server"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        dir.join("bin/server"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(dir.join("static/index.html"), b"<h1>hello</h1>").unwrap();
    std::fs::set_permissions(
        dir.join("static/index.html"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(dir.join("static/css/site.css"), text_bytes(20_000, 9)).unwrap();
    std::fs::write(dir.join("secret.txt"), b"only owner").unwrap();
    std::fs::set_permissions(
        dir.join("secret.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("static/css"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    symlink("static/index.html", dir.join("index.html")).unwrap();
}

fn config_of(image: &ecs_poc_action::image::LoadedImage) -> serde_json::Value {
    serde_json::from_slice(&image.images[0].config.bytes).unwrap()
}

#[test]
fn same_inputs_give_the_same_digest_in_fresh_copies() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    site(a.path());
    site(b.path());
    // Different mtimes on disk must not matter.
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(b.path().join("bin/server"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let first = build(&spec(a.path())).unwrap();
    let second = build(&spec(b.path())).unwrap();
    assert!(first.digest().is_some());
    assert_eq!(first.digest(), second.digest());

    std::fs::write(b.path().join("static/index.html"), b"<h1>changed</h1>").unwrap();
    let changed = build(&spec(b.path())).unwrap();
    assert_ne!(first.digest(), changed.digest());

    let mut newer = spec(a.path());
    newer.provenance.revision = Some("f".repeat(40));
    let relabelled = build(&newer).unwrap();
    assert_ne!(
        first.digest(),
        relabelled.digest(),
        "labels are part of the config"
    );
    assert_eq!(
        first.images[0].layers[0].descriptor.digest(),
        relabelled.images[0].layers[0].descriptor.digest(),
        "the layer depends on the files only"
    );
}

#[test]
fn config_carries_entrypoint_port_env_labels_and_the_given_time() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let image = build(&spec(dir.path())).unwrap();
    let c = config_of(&image);
    assert_eq!(c["architecture"], "amd64");
    assert_eq!(c["os"], "linux");
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/srv/bin/server", "--port=8080"])
    );
    assert_eq!(
        c["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(
        c["config"]["Env"],
        serde_json::json!(["MODE=production", "GREETING=hi=there"])
    );
    assert_eq!(
        c["config"]["Labels"]["org.opencontainers.image.source"],
        "https://github.com/owner/app"
    );
    assert_eq!(
        c["config"]["Labels"]["org.opencontainers.image.revision"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
}

#[test]
fn a_single_binary_goes_to_app_with_its_name_as_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("webapp");
    std::fs::write(&bin, random_bytes(50_000)).unwrap();
    let mut s = spec(&bin);
    s.cmd = vec!["--serve".into()];
    let image = build(&s).unwrap();
    let c = config_of(&image);
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/app/webapp"])
    );
    assert_eq!(c["config"]["Cmd"], serde_json::json!(["--serve"]));
}

#[test]
fn special_files_and_a_directory_without_cmd_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let mut s = spec(dir.path());
    s.cmd.clear();
    let err = build(&s).unwrap_err();
    assert!(
        format!("{err:#}").contains("image-cmd is required"),
        "{err:#}"
    );

    run(Command::new("mkfifo").arg(dir.path().join("pipe")));
    let err = build(&spec(dir.path())).unwrap_err();
    assert!(format!("{err:#}").contains("is a named pipe"), "{err:#}");
}

/// Pushed, pulled back into an OCI layout by skopeo, unpacked by umoci: the files, modes and
/// symlink are there, owned by 0:0, and the digests are those the build computed.
#[tokio::test]
async fn built_image_unpacks_with_umoci_with_files_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("site");
    site(&src);
    let bin = tmp.path().join("webapp");
    std::fs::write(&bin, b"\x7fELF fake binary").unwrap();

    for (from, zstd) in [(&src, false), (&bin, true)] {
        let mut s = spec(from);
        if zstd {
            s.compression = Compression::Zstd;
        }
        let image = build(&s).unwrap();
        let repo = unique_repo("built");
        let report = push_v1(&registry(), &repo, &image, &opts()).await.unwrap();
        assert_eq!(Some(&report.digest), image.digest());
        assert_all(&report, LayerOutcome::Pushed);
        let back = tmp.path().join(format!("back-{zstd}"));
        let manifests = pull_and_verify(&report, &repo, &back);
        if zstd {
            // umoci 0.4 cannot unpack zstd layers: read the pulled layer with zstd + tar instead.
            let layer = &manifests[0]["layers"][0];
            assert_eq!(
                layer["mediaType"],
                "application/vnd.oci.image.layer.v1.tar+zstd"
            );
            let hex = layer["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap();
            let raw = zstd::decode_all(std::fs::File::open(back.join(hex)).unwrap()).unwrap();
            let mut archive = tar::Archive::new(&raw[..]);
            let entries: Vec<(String, u32, u64, u64, u64)> = archive
                .entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let h = e.header();
                    (
                        e.path().unwrap().display().to_string(),
                        h.mode().unwrap(),
                        h.uid().unwrap(),
                        h.gid().unwrap(),
                        h.mtime().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                entries,
                vec![
                    ("app/".into(), 0o755, 0, 0, 0),
                    ("app/webapp".into(), 0o755, 0, 0, 0)
                ]
            );
            continue;
        }

        let layout = tmp.path().join(format!("oci-{zstd}"));
        let creds = format!(
            "{}:{}",
            common::stand_in("ECS_TEST_REGISTRY_USERNAME"),
            common::stand_in("ECS_TEST_REGISTRY_PASSWORD")
        );
        skopeo_copy(
            &format!(
                "docker://{}/{repo}@{}",
                common::stand_in("ECS_TEST_REGISTRY"),
                report.digest
            ),
            &format!("oci:{}:v1", layout.display()),
            &["--src-tls-verify=false", "--src-creds", &creds],
        );
        let bundle = tmp.path().join(format!("bundle-{zstd}"));
        run(Command::new("umoci")
            .args(["unpack", "--image", &format!("{}:v1", layout.display())])
            .arg(&bundle));
        let rootfs = bundle.join("rootfs");
        let mode = |p: &str| {
            std::fs::symlink_metadata(rootfs.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("bin/server"), 0o755);
        assert_eq!(mode("static/index.html"), 0o644);
        assert_eq!(mode("secret.txt"), 0o600);
        assert_eq!(mode("static/css"), 0o750);
        assert_eq!(
            std::fs::read_link(rootfs.join("index.html")).unwrap(),
            Path::new("static/index.html")
        );
        assert_eq!(
            std::fs::read(rootfs.join("static/index.html")).unwrap(),
            b"<h1>hello</h1>"
        );
        assert_eq!(
            std::fs::read(rootfs.join("static/css/site.css")).unwrap(),
            text_bytes(20_000, 9)
        );
    }
}
