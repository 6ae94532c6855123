//! The HTML page for `GET /`. Every interpolated value goes through [`escape`]; the background hue
//! is derived from the task id so that refreshing behind the load balancer visibly changes colour
//! when another task answers.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

pub struct Page<'a> {
    pub version: &'a str,
    pub task_id: &'a str,
    pub availability_zone: &'a str,
    pub uptime: Duration,
    pub requests: u64,
}

impl Page<'_> {
    pub fn render(&self) -> String {
        let task_id = escape(self.task_id);
        let zone = escape(self.availability_zone);
        let version = escape(self.version);
        let uptime = format_uptime(self.uptime);
        let hue = hue(self.task_id);
        let requests = self.requests;
        format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webapp · {task_id}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; min-height: 100vh; display: grid; place-items: center; background: hsl({hue} 70% 92%); color: #222; }}
main {{ background: #fff; border-left: 12px solid hsl({hue} 60% 45%); padding: 2rem 3rem; border-radius: 8px; box-shadow: 0 2px 12px #0002; }}
dt {{ font-weight: 600; margin-top: .6rem; }} dd {{ margin: 0; font-family: ui-monospace, monospace; }}
</style>
</head>
<body>
<main>
<h1>Served by task {task_id}</h1>
<dl>
<dt>Availability Zone</dt><dd id="az">{zone}</dd>
<dt>Task</dt><dd id="task">{task_id}</dd>
<dt>Version</dt><dd id="version">{version}</dd>
<dt>Uptime</dt><dd id="uptime">{uptime}</dd>
<dt>Requests served by this task</dt><dd id="requests">{requests}</dd>
</dl>
<p>Refresh to be routed to another task.</p>
</main>
</body>
</html>
"#
        )
    }
}

/// Escapes the five characters that matter in HTML text and quoted attributes.
pub fn escape(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `3d 4h 5m 6s`, leaving out leading zero units.
fn format_uptime(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(days, 'd'), (hours, 'h'), (minutes, 'm')] {
        if value > 0 || !out.is_empty() {
            let _ = write!(out, "{value}{unit} ");
        }
    }
    let _ = write!(out, "{seconds}s");
    out
}

/// FNV-1a of the task id, folded onto the colour wheel.
fn hue(task_id: &str) -> u64 {
    let hash = task_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 360
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(matches!(escape("us-east-1a"), Cow::Borrowed(_)));
    }

    #[test]
    fn uptime_drops_leading_zero_units() {
        assert_eq!(format_uptime(Duration::from_secs(5)), "5s");
        assert_eq!(format_uptime(Duration::from_secs(3600 + 5)), "1h 0m 5s");
        assert_eq!(
            format_uptime(Duration::from_secs(2 * 86_400 + 61)),
            "2d 0h 1m 1s"
        );
    }

    #[test]
    fn page_escapes_every_interpolated_value() {
        let html = Page {
            version: "0.1.0 (<v>)",
            task_id: "<script>alert(1)</script>",
            availability_zone: "us-east-1a\"",
            uptime: Duration::from_secs(61),
            requests: 7,
        }
        .render();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("us-east-1a&quot;"));
        assert!(html.contains("0.1.0 (&lt;v&gt;)"));
        assert!(html.contains(r#"<dd id="uptime">1m 1s</dd>"#));
        assert!(html.contains(r#"<dd id="requests">7</dd>"#));
    }

    #[test]
    fn hue_is_stable_per_task() {
        assert_eq!(hue("abc"), hue("abc"));
        assert!(hue("abc") < 360);
    }
}
