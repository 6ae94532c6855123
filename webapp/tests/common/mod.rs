//! Runs the real `webapp` binary on a loopback port and reads its JSON log lines.

#![allow(dead_code)] // each test file uses its own part of this helper

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables the server reads; cleared so the caller's environment cannot leak in.
const SERVER_VARS: [&str; 5] = [
    "HOST",
    "PORT",
    "SHUTDOWN_TIMEOUT_SECS",
    "ECS_CONTAINER_METADATA_URI_V4",
    "GIT_SHA",
];

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, from the `listening` log line.
    pub base: String,
    /// The `listening` line itself.
    pub listening: Value,
    /// Lines printed before `listening`, such as a metadata warning.
    pub startup_logs: Vec<Value>,
    lines: Receiver<Value>,
}

impl Server {
    /// Starts the server on 127.0.0.1 with an OS-chosen port and waits for its `listening` line.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let (mut child, lines) = spawn(env);
        let deadline = Instant::now() + START_TIMEOUT;
        let mut startup_logs = Vec::new();
        let listening = loop {
            let line = recv_before(&lines, deadline).unwrap_or_else(|| {
                panic!(
                    "no `listening` line within {START_TIMEOUT:?}; exit: {:?}",
                    child.try_wait()
                )
            });
            if line["msg"] == "listening" {
                break line;
            }
            startup_logs.push(line);
        };
        let addr = listening["addr"].as_str().expect("listening line has addr");
        Self {
            child,
            base: format!("http://{addr}"),
            listening,
            startup_logs,
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits i32"));
        signal::kill(pid, signal).expect("sending signal");
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The next log line with `msg` equal to `msg`, skipping others.
    pub fn wait_for_log(&self, msg: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            match recv_before(&self.lines, deadline) {
                Some(line) if line["msg"] == msg => return line,
                Some(_) => {}
                None => panic!("no `{msg}` log line within {timeout:?}"),
            }
        }
    }

    /// Every log line printed so far (after `listening`), without waiting for more.
    pub fn drain_logs(&self) -> Vec<Value> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion, for start-up failures: exit status and every log line.
pub fn run_to_exit(env: &[(&str, &str)]) -> (ExitStatus, Vec<Value>) {
    let (mut child, lines) = spawn(env);
    let status = child.wait().expect("waiting for webapp");
    (status, lines.iter().collect())
}

fn spawn(env: &[(&str, &str)]) -> (Child, Receiver<Value>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webapp"));
    for var in SERVER_VARS {
        command.env_remove(var);
    }
    command.env("HOST", "127.0.0.1").env("PORT", "0");
    command
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().expect("starting webapp");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Keep reading until EOF so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn recv_before(lines: &Receiver<Value>, deadline: Instant) -> Option<Value> {
    lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}
