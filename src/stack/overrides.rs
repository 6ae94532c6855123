//! The `parameter-overrides` input: a YAML/JSON map, the AWS CLI's JSON list of
//! `{ParameterKey, ParameterValue}`, `K=V` lines, or a file (`file://PATH` or an existing path)
//! holding any of these.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

use super::template::scalar_text;

/// The file the input names (`file://PATH`, or a bare path of an existing file), if any. The
/// caller reads it under the workspace rules (config::files) and hands the text to
/// [`parse_overrides`].
pub fn override_file(input: &str) -> Option<&str> {
    let input = input.trim();
    input.strip_prefix("file://").or_else(|| {
        (!input.is_empty() && !input.contains(['\n', '=', '{', ':']) && Path::new(input).is_file())
            .then_some(input)
    })
}

/// Parses override text. Keys must be unique; a repeated key is an error, not a silent "last wins".
pub fn parse_overrides(text: &str) -> Result<Vec<(String, String)>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let pairs = match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| {
                let key = scalar_text(k).context("an override key is not a string")?;
                let value = if v.is_null() {
                    Some(String::new())
                } else {
                    scalar_text(v)
                };
                let value =
                    value.with_context(|| format!("override {key} is not a scalar or a list"))?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>>>()?,
        Ok(Value::Sequence(items)) => items.iter().map(cli_item).collect::<Result<Vec<_>>>()?,
        // Anything else (a bare scalar, or YAML that does not parse) is read as K=V lines.
        _ => key_value_lines(text)?,
    };
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &pairs {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!(
                "override key {key:?} is not a CloudFormation parameter name (letters and digits)"
            );
        }
        if !seen.insert(key.as_str()) {
            bail!("parameter {key} is overridden more than once");
        }
    }
    Ok(pairs)
}

/// One `{"ParameterKey": K, "ParameterValue": V}` of the AWS CLI's parameter file format.
fn cli_item(item: &Value) -> Result<(String, String)> {
    let key = item.get("ParameterKey").and_then(scalar_text);
    let value = item.get("ParameterValue").and_then(scalar_text);
    match (key, value) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => bail!("a list of overrides must hold {{ParameterKey, ParameterValue}} items"),
    }
}

fn key_value_lines(text: &str) -> Result<Vec<(String, String)>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => bail!("override line {line:?} is not KEY=VALUE"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_every_format() {
        let want = pairs(&[("Cpu", "512"), ("Memory", "1024"), ("Path", "/a=b")]);
        assert_eq!(
            parse_overrides("Cpu: 512\nMemory: \"1024\"\nPath: /a=b").unwrap(),
            want
        );
        assert_eq!(
            parse_overrides(r#"{"Cpu": 512, "Memory": "1024", "Path": "/a=b"}"#).unwrap(),
            want
        );
        assert_eq!(
            parse_overrides("Cpu=512\n# comment\n\nMemory = 1024\nPath=/a=b\n").unwrap(),
            want
        );
        assert_eq!(
            parse_overrides("Cpu=512").unwrap(),
            pairs(&[("Cpu", "512")])
        );
        assert_eq!(
            parse_overrides(r#"[{"ParameterKey": "Cpu", "ParameterValue": "512"}]"#).unwrap(),
            pairs(&[("Cpu", "512")])
        );
        assert_eq!(
            parse_overrides("Subnets: [a, b]\nEmpty:").unwrap(),
            pairs(&[("Subnets", "a,b"), ("Empty", "")])
        );
        assert!(parse_overrides("  ").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_keys_lines_and_duplicates() {
        assert!(
            parse_overrides("Cpu=1\nCpu=2")
                .unwrap_err()
                .to_string()
                .contains("Cpu")
        );
        assert!(parse_overrides("just words\nmore").is_err());
        assert!(parse_overrides("bad-key=1").is_err());
        assert!(parse_overrides("A: {nested: map}").is_err());
    }

    #[test]
    fn names_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("params.yml");
        std::fs::write(&f, "Cpu: 1024\n").unwrap();
        let path = f.to_str().unwrap();
        assert_eq!(override_file(path), Some(path));
        assert_eq!(override_file(&format!("file://{path}")), Some(path));
        assert_eq!(override_file("file:///dev/zero"), Some("/dev/zero"));
        assert_eq!(override_file("Cpu=1"), None);
        assert_eq!(override_file("/nonexistent/x.yml"), None);
    }
}
