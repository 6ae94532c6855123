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

/// Names the code writes as step outputs: the string literal first argument of every `.set(`
/// call in src/ outside `#[cfg(test)]` modules (only `runner::Outputs` has a `set` taking a
/// name), with the file that writes it.
fn outputs_written_by_src() -> BTreeMap<String, String> {
    fn scan(dir: &std::path::Path, found: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                scan(&path, found);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests set made-up names; they sit at the end of a file, by convention.
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let shown = path
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(&path);
                for name in set_call_names(code) {
                    found.insert(name, shown.display().to_string());
                }
            }
        }
    }
    let mut found = BTreeMap::new();
    scan(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut found,
    );
    found
}

/// The literal first argument of each `.set(` call (rustfmt may break the line after `(`).
fn set_call_names(code: &str) -> Vec<String> {
    code.match_indices(".set(")
        .filter_map(|(i, call)| {
            let rest = code[i + call.len()..].trim_start().strip_prefix('"')?;
            rest.split_once('"').map(|(name, _)| name.to_string())
        })
        .collect()
}

/// Stack outputs are written under their own names; for the bundled template those are known.
fn bundled_template_outputs() -> Vec<String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(ecs_poc_action::stack::DEFAULT_TEMPLATE).unwrap();
    doc["Outputs"]
        .as_mapping()
        .expect("the bundled template has Outputs")
        .keys()
        .map(|k| k.as_str().expect("output name").to_string())
        .collect()
}

fn action_outputs() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["outputs"]
        .as_mapping()
        .expect("action.yml has outputs")
        .keys()
        .map(|k| k.as_str().expect("output name").to_string())
        .collect()
}

#[test]
fn the_scan_finds_set_calls_across_line_breaks() {
    let code =
        "out.set(\"a\", x);\n    out.set(\n        \"b-c\",\n        y,\n    );\n out.set(k, v);";
    assert_eq!(set_call_names(code), ["a", "b-c"]);
}

/// A workflow can only rely on what action.yml declares, and a declared output nothing writes
/// is a promise the action breaks: both directions, each name reported.
#[test]
fn every_output_written_is_declared_and_every_declared_output_is_written() {
    let written = outputs_written_by_src();
    assert!(
        written.contains_key("image-digest") && written.contains_key("stack-status"),
        "the scan found too little: {written:?}"
    );
    let declared = action_outputs();
    let undeclared: Vec<String> = written
        .iter()
        .filter(|(name, _)| !declared.contains(name))
        .map(|(name, file)| format!("{name} (written in {file})"))
        .collect();
    assert!(
        undeclared.is_empty(),
        "outputs written but not declared in action.yml: {undeclared:?}"
    );
    let stack_outputs = bundled_template_outputs();
    let unwritten: Vec<&String> = declared
        .iter()
        .filter(|name| !written.contains_key(*name) && !stack_outputs.contains(name))
        .collect();
    assert!(
        unwritten.is_empty(),
        "outputs declared in action.yml that nothing writes: {unwritten:?}"
    );
    let undeclared_stack: Vec<&String> = stack_outputs
        .iter()
        .filter(|name| !declared.contains(name))
        .collect();
    assert!(
        undeclared_stack.is_empty(),
        "bundled template outputs (written as action outputs) not declared in action.yml: \
         {undeclared_stack:?}"
    );
}
