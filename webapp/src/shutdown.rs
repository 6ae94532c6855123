//! The stop signal. ECS sends SIGTERM when a task is scaled in or replaced (then SIGKILL after
//! `stopTimeout`); Ctrl-C sends SIGINT locally. As PID 1 in a container the process gets no
//! default handler for either, so without this it would ignore SIGTERM until the SIGKILL.

use std::fmt;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Interrupt,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        })
    }
}

/// Installs the handlers now, so a signal that arrives during start-up is not lost, and returns
/// a future that resolves on the first SIGTERM or SIGINT.
pub fn listen() -> anyhow::Result<impl Future<Output = Signal>> {
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => Signal::Terminate,
            _ = interrupt.recv() => Signal::Interrupt,
        }
    })
}
