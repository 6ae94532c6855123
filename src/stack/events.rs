//! Stack events: each new one printed once, in order, and the root cause of a failure picked
//! from the events of this operation.

use std::collections::HashSet;
use std::fmt;

use anyhow::{Context, Result};
use aws_sdk_cloudformation::types::{ResourceStatus, StackEvent, StackStatus};
use aws_smithy_types::date_time::Format;

use super::status::{Phase, is_rollback_start, resource_phase, stack_phase};
use crate::runner;

/// One stack event, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEventLine {
    pub event_id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub status: ResourceStatus,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub reason: String,
}

impl StackEventLine {
    pub fn from_sdk(e: &StackEvent) -> Self {
        Self {
            event_id: e.event_id().unwrap_or_default().to_string(),
            time: e
                .timestamp()
                .and_then(|t| t.fmt(Format::DateTime).ok())
                .unwrap_or_default(),
            status: e
                .resource_status()
                .cloned()
                .unwrap_or_else(|| ResourceStatus::from("UNKNOWN")),
            logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
            physical_id: e.physical_resource_id().unwrap_or_default().to_string(),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            reason: e.resource_status_reason().unwrap_or_default().to_string(),
        }
    }

    /// The event is about the stack itself rather than one of its resources.
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }

    pub fn failed(&self) -> bool {
        resource_phase(&self.status) == Phase::Failed
    }
}

impl fmt::Display for StackEventLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({})",
            self.time,
            self.status.as_str(),
            self.logical_id,
            self.resource_type
        )?;
        if !self.reason.is_empty() {
            // AWS text, possibly quoting template content: one event stays one line.
            write!(f, ": {}", runner::text::inline(&self.reason))?;
        }
        Ok(())
    }
}

/// CloudFormation's reason on the resources it stopped because another one failed. AWS offers
/// no other signal than this text ("Resource creation cancelled", "Resource update cancelled").
pub fn is_cancellation(reason: &str) -> bool {
    let r = reason.trim();
    r.starts_with("Resource ") && r.ends_with(" cancelled")
}

/// The event that explains a failure: the first failed resource event of this operation that is
/// not a cancellation (the cascade follows the cause), else the first failed one, else the
/// stack's own failure. `events` are oldest first.
pub fn root_cause(events: &[StackEventLine]) -> Option<&StackEventLine> {
    let failed = || events.iter().filter(|e| e.failed() && !e.reason.is_empty());
    failed()
        .find(|e| !e.is_stack() && !is_cancellation(&e.reason))
        .or_else(|| failed().find(|e| !e.is_stack()))
        .or_else(|| failed().next())
        .or_else(|| {
            // No resource failed with a reason: the stack's own rollback or failure event.
            events.iter().find(|e| {
                let status = StackStatus::from(e.status.as_str());
                e.is_stack()
                    && !e.reason.is_empty()
                    && (is_rollback_start(&status) || stack_phase(&status) == Phase::Failed)
            })
        })
}

/// Follows one stack's events: each poll returns (and prints) only events not seen before.
#[derive(Debug)]
pub struct EventStream {
    /// The stack id (ARN) when known: by name, a deleted stack's events are no longer found.
    stack: String,
    seen: HashSet<String>,
    /// Every new event, oldest first.
    pub lines: Vec<StackEventLine>,
}

impl EventStream {
    /// A stream that reports only events newer than the ones the stack has now.
    pub async fn after_current(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Result<Self> {
        let mut s = Self {
            stack: stack.to_string(),
            seen: HashSet::new(),
            lines: Vec::new(),
        };
        // The newest page is enough: anything older is older than these.
        let page = cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .with_context(|| format!("reading the current events of stack {stack}"))?;
        s.seen.extend(
            page.stack_events()
                .iter()
                .filter_map(|e| e.event_id().map(String::from)),
        );
        Ok(s)
    }

    /// Fetches events newest-first, page by page, until one already seen; prints the new ones
    /// oldest first. Returns how many were new.
    pub async fn poll(&mut self, cfn: &aws_sdk_cloudformation::Client) -> Result<usize, PollError> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        'pages: loop {
            let page = cfn
                .describe_stack_events()
                .stack_name(&self.stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(PollError::from_sdk)?;
            for e in page.stack_events() {
                let line = StackEventLine::from_sdk(e);
                if self.seen.contains(&line.event_id) {
                    break 'pages;
                }
                fresh.push(line);
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        fresh.reverse();
        let n = fresh.len();
        for line in fresh {
            if self.seen.insert(line.event_id.clone()) {
                runner::info(&line.to_string());
                self.lines.push(line);
            }
        }
        Ok(n)
    }
}

impl EventStream {
    /// The resources whose latest event (of this operation) is still in progress, with that
    /// event: what a long wait is waiting for (a certificate's event carries its validation
    /// record).
    pub fn in_progress(&self) -> Vec<&StackEventLine> {
        let mut latest: Vec<&StackEventLine> = Vec::new();
        for line in &self.lines {
            if line.is_stack() {
                continue;
            }
            match latest.iter_mut().find(|l| l.logical_id == line.logical_id) {
                Some(slot) => *slot = line,
                None => latest.push(line),
            }
        }
        latest.retain(|l| resource_phase(&l.status) == Phase::InProgress);
        latest
    }
}

/// One line saying what a wait is still waiting for, after `waited`.
pub fn progress_line(
    status: &str,
    waited: std::time::Duration,
    busy: &[&StackEventLine],
) -> String {
    let mut line = format!("still {status} after {} s", waited.as_secs());
    if !busy.is_empty() {
        let names: Vec<String> = busy
            .iter()
            .take(5)
            .map(|e| {
                let mut s = format!("{} ({})", e.logical_id, e.resource_type);
                if !e.reason.is_empty() {
                    s.push_str(&format!(": {}", e.reason));
                }
                s
            })
            .collect();
        let more = busy.len().saturating_sub(5);
        line.push_str(&format!("; in progress: {}", names.join("; ")));
        if more > 0 {
            line.push_str(&format!(" and {more} more"));
        }
    }
    runner::text::inline(&line)
}

/// A failed poll: throttling is retried by the caller's loop; anything else ends the wait.
#[derive(Debug)]
pub enum PollError {
    Throttled,
    Other(anyhow::Error),
}

impl PollError {
    pub fn from_sdk<E, R>(err: aws_sdk_cloudformation::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error
            + Send
            + Sync
            + aws_sdk_cloudformation::error::ProvideErrorMetadata
            + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        if super::poll::is_throttling(&err) {
            PollError::Throttled
        } else {
            PollError::Other(super::lookup::sdk_error(err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, status: &str, logical: &str, ty: &str, reason: &str) -> StackEventLine {
        StackEventLine {
            event_id: id.into(),
            time: "2024-05-01T12:00:00Z".into(),
            status: ResourceStatus::from(status),
            logical_id: logical.into(),
            physical_id: String::new(),
            resource_type: ty.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_long_wait_names_what_is_still_in_progress() {
        let record = "Content of DNS Record is: {Name: _a.app.example.com.,Type: CNAME,Value: _b.acm-validations.aws.}";
        let stream = EventStream {
            stack: "web".into(),
            seen: HashSet::new(),
            lines: vec![
                ev(
                    "1",
                    "CREATE_IN_PROGRESS",
                    "web",
                    "AWS::CloudFormation::Stack",
                    "",
                ),
                ev("2", "CREATE_IN_PROGRESS", "Vpc", "AWS::EC2::VPC", ""),
                ev(
                    "3",
                    "CREATE_IN_PROGRESS",
                    "Certificate",
                    "AWS::CertificateManager::Certificate",
                    "",
                ),
                ev("4", "CREATE_COMPLETE", "Vpc", "AWS::EC2::VPC", ""),
                ev(
                    "5",
                    "CREATE_IN_PROGRESS",
                    "Certificate",
                    "AWS::CertificateManager::Certificate",
                    record,
                ),
            ],
        };
        let busy = stream.in_progress();
        assert_eq!(busy.len(), 1, "{busy:?}");
        let line = progress_line(
            "CREATE_IN_PROGRESS",
            std::time::Duration::from_secs(130),
            &busy,
        );
        assert!(
            line.starts_with("still CREATE_IN_PROGRESS after 130 s; in progress: Certificate"),
            "{line}"
        );
        assert!(line.contains("_b.acm-validations.aws."), "{line}");
        assert_eq!(
            progress_line("X", std::time::Duration::ZERO, &[]),
            "still X after 0 s"
        );
    }

    #[test]
    fn event_line_text() {
        let e = ev("1", "CREATE_FAILED", "Svc", "AWS::ECS::Service", "boom");
        assert_eq!(
            e.to_string(),
            "2024-05-01T12:00:00Z CREATE_FAILED Svc (AWS::ECS::Service): boom"
        );
        let e = ev("1", "CREATE_COMPLETE", "Vpc", "AWS::EC2::VPC", "");
        assert_eq!(
            e.to_string(),
            "2024-05-01T12:00:00Z CREATE_COMPLETE Vpc (AWS::EC2::VPC)"
        );
    }

    #[test]
    fn root_cause_skips_cancellations_and_the_stack() {
        let events = vec![
            ev(
                "1",
                "CREATE_IN_PROGRESS",
                "s",
                "AWS::CloudFormation::Stack",
                "User Initiated",
            ),
            ev(
                "2",
                "CREATE_FAILED",
                "Role",
                "AWS::IAM::Role",
                "Resource creation cancelled",
            ),
            ev(
                "3",
                "CREATE_FAILED",
                "Bucket",
                "AWS::S3::Bucket",
                "bucket already exists",
            ),
            ev(
                "4",
                "CREATE_FAILED",
                "Queue",
                "AWS::SQS::Queue",
                "Resource creation cancelled",
            ),
            ev(
                "5",
                "ROLLBACK_IN_PROGRESS",
                "s",
                "AWS::CloudFormation::Stack",
                "The following resource(s) failed to create: [Bucket, Role, Queue].",
            ),
        ];
        assert_eq!(
            root_cause(&events).map(|e| e.logical_id.as_str()),
            Some("Bucket")
        );
        assert!(is_cancellation("Resource update cancelled"));
        assert!(!is_cancellation(
            "Resource handler returned message: cancelled by user request"
        ));
        let only_stack = vec![
            ev(
                "8",
                "UPDATE_IN_PROGRESS",
                "s",
                "AWS::CloudFormation::Stack",
                "User Initiated",
            ),
            ev(
                "9",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                "s",
                "AWS::CloudFormation::Stack",
                "x",
            ),
        ];
        assert_eq!(
            root_cause(&only_stack).map(|e| e.event_id.as_str()),
            Some("9")
        );
    }
}
