//! The `parameter-overrides` input: a YAML/JSON map, the AWS CLI's JSON list of
//! `{ParameterKey, ParameterValue}`, `K=V` lines, or a file (`file://PATH` or an existing path)
//! holding any of these.

use std::path::Path;

use anyhow::{Context, Result, bail};

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

/// Parses override text with the one key/value grammar ([`crate::pairs`]); keys must be
/// CloudFormation parameter names.
pub fn parse_overrides(text: &str) -> Result<Vec<(String, String)>> {
    let pairs = crate::pairs::parse(text).context("parameter overrides")?;
    for (key, _) in &pairs {
        if !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!(
                "override key {key:?} is not a CloudFormation parameter name (letters and digits)"
            );
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_keys_lines_and_duplicates() {
        assert!(format!("{:#}", parse_overrides("Cpu=1\nCpu=2").unwrap_err()).contains("Cpu"));
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
