//! The environment the GitHub runner gives a container action, built in one place: the binary run
//! directly on the host (tests/inputs.rs, tests/binary_hostile.rs) and the release binary inside
//! a chroot (tests/chroot) get the same variables, only the paths differ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A host path the runner passes as RUNNER_TEMP; it does not exist inside the container.
pub const HOST_RUNNER_TEMP: &str = "/home/runner/work/_temp";
/// What the runner's container gets as PATH when the image sets none (Docker's default).
pub const DOCKER_DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Where the runner's mounts are, as the action sees them.
pub struct Layout {
    pub workspace: PathBuf,
    pub home: PathBuf,
    /// The files `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` name.
    pub output: PathBuf,
    pub summary: PathBuf,
    pub event: PathBuf,
    pub path: String,
}

impl Layout {
    /// The paths inside the action's container (`/github/…`), as the runner mounts them.
    pub fn container() -> Self {
        Self {
            workspace: "/github/workspace".into(),
            home: "/github/home".into(),
            output: "/github/file_commands/set_output".into(),
            summary: "/github/file_commands/step_summary".into(),
            event: "/github/workflow/event.json".into(),
            path: DOCKER_DEFAULT_PATH.into(),
        }
    }
}

/// Every declared input (its action.yml default unless given), the runner's `GITHUB_*` and
/// `RUNNER_*` variables pointing into `layout`, then `extra` on top (extra may replace any).
pub fn runner_env<K: AsRef<str>, V: AsRef<str>>(
    layout: &Layout,
    inputs: &[(K, V)],
    extra: &[(K, V)],
) -> HashMap<String, String> {
    let mut vars = super::input_vars(inputs);
    let path = |p: &Path| p.to_string_lossy().into_owned();
    for (k, v) in [
        ("PATH", layout.path.clone()),
        ("HOME", path(&layout.home)),
        ("CI", "true".into()),
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_WORKSPACE", path(&layout.workspace)),
        ("GITHUB_EVENT_PATH", path(&layout.event)),
        ("GITHUB_OUTPUT", path(&layout.output)),
        ("GITHUB_STEP_SUMMARY", path(&layout.summary)),
        ("GITHUB_EVENT_NAME", "push".into()),
        ("GITHUB_REF", "refs/heads/main".into()),
        ("GITHUB_REPOSITORY", "octo/webapp".into()),
        ("GITHUB_SHA", SHA.into()),
        ("GITHUB_RUN_ID", rand::random::<u32>().to_string()),
        ("GITHUB_RUN_ATTEMPT", "1".into()),
        ("GITHUB_WORKFLOW", "deploy".into()),
        ("GITHUB_ACTOR", "octocat".into()),
        // A closed loopback port: a run that calls GitHub without a stand-in fails fast.
        ("GITHUB_SERVER_URL", "http://127.0.0.1:9".into()),
        ("GITHUB_API_URL", "http://127.0.0.1:9".into()),
        ("RUNNER_OS", "Linux".into()),
        ("RUNNER_ARCH", "X64".into()),
        ("RUNNER_TEMP", HOST_RUNNER_TEMP.into()),
        ("RUNNER_TOOL_CACHE", "/opt/hostedtoolcache".into()),
        ("RUNNER_WORKSPACE", "/home/runner/work/webapp".into()),
        // Not passed by the runner: a guard so that no test can reach the instance metadata
        // address (only loopback is a test target).
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ] {
        vars.insert(k.to_string(), v);
    }
    for (k, v) in extra {
        vars.insert(k.as_ref().to_string(), v.as_ref().to_string());
    }
    vars
}

/// The runner's directories in a temp dir on the host, for running the debug binary directly.
pub struct HostRunner {
    dir: tempfile::TempDir,
    layout: Layout,
}

/// One direct run: the process output plus what it wrote to the file commands.
pub struct HostRun {
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
    pub github_output: String,
    pub step_summary: String,
}

impl HostRunner {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the runner's mounts");
        let root = dir.path();
        let layout = Layout {
            workspace: root.join("workspace"),
            home: root.join("home"),
            output: root.join("file_commands/set_output"),
            summary: root.join("file_commands/step_summary"),
            event: root.join("workflow/event.json"),
            path: std::env::var("PATH").expect("PATH is set"),
        };
        for d in ["workspace", "home", "file_commands", "workflow"] {
            std::fs::create_dir_all(root.join(d)).expect("runner directory");
        }
        std::fs::write(&layout.event, "{}").expect("event payload");
        Self { dir, layout }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The binary started as the runner starts it: a clean environment, cwd the workspace.
    pub fn command<K: AsRef<str>, V: AsRef<str>>(
        &self,
        inputs: &[(K, V)],
        extra: &[(K, V)],
    ) -> Command {
        std::fs::write(&self.layout.output, "").expect("empty GITHUB_OUTPUT");
        std::fs::write(&self.layout.summary, "").expect("empty GITHUB_STEP_SUMMARY");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"));
        cmd.env_clear()
            .envs(runner_env(&self.layout, inputs, extra))
            .current_dir(&self.layout.workspace);
        cmd
    }

    /// Runs the binary to the end and reads back what it wrote.
    pub fn run<K: AsRef<str>, V: AsRef<str>>(
        &self,
        inputs: &[(K, V)],
        extra: &[(K, V)],
    ) -> HostRun {
        let output = self
            .command(inputs, extra)
            .output()
            .expect("running the action binary");
        let read = |p: &Path| {
            std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        };
        HostRun {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            github_output: read(&self.layout.output),
            step_summary: read(&self.layout.summary),
            output,
        }
    }
}

impl Default for HostRunner {
    fn default() -> Self {
        Self::new()
    }
}
