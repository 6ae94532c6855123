//! Parsers for single input values. Each returns the message that follows "input `NAME`: ".

pub use crate::runner::text::shown;

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
    fn derives_names_for_hub_and_cloudformation() {
        assert_eq!(derived_name("My_Org.Web App"), "my-org-web-app");
        assert_eq!(derived_name("--x--"), "x");
    }
}
