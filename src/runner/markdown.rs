//! The one escaper for text from outside (stack outputs, event reasons, AWS and registry
//! messages, template ids) on its way into Markdown: the job summary and the PR comment render
//! GitHub-flavoured Markdown with inline HTML, so a reason holding `</details>`, `|`, a link or an
//! image would otherwise change the page.
//!
//! Every use is one table cell or one line, so line breaks become spaces.

/// `s` as literal inline text. `&`, `<`, `>` become entities (no tag, comment or entity
/// survives); the punctuation that can open inline markup, a block (after a list marker or in a
/// quote) or a table cell is backslash-escaped, as CommonMark allows for any ASCII punctuation;
/// `:` only before `/` and `.` only after `www`, which is enough to stop GitHub's autolinks
/// while ARNs and sentences stay readable in the raw text.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let after_www = || {
            s.get(i.saturating_sub(3)..i)
                .is_some_and(|w| w.eq_ignore_ascii_case("www"))
        };
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' => out.push(' '),
            ':' if chars.peek().is_some_and(|&(_, n)| n == '/') => out.push_str("\\:"),
            '.' if after_www() => out.push_str("\\."),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '~' | '#' | '+' | '-'
            | '=' | '{' | '}' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` as literal monospace text: a code span whose fence is longer than any backtick run in
/// `s`, so nothing inside is markup. `|` is written `\|`, which a table cell needs (GFM splits
/// cells before it sees code spans) and elsewhere shows as `\|`, still as text.
pub fn code(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A link to `url` when it is a plain http(s) URL, else the URL as literal text. The destination
/// is the parsed URL's serialization (spaces, quotes and angle brackets percent-encoded) in the
/// `<…>` form, where parentheses cannot end it.
pub fn link(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            format!("[{}](<{}>)", text(url.trim()), parsed.as_str())
        }
        _ => text(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(text("a|b"), "a\\|b");
        assert_eq!(text("</details>"), "&lt;/details&gt;");
        assert_eq!(text("[x](http://e)"), "\\[x\\]\\(http\\://e\\)");
        assert_eq!(text("![x](y)"), "\\!\\[x\\]\\(y\\)");
        assert_eq!(text("`a` *b* _c_"), "\\`a\\` \\*b\\* \\_c\\_");
        assert_eq!(text("x\ny\r\nz"), "x y  z");
        assert_eq!(text("&amp; WWW.x a@b"), "&amp;amp; WWW\\.x a\\@b");
        assert_eq!(
            text("arn:aws:iam::1:role/x, done."),
            "arn:aws:iam::1:role/x, done."
        );
    }

    #[test]
    fn code_spans_outlast_any_backticks() {
        assert_eq!(code("AWS::ECS::Service"), "`AWS::ECS::Service`");
        assert_eq!(code("a``b|c"), "```a``b\\|c```");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("</details>\n<img>"), "`</details> <img>`");
    }

    #[test]
    fn only_http_urls_become_links() {
        assert_eq!(
            link("http://web.example/a b"),
            "[http\\://web.example/a b](<http://web.example/a%20b>)"
        );
        assert_eq!(link("javascript:alert(1)"), "javascript:alert\\(1\\)");
        assert!(link("http://e/x>)<img src=y>").contains("(<http://e/x%3E)%3Cimg%20src=y%3E>)"));
    }
}
