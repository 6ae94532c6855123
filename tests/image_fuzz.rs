//! Property tests for the archive readers: arbitrary bytes and mutated valid archives never
//! panic — they load or fail with an error.

mod common;
mod image_fixtures;

use ecs_poc_action::image::load_archive;
use image_fixtures::*;
use proptest::prelude::*;

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

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
