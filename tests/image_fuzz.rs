//! Property tests for the readers of untrusted input: the tar index, the manifest/index/config
//! readers and the `WWW-Authenticate` parser. Arbitrary bytes, mutated valid archives, documents
//! mutated *and re-hashed* (so the mutation reaches the JSON readers instead of stopping at the
//! digest check), hostile header-extension sizes and arbitrary challenges never panic — they
//! load or fail with an error.
//!
//! Why proptest in the normal suite rather than cargo-fuzz: cargo-fuzz needs nightly and a
//! separate, time-boxed CI stage; these run on stable in every `scripts/test` with a fixed number
//! of cases (about 2,000 in all, a few seconds), and a failure shrinks to a minimal input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
mod image_fixtures;

use ecs_poc_action::image::load_archive;
use ecs_poc_action::registry::Challenge;
use image_fixtures::*;
use proptest::prelude::*;
use serde_json::Value;

fn valid_archives() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![
        layer_tar("a", b"alpha"),
        layer_tar("b/c", &text_bytes(3000, 2)),
    ];
    let oci = dir.path().join("oci.tar");
    write_tar(&oci, &docker25_save(&layers).entries);
    // The legacy layout: manifest.json, config and layer tars only.
    let legacy: Vec<_> = docker25_save(&layers)
        .entries
        .into_iter()
        .filter(|(n, _)| n != "index.json" && n != "oci-layout")
        .collect();
    let old = dir.path().join("legacy.tar");
    write_tar(&old, &legacy);
    vec![std::fs::read(oci).unwrap(), std::fs::read(old).unwrap()]
}

fn try_load(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.tar");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(image) = load_archive(&path) {
        // Whatever loaded must be internally consistent enough to describe itself.
        for img in &image.images {
            assert_eq!(img.layers.len(), img.diff_ids.len());
        }
    }
}

/// The config, manifest and index of a valid Docker 25+ save, and the rest of its entries.
struct Docs {
    config: Vec<u8>,
    manifest: Vec<u8>,
    index: Vec<u8>,
    rest: Vec<(String, Vec<u8>)>,
}

fn docs() -> Docs {
    let saved = docker25_save(&[layer_tar("a", b"alpha")]);
    let blob = |d: &str| format!("blobs/sha256/{}", d.strip_prefix("sha256:").unwrap());
    let take = |name: &str| {
        saved
            .entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap()
    };
    Docs {
        config: take(&blob(&saved.config_digest)),
        manifest: take(&blob(&saved.manifest_digest)),
        index: take("index.json"),
        rest: saved
            .entries
            .iter()
            .filter(|(n, _)| {
                *n != blob(&saved.config_digest)
                    && *n != blob(&saved.manifest_digest)
                    && n != "index.json"
            })
            .cloned()
            .collect(),
    }
}

/// Points `doc`'s descriptor `at` (a JSON pointer) to `target`'s digest and size; left as is when
/// `doc` is no longer JSON of that shape.
fn repoint(doc: &[u8], at: &str, target: &[u8]) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(doc) else {
        return doc.to_vec();
    };
    if let Some(d) = v.pointer_mut(at).and_then(Value::as_object_mut) {
        d.insert(
            "digest".into(),
            format!("sha256:{}", sha256_hex(target)).into(),
        );
        d.insert("size".into(), target.len().into());
    }
    serde_json::to_vec(&v).unwrap()
}

/// An OCI archive whose `which` document (0 config, 1 manifest, 2 index.json) is `mutate`d, the
/// documents above it re-pointed at the mutated bytes.
fn rehashed_archive(which: usize, mutate: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let d = docs();
    let (mut config, mut manifest, mut index) = (d.config, d.manifest, d.index);
    match which {
        0 => mutate(&mut config),
        1 => mutate(&mut manifest),
        _ => mutate(&mut index),
    }
    if which == 0 {
        manifest = repoint(&manifest, "/config", &config);
    }
    if which <= 1 {
        index = repoint(&index, "/manifests/0", &manifest);
    }
    let mut entries = d.rest;
    entries.push((format!("blobs/sha256/{}", sha256_hex(&config)), config));
    entries.push((format!("blobs/sha256/{}", sha256_hex(&manifest)), manifest));
    entries.push(("index.json".into(), index));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tar");
    write_tar(&path, &entries);
    std::fs::read(path).unwrap()
}

/// JSON values to splice into documents: wrong types, huge numbers, odd strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z:0-9/+.]{0,80}".prop_map(Value::from),
        Just(Value::from(format!("sha256:{}", "0".repeat(64)))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-zA-Z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a random place in a JSON document with `with`.
fn splice(doc: &mut Vec<u8>, at: prop::sample::Index, with: Value) {
    let Ok(mut v) = serde_json::from_slice::<Value>(doc) else {
        return;
    };
    let mut pointers = Vec::new();
    collect_pointers(&v, String::new(), &mut pointers);
    let target = &pointers[at.index(pointers.len())];
    if let Some(slot) = v.pointer_mut(target) {
        *slot = with;
    }
    *doc = serde_json::to_vec(&v).unwrap();
}

fn collect_pointers(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                collect_pointers(
                    child,
                    format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                collect_pointers(child, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A valid archive with a header-extension entry of type `kind` claiming `size` bytes inserted
/// in front (data really present up to 64 KiB, the rest of the claim past the file's end).
fn with_extension(kind: u8, size: u64, body: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend(valid_archives().swap_remove(0));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rehashed_documents_with_flipped_bytes_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let bytes = rehashed_archive(which, |doc| {
            for (at, value) in flips {
                let i = at.index(doc.len());
                doc[i] = value;
            }
        });
        try_load(&bytes);
    }

    #[test]
    fn rehashed_documents_with_spliced_json_never_panic(
        which in 0usize..3,
        at in any::<prop::sample::Index>(),
        with in json_value(),
    ) {
        let bytes = rehashed_archive(which, |doc| splice(doc, at, with));
        try_load(&bytes);
    }

    #[test]
    fn hostile_extension_headers_never_panic(
        kind in prop::sample::select(vec![b'L', b'K', b'x', b'g', b'0', b'5', b'S']),
        size in prop_oneof![0u64..70_000, any::<u64>()],
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        try_load(&with_extension(kind, size, &body));
    }

    #[test]
    fn arbitrary_challenges_never_panic(header in ".{0,200}") {
        let _ = Challenge::parse(&header);
    }

    #[test]
    fn challenge_shaped_text_never_panics(
        parts in proptest::collection::vec(
            prop::sample::select(vec![
                "Bearer ", "Basic ", "realm", "service", "scope", "error", "=", "\"", "\\", ",", " ",
                "http://127.0.0.1/token", "repository:a/b:pull,push", "é", "\u{0}",
            ]),
            0..40,
        ),
    ) {
        let header: String = parts.concat();
        if let Some(Challenge::Bearer { realm, .. }) = Challenge::parse(&header) {
            prop_assert!(!realm.is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..8192)) {
        try_load(&bytes);
    }

    #[test]
    fn mutated_archives_never_panic(
        which in 0usize..2,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_archives().swap_remove(which);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        try_load(&bytes);
    }
}

#[test]
fn both_unmutated_archives_load() {
    for bytes in valid_archives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.tar");
        std::fs::write(&path, bytes).unwrap();
        load_archive(&path).unwrap();
    }
}
