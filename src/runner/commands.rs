//! Workflow commands (`::add-mask::`, `::group::`, `::error::` …) with the runner's escaping.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

/// True inside a GitHub Actions job; decided once, so output style never changes mid-run.
pub fn in_actions() -> bool {
    static ACTIONS: OnceLock<bool> = OnceLock::new();
    *ACTIONS.get_or_init(|| std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"))
}

/// Escaping of a command's message (runner `CommandEscapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a command property such as `title=` (runner `CommandEscapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::` lines for a secret. The runner masks multi-line values line by line, so each
/// line is registered on its own; the whole value too, for single-line use.
pub fn mask_lines(value: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut add = |v: &str| {
        let v = v.trim_end_matches('\r');
        if !v.trim().is_empty() {
            lines.push(format!("::add-mask::{}", escape_data(v)));
        }
    };
    if value.contains('\n') {
        value.split('\n').for_each(&mut add);
    } else {
        add(value);
    }
    lines
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not panic the action; there is nowhere left to report it anyway.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Registers a secret with the runner before it is used. Printed in CLI use too (harmless,
/// and it keeps the log shape identical), but never with the value outside Actions.
pub fn add_mask(value: &str) {
    if in_actions() {
        for line in mask_lines(value) {
            emit(&line);
        }
    }
}

/// Plain log text, whatever its origin: see `text` for why no line of it can be a command.
pub fn info(msg: &str) {
    for line in super::text::lines(msg) {
        emit(&line);
    }
}

pub fn format_annotation(kind: &str, title: Option<&str>, msg: &str) -> String {
    match title {
        Some(t) => format!(
            "::{kind} title={}::{}",
            escape_property(t),
            escape_data(msg)
        ),
        None => format!("::{kind}::{}", escape_data(msg)),
    }
}

fn annotate(kind: &str, title: Option<&str>, msg: &str) {
    if in_actions() {
        emit(&format_annotation(kind, title, msg));
    } else {
        let title = title.map(|t| format!("{t}: ")).unwrap_or_default();
        // Errors and warnings go to stderr in CLI use, like any command-line tool.
        let _ = writeln!(std::io::stderr(), "{kind}: {title}{msg}");
    }
}

pub fn error(title: Option<&str>, msg: &str) {
    annotate("error", title, msg);
}

pub fn warning(msg: &str) {
    annotate("warning", None, msg);
}

pub fn notice(msg: &str) {
    annotate("notice", None, msg);
}

/// The panic hook's report: one `::error` line (the release profile aborts on panic, so nothing
/// else would say why the step failed), or the plain message outside Actions.
pub fn panicked(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    let place = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    error(
        Some("ecs-poc-action crashed"),
        &format!("internal error{place}: {message}. This is a bug: please report it."),
    );
}

/// A log group; closes itself (with its duration) when dropped, so early returns never leave a
/// group open.
#[must_use = "the group closes when this value is dropped"]
pub struct Group {
    title: String,
    started: Instant,
}

pub fn group(title: &str) -> Group {
    if in_actions() {
        emit(&format!("::group::{}", escape_data(title)));
    } else {
        info(&format!("==> {title}"));
    }
    Group {
        title: title.to_string(),
        started: Instant::now(),
    }
}

impl Group {
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let secs = self.started.elapsed().as_secs_f64();
        info(&format!("{} took {secs:.1} s", self.title));
        if in_actions() {
            emit("::endgroup::");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_runner() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(
            format_annotation("error", Some("Input: tags, bad"), "line1\nline2"),
            "::error title=Input%3A tags%2C bad::line1%0Aline2"
        );
    }

    #[test]
    fn masks_each_line_of_a_multiline_secret() {
        assert_eq!(mask_lines("abc"), vec!["::add-mask::abc"]);
        assert_eq!(
            mask_lines("a1\r\nb2\n\n"),
            vec!["::add-mask::a1", "::add-mask::b2"]
        );
        assert!(mask_lines("  ").is_empty());
    }
}
