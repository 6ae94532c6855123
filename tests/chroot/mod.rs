//! The action as the runner really runs it: the statically linked release binary inside a root
//! file system laid out like the Dockerfile's final stage (`FROM scratch`: the binary, the CA
//! bundle, `/tmp`, nothing else), the runtime's `/dev` nodes, plus what the runner mounts (`/github/workspace` as the working
//! directory, `/github/home` as `HOME`, `/github/file_commands`, `/github/workflow/event.json`),
//! entered with `unshare --root` (a chroot; the network namespace is shared, so the stand-ins on
//! 127.0.0.1 answer) and the environment the runner passes to a container action.
//!
//! Needs root and `ECS_TEST_STATIC_BIN` (built by `scripts/test`): missing either fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::runner::{Layout, runner_env};
use crate::common::stand_in;

/// Where the binary sits in the image (the Dockerfile's ENTRYPOINT).
const ENTRYPOINT: &str = "/ecs-poc-action";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub struct Rootfs {
    dir: tempfile::TempDir,
}

/// One run: exit code, both streams, and what it wrote under /github/file_commands.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub outputs: HashMap<String, String>,
    pub raw_outputs: String,
    pub summary: String,
    /// From spawn to the first line on stdout.
    pub first_line: Option<Duration>,
    pub elapsed: Duration,
}

impl Run {
    pub fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn error_line(&self) -> String {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The statically linked release build of the action.
pub fn static_binary() -> PathBuf {
    let path = PathBuf::from(stand_in("ECS_TEST_STATIC_BIN"));
    let elf = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        !has_interpreter(&elf),
        "{} is dynamically linked: it cannot run on scratch",
        path.display()
    );
    path
}

/// True when a 64-bit little-endian ELF asks for a program interpreter (`PT_INTERP`), i.e. is
/// dynamically linked and needs a loader and libc the image does not have.
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    assert!(
        elf.len() > 64 && elf[..4] == *b"\x7fELF" && elf[4] == 2 && elf[5] == 1,
        "not a 64-bit little-endian ELF"
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == PT_INTERP
    })
}

fn assert_root() {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("reading /proc/self");
    assert_eq!(
        uid, 0,
        "the container test enters a chroot and must run as root (CI does)"
    );
}

impl Rootfs {
    /// The image's root file system (from the Dockerfile's final stage) plus the runner's mounts.
    pub fn new() -> Self {
        assert_root();
        let dir = tempfile::tempdir().expect("temp dir for the root file system");
        let root = dir.path();
        for (dst, what) in final_stage_copies() {
            let target = root.join(dst.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("absolute path")).unwrap();
            match what {
                Copied::Binary => {
                    std::fs::copy(static_binary(), &target).unwrap();
                }
                Copied::CaBundle => {
                    std::fs::copy(CA_BUNDLE, &target).unwrap();
                }
                Copied::StickyDir => {
                    std::fs::create_dir(&target).unwrap();
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o1777))
                        .unwrap();
                }
            }
        }
        // What the container runtime gives every container, not the image: the basic devices
        // (a static binary's random source falls back to /dev/urandom; without it, rand panics).
        std::fs::create_dir(root.join("dev")).unwrap();
        for (name, minor) in [
            ("null", 3),
            ("zero", 5),
            ("full", 7),
            ("random", 8),
            ("urandom", 9),
        ] {
            let node = root.join("dev").join(name);
            let ok = Command::new("mknod")
                .args(["-m", "666"])
                .arg(&node)
                .args(["c", "1", &minor.to_string()])
                .status()
                .expect("mknod")
                .success();
            assert!(ok, "mknod {}", node.display());
        }
        for mount in [
            "github/workspace",
            "github/home",
            "github/file_commands",
            "github/workflow",
        ] {
            std::fs::create_dir_all(root.join(mount)).unwrap();
        }
        std::fs::write(root.join("github/workflow/event.json"), "{}").unwrap();
        Self { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `/github/workspace` seen from the host.
    pub fn workspace(&self) -> PathBuf {
        self.root().join("github/workspace")
    }

    pub fn write_event(&self, payload: &serde_json::Value) {
        std::fs::write(
            self.root().join("github/workflow/event.json"),
            serde_json::to_vec(payload).unwrap(),
        )
        .unwrap();
    }

    /// The command the runner would start: the runner's environment (tests/common/runner.rs)
    /// with the container's paths, then `env`.
    pub fn command(&self, inputs: &[(String, String)], env: &[(String, String)]) -> Command {
        let commands = self.root().join("github/file_commands");
        std::fs::write(commands.join("set_output"), "").unwrap();
        std::fs::write(commands.join("step_summary"), "").unwrap();
        let mut cmd = Command::new("unshare");
        cmd.arg(format!("--root={}", self.root().display()))
            .arg("--wd=/github/workspace")
            .arg(ENTRYPOINT)
            .env_clear()
            .envs(runner_env(&Layout::container(), inputs, env));
        cmd
    }

    /// Starts the action with piped output (for a run that is signalled midway).
    pub fn spawn(&self, inputs: &[(String, String)], env: &[(String, String)]) -> Child {
        self.command(inputs, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting unshare")
    }

    /// Runs the action to the end; `on_line` sees each stdout line as it comes, with the child.
    pub fn run_with(
        &self,
        inputs: &[(String, String)],
        env: &[(String, String)],
        mut on_line: impl FnMut(&str, &Child),
    ) -> Run {
        let started = Instant::now();
        let mut child = self.spawn(inputs, env);
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr_pipe.read_to_string(&mut s);
            s
        });
        let stdout_pipe = child.stdout.take().expect("piped stdout");
        let mut stdout = String::new();
        let mut first_line = None;
        for line in BufReader::new(stdout_pipe).lines() {
            let line = line.expect("reading stdout");
            first_line.get_or_insert_with(|| started.elapsed());
            on_line(&line, &child);
            stdout.push_str(&line);
            stdout.push('\n');
        }
        let status = child.wait().expect("waiting for the action");
        let commands = self.root().join("github/file_commands");
        let raw_outputs = std::fs::read_to_string(commands.join("set_output")).unwrap();
        Run {
            code: status.code(),
            stdout,
            stderr: stderr.join().unwrap_or_default(),
            outputs: parse_outputs(&raw_outputs),
            raw_outputs,
            summary: std::fs::read_to_string(commands.join("step_summary")).unwrap(),
            first_line,
            elapsed: started.elapsed(),
        }
    }

    pub fn run(&self, inputs: &[(String, String)], env: &[(String, String)]) -> Run {
        self.run_with(inputs, env, |_, _| {})
    }
}

/// `name<<DELIM` … `DELIM` and `name=value`, as the runner reads GITHUB_OUTPUT.
pub fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

enum Copied {
    Binary,
    CaBundle,
    /// An empty directory with mode 1777 (`/tmp`).
    StickyDir,
}

/// What the Dockerfile's final stage puts into the image, so this root file system cannot drift
/// from it: every `COPY` destination must be one this module knows how to reproduce.
fn final_stage_copies() -> Vec<(String, Copied)> {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("reading the Dockerfile");
    let stage: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("FROM scratch"))
        .collect();
    assert!(
        !stage.is_empty(),
        "the Dockerfile's final stage is not FROM scratch"
    );
    let mut copies = Vec::new();
    let mut entrypoint = None;
    for line in &stage[1..] {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "COPY" => {
                let dst = words.last().expect("COPY has a destination").to_string();
                let what = match dst.as_str() {
                    ENTRYPOINT => Copied::Binary,
                    CA_BUNDLE => Copied::CaBundle,
                    "/tmp" | "/tmp/" => Copied::StickyDir,
                    other => panic!(
                        "the Dockerfile's final stage copies {other}: teach tests/chroot to lay it out"
                    ),
                };
                copies.push((dst, what));
            }
            "ENTRYPOINT" => entrypoint = Some(line.to_string()),
            other => panic!("unexpected instruction in the final stage: {other}"),
        }
    }
    assert_eq!(
        entrypoint.as_deref(),
        Some(format!("ENTRYPOINT [\"{ENTRYPOINT}\"]").as_str())
    );
    copies
}

/// A small static executable to ship as the "web app": the action's own static binary serves,
/// being a real ELF that needs nothing from the image.
pub fn app_binary(dst: &Path) {
    std::fs::create_dir_all(dst.parent().expect("a file path")).unwrap();
    std::fs::copy(static_binary(), dst).unwrap();
}

/// The stand-in registry's credentials as `user:pass`, for skopeo.
pub fn registry_creds() -> String {
    format!(
        "{}:{}",
        stand_in("ECS_TEST_REGISTRY_USERNAME"),
        stand_in("ECS_TEST_REGISTRY_PASSWORD")
    )
}
