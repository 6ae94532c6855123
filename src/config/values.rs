//! Parsers for single input values. Each returns the message that follows "input `NAME`: ".

use std::collections::BTreeMap;

/// Shows a rejected value in an error (bounded, so a pasted file can't flood the log).
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    format!("{s:?}")
}

pub fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {}", shown(value))),
    }
}

pub fn integer(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from {min} to {max}, got {}",
            shown(value)
        )),
    }
}

/// A comma- and/or newline-separated list, items trimmed, empty items dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Key/value pairs as a YAML/JSON map or `K=V` lines (commas also separate pairs when no value
/// contains one is impossible to tell, so only lines do).
pub fn key_values(value: &str) -> Result<Vec<(String, String)>, String> {
    let trimmed = value.trim_start();
    if trimmed.starts_with('{') || (!value.contains('=') && value.contains(':')) {
        let map: BTreeMap<String, serde_yaml::Value> = serde_yaml::from_str(value)
            .map_err(|e| format!("expected a YAML/JSON map or K=V lines: {e}"))?;
        return map
            .into_iter()
            .map(|(k, v)| {
                scalar(&v).map(|v| (k.clone(), v)).ok_or(format!(
                    "value of {k:?} must be a string, number or boolean"
                ))
            })
            .collect();
    }
    value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("expected K=V on each line, got {}", shown(line))),
        })
        .collect()
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The part of a name that fits both Docker Hub repositories and CloudFormation stacks:
/// lower-case, runs of other characters → `-`, trimmed of `-`.
pub fn derived_name(value: &str) -> String {
    let mut out = String::new();
    for c in value.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_values_in_every_form() {
        let want = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "x=y".to_string()),
        ];
        assert_eq!(key_values("A=1\nB=x=y\n").unwrap(), want);
        assert_eq!(key_values("{\"A\": 1, \"B\": \"x=y\"}").unwrap(), want);
        assert!(key_values("A: 1\nB: x=y").unwrap_err().contains("K=V"));
        assert_eq!(key_values("A: 1\nB: two").unwrap()[1].1, "two");
        assert!(key_values("novalue").is_err());
    }

    #[test]
    fn derives_names_for_hub_and_cloudformation() {
        assert_eq!(derived_name("My_Org.Web App"), "my-org-web-app");
        assert_eq!(derived_name("--x--"), "x");
    }
}
