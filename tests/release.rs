//! The release workflow's rewrite of action.yml (`scripts/release-action-yml`, the script
//! `.github/workflows/release.yml` runs): the result is a valid action per GitHub's schema
//! (check-jsonschema's vendored `github-actions` schema), runs the prebuilt image by digest,
//! changes nothing else, and a bad reference or an already released file is refused untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

fn rewrite(file: &Path, reference: &str) -> Output {
    Command::new(Path::new(ROOT).join("scripts/release-action-yml"))
        .arg(reference)
        .arg(file)
        .output()
        .unwrap()
}

fn copy_of_action_yml(dir: &Path) -> PathBuf {
    let file = dir.join("action.yml");
    std::fs::copy(Path::new(ROOT).join("action.yml"), &file).unwrap();
    file
}

fn yaml(file: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn the_released_action_yml_is_valid_and_runs_the_image_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_of_action_yml(dir.path());
    let before = yaml(&file);
    assert_eq!(
        before["runs"]["image"], "Dockerfile",
        "the checked-in action.yml must keep building the Dockerfile for `uses: ./`"
    );

    let reference = format!("ghcr.io/owner/ecs-poc-action@{DIGEST}");
    let out = rewrite(&file, &reference);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let schema = Command::new(format!(
        "{}/bin/check-jsonschema",
        common::stand_in("ECS_TEST_VENV")
    ))
    .args(["--builtin-schema", "vendor.github-actions"])
    .arg(&file)
    .output()
    .unwrap();
    assert!(
        schema.status.success(),
        "{}{}",
        String::from_utf8_lossy(&schema.stdout),
        String::from_utf8_lossy(&schema.stderr)
    );

    let mut after = yaml(&file);
    assert_eq!(after["runs"]["using"], "docker");
    assert_eq!(
        after["runs"]["image"],
        format!("docker://{reference}").as_str()
    );
    // Everything else is exactly as before.
    after["runs"]["image"] = before["runs"]["image"].clone();
    assert_eq!(after, before);

    // A second run finds no `image: Dockerfile` left and changes nothing.
    let released = std::fs::read(&file).unwrap();
    let again = rewrite(&file, &reference);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("found 0"));
    assert_eq!(std::fs::read(&file).unwrap(), released);
}

#[test]
fn references_not_pinned_by_digest_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_of_action_yml(dir.path());
    let original = std::fs::read(&file).unwrap();
    for bad in [
        "ghcr.io/owner/ecs-poc-action:v1",
        "ghcr.io/owner/ecs-poc-action",
        "ghcr.io/Owner/ecs-poc-action@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "ghcr.io/owner/ecs-poc-action@sha256:abc",
        "docker://ghcr.io/owner/ecs-poc-action@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
        "",
    ] {
        let out = rewrite(&file, bad);
        assert!(!out.status.success(), "accepted {bad:?}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            original,
            "{bad:?} changed the file"
        );
    }
}

#[test]
fn the_release_workflow_publishes_with_the_action_itself_and_rewrites_with_the_script() {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join(".github/workflows/release.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let steps: Vec<&serde_yaml::Value> = doc["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_sequence().into_iter().flatten())
        .collect();
    let publish = steps
        .iter()
        .find(|s| s["uses"] == "./" && s["with"]["registry"] == "ghcr.io")
        .expect("a step publishing to ghcr.io with `uses: ./`");
    let image_from = publish["with"]["image-from"].as_str().unwrap();
    assert!(image_from.contains("linux/amd64="), "{image_from}");
    assert!(image_from.contains("linux/arm64="), "{image_from}");
    assert!(
        steps.iter().any(|s| s["run"]
            .as_str()
            .is_some_and(|r| r.contains("scripts/release-action-yml"))),
        "the rewrite must be the tested script"
    );
}
