//! Multi-platform `image-from`: one binary per platform (`linux/amd64=…` / `linux/arm64=…`
//! lines) is pushed as an OCI image index, read back by skopeo as a peer client would: the raw
//! index lists both platforms, and `--override-arch` pulls each platform's own image. The image's
//! platform follows the binary's ELF header, and a binary given for the wrong platform is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use common::{stand_in, unique};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file starting with a valid ELF64 little-endian executable header for `machine` (62 x86-64,
/// 183 AArch64), then a marker that makes each fixture's content (and digest) distinct.
fn elf_binary(dir: &Path, name: &str, machine: u16) -> PathBuf {
    let mut bytes = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&2u16.to_le_bytes()); // e_type: executable
    bytes.extend_from_slice(&machine.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes()); // e_version
    bytes.resize(64, 0);
    bytes.extend_from_slice(unique(name).as_bytes());
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    let path = path.join("webapp");
    std::fs::write(&path, bytes).unwrap();
    path
}

struct Run {
    code: Option<i32>,
    text: String,
    outputs: String,
}

/// The binary in push mode, as the runner starts it (every input set, unset ones empty).
fn push(dir: &Path, repo: &str, image_from: &str) -> Run {
    let vars = common::input_vars(&[
        ("mode", "push".to_string()),
        ("registry", stand_in("ECS_TEST_REGISTRY")),
        (
            "docker-hub-username",
            stand_in("ECS_TEST_REGISTRY_USERNAME"),
        ),
        ("docker-hub-token", stand_in("ECS_TEST_REGISTRY_PASSWORD")),
        ("image", repo.to_string()),
        ("image-from", image_from.to_string()),
        ("tags", "v1".to_string()),
    ]);
    std::fs::write(dir.join("output"), "").unwrap();
    std::fs::write(dir.join("summary"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"))
        .env_clear()
        .envs(vars)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/webapp")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .current_dir(dir)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        text: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        outputs: std::fs::read_to_string(dir.join("output")).unwrap(),
    }
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let creds = format!(
        "{}:{}",
        stand_in("ECS_TEST_REGISTRY_USERNAME"),
        stand_in("ECS_TEST_REGISTRY_PASSWORD")
    );
    let mut cmd = Command::new("skopeo");
    let (global, rest) = match args.first() {
        Some(&"--override-arch") => (&args[..2], &args[2..]),
        _ => (&args[..0], args),
    };
    cmd.args(global);
    let (verb, operands) = rest.split_first().unwrap();
    cmd.arg(verb);
    if *verb == "copy" {
        cmd.args(["--src-tls-verify=false", "--src-creds", &creds]);
    } else {
        cmd.args(["--tls-verify=false", "--creds", &creds]);
    }
    let out = cmd.args(operands).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn two_platforms_are_pushed_as_an_index_each_pulled_by_its_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("octo/multi");
    elf_binary(dir.path(), "dist/amd64", 62);
    elf_binary(dir.path(), "dist/arm64", 183);
    // Relative paths, lines in either order: the index is written by platform.
    let run = push(
        dir.path(),
        &repo,
        "linux/arm64=dist/arm64/webapp\nlinux/amd64=dist/amd64/webapp\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.text);

    let reference = format!("docker://{}/{repo}:v1", stand_in("ECS_TEST_REGISTRY"));
    let raw = skopeo(&["inspect", "--raw", &reference]);
    let index = json(&raw);
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["platform"]["os"].as_str().unwrap(),
                e["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // The digest output is the index's, so a deploy by digest serves each runtime its own image.
    let digest = format!("sha256:{}", sha256_hex(&raw));
    assert!(
        run.outputs.contains(&digest),
        "image-digest is not the index digest {digest}: {}",
        run.outputs
    );

    for (i, arch) in ["amd64", "arm64"].iter().enumerate() {
        let layout = dir.path().join(format!("pulled-{arch}"));
        skopeo(&[
            "--override-arch",
            arch,
            "copy",
            &reference,
            &format!("oci:{}:{arch}", layout.display()),
        ]);
        let top = json(&std::fs::read(layout.join("index.json")).unwrap());
        let pulled = top["manifests"][0]["digest"].as_str().unwrap().to_string();
        assert_eq!(
            pulled, entries[i]["digest"],
            "{arch}: skopeo pulled another image than the index lists"
        );
        let blob = |digest: &str| {
            let hex = digest.trim_start_matches("sha256:");
            std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
        };
        let manifest = json(&blob(&pulled));
        let config = json(&blob(manifest["config"]["digest"].as_str().unwrap()));
        assert_eq!(config["architecture"], *arch);
        assert_eq!(config["os"], "linux");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/app/webapp"])
        );
    }
}

#[test]
fn a_single_binary_takes_its_own_platform() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("octo/arm-only");
    let binary = elf_binary(dir.path(), "arm", 183);
    let run = push(dir.path(), &repo, binary.to_str().unwrap());
    assert_eq!(run.code, Some(0), "{}", run.text);
    let reference = format!("docker://{}/{repo}:v1", stand_in("ECS_TEST_REGISTRY"));
    let raw = json(&skopeo(&["inspect", "--raw", &reference]));
    assert_eq!(
        raw["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let info = json(&skopeo(&[
        "--override-arch",
        "arm64",
        "inspect",
        &reference,
    ]));
    assert_eq!(info["Architecture"], "arm64", "{info}");
}

#[test]
fn a_binary_given_for_another_platform_is_refused_before_any_push() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("octo/mismatch");
    elf_binary(dir.path(), "amd", 62);
    elf_binary(dir.path(), "arm", 183);
    let run = push(
        dir.path(),
        &repo,
        "linux/amd64=arm/webapp\nlinux/arm64=amd/webapp\nlinux/s390x=amd/webapp",
    );
    assert_ne!(run.code, Some(0), "{}", run.text);
    for expected in [
        "\"arm/webapp\" is a linux/arm64 binary but was given for linux/amd64",
        "\"amd/webapp\" is a linux/amd64 binary but was given for linux/arm64",
        "platform \"linux/s390x\" is not supported",
    ] {
        assert!(
            run.text.contains(expected),
            "missing {expected:?}:\n{}",
            run.text
        );
    }
    assert!(run.text.contains("image-from"), "{}", run.text);
    assert!(!run.text.contains("pushed"), "{}", run.text);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
