//! What the GitHub Actions runner makes of a step's stdout: which lines it executes as workflow
//! commands, which it prints, and what its secret masker hides. A model of actions/runner's
//! `ActionCommandManager.TryProcessCommand` and `ActionCommand.TryParseV2`/`TryParse`:
//! - lines end at CR, LF or CRLF (`StreamReader.ReadLine`);
//! - `::name props::data` after leading whitespace, or the first `##[name props]data` anywhere;
//!   only registered names (case-insensitive) are commands;
//! - `::stop-commands::TOKEN` stops all processing until a `::TOKEN::` line; what arrives in
//!   between, `::add-mask::` included, is printed as text;
//! - data is unescaped `%0D`, `%0A`, `%25`.
//!
//! Stricter than the runner on one point: characters that render as nothing are dropped before
//! parsing, as a culture-aware comparison (the runner is .NET) may skip them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

/// The runner's command extensions plus `stop-commands`.
const REGISTERED: &[&str] = &[
    "add-mask",
    "add-matcher",
    "remove-matcher",
    "add-path",
    "set-env",
    "set-output",
    "save-state",
    "debug",
    "warning",
    "error",
    "notice",
    "group",
    "endgroup",
    "echo",
    "stop-commands",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Executed by the runner.
    Command(Command),
    /// Printed to the log as it is (before masking).
    Text(String),
}

#[derive(Debug, Default)]
pub struct Log {
    pub entries: Vec<Entry>,
    /// Values registered by `add-mask` commands that were executed.
    pub masks: Vec<String>,
}

impl Log {
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Command(c) => Some(c),
            Entry::Text(_) => None,
        })
    }

    /// The log a reader sees: text lines and annotation messages, each mask replaced by `***`
    /// (the runner masks a value registered earlier in every later line).
    pub fn rendered(&self) -> String {
        let mut out = String::new();
        let mut masks: Vec<&str> = Vec::new();
        for e in &self.entries {
            let shown = match e {
                Entry::Command(c) if c.name == "add-mask" => {
                    masks.push(&c.data);
                    continue;
                }
                Entry::Command(c) => format!("[{}] {}", c.name, c.data),
                Entry::Text(t) => t.clone(),
            };
            let mut line = shown;
            for m in &masks {
                line = line.replace(m, "***");
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// Reads `stdout` as the runner does.
pub fn interpret(stdout: &str) -> Log {
    let mut log = Log::default();
    let mut stop_token: Option<String> = None;
    let normalized = stdout.replace("\r\n", "\n").replace('\r', "\n");
    for raw in normalized.split('\n') {
        let line: String = raw.chars().filter(|c| !is_invisible(*c)).collect();
        let registered = |name: &str| {
            REGISTERED.iter().any(|r| r.eq_ignore_ascii_case(name))
                || stop_token
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(name))
        };
        let parsed = parse_v2(&line, &registered).or_else(|| parse_legacy(&line, &registered));
        let Some(cmd) = parsed else {
            log.entries.push(Entry::Text(raw.to_string()));
            continue;
        };
        if let Some(token) = &stop_token {
            if cmd.name.eq_ignore_ascii_case(token) {
                stop_token = None;
                log.entries.push(Entry::Command(cmd));
            } else {
                log.entries.push(Entry::Text(raw.to_string()));
            }
            continue;
        }
        if cmd.name.eq_ignore_ascii_case("stop-commands") {
            stop_token = Some(cmd.data.clone());
        } else if cmd.name.eq_ignore_ascii_case("add-mask") && !cmd.data.trim().is_empty() {
            log.masks.push(cmd.data.clone());
        }
        log.entries.push(Entry::Command(cmd));
    }
    log
}

fn parse_v2(line: &str, registered: &dyn Fn(&str) -> bool) -> Option<Command> {
    let message = line.trim_start();
    let rest = message.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    if !registered(name) {
        return None;
    }
    let properties = props
        .map(|p| {
            p.trim()
                .split(',')
                .filter(|s| !s.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), unescape(v, true)))
                .collect()
        })
        .unwrap_or_default();
    Some(Command {
        name: name.to_string(),
        properties,
        data: unescape(&rest[end + 2..], false),
    })
}

fn parse_legacy(line: &str, registered: &dyn Fn(&str) -> bool) -> Option<Command> {
    let start = line.find("##[")?;
    let rb = start + line[start..].find(']')?;
    let info = &line[start + 3..rb];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    if !registered(name) {
        return None;
    }
    let properties = props
        .map(|p| {
            p.split(';')
                .filter(|s| !s.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    Some(Command {
        name: name.to_string(),
        properties,
        data: line[rb + 1..].to_string(),
    })
}

fn unescape(s: &str, property: bool) -> String {
    let mut s = s.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        s = s.replace("%3A", ":").replace("%2C", ",");
    }
    s.replace("%25", "%")
}

fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0xAD | 0x200B..=0x200F | 0x2060..=0x2064 | 0xFEFF)
}

#[test]
fn the_model_reads_commands_like_the_runner() {
    let log = interpret(
        "plain\n  ::add-mask::s1\r\nx ##[set-output name=a]b\n::stop-commands::tok\n::add-mask::s2\n::tok::\n::error title=T%3A1::a%0Ab%250A\n::nope::x\n:\u{200b}:warning::w",
    );
    let names: Vec<&str> = log.commands().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "add-mask",
            "set-output",
            "stop-commands",
            "tok",
            "error",
            "warning"
        ]
    );
    assert_eq!(log.masks, ["s1"]);
    let error = log.commands().find(|c| c.name == "error").unwrap();
    assert_eq!(error.data, "a\nb%0A");
    assert_eq!(error.properties, [("title".to_string(), "T:1".to_string())]);
    assert!(
        log.rendered().contains("::add-mask::s2"),
        "{}",
        log.rendered()
    );
}
