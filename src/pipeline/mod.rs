//! The job, one stage after another: validated config → local image → credentials (AWS, then the
//! registry) → push → deploy → smoke check → outputs and report. Every stage logs in a group
//! with its duration; nothing is changed before every check has passed.

mod preview_env;
pub mod settings;
pub mod smoke;
mod stages;

use crate::config::Config;
use crate::github::DeploymentTracker;
use crate::report::Report;
use crate::runner::{self, Outputs};
use crate::stack;
use anyhow::{Result, anyhow};
use std::time::Instant;

/// What the stages leave behind for the end of the run, also when it fails or is cancelled.
#[derive(Default)]
struct State {
    report: Report,
    outputs: Outputs,
    clients: Option<stack::Clients>,
    deployment: Option<DeploymentTracker>,
    /// The change set this run created and has not executed yet (deleted on cancel).
    pending_change_set: Option<String>,
}

pub async fn run(config: Config) -> Result<()> {
    let started = Instant::now();
    let mut state = State::default();
    state.report.mode = config.mode.as_str().to_string();
    state.report.stack = config.stack.name.clone();
    state.report.region = config.aws.region.clone();
    // Read by the HTTP clients themselves (see `crate::net`); stated once so a proxy problem
    // can be recognised in the log.
    if let Some(line) = crate::net::describe_proxy(config.env.lookup()) {
        runner::info(&line);
    }

    let (result, cancelled) = {
        let work = stages::all(&config, &mut state, started);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => (r, false),
            signal = cancel_signal() => (Err(anyhow!("cancelled by {signal}: stopped before finishing; no outputs were written")), true),
        }
    };
    if cancelled {
        clean_up_after_cancel(&config, &mut state).await;
    }
    state.report.duration = started.elapsed();
    state.report.failure = result.as_ref().err().map(|e| format!("{e:#}"));
    if result.is_ok() {
        // Written once, on success only: a failed run leaves no half-set outputs behind.
        state.outputs.write()?;
    }
    if let Some(deployment) = state.deployment.take() {
        match &result {
            Ok(()) => deployment.finish_success(state.report.url.as_deref()).await,
            Err(_) => deployment.finish_failure().await,
        }
    }
    if let Err(e) = runner::summary::write(&state.report.markdown()) {
        runner::warning(&format!("could not write the job summary: {e:#}"));
    }
    result
}

/// Resolves on the runner's cancellation (SIGTERM) or Ctrl-C (SIGINT); never otherwise.
async fn cancel_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// A cancelled run must not leave an unexecuted change set behind; an executed one belongs to
/// CloudFormation now, which finishes or rolls back on its own.
async fn clean_up_after_cancel(config: &Config, state: &mut State) {
    let (Some(clients), Some(change_set)) = (&state.clients, state.pending_change_set.take())
    else {
        return;
    };
    // A CreateChangeSet cut off mid-flight may still land: look again after a moment.
    let mut result = stack::discard_unexecuted(clients, &config.stack.name, &change_set).await;
    if result.is_err() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        result = stack::discard_unexecuted(clients, &config.stack.name, &change_set).await;
    }
    match result {
        Ok(true) => runner::info(&format!("cancelled: deleted change set {change_set}")),
        Ok(false) => runner::warning(&format!(
            "cancelled after change set {change_set} was executed: CloudFormation carries on with stack {}",
            config.stack.name
        )),
        Err(e) => runner::warning(&format!(
            "cancelled: could not delete change set {change_set}: {e:#}"
        )),
    }
}
