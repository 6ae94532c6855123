//! Malformed image input gets a clear error and pushes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
mod image_fixtures;

use std::path::{Path, PathBuf};

use ecs_poc_action::image::load_archive;
use ecs_poc_action::registry::{Credentials, Registry, RegistryAddress};
use ecs_poc_action::secret::Secret;
use image_fixtures::*;
use serde_json::Value;

fn layers() -> Vec<Vec<u8>> {
    vec![
        layer_tar("app", &random_bytes(40_000)),
        layer_tar("conf", &text_bytes(30_000, 1)),
    ]
}

fn save(dir: &Path, name: &str, entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    write_tar(&path, entries);
    path
}

fn load_err(path: &Path) -> String {
    match load_archive(path) {
        Ok(_) => panic!("{} loaded although malformed", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

fn replace(entries: &mut [(String, Vec<u8>)], name: &str, data: Vec<u8>) {
    let e = entries
        .iter_mut()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name}"));
    e.1 = data;
}

fn manifest_path(saved: &DockerOciTar) -> String {
    format!(
        "blobs/sha256/{}",
        saved.manifest_digest.strip_prefix("sha256:").unwrap()
    )
}

#[test]
fn a_valid_archive_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let image = load_archive(&save(tmp.path(), "ok.tar", &saved.entries)).unwrap();
    assert_eq!(image.images[0].layers.len(), 2);
}

#[test]
fn a_truncated_archive_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let full = save(tmp.path(), "full.tar", &docker25_save(&layers()).entries);
    let bytes = std::fs::read(&full).unwrap();
    for cut in [bytes.len() / 3, bytes.len() / 2 + 100, 700] {
        let path = tmp.path().join(format!("cut-{cut}.tar"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = load_err(&path);
        assert!(err.contains("loading image archive"), "{err}");
        assert!(
            err.contains("truncated") || err.contains("missing") || err.contains("tar"),
            "{err}"
        );
    }
}

#[test]
fn an_entry_escaping_the_archive_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut entries = docker25_save(&layers()).entries;
    entries.push(("zz/evil.txt".into(), b"x".to_vec()));
    let path = save(tmp.path(), "evil.tar", &entries);
    // The tar crate refuses to write `..`; patch the last entry's name in place.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(11).position(|w| w == b"zz/evil.txt").unwrap();
    bytes[at..at + 11].copy_from_slice(b"../evil.txt");
    let header = at - at % 512;
    let mut h = tar::Header::new_old();
    h.as_mut_bytes()
        .copy_from_slice(&bytes[header..header + 512]);
    h.set_cksum();
    bytes[header..header + 512].copy_from_slice(h.as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let err = load_err(&path);
    assert!(err.contains("escapes the archive"), "{err}");
}

#[test]
fn a_missing_blob_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let missing = format!(
        "blobs/sha256/{}",
        saved.diff_ids[1].strip_prefix("sha256:").unwrap()
    );
    let entries: Vec<_> = saved
        .entries
        .iter()
        .filter(|(n, _)| *n != missing)
        .cloned()
        .collect();
    let err = load_err(&save(tmp.path(), "missing.tar", &entries));
    assert!(
        err.contains("is missing") && err.contains(&saved.diff_ids[1]),
        "{err}"
    );
}

#[test]
fn a_manifest_not_matching_its_digest_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let mut entries = saved.entries.clone();
    let path = manifest_path(&saved);
    let mut m = entries.iter().find(|(n, _)| *n == path).unwrap().1.clone();
    let pos = m.iter().position(|&b| b == b'2').unwrap(); // schemaVersion 2 → 3, same size
    m[pos] = b'3';
    replace(&mut entries, &path, m);
    let err = load_err(&save(tmp.path(), "tampered.tar", &entries));
    assert!(err.contains("does not match the declared"), "{err}");
}

#[test]
fn a_manifest_over_4_mib_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let mut entries = saved.entries.clone();
    let path = manifest_path(&saved);
    let mut m = entries.iter().find(|(n, _)| *n == path).unwrap().1.clone();
    m.extend(std::iter::repeat_n(b' ', 4 << 20));
    let hex = sha256_hex(&m);
    entries.retain(|(n, _)| *n != path);
    entries.push((format!("blobs/sha256/{hex}"), m.clone()));
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{hex}"), "size": m.len()}]});
    replace(
        &mut entries,
        "index.json",
        serde_json::to_vec(&index).unwrap(),
    );
    let err = load_err(&save(tmp.path(), "huge.tar", &entries));
    assert!(err.contains("exceeds the 4194304-byte limit"), "{err}");
}

#[test]
fn an_unknown_layer_media_type_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let mut entries = saved.entries.clone();
    let path = manifest_path(&saved);
    let mut m: Value =
        serde_json::from_slice(&entries.iter().find(|(n, _)| *n == path).unwrap().1).unwrap();
    m["layers"][0]["mediaType"] = "application/x-mystery".into();
    let m = serde_json::to_vec(&m).unwrap();
    let hex = sha256_hex(&m);
    entries.retain(|(n, _)| *n != path);
    entries.push((format!("blobs/sha256/{hex}"), m.clone()));
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{hex}"), "size": m.len()}]});
    replace(
        &mut entries,
        "index.json",
        serde_json::to_vec(&index).unwrap(),
    );
    let err = load_err(&save(tmp.path(), "mystery.tar", &entries));
    assert!(
        err.contains("unknown layer media type application/x-mystery"),
        "{err}"
    );
}

#[test]
fn a_gzipped_archive_and_garbage_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let gz = tmp.path().join("image.tar.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    assert!(load_err(&gz).contains("gzip-compressed"));
    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, random_bytes(3000)).unwrap();
    load_err(&junk);
    let empty_dir = tempfile::tempdir().unwrap();
    assert!(load_err(empty_dir.path()).contains("neither an OCI layout"));
}

/// A layer whose content no longer matches its digest (same size, so loading cannot tell) fails
/// the push while it streams, hashed once: the bad blob is never committed, no manifest or tag
/// is pushed, so nothing in the registry refers to anything of this push.
#[tokio::test]
async fn a_layer_not_matching_its_digest_pushes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = docker25_save(&layers());
    let mut entries = saved.entries.clone();
    let victim = format!(
        "blobs/sha256/{}",
        saved.diff_ids[0].strip_prefix("sha256:").unwrap()
    );
    let mut data = entries
        .iter()
        .find(|(n, _)| *n == victim)
        .unwrap()
        .1
        .clone();
    data[600] ^= 0xff;
    replace(&mut entries, &victim, data);
    let image = load_archive(&save(tmp.path(), "corrupt.tar", &entries)).unwrap();

    let registry = registry();
    let repo = unique_repo("corrupt");
    let err = format!(
        "{:#}",
        push_v1(&registry, &repo, &image, &opts())
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("no manifest was pushed") && err.contains(&saved.diff_ids[0]),
        "{err}"
    );
    assert!(registry.get_manifest(&repo, "v1").await.unwrap().is_none());
    // The compressed form of the bad layer has no digest to ask for (its upload never
    // finished); its uncompressed content is not stored under the diff_id either.
    assert!(
        registry
            .blob_exists(&repo, &saved.diff_ids[0].parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// Wrong password: one clear error before anything is uploaded.
#[tokio::test]
async fn a_wrong_password_fails_before_any_upload() {
    let tmp = tempfile::tempdir().unwrap();
    let image = load_archive(&save(
        tmp.path(),
        "ok.tar",
        &docker25_save(&layers()).entries,
    ))
    .unwrap();
    ecs_poc_action::install_crypto_provider();
    let bad = Registry::new(
        RegistryAddress::parse(&common::stand_in("ECS_TEST_REGISTRY")).unwrap(),
        Some(Credentials {
            username: common::stand_in("ECS_TEST_REGISTRY_USERNAME"),
            password: Secret::new("wrong"),
        }),
    )
    .unwrap();
    let repo = unique_repo("badpass");
    let err = push_v1(&bad, &repo, &image, &opts()).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(!text.contains(&common::stand_in("ECS_TEST_REGISTRY_PASSWORD")));
    assert!(
        text.to_lowercase().contains("credential") || text.contains("401"),
        "{text}"
    );
    let stats = bad.stats();
    assert_eq!(
        (
            stats.post,
            stats.put,
            stats.patch,
            stats.blob_bytes_uploaded
        ),
        (0, 0, 0, 0),
        "{stats:?}"
    );
    assert!(
        registry()
            .get_manifest(&repo, "v1")
            .await
            .unwrap()
            .is_none()
    );
}

/// Peak resident memory of this process (nextest runs each test in its own process).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Header extensions are read whole by the tar reader: a 256 MiB "long name" took 1.16 GB. Each
/// kind is refused by its declared size, with memory staying flat. The files are sparse: the
/// test writes a few KiB whatever the claimed size.
#[test]
fn huge_header_extensions_are_refused_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let before = peak_rss_kib();
    for (kind, what) in [
        (tar::EntryType::GNULongName, "GNU long name"),
        (tar::EntryType::GNULongLink, "GNU long link name"),
        (tar::EntryType::XHeader, "PAX extended header"),
        (tar::EntryType::XGlobalHeader, "PAX global header"),
    ] {
        let size: u64 = 256 << 20;
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_cksum();
        let path = tmp.path().join(format!("{what}.tar"));
        let f = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &f, h.as_bytes()).unwrap();
        f.set_len(512 + size + 1024).unwrap();
        let err = load_err(&path);
        assert!(
            err.contains(&format!("{what} of {size} bytes (at most 65536 accepted)")),
            "{err}"
        );
    }
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "peak memory grew by {grown} KiB");
}

/// A small extension (a real long name) still works: the limit does not cost real archives.
#[test]
fn a_real_long_name_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut saved = docker25_save(&layers());
    let long = format!("{}/layer.tar", "d".repeat(300));
    let layer = saved.entries[0].1.clone();
    saved.entries.push((long, layer));
    load_archive(&save(tmp.path(), "long.tar", &saved.entries)).unwrap();
}
