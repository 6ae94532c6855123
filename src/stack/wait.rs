//! Waiting for a stack to settle, streaming its events meanwhile.

use std::time::Instant;

use anyhow::Result;
use aws_sdk_cloudformation::types::{Stack, StackStatus};

use super::error::StackError;
use super::events::{EventStream, PollError, progress_line};
use super::lookup::is_stack_missing;
use super::poll::PollPolicy;
use super::status::{Phase, stack_phase};
use crate::runner;

/// Silence after which a wait prints what it is waiting for.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// How a wait ended.
#[derive(Debug, Clone)]
pub enum Settled {
    /// No operation runs on the stack any more.
    Stack(Box<Stack>),
    /// The stack no longer exists (deleted; looked up by name).
    Gone,
}

/// What a wait is for, named in the timeout error.
#[derive(Debug, Clone, Copy)]
pub struct Wait<'a> {
    /// The stack's name, for messages.
    pub name: &'a str,
    /// Its id (ARN) when known: it still answers once the stack is deleted.
    pub stack: &'a str,
    pub doing: &'a str,
    pub deadline: Instant,
    pub poll: PollPolicy,
}

/// Polls `DescribeStacks` (and the events, when a stream is given) until the stack leaves every
/// `*_IN_PROGRESS` state. The first look is immediate, so a settled stack costs one call and no
/// sleep. Throttled polls are skipped, not fatal. Past the deadline: [`StackError::Timeout`].
pub async fn wait_settled(
    cfn: &aws_sdk_cloudformation::Client,
    w: Wait<'_>,
    mut events: Option<&mut EventStream>,
) -> Result<Settled> {
    let started = Instant::now();
    let mut backoff = w.poll.backoff();
    let mut last_status = String::from("unknown");
    // A long wait (a certificate being validated, tasks failing their health checks) must not
    // look like a hang: a progress line when nothing was printed for this long.
    let mut last_output = Instant::now();
    loop {
        match cfn.describe_stacks().stack_name(w.stack).send().await {
            Ok(out) => match out.stacks().first() {
                None => return Ok(Settled::Gone),
                Some(stack) => {
                    let status = stack
                        .stack_status()
                        .cloned()
                        .unwrap_or(StackStatus::from("UNKNOWN"));
                    last_status = status.as_str().to_string();
                    let settled = stack_phase(&status) != Phase::InProgress;
                    // Events after the status: when the status is final, so are its events, and a
                    // throttled read of them is retried rather than losing the root cause.
                    if let Some(ev) = events.as_deref_mut() {
                        let tries = if settled { 5 } else { 1 };
                        for _ in 0..tries {
                            match ev.poll(cfn).await {
                                Ok(n) => {
                                    if n > 0 {
                                        last_output = Instant::now();
                                    }
                                    break;
                                }
                                Err(PollError::Throttled) => {
                                    if !settled || !backoff.sleep(w.deadline).await {
                                        break;
                                    }
                                }
                                Err(PollError::Other(e)) => {
                                    runner::warning(&format!("reading stack events: {e:#}"));
                                    break;
                                }
                            }
                        }
                    }
                    if settled {
                        return Ok(Settled::Stack(Box::new(stack.clone())));
                    }
                    if last_output.elapsed() >= PROGRESS_EVERY {
                        let busy = events.as_deref().map(EventStream::in_progress);
                        runner::info(&progress_line(
                            &last_status,
                            started.elapsed(),
                            busy.as_deref().unwrap_or_default(),
                        ));
                        last_output = Instant::now();
                    }
                }
            },
            Err(err) if is_stack_missing(&err) => return Ok(Settled::Gone),
            Err(err) => match PollError::from_sdk(err) {
                PollError::Throttled => {}
                PollError::Other(e) => {
                    return Err(e.context(format!("describing stack {} while {}", w.name, w.doing)));
                }
            },
        }
        if !backoff.sleep(w.deadline).await {
            return Err(StackError::Timeout {
                stack: w.name.to_string(),
                status: last_status,
                doing: w.doing.to_string(),
                waited: started.elapsed(),
            }
            .into());
        }
    }
}
