//! JSON lines on stdout, one object per event, for CloudWatch Logs (awslogs driver): every line
//! has `ts` (RFC 3339, UTC), `level` and `msg`, plus the event's own fields.

use std::io::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn info(msg: &str, fields: Value) {
    emit("info", msg, fields);
}

pub fn warn(msg: &str, fields: Value) {
    emit("warn", msg, fields);
}

pub fn error(msg: &str, fields: Value) {
    emit("error", msg, fields);
}

/// The access-log line written once per request.
pub fn request(method: &str, path: &str, status: u16, latency: Duration) {
    let latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
    info(
        "request",
        json!({ "method": method, "path": path, "status": status, "latency_ms": latency_ms }),
    );
}

fn emit(level: &str, msg: &str, fields: Value) {
    let line = Line::new(OffsetDateTime::now_utc(), level, msg, fields);
    // A closed stdout must not take the server down; there is nowhere left to report it.
    if let Ok(line) = serde_json::to_string(&line) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Field order is kept: `ts`, `level`, `msg` lead every line, then the event's fields.
#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    level: &'a str,
    msg: &'a str,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

impl<'a> Line<'a> {
    fn new(now: OffsetDateTime, level: &'a str, msg: &'a str, fields: Value) -> Self {
        let ts = now
            .format(&Rfc3339)
            .unwrap_or_else(|_| now.unix_timestamp().to_string());
        let fields = match fields {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        Self {
            ts,
            level,
            msg,
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_timestamp_level_message_then_fields() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let line = Line::new(now, "info", "request", json!({ "status": 200 }));
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"ts":"2023-11-14T22:13:20Z","level":"info","msg":"request","status":200}"#
        );
    }
}
