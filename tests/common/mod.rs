//! Shared helpers for integration tests that run against the real stand-ins started by `scripts/test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

pub mod moto;
pub mod runner;

/// `prefix` plus a random suffix: moto and the registry are shared by every test binary and
/// never reset, so each test names its stacks, repositories and change sets afresh.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// Address or setting of a stand-in exported by `scripts/test`. Missing means the test was run
/// outside the harness: fail loudly rather than skip.
pub fn stand_in(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set: run the tests through scripts/test"),
    }
}

/// Logical ids of a template's resources, in template order, with their `Condition` if any.
/// Lets a test derive what a deploy should list from the template instead of a copied list.
pub fn template_resources(body: &str) -> Vec<(String, Option<String>)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(body).expect("template YAML");
    let Some(serde_yaml::Value::Mapping(resources)) = doc.get("Resources") else {
        panic!("template has no Resources mapping")
    };
    resources
        .iter()
        .map(|(id, res)| {
            let id = id.as_str().expect("logical id").to_string();
            let condition = res
                .get("Condition")
                .and_then(|c| c.as_str())
                .map(String::from);
            (id, condition)
        })
        .collect()
}

/// Resources (in template order) whose definition reads `param` by `Ref` or inside a `Sub`.
pub fn resources_using(body: &str, param: &str) -> Vec<String> {
    fn reads(v: &serde_yaml::Value, param: &str) -> bool {
        use serde_yaml::Value;
        let sub = format!("${{{param}}}");
        match v {
            Value::Tagged(t) => {
                let tag = t.tag.to_string();
                (tag == "!Ref" && t.value.as_str() == Some(param))
                    || (tag == "!Sub" && t.value.as_str().is_some_and(|s| s.contains(&sub)))
                    || reads(&t.value, param)
            }
            Value::Mapping(m) => m.iter().any(|(k, v)| {
                (k.as_str() == Some("Ref") && v.as_str() == Some(param))
                    || (k.as_str() == Some("Fn::Sub")
                        && v.as_str().is_some_and(|s| s.contains(&sub)))
                    || reads(v, param)
            }),
            Value::Sequence(items) => items.iter().any(|i| reads(i, param)),
            _ => false,
        }
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(body).expect("template YAML");
    let Some(serde_yaml::Value::Mapping(resources)) = doc.get("Resources") else {
        panic!("template has no Resources mapping")
    };
    resources
        .iter()
        .filter(|(_, res)| reads(res, param))
        .filter_map(|(id, _)| id.as_str().map(String::from))
        .collect()
}

/// The runner's name for input `name`: upper-cased, spaces to `_`, hyphens kept
/// (`INPUT_AWS-REGION`).
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// The `INPUT_*` variables the runner exports: every declared input (its default, or empty),
/// then `given` on top — the one place tests spell the runner's naming rule.
pub fn input_vars<K: AsRef<str>, V: AsRef<str>>(
    given: &[(K, V)],
) -> std::collections::HashMap<String, String> {
    let name = |input: &str| input_var(input);
    let mut vars: std::collections::HashMap<String, String> = ecs_poc_action::config::INPUTS
        .iter()
        .map(|i| (name(i.name), i.default.to_string()))
        .collect();
    for (k, v) in given {
        vars.insert(name(k.as_ref()), v.as_ref().to_string());
    }
    vars
}
