//! Plain log text that can never be read as a workflow command.
//!
//! The runner reads every stdout line (split at CR, LF or CRLF) as a command when, after leading
//! whitespace, it starts with `::`, or when it holds `##[` anywhere (the legacy form). Stack event
//! reasons, change-set entries, smoke-check URLs and registry messages come from outside: an
//! injected `::stop-commands::x` would turn every later `::add-mask::` into clear text.
//!
//! The choice made here, once: every plain line goes through [`line`], which breaks both forms
//! (`::` → `\::` at the start, `##[` → `##\[` anywhere) and shows invisible and control characters
//! as `\u{…}`. The alternative, a `::stop-commands::TOKEN` block, was rejected: the runner keeps
//! that state for the whole job (its command manager is one per job), so a process killed inside a
//! block would leave commands off for the steps after it, and masks registered inside a block are
//! not applied. Only `commands.rs` prints command lines, built from escaped data.

/// A rejected value in an error message: quoted and bounded, so a pasted file cannot flood the
/// log (the line it ends up on still goes through [`line`]).
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// How a line break inside one field (an event reason) is shown, so the field stays on its line.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => push_visible(&mut out, c),
        }
    }
    out
}

/// The physical lines `text` becomes in the log, each safe to print: split where the runner
/// splits (CRLF, CR, LF), then [`line`] on each.
pub fn lines(text: &str) -> Vec<String> {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    normalized.split('\n').map(line).collect()
}

/// One line that no runner will read as a command. `line` must hold no CR or LF (use [`lines`]);
/// any that does is shown escaped.
pub fn line(text: &str) -> String {
    let visible = inline(text);
    let body = visible.trim_start();
    let indent = &visible[..visible.len() - body.len()];
    let body = match body.strip_prefix("::") {
        Some(rest) => format!("\\::{rest}"),
        None => body.to_string(),
    };
    format!("{indent}{}", body.replace("##[", "##\\["))
}

/// Control characters (other than tab) and characters that render as nothing are shown as
/// `\u{…}`: a culture-aware comparison (the runner is .NET) may skip the invisible ones, so
/// `:\u{200b}:` could still read as `::`; and ANSI escapes could hide or repaint log text.
fn push_visible(out: &mut String, c: char) {
    if (c.is_control() && c != '\t') || is_invisible(c) {
        out.push_str(&format!("\\u{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// Unicode's Default_Ignorable_Code_Point set, plus the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0xAD | 0x34F
            | 0x61C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_forms_are_broken() {
        assert_eq!(line("::add-mask::x"), "\\::add-mask::x");
        assert_eq!(line(" \t::stop-commands::t"), " \t\\::stop-commands::t");
        assert_eq!(line("\u{a0}::error::x"), "\u{a0}\\::error::x");
        assert_eq!(
            line("reason ##[set-output name=a]b ###[x]"),
            "reason ##\\[set-output name=a]b ###\\[x]"
        );
        assert_eq!(line(":\u{200b}:add-mask::x"), ":\\u{200b}:add-mask::x");
        assert_eq!(line("\u{1b}[31mred"), "\\u{1b}[31mred");
        // Ordinary text, including ARNs with `::` inside, is left alone.
        let arn = "2024-05-01T12:00:00Z CREATE_FAILED Role (AWS::IAM::Role): arn:aws:iam::1:role/x";
        assert_eq!(line(arn), arn);
    }

    #[test]
    fn lines_split_where_the_runner_does() {
        assert_eq!(
            lines("a\r\n::x::y\rb\n##[debug]z"),
            vec!["a", "\\::x::y", "b", "##\\[debug]z"]
        );
        assert_eq!(inline("a\nb\r%0A"), "a\\nb\\r%0A");
    }
}
