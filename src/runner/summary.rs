//! The job summary (`GITHUB_STEP_SUMMARY`), kept under the runner's 1 MiB per-step limit.

use anyhow::{Context, Result};
use std::io::Write;

/// The runner drops a step summary over 1 MiB entirely, with an error.
pub const LIMIT: usize = 1024 * 1024;

const TRUNCATED: &str = "\n\n> **Note:** this summary was truncated to stay under GitHub's 1 MiB limit; the full report is in the job log.\n";

/// Cuts `markdown` to fit in `limit` bytes (on a char boundary), with a note saying so.
pub fn fit(markdown: &str, limit: usize) -> String {
    if markdown.len() <= limit {
        return markdown.to_string();
    }
    let mut end = limit.saturating_sub(TRUNCATED.len());
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{TRUNCATED}", &markdown[..end])
}

/// Appends the report to the summary file; in CLI use prints it to stdout instead.
pub fn write(markdown: &str) -> Result<()> {
    match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        Some(path) => {
            // The limit counts the whole file; an earlier step of ours may have written to it.
            let used = std::fs::metadata(&path)
                .map(|m| m.len() as usize)
                .unwrap_or(0);
            let body = fit(markdown, LIMIT.saturating_sub(used));
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .with_context(|| {
                    format!("opening GITHUB_STEP_SUMMARY {}", path.to_string_lossy())
                })?;
            file.write_all(body.as_bytes())
                .with_context(|| format!("writing GITHUB_STEP_SUMMARY {}", path.to_string_lossy()))
        }
        None => {
            super::info(markdown);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_with_a_note_on_a_char_boundary() {
        let big = "é".repeat(LIMIT);
        let out = fit(&big, LIMIT);
        assert!(out.len() <= LIMIT);
        assert!(out.ends_with(TRUNCATED));
        assert_eq!(fit("small", LIMIT), "small");
    }
}
