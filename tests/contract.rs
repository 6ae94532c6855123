//! action.yml is the public contract: every input it declares is read by the config with the same
//! default, documented in the README's table, and nothing the config reads is missing from it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use ecs_poc_action::config::INPUTS;
use std::collections::BTreeMap;

fn action_inputs() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let inputs = doc["inputs"].as_mapping().expect("action.yml has inputs");
    inputs
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().unwrap().to_string();
            assert!(
                v["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name} has no description"
            );
            let default = v["default"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} has no default"))
                .to_string();
            (name, default)
        })
        .collect()
}

#[test]
fn every_action_input_is_read_by_the_config_with_the_same_default() {
    let declared = action_inputs();
    let read: BTreeMap<String, String> = INPUTS
        .iter()
        .map(|i| (i.name.to_string(), i.default.to_string()))
        .collect();
    assert_eq!(declared, read);
}

#[test]
fn every_input_and_output_is_in_the_readme_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for name in action_inputs().keys() {
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with(&format!("| `{name}` |"))),
            "README table lacks input {name}"
        );
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for (name, _) in doc["outputs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with(&format!("| `{name}` |"))),
            "README table lacks output {name}"
        );
    }
}

#[test]
fn action_runs_as_a_docker_container() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["runs"]["using"].as_str(), Some("docker"));
    assert!(doc["branding"]["icon"].as_str().is_some());
}
