//! Step outputs, collected during the run and written once at the end, so a failed or cancelled
//! run never leaves half of them behind.

use anyhow::{Context, Result};
use std::io::Write;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outputs {
    entries: Vec<(String, String)>,
}

impl Outputs {
    /// Sets an output; a later value for the same name replaces the earlier one.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `GITHUB_OUTPUT` file body: every value in heredoc form with a delimiter that does not
    /// occur in it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.entries {
            let delimiter = delimiter_for(value);
            out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        }
        out
    }

    /// Appends to the file `GITHUB_OUTPUT` names; without it (CLI use) prints `name: value` lines.
    pub fn write(&self) -> Result<()> {
        match std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            Some(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)
                    .with_context(|| format!("opening GITHUB_OUTPUT {}", path.to_string_lossy()))?;
                file.write_all(self.render().as_bytes())
                    .with_context(|| format!("writing GITHUB_OUTPUT {}", path.to_string_lossy()))
            }
            None => {
                if !self.entries.is_empty() {
                    super::info("Outputs:");
                }
                for (name, value) in &self.entries {
                    super::info(&format!("  {name}: {}", super::text::inline(value)));
                }
                Ok(())
            }
        }
    }
}

/// An output name a workflow can read as `steps.ID.outputs.NAME`: a letter or `_`, then letters,
/// digits, `-` or `_` (GitHub's rule for ids). Anything else could also break the
/// `GITHUB_OUTPUT` file format (`=`, `<<`, a newline).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 100
}

fn delimiter_for(value: &str) -> String {
    loop {
        let delimiter = format!("ghadelimiter_{:032x}", rand::random::<u128>());
        if !value.contains(&delimiter) {
            return delimiter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_follow_githubs_id_rule() {
        for ok in ["ServiceUrl", "url", "_x", "a-b_c9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a=b", "a<<EOF", "a\nurl", "a.b", "a b", "é"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn heredoc_with_fresh_delimiter() {
        let mut o = Outputs::default();
        o.set("url", "http://x");
        o.set("multi", "a\nb");
        o.set("url", "http://y");
        let text = o.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7);
        assert!(lines[0].starts_with("url<<ghadelimiter_"));
        assert_eq!(lines[1], "http://y");
        assert_eq!(lines[2], &lines[0]["url<<".len()..]);
        assert!(lines[3].starts_with("multi<<ghadelimiter_"));
        assert_eq!(&lines[4..6], &["a", "b"]);
        assert_ne!(lines[2], lines[6]);
    }
}
