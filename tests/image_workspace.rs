//! The workspace is untrusted: what `image-from: <directory>` packs (never `.git`, honouring
//! `.dockerignore`, refusing credential files), and directory image sources that never follow a
//! link out of themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;
mod image_fixtures;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::Path;

use ecs_poc_action::image::{BuildSpec, Compression, LoadedImage, Provenance, build, load_archive};
use image_fixtures::*;

fn spec(from: &Path) -> BuildSpec {
    BuildSpec {
        from: from.to_path_buf(),
        cmd: vec!["/bin/server".into()],
        port: Some(8080),
        env: Vec::new(),
        architecture: "amd64".into(),
        compression: Compression::Gzip,
        provenance: Provenance {
            source_url: None,
            revision: None,
            created: 0,
        },
        scratch_dirs: vec![std::env::temp_dir()],
    }
}

/// The layer's entries: path → (kind, content or link target).
fn entries(image: &LoadedImage) -> BTreeMap<String, (tar::EntryType, Vec<u8>)> {
    let layer = &image.images[0].layers[0];
    let gz = layer.source.reader().unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut out = BTreeMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let kind = e.header().entry_type();
        let mut data = Vec::new();
        if kind == tar::EntryType::Symlink {
            data = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned()
                .into_bytes();
        } else {
            e.read_to_end(&mut data).unwrap();
        }
        out.insert(name.trim_end_matches('/').to_string(), (kind, data));
    }
    out
}

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// A checkout as actions/checkout leaves it: `.git/config` holds the token.
fn checkout(root: &Path) {
    write(root, "bin/server", "#!/bin/sh\n");
    write(root, "static/index.html", "<h1>hi</h1>");
    write(
        root,
        ".git/config",
        "[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVA==\n",
    );
    write(root, "vendor/lib/.git", "gitdir: ../../.git/modules/lib\n");
    write(root, "vendor/lib/lib.js", "x");
}

#[test]
fn git_is_never_packed() {
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path());
    // Even a `!` line does not bring .git back.
    write(dir.path(), ".dockerignore", "!.git\n");
    let e = entries(&build(&spec(dir.path())).unwrap());
    assert!(
        e.contains_key("bin/server") && e.contains_key("vendor/lib/lib.js"),
        "{e:?}"
    );
    let leaked: Vec<_> = e
        .keys()
        .filter(|k| k.split('/').any(|c| c == ".git"))
        .collect();
    assert!(leaked.is_empty(), "packed: {leaked:?}");
}

#[test]
fn dockerignore_is_honoured_with_docker_semantics() {
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path());
    write(dir.path(), "node_modules/a/index.js", "x");
    write(dir.path(), "debug.log", "x");
    write(dir.path(), "logs/deep/app.log", "x");
    write(dir.path(), "NOTES.md", "x");
    write(dir.path(), "docs/KEEP.md", "x");
    write(dir.path(), "README.md", "x");
    write(
        dir.path(),
        ".dockerignore",
        "# build context\nnode_modules\n**/*.log\n*.md\n!README.md\n",
    );
    let e = entries(&build(&spec(dir.path())).unwrap());
    for gone in [
        "node_modules",
        "node_modules/a/index.js",
        "debug.log",
        "logs/deep/app.log",
        "NOTES.md",
    ] {
        assert!(!e.contains_key(gone), "{gone} was packed: {e:?}");
    }
    for kept in [
        "README.md",
        "docs/KEEP.md",
        "static/index.html",
        "logs/deep",
    ] {
        assert!(e.contains_key(kept), "{kept} is missing: {e:?}");
    }
}

#[test]
fn credential_files_are_refused_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path());
    write(
        dir.path(),
        "gha-creds-0123abcd.json",
        r#"{"type":"external_account"}"#,
    );
    write(
        dir.path(),
        "conf/.npmrc",
        "//registry.npmjs.org/:_authToken=npm_SECRET\n",
    );
    write(
        dir.path(),
        "tls/ca.pem",
        "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n",
    );
    let err = format!("{:#}", build(&spec(dir.path())).unwrap_err());
    assert!(
        err.contains("gha-creds-0123abcd.json (Google Cloud credentials")
            && err.contains("conf/.npmrc (npm registry credentials)")
            && !err.contains("ca.pem")
            && err.contains(".dockerignore"),
        "{err}"
    );
    assert!(!err.contains("npm_SECRET"), "{err}");

    // Left out by .dockerignore: the build goes on without them.
    write(
        dir.path(),
        ".dockerignore",
        "gha-creds-*.json\nconf/.npmrc\n",
    );
    let e = entries(&build(&spec(dir.path())).unwrap());
    assert!(!e.contains_key("gha-creds-0123abcd.json") && !e.contains_key("conf/.npmrc"));
    assert!(
        e.contains_key("tls/ca.pem"),
        "a certificate is not a secret"
    );

    // Named in a `!` line: packed, deliberately.
    write(
        dir.path(),
        ".dockerignore",
        "!conf/.npmrc\ngha-creds-*.json\n",
    );
    let e = entries(&build(&spec(dir.path())).unwrap());
    assert!(e.contains_key("conf/.npmrc"));
}

#[test]
fn links_stay_links_and_are_never_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "OUTSIDE-SECRET");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bin/server", "#!/bin/sh\n");
    symlink(
        outside.path().join("secret.txt"),
        dir.path().join("leak.txt"),
    )
    .unwrap();
    symlink(outside.path(), dir.path().join("leakdir")).unwrap();
    let e = entries(&build(&spec(dir.path())).unwrap());
    for link in ["leak.txt", "leakdir"] {
        let (kind, _) = &e[link];
        assert_eq!(*kind, tar::EntryType::Symlink, "{link}");
    }
    assert!(
        e.values()
            .all(|(_, d)| !String::from_utf8_lossy(d).contains("OUTSIDE-SECRET")),
        "a link was followed"
    );
    assert!(!e.contains_key("leakdir/secret.txt"));
}

/// An OCI layout directory (or a docker save unpacked into one) whose config is a symlink to a
/// file outside, with the right content and digest: the link must not be followed.
#[test]
fn directory_sources_never_follow_links_out() {
    let layers = vec![layer_tar("app", b"hello")];
    let saved = docker25_save(&layers);
    let config_rel = format!(
        "blobs/sha256/{}",
        saved.config_digest.strip_prefix("sha256:").unwrap()
    );
    let layer_rel = format!("blobs/sha256/{}", sha256_hex(&layers[0]));
    for (target, kind) in [
        (&config_rel, "OCI layout"),
        (&layer_rel, "layer"),
        (&config_rel, "docker save"),
    ] {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in &saved.entries {
            if kind == "docker save" && (name == "index.json" || name == "oci-layout") {
                continue;
            }
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            if name == target {
                let real = outside.path().join("stolen");
                std::fs::write(&real, data).unwrap();
                symlink(&real, &p).unwrap();
            } else {
                std::fs::write(&p, data).unwrap();
            }
        }
        let err = match load_archive(dir.path()) {
            Ok(_) => panic!("{kind}: loaded through a link out of the directory"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("outside the image directory"), "{kind}: {err}");
    }
    // A link inside the directory is fine.
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in &saved.entries {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if name == &config_rel {
            std::fs::write(dir.path().join("config.real"), data).unwrap();
            symlink("../../config.real", &p).unwrap();
        } else {
            std::fs::write(&p, data).unwrap();
        }
    }
    load_archive(dir.path()).unwrap();
}
