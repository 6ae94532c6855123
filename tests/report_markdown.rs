//! The job summary (and the PR comment's change table) with markup planted in every field that
//! comes from outside: it must stay text. Checked on the Markdown source: our own `<details>`
//! block is the only one, no link, image or tag survives unescaped, and every table row keeps
//! its cells.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use aws_sdk_cloudformation::types::ResourceStatus;
use ecs_poc_action::report::Report;
use ecs_poc_action::stack::{ResourceChange, StackEventLine, changes_table_markdown};

const MARKUP: &[&str] = &[
    "</details><details open><summary>fake</summary>",
    "a | b | c",
    "[x](http://e)",
    "![x](y)",
    "<img src=x onerror=alert(1)>",
    "`code` ``more``",
    "<!-- hidden",
    "http://bare.example www.bare.example",
    "line one\n# heading\n| injected | row |",
];

fn hostile(i: usize) -> String {
    MARKUP[i % MARKUP.len()].to_string()
}

fn event(i: usize) -> StackEventLine {
    StackEventLine {
        event_id: format!("e{i}"),
        time: "2024-05-01T12:00:00Z".into(),
        status: ResourceStatus::CreateFailed,
        logical_id: hostile(i + 1),
        physical_id: String::new(),
        resource_type: hostile(i + 2),
        reason: hostile(i),
    }
}

fn report() -> Report {
    Report {
        mode: "deploy".into(),
        stack: "web".into(),
        region: "us-east-1".into(),
        url: Some("http://e/x)<img src=y>".into()),
        status: Some("ROLLBACK_COMPLETE".into()),
        events: (0..MARKUP.len()).map(event).collect(),
        outputs: (0..MARKUP.len())
            .map(|i| (hostile(i + 3), hostile(i)))
            .collect(),
        failure: Some(format!("deploy failed: {}", MARKUP.join("\n"))),
        changes: Some(vec![ResourceChange {
            action: "Add".into(),
            logical_id: hostile(4),
            resource_type: hostile(2),
            replacement: String::new(),
            changed: vec![hostile(0), hostile(1)],
        }]),
        has_changes: true,
        ..Report::default()
    }
}

/// `|` that end a table cell: not escaped with `\`.
fn cell_breaks(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

/// `line` with its code spans (CommonMark: a backtick run closed by the next run of the same
/// length) replaced by `CODE`: what is inside one is literal text whatever it holds.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i]);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                out.push_str("CODE");
                i = j + n;
            }
            None => {
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
    }
    out
}

fn assert_inert(md: &str) {
    assert_rows_keep_their_cells(md);
    // Outside code spans, where Markdown and HTML are live.
    let md = &md
        .lines()
        .map(without_code_spans)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(md.matches("<details").count(), 1, "{md}");
    assert_eq!(md.matches("</details>").count(), 1, "{md}");
    for planted in [
        "[x](http://e)",
        "![x](y)",
        "<img",
        "<!--",
        "<summary>fake",
        "\n# heading",
        "http://bare",
        "www.bare",
    ] {
        assert!(!md.contains(planted), "{planted:?} survived in:\n{md}");
    }
}

/// Every table row has as many cells as its header. On the source as it is: GFM splits cells
/// at unescaped `|` before it looks for code spans.
fn assert_rows_keep_their_cells(md: &str) {
    let mut columns = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let n = cell_breaks(line);
        match columns {
            None => columns = Some(n),
            Some(c) => assert_eq!(n, c, "row {line:?} in:\n{md}"),
        }
    }
}

#[test]
fn the_summary_shows_outside_markup_as_text() {
    let md = report().markdown();
    assert_inert(&md);
    // Still readable: the text is there, escaped.
    assert!(md.contains("a \\| b \\| c"), "{md}");
    assert!(md.contains("&lt;/details&gt;"), "{md}");
}

#[test]
fn the_change_table_shows_outside_markup_as_text() {
    let changes = report().changes.unwrap_or_default();
    assert_inert(&format!(
        "<details>\n{}\n</details>",
        changes_table_markdown(&changes)
    ));
}
