//! Inputs as the runner passes them to a Docker action.

/// The variable the runner sets for an input: `INPUT_` + upper-cased name, spaces → `_`,
/// hyphens kept (`aws-region` → `INPUT_AWS-REGION`).
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.replace(' ', "_").to_uppercase())
}

/// An input's value: trimmed, and `None` when empty, because the runner exports every declared
/// input and an empty string means "not given".
pub fn normalize(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_hyphens() {
        assert_eq!(env_name("aws-region"), "INPUT_AWS-REGION");
        assert_eq!(env_name("my input"), "INPUT_MY_INPUT");
    }

    #[test]
    fn empty_means_unset() {
        assert_eq!(normalize(Some("  ".into())), None);
        assert_eq!(normalize(Some(" x \n".into())), Some("x".into()));
        assert_eq!(normalize(None), None);
    }
}
