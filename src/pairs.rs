//! The one grammar of key/value inputs (`parameter-overrides`, `stack-tags`, `image-env`): a
//! YAML/JSON map, a list of `{Key, Value}` / `{ParameterKey, ParameterValue}` items (the AWS
//! CLI's files), or `K=V` lines. One set of rules everywhere: a null value is empty, a list of
//! scalars is comma-joined (CloudFormation's list parameters), a repeated key is an error rather
//! than a silent "last wins". Which keys are allowed is the owner's rule, checked after.

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

use crate::runner::text::shown;

/// Key/value pairs in input order.
pub type Pairs = Vec<(String, String)>;

pub fn parse(text: &str) -> Result<Pairs> {
    let text = text.trim();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(first) = first else {
        return Ok(Vec::new());
    };
    // `K=V` when the first line starts with a plain key and `=`; otherwise YAML/JSON, so a
    // value holding `: ` (`MSG=a: b`) is never read as a map.
    let lines = first.split_once('=').is_some_and(|(k, _)| {
        !k.trim().is_empty() && !k.contains(": ") && !k.starts_with(['{', '[', '"', '\'', '-'])
    });
    let pairs = if lines {
        key_value_lines(text)?
    } else {
        match serde_yaml::from_str::<Value>(text) {
            Ok(Value::Mapping(map)) => map
                .iter()
                .map(|(k, v)| {
                    let key = scalar_text(k).context("a key is not a string")?;
                    let value = if v.is_null() {
                        Some(String::new())
                    } else {
                        scalar_text(v)
                    };
                    let value = value.with_context(|| {
                        format!("the value of {key:?} is not a scalar or a list")
                    })?;
                    Ok((key, value))
                })
                .collect::<Result<Pairs>>()?,
            Ok(Value::Sequence(items)) => items.iter().map(list_item).collect::<Result<Pairs>>()?,
            Ok(_) => bail!(
                "expected a YAML/JSON map or K=V lines, got {}",
                shown(first)
            ),
            Err(e) => bail!("expected a YAML/JSON map or K=V lines: {e}"),
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &pairs {
        if key.is_empty() {
            bail!("a key is empty");
        }
        if !seen.insert(key.as_str()) {
            bail!("{key} is given more than once");
        }
    }
    Ok(pairs)
}

/// A string, number or boolean as text; a list of them comma-joined.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(items) => items
            .iter()
            .map(scalar_text)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

/// One `{Key, Value}` (stack tags) or `{ParameterKey, ParameterValue}` (parameters) item.
fn list_item(item: &Value) -> Result<(String, String)> {
    let field = |a: &str, b: &str| item.get(a).or_else(|| item.get(b)).and_then(scalar_text);
    match (
        field("ParameterKey", "Key"),
        field("ParameterValue", "Value"),
    ) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => bail!("a list must hold {{Key, Value}} or {{ParameterKey, ParameterValue}} items"),
    }
}

fn key_value_lines(text: &str) -> Result<Pairs> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => bail!("expected K=V on each line, got {}", shown(line)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Pairs {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_every_form_alike() {
        let want = pairs(&[("Cpu", "512"), ("Memory", "1024"), ("Path", "/a=b")]);
        for text in [
            "Cpu: 512\nMemory: \"1024\"\nPath: /a=b",
            r#"{"Cpu": 512, "Memory": "1024", "Path": "/a=b"}"#,
            "Cpu=512\n# comment\n\nMemory = 1024\nPath=/a=b\n",
            r#"[{"ParameterKey": "Cpu", "ParameterValue": "512"},
                {"ParameterKey": "Memory", "ParameterValue": 1024},
                {"Key": "Path", "Value": "/a=b"}]"#,
        ] {
            assert_eq!(parse(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            parse("Subnets: [a, b]\nEmpty:").unwrap(),
            pairs(&[("Subnets", "a,b"), ("Empty", "")])
        );
        assert_eq!(parse("MSG=a: b").unwrap(), pairs(&[("MSG", "a: b")]));
        assert_eq!(
            parse("aws:owner=me").unwrap(),
            pairs(&[("aws:owner", "me")])
        );
        assert_eq!(
            parse("PATH=/bin:/usr/bin").unwrap(),
            pairs(&[("PATH", "/bin:/usr/bin")])
        );
        assert!(parse("  \n# only a comment").unwrap().is_empty());
    }

    #[test]
    fn refuses_duplicates_nesting_and_lines_without_a_value() {
        let err = |t: &str| format!("{:#}", parse(t).unwrap_err());
        assert!(err("Cpu=1\nCpu=2").contains("more than once"));
        assert!(err("Cpu: 1\nCpu: 2").contains("Cpu"));
        assert!(err("A=1\njust words").contains("K=V"));
        assert!(err("A: {nested: map}").contains("not a scalar"));
        assert!(err("=1").contains("K=V") || err("=1").contains("empty"));
        assert!(err("[1, 2]").contains("items"));
        assert!(err("just words").contains("map"));
    }
}
