//! Test images for the image and push tests, made the way users make them: umoci for OCI
//! layouts, skopeo for OCI and `docker save` archives, plus a few generated in Rust where no tool
//! writes that layout (Docker 25+'s OCI-in-tar, a two-platform index). And the way back: skopeo
//! copies a pushed image out of the registry so its digests can be compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ecs_poc_action::image::{LayerOutcome, LoadedImage, PushOptions, PushReport};
use ecs_poc_action::registry::{Credentials, Registry, RegistryAddress};
use ecs_poc_action::secret::Secret;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::stand_in;

pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Incompressible bytes, fast (the kernel's generator).
pub fn random_bytes(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; len];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf
}

/// Compressible, text-like bytes.
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "registry", "layer", "manifest", "digest", "fargate", "cluster", "service", "task",
        "image", "push",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(words[(x >> 33) as usize % words.len()].as_bytes());
        out.push(if (x >> 20).is_multiple_of(11) {
            b'\n'
        } else {
            b' '
        });
    }
    out.truncate(len);
    out
}

/// A fresh OCI layout made with umoci: one layer per file, then a cmd. Returns `dir:tag`'s dir.
pub fn umoci_layout(dir: &Path, tag: &str, files: &[(&str, Vec<u8>)], arch: &str) -> PathBuf {
    let layout = dir.join("layout");
    if !layout.exists() {
        run(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout));
    }
    let image = format!("{}:{tag}", layout.display());
    run(Command::new("umoci").args(["new", "--image", &image]));
    for (name, data) in files {
        let src = dir.join(format!("src-{tag}-{}", name.replace('/', "_")));
        std::fs::write(&src, data).unwrap();
        run(Command::new("umoci")
            .args(["insert", "--image", &image])
            .arg(&src)
            .arg(format!("/{name}")));
    }
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--config.cmd",
        "/bin/app",
        "--architecture",
        arch,
    ]));
    layout
}

/// Copies an image between transports with skopeo (local to local).
pub fn skopeo_copy(src: &str, dst: &str, extra: &[&str]) {
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .args(extra)
        .args([src, dst]));
}

/// The registry client for the harness's token-auth registry, as testuser.
pub fn registry() -> Registry {
    ecs_poc_action::install_crypto_provider();
    let addr = RegistryAddress::parse(&stand_in("ECS_TEST_REGISTRY")).unwrap();
    let creds = Credentials {
        username: stand_in("ECS_TEST_REGISTRY_USERNAME"),
        password: Secret::new(stand_in("ECS_TEST_REGISTRY_PASSWORD")),
    };
    Registry::new(addr, Some(creds)).unwrap()
}

/// A repository name no other test (or earlier run) uses.
pub fn unique_repo(prefix: &str) -> String {
    crate::common::unique(&format!("it/{prefix}"))
}

pub fn opts() -> PushOptions {
    PushOptions::default()
}

/// Pulls `repo@digest` back with skopeo into a `dir:` copy (manifests byte for byte) and checks
/// every digest there against what the push reported: the manifest (or index and each child),
/// each config, each layer, and that every blob file hashes to its name. Returns the manifests.
pub fn pull_and_verify(report: &PushReport, repo: &str, out: &Path) -> Vec<Value> {
    let reg = stand_in("ECS_TEST_REGISTRY");
    let creds = format!(
        "{}:{}",
        stand_in("ECS_TEST_REGISTRY_USERNAME"),
        stand_in("ECS_TEST_REGISTRY_PASSWORD")
    );
    let src = format!("docker://{reg}/{repo}@{}", report.digest);
    let dst = format!("dir:{}", out.display());
    skopeo_copy(
        &src,
        &dst,
        &["--all", "--src-tls-verify=false", "--src-creds", &creds],
    );

    let top = std::fs::read(out.join("manifest.json")).unwrap();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&top)),
        report.digest.to_string(),
        "top manifest digest"
    );
    let top: Value = serde_json::from_slice(&top).unwrap();
    let mut manifests = Vec::new();
    if let Some(children) = top.get("manifests").and_then(Value::as_array) {
        for child in children {
            let digest = child["digest"].as_str().unwrap();
            let hex = digest.strip_prefix("sha256:").unwrap();
            let bytes = std::fs::read(out.join(format!("{hex}.manifest.json"))).unwrap();
            assert_eq!(sha256_hex(&bytes), hex, "child manifest digest");
            manifests.push(serde_json::from_slice(&bytes).unwrap());
        }
    } else {
        manifests.push(top);
    }
    let reported: Vec<String> = report.layers.iter().map(|l| l.digest.to_string()).collect();
    for m in &manifests {
        let config = m["config"]["digest"].as_str().unwrap();
        check_blob_file(out, config);
        for layer in m["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            assert!(
                reported.contains(&digest.to_string()),
                "layer {digest} not in the report {reported:?}"
            );
            let size = check_blob_file(out, digest);
            assert_eq!(Some(size), layer["size"].as_u64(), "layer {digest} size");
        }
    }
    manifests
}

fn check_blob_file(dir: &Path, digest: &str) -> u64 {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let bytes = std::fs::read(dir.join(hex))
        .unwrap_or_else(|e| panic!("blob {digest} not copied back: {e}"));
    assert_eq!(sha256_hex(&bytes), hex, "blob {digest} content");
    bytes.len() as u64
}

pub fn assert_all(report: &PushReport, outcome: LayerOutcome) {
    for l in &report.layers {
        assert_eq!(
            l.outcome, outcome,
            "layer {} in {:?}",
            l.digest, report.layers
        );
    }
}

/// A tar file of `entries` (name, bytes), in order.
pub fn write_tar(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

/// A layer tar holding one file.
pub fn layer_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

/// What Docker 25+ `docker save` writes: an OCI layout with uncompressed layers
/// (`application/vnd.oci.image.layer.v1.tar`) plus the legacy `manifest.json`, in one tar.
pub struct DockerOciTar {
    pub entries: Vec<(String, Vec<u8>)>,
    pub manifest_digest: String,
    pub config_digest: String,
    pub diff_ids: Vec<String>,
}

pub fn docker25_save(layers: &[Vec<u8>]) -> DockerOciTar {
    let mut entries = Vec::new();
    let blob = |data: &[u8]| {
        (
            format!("blobs/sha256/{}", sha256_hex(data)),
            format!("sha256:{}", sha256_hex(data)),
        )
    };
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": { "Cmd": ["/app"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap();
    let (config_path, config_digest) = blob(&config);
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(l).1, "size": l.len() }))
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": layer_descs,
    }))
    .unwrap();
    let (manifest_path, manifest_digest) = blob(&manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(),
            "annotations": { "io.containerd.image.name": "docker.io/library/app:latest", "org.opencontainers.image.ref.name": "latest" }
        }],
    }))
    .unwrap();
    let legacy = serde_json::to_vec(&json!([{
        "Config": config_path,
        "RepoTags": ["app:latest"],
        "Layers": layers.iter().map(|l| blob(l).0).collect::<Vec<_>>(),
    }]))
    .unwrap();
    entries.push(("blobs/".to_string(), Vec::new()));
    for l in layers {
        entries.push((blob(l).0, l.clone()));
    }
    entries.push((config_path, config));
    entries.push((manifest_path, manifest));
    entries.push(("index.json".into(), index));
    entries.push(("manifest.json".into(), legacy));
    entries.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    entries.retain(|(n, _)| !n.ends_with('/'));
    DockerOciTar {
        entries,
        manifest_digest,
        config_digest,
        diff_ids,
    }
}

/// Turns a layout holding `tag_a` and `tag_b` (one platform each) into a layout whose
/// `index.json` names one OCI image index of both, with their platforms.
pub fn make_index(layout: &Path, tag_a: &str, tag_b: &str) -> String {
    let top: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let find = |tag: &str| -> Value {
        top["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("tag {tag} in {top}"))
            .clone()
    };
    let child = |tag: &str, arch: &str| {
        let m = find(tag);
        json!({ "mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"], "platform": { "architecture": arch, "os": "linux" } })
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [child(tag_a, "amd64"), child(tag_b, "arm64")],
    }))
    .unwrap();
    let hex = sha256_hex(&index);
    std::fs::write(layout.join("blobs/sha256").join(&hex), &index).unwrap();
    let top = json!({
        "schemaVersion": 2,
        "manifests": [{ "mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{hex}"), "size": index.len() }],
    });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    format!("sha256:{hex}")
}

/// Pushes `image` to `repo` under the tag `v1`.
#[allow(dead_code)] // not every test crate that includes the fixtures pushes
pub async fn push_v1(
    registry: &Registry,
    repo: &str,
    image: &LoadedImage,
    opts: &PushOptions,
) -> anyhow::Result<PushReport> {
    ecs_poc_action::image::push(registry, &repo.parse()?, image, &["v1".parse()?], opts).await
}
